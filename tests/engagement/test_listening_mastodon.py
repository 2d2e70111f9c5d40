"""Listening to the targets on Mastodon (issue 15), against the stand-in (every request the
adapter sends is validated against the Mastodon API description; see tests/fakes/).

A supporter posts the pre-filled message; one target replies to the supporter, another posts
its own statement with the campaign's hashtag, a third posts about something else. Only the
first two are recorded, once each, across restarts (a new Listener each pass: only the store
carries state), with the cursor resumed, and nothing is charged.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.engagement.listening import Listener, ListenReport, cursor_name, read_cursor
from bot.platforms.mastodon import MastodonPlatform
from bot.publish.budget import Budget
from bot.store.engine import Store
from bot.store.tables import ResponseRow, SpendRow
from tests.engagement.test_listening import CANDIDATE, NOW, PRICE, campaign, store
from tests.fakes.mastodon_server import MastodonFakeServer
from tests.platforms.test_mastodon import adapter, fake, server

__all__ = ["fake", "server", "store"]  # fixtures, used by name

TARGETS = [
    {"id": "a", "name": "A", "handles": {"mastodon": "@MS_A@senedd.cymru"}},
    {"id": "b", "name": "B", "handles": {"mastodon": "ms_b@senedd.cymru"}},
    {"id": "c", "name": "C", "handles": {"mastodon": "@ms_c@senedd.cymru"}},
]
STATUSES = "GET /api/v1/accounts/{id}/statuses"


def listen(store: Store, platform: MastodonPlatform, at: datetime) -> ListenReport:
    """One pass by a new Listener (a restart: only the store carries state)."""
    return Listener(store, Budget(store, 25.0), PRICE).listen(platform, [campaign(TARGETS)], at)


def responses(store: Store) -> list[ResponseRow]:
    with store.read() as session:
        return list(session.scalars(select(ResponseRow).order_by(ResponseRow.id)))


def test_a_reply_to_a_supporter_and_a_statement_are_recorded_once_each(
    store: Store, fake: MastodonFakeServer
) -> None:
    state = fake.state
    supporter = state.add_status(
        "@ms_a@senedd.cymru please back the open letter #CoproductionWales",
        author="cefnogwr@example.social",
    )
    with store.write() as session:  # amplify discovery found the supporter's status earlier
        session.execute(
            CANDIDATE.values(
                platform="mastodon",
                remote_id=supporter,
                url=f"https://example.social/@cefnogwr/{supporter}",
            )
        )
    reply = state.add_status(
        "@cefnogwr@example.social I will raise it in the chamber",
        author="ms_a@senedd.cymru",
        in_reply_to_id=supporter,
    )
    statement = state.add_status("Our answer: yes. #CoproductionWales", author="ms_b@senedd.cymru")
    state.add_status("Lovely day in Cardiff", author="ms_c@senedd.cymru")
    platform = adapter(fake)

    first = listen(store, platform, NOW)
    assert (first.feeds, first.posts, first.usd, first.stopped) == (3, 3, 0.0, None)
    rows = {row.target_id: row for row in responses(store)}
    assert sorted(rows) == ["a", "b"] and len(first.new) == 2
    assert (rows["a"].remote_id, rows["a"].kind, rows["a"].answered_id) == (
        reply,
        "supporter_reply",
        supporter,
    )
    assert rows["a"].answered_url == f"https://example.social/@cefnogwr/{supporter}"
    assert (rows["b"].remote_id, rows["b"].kind) == (statement, "statement")
    assert rows["b"].url and statement in rows["b"].url

    # Restarted: every feed is read from its cursor, so nothing is read, or recorded, twice.
    newest = {t["id"]: read_cursor(store, cursor_name("mastodon", h)) for t, h in handles()}
    assert newest["b"] == {"newest": statement}
    again = listen(store, platform, NOW + timedelta(minutes=15))
    assert (again.posts, again.new) == (0, [])
    resumed = {c.param("since_id") for c in state.calls(STATUSES)[-3:]}
    assert resumed == {n["newest"] for n in newest.values()}

    # A later statement is read on the next pass, and only it.
    later = state.add_status("More on #CoproductionWales", author="ms_b@senedd.cymru")
    third = listen(store, platform, NOW + timedelta(minutes=30))
    assert third.posts == 1 and [e.url.rsplit("/", 1)[-1] for e in third.new] == [later]
    assert [row.remote_id for row in responses(store)] == [reply, statement, later]
    with store.read() as session:  # listening on Mastodon costs nothing
        assert list(session.scalars(select(SpendRow))) == []


def handles() -> Iterator[tuple[dict[str, object], str]]:
    for target in TARGETS:
        handle = target["handles"]["mastodon"]  # type: ignore[index]
        yield target, str(handle).removeprefix("@").lower()


def test_the_watermark_compares_status_ids_as_numbers(
    store: Store, fake: MastodonFakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Status ids are numeric strings; "100" is newer than "99" though it sorts before it as
    text. Compared as text, the cursor stayed at "99" and "100" was read again on every pass."""
    ids = iter(str(n) for n in range(98, 200))
    monkeypatch.setattr(fake.state, "next_id", lambda when: next(ids))
    fake.state.add_status("First #CoproductionWales", author="ms_b@senedd.cymru")
    fake.state.add_status("Second #CoproductionWales", author="ms_b@senedd.cymru")
    platform = adapter(fake)
    one = campaign([TARGETS[1]])
    listener = Listener(store, Budget(store, 25.0), PRICE)
    assert len(listener.listen(platform, [one], NOW).new) == 2
    name = cursor_name("mastodon", "ms_b@senedd.cymru")
    assert read_cursor(store, name) == {"newest": "99"}

    fake.state.add_status("Third #CoproductionWales", author="ms_b@senedd.cymru")  # id 100
    assert len(listener.listen(platform, [one], NOW + timedelta(minutes=15)).new) == 1
    assert read_cursor(store, name) == {"newest": "100"}
    again = listener.listen(platform, [one], NOW + timedelta(minutes=30))
    assert again.posts == 0
    assert fake.state.calls(STATUSES)[-1].param("since_id") == "100"
