"""WAL checkpoints for the click writer's SQLite database, mostly off the commit path.

SQLite normally checkpoints from inside a commit once the WAL passes 1,000 pages: the connection
that commits copies the WAL back into the database file and fsyncs both, and every click waiting
for the next group commit waits for that too. Here a thread with a connection of its own runs a
PASSIVE checkpoint every `interval` seconds (20 ms) while there are new commits: passive
checkpoints never take the write lock, so group commits go on while it copies and syncs.

The thread runs at the scheduler's idle priority (Linux SCHED_IDLE, where allowed): copying the
WAL back is work that can wait, and at normal priority it took the core from the event loop in
slices of milliseconds. On the `/go/` benchmark (server pinned to one core) that alone lifted
p99 from ~1.7 ms to ~4.7 ms. When the core is saturated this thread gets very little time, and
checkpointing falls back to SQLite's own in the writer (below), which runs whenever this thread
is not in the middle of a checkpoint (one checkpointer at a time: the other's attempt returns
at once, and the WAL grows a little longer until the next).

That alone is not enough. SQLite only starts the WAL over from its beginning when a write finds
every frame already copied back, and under steady load the writer appends frames while the
checkpoint runs, so the WAL never restarts: 600,000 clicks driven in-process left a 3.3 GB WAL.
So the writer's connection keeps SQLite's automatic checkpoint at `WRITER_AUTOCHECKPOINT`
pages: when it fires, this thread has usually copied most frames already; the commit copies the
rest and syncs (a pause of 3–8 ms for the clicks of that commit, the larger the WAL the longer),
and the next write restarts the WAL. Measured at 1,000 / 2,000 / 4,000 pages: p99 3.7 / 4.0 /
4.5–4.9 ms (benchmarks/README.md, "/go/{token}"); with the WAL never restarted 1.7 ms.

Durability is unchanged: with `synchronous=NORMAL` a commit is in the WAL file (not yet
fsynced) either way, and the WAL is synced at each checkpoint.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from bot.store.engine import Store

log = logging.getLogger("kindling.web.checkpoint")

WRITER_AUTOCHECKPOINT = 1000  # pages (4 KiB): the writer's own backstop, see above


class WalCheckpointer:
    def __init__(self, store: Store, interval: float = 0.02) -> None:
        self.store = store
        self.interval = interval
        self.checkpoints = 0
        # Set by the writer after each commit: an idle server's thread sleeps until there is
        # something to copy, instead of waking 50 times a second to find nothing.
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def committed(self) -> None:
        """The writer committed: checkpoint within `interval`."""
        self._dirty.set()

    def start(self) -> None:
        self._stop.clear()
        self._dirty.clear()
        self._thread = threading.Thread(target=self._run, name="kindling-checkpoint", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._dirty.set()
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        _lower_own_priority()
        raw = self.store.engine.raw_connection()
        try:
            while True:
                self._dirty.wait()
                if self._stop.wait(self.interval):  # at most one checkpoint per interval
                    break
                self._dirty.clear()
                self._checkpoint(raw)
        finally:
            raw.close()

    def _checkpoint(self, raw: Any) -> None:
        try:
            cursor = raw.cursor()
            try:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cursor.fetchall()
            finally:
                cursor.close()
            self.checkpoints += 1
        except Exception as exc:  # busy or failing: the writer's backstop still checkpoints
            log.warning("WAL checkpoint failed: %s", exc)


def _lower_own_priority() -> None:
    """Idle scheduling for the calling thread (Linux), else the lowest nice value; if neither is
    allowed it runs as before."""
    thread = threading.get_native_id()
    try:
        if hasattr(os, "SCHED_IDLE"):
            os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
        else:  # pragma: no cover - not Linux
            os.setpriority(os.PRIO_PROCESS, thread, 19)
    except (OSError, AttributeError) as exc:  # pragma: no cover - a restricted platform
        log.debug("checkpoint thread keeps its priority: %s", exc)
