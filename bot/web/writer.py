"""The web server's one database writer: a thread that group-commits clicks (datasette style).

Every write of the web server goes through `ClickWriter`. A click is queued with a callback
(`submit`, used by the protocol-level `/go/` path, bot/web/go_protocol.py) or awaited (`record`,
the ASGI path); either way it is acknowledged only after the transaction holding it has been
committed, so a redirect is never sent for a click that is not committed (see "Durability"
below). Other writes (syncing the links table on start-up and reload) run in the same thread as
jobs, in their own transaction.

Group commits: woken by a click, the thread waits `commit_delay` (0.25 ms), then takes
everything queued (up to `max_batch`) and commits it in one transaction. The wait costs no CPU
and lets the event loop read the requests already on their way: on the benchmark (32
connections, one core) commits grew from 8 to 31 clicks and the CPU a click costs fell by about
8 µs (37 to 30 µs, measured before the database had its click_counts triggers); 0.5 ms was too
long (the clients wait for the commit, so the rate fell), 0.1–0.15 ms too short
(benchmarks/README.md, "/go/{token}"). A lone click waits 0.25 ms longer for its redirect.

SQLite is written through the DBAPI connection of the Store's engine (WAL, synchronous=NORMAL,
busy timeout), storing `at` exactly as SQLAlchemy's SQLite DateTime does; other databases go
through SQLAlchemy Core. On a SQLite file the WAL is checkpointed mostly by `WalCheckpointer`'s
thread rather than inside group commits (bot/web/checkpoint.py says how and why).

Durability: a click is acknowledged (the 302 sent) only after the commit holding it returned.
With `synchronous=NORMAL` in WAL mode that commit is written to the WAL file but not fsynced:
the click survives the Kindling process crashing or being killed, but the commits of the last
moments before a power cut or a kernel crash can be lost (the WAL is synced at each checkpoint,
every 20 ms while clicks come in). `synchronous=FULL` would fsync every group commit; on the
benchmark it cost about a fifth of the `/go/` rate (benchmarks/README.md).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Table, insert

from bot.store.engine import Store
from bot.store.tables import ClickRow
from bot.web.checkpoint import WRITER_AUTOCHECKPOINT, WalCheckpointer

log = logging.getLogger("kindling.web.writer")

# (token, campaign_id, target_id, ask_id, wording, platform, language, unix time, client hash)
Click = tuple[str, str, str, str, int, str, str, float, str | None]
_COLUMNS = (
    "token",
    "campaign_id",
    "target_id",
    "ask_id",
    "wording",
    "platform",
    "language",
    "at",
    "client_hash",
)
_ROW = f"({', '.join('?' * len(_COLUMNS))})"
# Seconds the thread waits, once woken by a click, before taking what is queued: the clicks
# that arrive meanwhile share the commit (see "Group commits" above).
COMMIT_DELAY = 0.00025
_CHUNK = 128  # rows per INSERT statement (1,152 parameters: far below SQLite's limit)


@lru_cache(maxsize=_CHUNK)
def _sqlite_insert(rows: int) -> str:
    """One INSERT of `rows` rows: one statement step per chunk, so the sqlite3 module releases
    and retakes the GIL once per chunk rather than once per row (on one core that hand-over is
    what a click costs most)."""
    return (
        f"INSERT INTO {ClickRow.__tablename__} ({', '.join(_COLUMNS)}) "
        f"VALUES {', '.join([_ROW] * rows)}"
    )


_STOP = object()


class WriterClosed(RuntimeError):
    """The writer is stopped (or its thread died): nothing can be recorded."""


class _Job:
    __slots__ = ("fn", "future", "loop")

    def __init__(self, fn: Callable[[Connection], Any], future: asyncio.Future, loop: Any) -> None:
        self.fn = fn
        self.future = future
        self.loop = loop


def _notify(
    callbacks: list[Callable[[BaseException | None], None]], error: BaseException | None
) -> None:
    for done in callbacks:
        done(error)


def _future_settler(future: asyncio.Future) -> Callable[[BaseException | None], None]:
    def settle(error: BaseException | None) -> None:
        if not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    return settle


class ClickWriter:
    def __init__(
        self, store: Store, *, max_batch: int = 4096, commit_delay: float = COMMIT_DELAY
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.commit_delay = commit_delay
        self.sqlite = store.engine.dialect.name == "sqlite"
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = True
        self._second = -1
        self._second_text = ""
        self.batches = 0
        self.rows = 0
        file_backed = self.sqlite and store.sqlite_path is not None
        self.checkpointer = WalCheckpointer(store) if file_backed else None

    @property
    def alive(self) -> bool:
        return not self._closed and self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="kindling-writer", daemon=True)
        self._thread.start()
        if self.checkpointer is not None:
            self.checkpointer.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then end the thread."""
        if self._thread is None:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None
        if self.checkpointer is not None:
            self.checkpointer.stop(timeout)

    async def record(self, click: Click) -> None:
        """Returns once `click` is committed; raises if it could not be."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.submit(click, _future_settler(future), loop)
        await future

    def submit(
        self,
        click: Click,
        done: Callable[[BaseException | None], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """Queue `click`; `done(None)` runs in `loop` once it is committed, `done(error)` if it
        could not be. No future, no coroutine: what the protocol-level `/go/` path uses."""
        if self._closed:
            raise WriterClosed("the click writer is stopped")
        self._queue.put((click, done, loop))

    async def run(self, fn: Callable[[Connection], Any]) -> Any:
        """Run `fn(connection)` in the writer thread, in one transaction; returns its result."""
        if self._closed:
            raise WriterClosed("the click writer is stopped")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Job(fn, future, loop))
        return await future

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        raw = self.store.engine.raw_connection() if self.sqlite else None
        if raw is not None and self.checkpointer is not None:
            cursor = raw.cursor()
            cursor.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT}")
            cursor.close()
        try:
            while True:
                batch = [self._queue.get()]
                if self.commit_delay:
                    time.sleep(self.commit_delay)
                try:
                    while len(batch) < self.max_batch:
                        batch.append(self._queue.get_nowait())
                except queue.Empty:
                    pass
                if not self._process(batch, raw):
                    return
        except BaseException:  # pragma: no cover - a bug; requests must not hang on it
            log.exception("the click writer failed")
            raise
        finally:
            self._closed = True
            self._fail_waiting()
            if raw is not None:
                raw.close()

    def _process(self, batch: list, raw: Any) -> bool:
        clicks: list = []
        keep_going = True
        for item in batch:
            if type(item) is tuple:
                clicks.append(item)
            elif item is _STOP:
                keep_going = False
            else:
                if clicks:
                    self._commit_clicks(clicks, raw)
                    clicks = []
                self._run_job(item)
        if clicks:
            self._commit_clicks(clicks, raw)
        return keep_going

    def _stamp(self, moment: float) -> str:
        second = int(moment)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((moment - second) * 1_000_000):06d}"

    def _commit_clicks(self, clicks: list, raw: Any) -> None:
        error: BaseException | None = None
        try:
            if raw is not None:
                stamp = self._stamp
                cursor = raw.cursor()
                try:
                    for start in range(0, len(clicks), _CHUNK):
                        chunk = clicks[start : start + _CHUNK]
                        values: list = []
                        for c, _, _ in chunk:
                            values += c[:7]
                            values.append(stamp(c[7]))
                            values.append(c[8])
                        cursor.execute(_sqlite_insert(len(chunk)), values)
                finally:
                    cursor.close()
                raw.commit()
                if self.checkpointer is not None:
                    self.checkpointer.committed()
            else:
                dicts = [
                    dict(
                        zip(
                            _COLUMNS, (*c[:7], datetime.fromtimestamp(c[7], UTC), c[8]), strict=True
                        )
                    )
                    for c, _, _ in clicks
                ]
                with self.store.engine.begin() as connection:
                    connection.execute(insert(cast(Table, ClickRow.__table__)), dicts)
        except Exception as exc:
            log.error("could not commit %d clicks: %s", len(clicks), exc)
            error = exc
            if raw is not None:
                try:
                    raw.rollback()
                except Exception:  # pragma: no cover
                    log.exception("rollback failed")
        else:
            self.batches += 1
            self.rows += len(clicks)
        by_loop: dict[Any, list[Callable[[BaseException | None], None]]] = {}
        for _, done, loop in clicks:
            by_loop.setdefault(loop, []).append(done)
        for loop, callbacks in by_loop.items():
            with suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                loop.call_soon_threadsafe(_notify, callbacks, error)

    def _run_job(self, job: _Job) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            with self.store.engine.begin() as connection:
                result = job.fn(connection)
        except Exception as exc:
            log.error("a database job failed: %s", exc)
            error = exc

        def settle() -> None:
            if job.future.done():
                return
            if error is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(error)

        with suppress(RuntimeError):
            job.loop.call_soon_threadsafe(settle)

    def _fail_waiting(self) -> None:
        """Anything still queued when the thread ends fails instead of waiting for ever."""
        error = WriterClosed("the click writer stopped")
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if type(item) is tuple:
                _, done, loop = item
            elif isinstance(item, _Job):
                done, loop = _future_settler(item.future), item.loop
            else:
                continue
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(_notify, [done], error)
