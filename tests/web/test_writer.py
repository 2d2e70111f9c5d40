"""The click writer on SQLite and PostgreSQL: group commit, committed before acknowledged,
failures never hang a request."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.store.engine import Store
from bot.store.migrate import upgrade
from bot.store.tables import Base, ClickRow
from bot.web.writer import ClickWriter, WriterClosed
from tests.peers.postgres import (  # noqa: F401 (fixtures)
    database_url_fixture,
    postgres_server_fixture,
    postgres_url_fixture,
)


@pytest.fixture
def store(database_url):
    """The click store on each backend: a SQLite file, then a fresh PostgreSQL database."""
    upgrade(database_url)
    store = Store(database_url)
    yield store
    store.dispose()


def click(number: int, at: float | None = None, client_hash: str | None = "h") -> tuple:
    return (f"t{number}", "c", "target", "ask", 1, "x", "cy", at or time.time(), client_hash)


def count(store: Store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(ClickRow))


def test_many_concurrent_clicks_are_committed_in_few_transactions(store):
    writer = ClickWriter(store)
    writer.start()

    async def main() -> list[int]:
        seen = []

        async def one(number: int) -> None:
            await writer.record(click(number))
            seen.append(count(store))  # committed: another connection already sees it

        await asyncio.gather(*(one(n) for n in range(500)))
        return seen

    try:
        seen = asyncio.run(main())
    finally:
        writer.stop()
    assert count(store) == 500 == writer.rows
    assert writer.batches < 500  # grouped
    assert min(seen) >= 1


def test_times_are_stored_as_sqlalchemy_reads_them(store):
    writer = ClickWriter(store)
    writer.start()
    moment = datetime(2026, 12, 3, 10, 15, 30, 123456, tzinfo=UTC)
    try:
        asyncio.run(writer.record(click(1, at=moment.timestamp(), client_hash=None)))
    finally:
        writer.stop()
    with store.read() as session:
        row = session.scalars(select(ClickRow)).one()
    assert row.at == moment
    assert row.client_hash is None
    assert (row.token, row.wording, row.platform, row.language) == ("t1", 1, "x", "cy")


def test_a_failed_commit_fails_every_waiting_click(store):
    writer = ClickWriter(store)
    writer.start()
    with store.engine.begin() as connection:
        Base.metadata.tables["clicks"].drop(connection)

    async def main() -> list[object]:
        return await asyncio.gather(
            *(writer.record(click(n)) for n in range(5)), return_exceptions=True
        )

    try:
        results = asyncio.run(main())
    finally:
        writer.stop()
    assert all(isinstance(result, Exception) for result in results)


def test_jobs_run_in_the_writer_in_order_with_clicks(store):
    writer = ClickWriter(store)
    writer.start()

    async def main() -> int:
        await writer.record(click(1))
        return await writer.run(
            lambda connection: connection.execute(
                select(func.count()).select_from(ClickRow)
            ).scalar()
        )

    try:
        assert asyncio.run(main()) == 1
    finally:
        writer.stop()


def test_stop_commits_what_is_queued_then_refuses(store):
    writer = ClickWriter(store)
    writer.start()

    async def main() -> None:
        pending = [asyncio.ensure_future(writer.record(click(n))) for n in range(50)]
        await asyncio.sleep(0)
        await asyncio.to_thread(writer.stop)
        await asyncio.gather(*pending)
        with pytest.raises(WriterClosed):
            await writer.record(click(99))

    asyncio.run(main())
    assert count(store) == 50
    assert not writer.alive



def test_sqlite_wal_is_checkpointed_by_its_own_thread(tmp_path):
    """Checkpoints (and their fsyncs) run in the checkpointer's thread, every `interval`: the
    WAL is copied back to the database file while the writer goes on committing."""
    url = f"sqlite:///{tmp_path / 'clicks.sqlite3'}"
    upgrade(url)
    store = Store(url)
    writer = ClickWriter(store)
    assert writer.checkpointer is not None
    writer.checkpointer.interval = 0.05
    writer.start()
    try:

        async def main() -> None:
            await asyncio.gather(*(writer.record(click(n)) for n in range(100)))

        asyncio.run(main())
        done = writer.checkpointer.checkpoints + 2  # two full intervals after the last commit
        deadline = time.monotonic() + 10
        while writer.checkpointer.checkpoints < done and time.monotonic() < deadline:
            time.sleep(0.02)
        # The database file alone (without its -wal) already holds every click: checkpointed
        # while the writer is still running, far below SQLite's own 1,000-page threshold.
        shutil.copyfile(tmp_path / "clicks.sqlite3", tmp_path / "copy.sqlite3")
        with closing(sqlite3.connect(tmp_path / "copy.sqlite3")) as copy:
            assert copy.execute("SELECT count(*) FROM clicks").fetchone()[0] == 100
    finally:
        writer.stop()
        store.dispose()
    assert writer.checkpointer.checkpoints >= done


def test_in_memory_sqlite_and_postgresql_have_no_checkpointer(store):
    writer = ClickWriter(store)
    assert (writer.checkpointer is None) == (store.sqlite_path is None)
