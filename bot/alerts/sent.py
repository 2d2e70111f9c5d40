"""When each alert cause was last sent: in the database (table `alerts_sent`), so that a daemon
restarting in a loop does not send the same alert on each start.

If the database cannot be used, the cause is remembered in memory instead and the alert is sent:
an alert sent twice is better than an alert lost while something is already wrong.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.store.engine import Store
from bot.store.errors import StoreError
from bot.store.tables import AlertSentRow

log = logging.getLogger("kindling.alerts")


class SentLog:
    def __init__(self, store: Store | None) -> None:
        self.store = store
        self._memory: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def claim(self, cause: str, now: datetime, quiet: timedelta) -> bool:
        """True, and `cause` recorded as sent at `now`, unless it was sent less than `quiet`
        ago; then False and nothing changes."""
        with self._lock:
            last = self._memory.get(cause)
            if last is not None and now - last < quiet:
                return False
            if self.store is not None:
                try:
                    if not self._claim_stored(cause, now, quiet):
                        return False
                except (SQLAlchemyError, StoreError) as exc:
                    log.warning(
                        "alerts: cannot record alert %s in the database (%s): remembered in "
                        "memory only",
                        cause,
                        type(exc).__name__,
                    )
            self._memory[cause] = now
            return True

    def _claim_stored(self, cause: str, now: datetime, quiet: timedelta) -> bool:
        assert self.store is not None
        with self.store.write() as session:
            row = session.get(AlertSentRow, cause)
            if row is not None and now - row.sent_at < quiet:
                return False
            if row is None:
                session.add(AlertSentRow(cause=cause, sent_at=now))
            else:
                row.sent_at = now
            return True
