"""WAL checkpoints for the click writer's SQLite database, off the commit path.

SQLite normally checkpoints from inside a commit once the WAL passes 1,000 pages: the connection
that commits copies the WAL back into the database file and fsyncs both, and every click waiting
for the next group commit waits for those fsyncs too (on the `/go/` benchmark, about a third of
the writer's wall time). The click writer turns that off on its own connection
(`wal_autocheckpoint=0`) and this thread, with a connection of its own, runs a PASSIVE checkpoint
every `interval` seconds instead: passive checkpoints never take the write lock, so group commits
go on while the checkpoint copies and syncs. Durability is unchanged: with `synchronous=NORMAL` a
commit is in the WAL file (not yet fsynced) either way, and the WAL is synced at each checkpoint.
"""

from __future__ import annotations

import logging
import threading

from bot.store.engine import Store

log = logging.getLogger("kindling.web.checkpoint")


class WalCheckpointer:
    def __init__(self, store: Store, interval: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kindling-checkpoint", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        raw = self.store.engine.raw_connection()
        try:
            while not self._stop.wait(self.interval):
                self.checkpoint(raw)
            self.checkpoint(raw)  # what the writer committed last is in the database file too
        finally:
            raw.close()

    def checkpoint(self, raw) -> None:  # type: ignore[no-untyped-def]
        try:
            cursor = raw.cursor()
            try:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cursor.fetchall()
            finally:
                cursor.close()
            self.checkpoints += 1
        except Exception as exc:  # a busy or failing checkpoint is retried at the next interval
            log.warning("WAL checkpoint failed: %s", exc)
