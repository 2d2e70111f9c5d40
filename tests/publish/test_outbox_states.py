"""The outbox's state machine under concurrent writers, on a SQLite file and on PostgreSQL: every
change is conditional on the state its writer read, so a writer that lost a race changes
nothing and says so; a move the diagram does not allow raises."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from bot.platforms.base import Ambiguous, PostRequest, Published
from bot.publish.outbox import Outbox
from bot.publish.states import TRANSITIONS, InvalidTransition, OutboxState, move
from bot.store.engine import Store
from bot.store.tables import OutboxRow
from tests.fakes.scripted_platform import ScriptedPlatform
from tests.publish.test_outbox import NOW, planned, rows, send_due

WINDOW = (NOW - timedelta(hours=1), NOW + timedelta(days=1))


def test_every_state_has_its_moves_and_final_states_have_none() -> None:
    assert set(TRANSITIONS) == set(OutboxState)
    assert {s for s, moves in TRANSITIONS.items() if not moves} == {"failed", "missed", "undone"}
    assert [str(s) for s in OutboxState] == [
        "planned",
        "sending",
        "sent",
        "failed",
        "unconfirmed",
        "missed",
        "cancelled",
        "undone",
    ]  # the stored text, as before the enum


def test_a_move_the_diagram_does_not_allow_raises_and_writes_nothing(store, make_outbox) -> None:
    outbox, platform = make_outbox(), ScriptedPlatform()
    outbox.sync("demo", [planned()], *WINDOW, NOW)
    (row,) = outbox.due("x", NOW)
    outbox.publish(row, platform, NOW)
    with (
        pytest.raises(InvalidTransition, match="cannot go from sent to planned"),
        store.write() as session,
    ):
        move(session, row.id, OutboxState.SENT, OutboxState.PLANNED, NOW)
    assert rows(store)[0].state == "sent"


def test_a_sender_over_budget_with_a_stale_row_does_not_fail_a_row_another_sent(
    store, make_outbox
) -> None:
    """Two senders read the same due row (the daemon and `kindling post`, say); one sends it;
    the other, refused by its budget, must not record the sent post as failed."""
    rich, broke = make_outbox(), make_outbox(budget_usd=0.0)
    outbox_platform = ScriptedPlatform()
    rich.sync("demo", [planned()], *WINDOW, NOW)
    (row,) = rich.due("x", NOW)
    assert rich.publish(row, outbox_platform, NOW).state == "sent"
    late = broke.publish(row, outbox_platform, NOW)
    assert (late.state, late.reason) == ("skipped", "no longer planned")
    assert rows(store)[0].state == "sent"


def test_planning_does_not_cancel_a_row_a_sender_claimed_after_planning_read_it(
    store, make_outbox
) -> None:
    """The campaign drops a slot while a sender (another process) claims its row: the claim
    happens between planning's read and its write. The row stays the sender's."""
    outbox = make_outbox()
    outbox.sync("demo", [planned("a")], *WINDOW, NOW)
    (row,) = outbox.due("x", NOW)
    sender = Store(store.url)
    claim = _OnceAfterOutboxRead(lambda: _claim(sender, row.id))
    event.listen(store.engine, "after_cursor_execute", claim)
    try:
        assert outbox.sync("demo", [], *WINDOW, NOW) == (0, 0)
    finally:
        event.remove(store.engine, "after_cursor_execute", claim)
        sender.dispose()
    assert claim.fired
    assert rows(store)[0].state == "sending"


def test_reconciliation_leaves_a_row_this_process_is_sending_to_its_sender(
    store, make_outbox
) -> None:
    """The daemon reconciles every minute on another thread of the same outbox: a row whose
    call is in flight is not 'not found' (then planned, and sendable again); its sender
    records it."""
    outbox = make_outbox()
    platform = _ReconcilingMidCall(outbox)
    outbox.sync("demo", [planned()], *WINDOW, NOW)
    (row,) = outbox.due("x", NOW)
    assert outbox.publish(row, platform, NOW).state == "sent"
    assert platform.counts == {"sent": 0, "planned": 0, "missed": 0, "unknown": 0, "lost": 0}
    assert platform.state_after_reconcile == "sending"
    assert rows(store)[0].state == "sent"


def test_reconciling_rows_read_earlier_leaves_a_row_settled_meanwhile(store, make_outbox) -> None:
    """Two interrupted sends; while this reconciler asks the network, another (a second
    process) finds the first post and records it sent. This one, finding neither, must plan
    again only the second: the first is not made sendable a second time."""
    outbox, platform = make_outbox(), ScriptedPlatform()
    platform.script = [Ambiguous("x", "timeout"), Ambiguous("x", "timeout")]
    outbox.sync("demo", [planned("a"), planned("b", due=NOW + timedelta(seconds=1))], *WINDOW, NOW)
    send_due(outbox, platform, NOW + timedelta(seconds=1))
    read_earlier = outbox.unresolved("x")
    elsewhere = ScriptedPlatform()
    elsewhere.posts[read_earlier[0].key] = Published("x-9", "https://x.test/9")
    assert make_outbox().reconcile(elsewhere, NOW, rows=read_earlier[:1])["sent"] == 1
    counts = outbox.reconcile(platform, NOW, rows=read_earlier)
    assert {r.message_id: r.state for r in rows(store)} == {"a": "sent", "b": "planned"}
    assert (counts["planned"], counts["lost"]) == (1, 1)


class _OnceAfterOutboxRead:
    """A SQLAlchemy cursor hook that runs `action` once, right after the first read of the
    outbox table: a deterministic place for another writer to get in."""

    def __init__(self, action: Any) -> None:
        self.action, self.fired = action, False

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        reads_outbox = (
            statement.lstrip().upper().startswith("SELECT") and "FROM outbox" in statement
        )
        if reads_outbox and not self.fired:
            self.fired = True
            self.action()


def _claim(sender: Store, row_id: int) -> None:
    with sender.write() as session:
        found = session.get(OutboxRow, row_id)
        assert found is not None and found.state == "planned"
        found.state = "sending"


class _ReconcilingMidCall(ScriptedPlatform):
    """A platform during whose publish call the outbox reconciles (the post is not created
    yet): what the daemon's reconcile job can do while the publish job waits on the network."""

    def __init__(self, outbox: Outbox) -> None:
        super().__init__("x")
        self.outbox = outbox
        self.counts: dict[str, int] = {}
        self.state_after_reconcile = ""

    def publish(self, post: PostRequest) -> Published:
        self.counts = self.outbox.reconcile(self, NOW)
        self.state_after_reconcile = rows(self.outbox.store)[0].state
        return super().publish(post)
