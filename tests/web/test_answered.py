"""The action page marks a target who answered (issue 15 point 3), where the organiser turned
`listen: {show_answered: true}` on: "Answered" (Welsh "Wedi ateb") beside the target, a link to
their first response; a dismissed response does not count, and a target who did not answer
gets no mark. Through the real application over HTTP, with responses in a real SQLite file."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from bot.store.tables import ResponseRow, table
from bot.web import WebOptions, create_app
from tests.web.conftest import TestClient, make_config

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)


def response(target: str, remote: str, minutes: int, *, dismissed: bool = False) -> dict:
    return {
        "platform": "bluesky",
        "remote_id": remote,
        "kind": "statement",
        "campaign_id": "demo",
        "target_id": target,
        "outbox_id": None,
        "author_id": f"did:plc:{target}",
        "author_handle": f"{target}.ffug.example",
        "text": "Ie #DŵrGlân",
        "url": f"https://bsky.app/profile/{target}.ffug.example/post/{remote}",
        "created_at": NOW + timedelta(minutes=minutes),
        "seen_at": NOW + timedelta(hours=1),
        "answered_id": None,
        "answered_url": None,
        "dismissed": dismissed,
    }


@pytest.fixture(params=[True, False], ids=["shown", "off"])
def shown(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def target_html(page: str, target: str) -> str:
    match = re.search(rf'<article class="target" id="target-{target}".*?</article>', page, re.S)
    assert match, f"no card for {target}"
    return match.group(0)


def test_answered_targets_are_marked_with_their_first_response(project: Path, shown: bool) -> None:
    if shown:
        path = project / "campaigns" / "demo.yaml"
        path.write_text(
            path.read_text(encoding="utf-8") + "listen: {show_answered: true}\n", encoding="utf-8"
        )
    app = create_app(make_config(project), WebOptions(reload_seconds=0))
    with TestClient(app, follow_redirects=False) as client:
        with app.web.store.write() as session:
            session.execute(
                insert(table(ResponseRow)),
                [
                    response("sian", "later", 30),
                    response("sian", "first", 10),
                    response("bob", "dismissed", 5, dismissed=True),
                ],
            )
        welsh = client.get("/demo?constituency=Caerdydd+Penarth").text
        english = client.get("/demo?constituency=Caerdydd+Penarth&lang=en").text

    sian, bob, gov = (target_html(welsh, t) for t in ("sian", "bob", "gov"))
    first = "https://bsky.app/profile/sian.ffug.example/post/first"
    if not shown:  # the default: no marks, and the page does not read responses
        assert "answered" not in welsh and first not in welsh and first not in english
        return
    assert re.search(rf'<p class="answered">.*?<a href="{re.escape(first)}"[^>]*>Wedi ateb', sian)
    assert "ymateb cyntaf Siân Ŵyn" in sian and "/post/later" not in sian
    assert 'class="answered"' not in bob and 'class="answered"' not in gov
    sian_en = target_html(english, "sian")
    assert f'href="{first}"' in sian_en and ">Answered<" in sian_en
    assert "Siân Ŵyn&#39;s first response" in sian_en or "Siân Ŵyn's first response" in sian_en
