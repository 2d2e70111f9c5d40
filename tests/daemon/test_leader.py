"""The scheduler lock: held for the daemon's life; losing its PostgreSQL connection is noticed."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from bot.daemon.leader import LeaderLock, LeaderLockHeld
from bot.store.engine import Store


def test_a_second_lock_on_the_same_database_is_refused_and_the_first_stays_held(database_url):
    first, second = Store(database_url), Store(database_url)
    lock = LeaderLock(first)
    try:
        lock.acquire()
        with pytest.raises(LeaderLockHeld):
            LeaderLock(second).acquire()
        assert lock.still_held()
    finally:
        lock.release()
        first.dispose()
        second.dispose()


def test_losing_the_locks_postgresql_connection_is_noticed(postgres_url):
    store = Store(postgres_url)
    lock = LeaderLock(store)
    admin = create_engine(postgres_url)
    try:
        lock.acquire()
        assert lock.still_held()
        with admin.connect() as connection:
            terminated = (
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks"
                        " WHERE locktype = 'advisory' AND granted"
                    )
                )
                .scalars()
                .all()
            )
            connection.commit()
        assert terminated == [True]
        assert not lock.still_held()
        # Another daemon can now take the lock.
        other = LeaderLock(Store(postgres_url))
        other.acquire()
        other.release()
    finally:
        lock.release()
        admin.dispose()
        store.dispose()
