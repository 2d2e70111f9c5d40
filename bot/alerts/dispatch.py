"""Events in, alerts out, never in the way of posting.

`Alerts` subscribes to bot.events. The publisher's thread only puts the event on a queue; a
router thread turns it into an alert, drops it if its cause was alerted within the quiet period
(bot/alerts/sent.py), logs it, and hands it to one `Outlet` per channel. Each outlet has its own
thread, so a webhook that hangs delays neither posting nor the email; a failed attempt is
logged and tried again after a doubling wait, up to `retry_attempts`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from datetime import timedelta
from typing import NamedTuple

from bot import events
from bot.alerts.channels import Channel, ChannelFailed, channels_for
from bot.alerts.messages import ALERTED, Alert, alert_for
from bot.alerts.sent import SentLog
from bot.clock import Clock, SystemClock
from bot.config import AlertsSettings, Config
from bot.store.engine import Store

log = logging.getLogger("kindling.alerts")

JOIN_SECONDS = 2.0


class RetryPolicy(NamedTuple):
    first_seconds: float
    most_seconds: float
    attempts: int

    def wait(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1, 2, ...)."""
        return min(self.first_seconds * 2 ** (attempt - 1), self.most_seconds)


class _Attempt(NamedTuple):
    due: float  # time.monotonic()
    order: int
    number: int
    alert: Alert


class Outlet:
    """One channel's thread: sends each alert, and tries failed ones again later."""

    def __init__(self, channel: Channel, policy: RetryPolicy) -> None:
        self.channel = channel
        self.policy = policy
        self._pending: list[_Attempt] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._sending = False
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name=f"kindling-alerts-{channel.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def submit(self, alert: Alert) -> None:
        self._push(_Attempt(time.monotonic(), next(self._order), 1, alert))

    def idle(self) -> bool:
        """Nothing being sent and nothing due now (retries may wait for later)."""
        with self._wake:
            due = bool(self._pending) and self._pending[0].due <= time.monotonic()
            return not self._sending and not due

    def waiting(self) -> int:
        with self._wake:
            return len(self._pending)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        self._thread.join(JOIN_SECONDS)

    def _push(self, attempt: _Attempt) -> None:
        with self._wake:
            heapq.heappush(self._pending, attempt)
            self._wake.notify_all()

    def _run(self) -> None:
        while (attempt := self._next()) is not None:
            try:
                self._send(attempt)
            finally:
                with self._wake:
                    self._sending = False

    def _next(self) -> _Attempt | None:
        with self._wake:
            while not self._closed:
                now = time.monotonic()
                if self._pending and self._pending[0].due <= now:
                    self._sending = True
                    return heapq.heappop(self._pending)
                self._wake.wait(self._pending[0].due - now if self._pending else None)
            return None

    def _send(self, attempt: _Attempt) -> None:
        name, alert = self.channel.name, attempt.alert
        try:
            self.channel.send(alert)
        except ChannelFailed as exc:
            failure = str(exc)
        except Exception as exc:  # a bug must not end the thread; its text may hold anything
            failure = f"unexpected {type(exc).__name__}"
        else:
            log.info("alerts: sent %s by %s", alert.kind, name)
            return
        if attempt.number >= self.policy.attempts:
            log.error(
                "alerts: gave up sending %s by %s after %d attempts: %s",
                alert.kind,
                name,
                attempt.number,
                failure,
            )
            return
        wait = self.policy.wait(attempt.number)
        log.warning(
            "alerts: sending %s by %s failed (attempt %d of %d): %s; trying again in %.3g s",
            alert.kind,
            name,
            attempt.number,
            self.policy.attempts,
            failure,
            wait,
        )
        self._push(_Attempt(time.monotonic() + wait, next(self._order), attempt.number + 1, alert))


class Alerts:
    """Subscribed to bot.events from `start()` until `close()`."""

    def __init__(
        self,
        settings: AlertsSettings,
        channels: list[Channel],
        sent: SentLog,
        clock: Clock | None = None,
    ) -> None:
        self.quiet = timedelta(minutes=settings.quiet_period_minutes)
        policy = RetryPolicy(
            settings.retry_first_seconds, settings.retry_max_seconds, settings.retry_attempts
        )
        self.outlets = [Outlet(channel, policy) for channel in channels]
        self.sent = sent
        self.clock = clock or SystemClock()
        self._events: queue.Queue[events.Event | None] = queue.Queue()
        self._router = threading.Thread(target=self._route, name="kindling-alerts", daemon=True)
        self._subscription: events.Subscription | None = None

    def start(self) -> Alerts:
        for outlet in self.outlets:
            outlet.start()
        self._router.start()
        self._subscription = events.subscribe(self.notice, *ALERTED)
        return self

    def notice(self, event: events.Event) -> None:
        """The subscriber: runs in the publisher's thread, so it only queues."""
        self._events.put(event)

    def idle(self) -> bool:
        """Every event noticed so far routed, and every channel done with what is due now."""
        return self._events.unfinished_tasks == 0 and all(o.idle() for o in self.outlets)

    def close(self) -> None:
        if self._subscription is not None:
            self._subscription.cancel()
        self._events.put(None)
        self._router.join(JOIN_SECONDS)
        for outlet in self.outlets:
            outlet.close()

    def _route(self) -> None:
        while True:
            event = self._events.get()
            try:
                if event is None:
                    return
                self._dispatch(event)
            except Exception as exc:
                log.error("alerts: cannot handle %s: %s", type(event).__name__, type(exc).__name__)
            finally:
                self._events.task_done()

    def _dispatch(self, event: events.Event) -> None:
        alert = alert_for(event)
        if not self.sent.claim(alert.cause, self.clock.now(), self.quiet):
            log.info("alerts: %s already sent within the quiet period", alert.cause)
            return
        log.warning("ALERT: %s", alert.subject)
        for outlet in self.outlets:
            outlet.submit(alert)


def start_alerts(config: Config, store: Store | None, clock: Clock | None = None) -> Alerts:
    """Subscribe the channels `[alerts]` configures (with none, alerts are only logged)."""
    return Alerts(config.settings.alerts, channels_for(config), SentLog(store), clock).start()
