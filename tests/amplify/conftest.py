"""Factories shared by the amplification tests: a campaign with an `amplify:` section and a
migrated SQLite file store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.campaign.model import Campaign
from bot.store.engine import Store


def make_campaign(*, active: dict[str, str] | None = None, **amplify: Any) -> Campaign:
    return Campaign.model_validate(
        {
            "id": "demo",
            "name": {"en": "Demo"},
            "languages": ["en", "cy"],
            "active": active or {"start": "2026-12-01", "end": "2027-02-28"},
            "quiet_hours": {"start": "21:00", "end": "08:00"},
            "platforms": ["x", "bluesky"],
            "hashtags": ["Demo"],
            "links": {"letter": "https://example.org/letter"},
            "supporters": [
                {"name": "Friend", "handles": {"bluesky": "friend.test", "x": "friend"}}
            ],
            "targets": [
                {"id": "ms", "name": "An MS", "handles": {"bluesky": "ms.test", "x": "the_ms"}}
            ],
            "amplify": {"platforms": ["bluesky", "x"], "links": ["letter"], **amplify},
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    made = Store(f"sqlite:///{tmp_path / 'kindling.sqlite3'}")
    made.create_tables()
    yield made
    made.dispose()
