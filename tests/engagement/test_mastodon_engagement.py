"""The engagement poller with the Mastodon adapter against the stand-in (issue 16): counts of
the bot's statuses in batch calls, and a target's reply from notifications, linked by its
`user@instance` address, read from a persisted cursor."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.platforms.mastodon import MastodonPlatform
from bot.report.collect import collect
from bot.store.engine import Store
from bot.store.tables import PollCursorRow, ResponseRow
from tests.engagement.test_poller import (
    NOW,
    FixedClock,
    add_sent,
    campaign,
    poller,
    snapshots,
    store,
)
from tests.fakes.mastodon_server import MastodonFakeServer
from tests.platforms.test_mastodon import adapter, fake, request, server

__all__ = ["fake", "server", "store"]  # fixtures, used by name


def test_counts_and_a_targets_reply_on_mastodon(store: Store, fake: MastodonFakeServer) -> None:
    platform: MastodonPlatform = adapter(fake)
    ours = [platform.publish(request(key=f"k-{n}", text=f"Post {n}")).remote_id for n in range(3)]
    [first_row, *_] = add_sent(store, "mastodon", ours)
    state = fake.state
    state.set_counts(ours[0], favourites=5, reblogs=2)
    answer = state.add_status(
        "@kindling Byddaf, wrth gwrs.", author="ms_jones@senedd.cymru", in_reply_to_id=ours[0]
    )
    jones = {
        "id": "jones",
        "name": "Ms Jones",
        "party": "Green",
        "handles": {"mastodon": "@MS_Jones@senedd.cymru"},
    }
    clock = FixedClock(NOW)
    engagement = poller(store, {"mastodon": platform}, clock, campaigns=[campaign([jones])])

    report = engagement.run_cycle()
    assert report.responses == {"mastodon": 1}
    assert report.metrics["mastodon"].calls == 1  # three statuses, one batch call
    counts = {s.remote_id: (s.likes, s.reposts, s.replies) for s in snapshots(store)}
    assert counts[ours[0]] == (5, 2, 1)
    with store.read() as session:
        (row,) = session.scalars(select(ResponseRow))
        cursor = session.get(PollCursorRow, "mentions:mastodon")
    assert (row.remote_id, row.kind, row.target_id) == (answer, "reply", "jones")
    assert row.outbox_id == first_row
    assert cursor is not None and cursor.cursor

    later = state.add_status("@kindling Diolch", author="ms_jones@senedd.cymru")
    clock.at = NOW + timedelta(minutes=5)
    assert engagement.run_cycle().responses == {"mastodon": 1}
    # the second cycle reads on from the stored cursor, then up to an empty page
    later_calls = [c.param("min_id") for c in state.calls("GET /api/v1/notifications")[1:]]
    assert later_calls[0] == cursor.cursor and len(later_calls) == 2
    with store.read() as session:
        rows = {r.remote_id: r for r in session.scalars(select(ResponseRow))}
    assert set(rows) == {answer, later} and rows[later].kind == "mention"

    # `kindling report` shows the target as having answered, and Mastodon's counts
    report = collect(store, campaign([jones, {"id": "silent", "name": "B Member"}]))
    answered = {r.target: r.responses for r in report.responses_by_target}
    assert answered == {"jones": 2, "silent": 0}
    (by_platform,) = report.engagement_by_platform
    assert (by_platform.platform, by_platform.likes, by_platform.reposts) == ("mastodon", 5, 2)
