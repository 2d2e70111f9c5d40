"""Each event as an alert: its cause (what deduplicates it), a subject line and a short text.

The text is built from the event's fields only (names, counts, reasons the platforms gave,
public post addresses), never from settings or the environment, so no secret can reach it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import singledispatch

from bot.events import (
    BudgetThreshold,
    Event,
    PlatformPausedForAuth,
    PostsFailing,
    ReconcileStuck,
    RestartedAfterCrash,
    TargetAnswered,
)

REASON_CHARS = 300


@dataclass(frozen=True)
class Alert:
    """What every channel sends: `cause` is never shown, only used to send it once."""

    kind: str
    cause: str
    subject: str
    text: str

    @property
    def html(self) -> str:
        lines = [html.escape(line) for line in self.text.splitlines()]
        return f"<p><strong>{html.escape(self.subject)}</strong></p><p>{'<br>'.join(lines)}</p>"


def test_alert() -> Alert:
    """What `kindling alerts test` sends."""
    return Alert(
        "test",
        "test",
        "Kindling: a test alert",
        "This is a test of Kindling's alerts (kindling alerts test). If you read it, the alerts "
        "of the running daemon reach you here too.",
    )


def alert_for(event: Event) -> Alert:
    return _alert(event)


@singledispatch
def _alert(event: object) -> Alert:
    raise TypeError(f"no alert for {type(event).__name__}")


@_alert.register
def _(event: PlatformPausedForAuth) -> Alert:
    return Alert(
        "platform_paused_for_auth",
        f"auth:{event.platform}",
        f"Kindling: {event.platform} refused the credentials, its posts are paused",
        f"{event.platform} answered: {_short(event.reason)}\n"
        f"Posting on {event.platform} is paused; other platforms go on. Renew the credentials "
        f"(kindling login {event.platform}) and restart the daemon; until then it tries "
        "again from time to time.",
    )


@_alert.register
def _(event: BudgetThreshold) -> Alert:
    reached = "reached" if event.percent >= 100 else f"at {event.percent}%"
    after = (
        "No more paid posts go out this month."
        if event.percent >= 100
        else "Posting stops when it is all spent."
    )
    return Alert(
        "budget_threshold",
        f"budget:{event.platform}:{event.month}:{event.percent}",
        f"Kindling: the {event.platform} budget for {event.month} is {reached}",
        f"{event.platform} spend in {event.month}: ${event.spent:.2f} of ${event.budget:.2f} "
        f"({event.spent / event.budget:.0%}).\n{after}",
    )


@_alert.register
def _(event: PostsFailing) -> Alert:
    return Alert(
        "posts_failing",
        f"failing:{event.platform}",
        f"Kindling: {event.count} posts in a row failed on {event.platform}",
        f"The last error: {_short(event.last_error)}\n"
        "`kindling status` lists the posts and their reasons.",
    )


@_alert.register
def _(event: RestartedAfterCrash) -> Alert:
    return Alert(
        "restarted_after_crash",
        f"crash:{event.host}:{event.pid}",
        f"Kindling restarted on {event.host} after a crash",
        f"The previous daemon (pid {event.pid} on {event.host}) stopped without shutting down; "
        f"it was last seen at {event.last_seen:%Y-%m-%d %H:%M:%S %Z}.\n"
        "Its posts are reconciled with the platforms before anything is sent again.",
    )


@_alert.register
def _(event: ReconcileStuck) -> Alert:
    return Alert(
        "reconcile_stuck",
        f"reconcile:{event.platform}",
        f"Kindling cannot tell whether {event.rows} post(s) went out on {event.platform}",
        f"{event.rows} post(s) on {event.platform} were interrupted or got an unclear answer, "
        "and the platform could not be asked about them for a while. They are not sent again "
        "until it answers; `kindling status` lists them.",
    )


@_alert.register
def _(event: TargetAnswered) -> Alert:
    return Alert(
        "target_answered",
        f"answer:{event.campaign}:{event.target}:{event.platform}",
        f"Kindling: {event.target} answered campaign {event.campaign} on {event.platform}",
        f"{event.target}, a target of {event.campaign}, mentioned, replied to or quoted the "
        f"campaign on {event.platform}:\n{event.url}",
    )


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= REASON_CHARS else flat[: REASON_CHARS - 1] + "…"


# The events that have an alert: what the alerts subscribe to (bot.events carries others too,
# e.g. NewResponse, which the engagement layer publishes for any subscriber that wants it).
ALERTED: tuple[type, ...] = tuple(kind for kind in _alert.registry if kind is not object)
