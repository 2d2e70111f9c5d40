"""The founding campaign's machine-readable outputs, pinned byte for byte.

`check --json`, `preview --json`, `simulate --json`, `links --format json` and `report --json`
are what organisers' scripts read; a refactoring must not change a byte of them. The golden files
in tests/golden/ were written by the code before the package was regrouped (issue 12). After a
change that is meant to alter an output, rewrite them with `KINDLING_UPDATE_GOLDEN=1` and say
why in the commit.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.store.tables import ClickRow, MetricSnapshotRow, OutboxRow, ResponseRow

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
CAMPAIGN = "open-letter-2"
COMMANDS = {
    # As of the launch: `check` notes 'at' posts already past, which depends on the day it runs.
    "check": ["check", "campaigns/", "--json", "--now", "2026-11-30T09:00"],
    "preview": ["preview", CAMPAIGN, "--json"],
    "simulate": ["simulate", CAMPAIGN, "--from", "2026-12-01T09:00", "--days", "14", "--json"],
    "links": ["links", CAMPAIGN, "--format", "json"],
    "report": ["report", CAMPAIGN, "--json"],
}
LAUNCH = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _kindling(args: list[str], database: Path) -> bytes:
    env = {**os.environ, "KINDLING_DATABASE_URL": f"sqlite:///{database}"}
    env.pop("KINDLING_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def _seed(database: Path) -> None:
    """Posts with metrics over time, clicks on several links, and a target's reply: enough for
    every section of the report to have rows."""
    engine = create_engine(f"sqlite:///{database}")
    with Session(engine) as session, session.begin():
        posts = []
        for n, (message, platform, language) in enumerate(
            [("launch", "x", "cy"), ("launch", "bluesky", "en"), ("request-statement", "x", "en")]
        ):
            at = LAUNCH + timedelta(hours=n)
            post = OutboxRow(
                key=f"golden:{n}", mode="live", campaign_id=CAMPAIGN, message_id=message,
                language=language, platform=platform, quote_id=None, slot_at=at, latest_at=at,
                text=f"golden post {n}", state="sent", remote_id=f"remote-{n}",
                url=f"https://example.org/post/{n}", attempts=1, created_at=at, updated_at=at,
                sent_at=at,
            )  # fmt: skip
            session.add(post)
            posts.append(post)
        session.flush()
        for n, post in enumerate(posts):
            for hours in (1, 24):
                session.add(
                    MetricSnapshotRow(
                        outbox_id=post.id, platform=post.platform, remote_id=post.remote_id or "",
                        at=post.slot_at + timedelta(hours=hours), likes=3 * hours + n,
                        reposts=hours + n, replies=n, quotes=1, impressions=None, bookmarks=None,
                    )
                )  # fmt: skip
        for n, (target, platform, language) in enumerate(
            [("first-minister", "x", "cy"), ("first-minister", "bluesky", "en"),
             ("cabinet-secretary-health", "x", "en")] * 3
        ):  # fmt: skip
            session.add(
                ClickRow(
                    token=f"t{n % 3}", campaign_id=CAMPAIGN, target_id=target, ask_id=("ask-statement", "ask-network")[n % 2],
                    wording=n % 2, platform=platform, language=language,
                    at=LAUNCH + timedelta(minutes=37 * n), client_hash=None,
                )
            )  # fmt: skip
        session.add(
            ResponseRow(
                platform="x", remote_id="reply-1", kind="reply", campaign_id=CAMPAIGN,
                target_id="first-minister", outbox_id=posts[0].id, author_id="42",
                author_handle="first-minister", text="Diolch", url="https://example.org/r/1",
                created_at=LAUNCH + timedelta(hours=5), seen_at=LAUNCH + timedelta(hours=6),
            )
        )  # fmt: skip
    engine.dispose()


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    database = tmp_path_factory.mktemp("golden") / "kindling.sqlite3"
    _kindling(["db", "upgrade"], database)
    _seed(database)
    return {name: _kindling(args, database) for name, args in COMMANDS.items()}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_output_is_byte_identical_to_the_golden_file(name: str, outputs: dict[str, bytes]) -> None:
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("KINDLING_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        golden.write_bytes(outputs[name])
    expected = golden.read_bytes()
    assert len(expected) > 100  # a golden file of a real output, not an empty one
    if outputs[name] != expected:
        actual = golden.with_suffix(".actual.json")
        actual.write_bytes(outputs[name])
        digest = hashlib.sha256(outputs[name]).hexdigest()[:12]
        pytest.fail(
            f"`kindling {' '.join(COMMANDS[name])}` changed (sha256 {digest}): diff {golden} {actual}"
        )
