"""A daemon that starts on an existing SQLite file keeps its writes visible to other processes.

SQLite's WAL mode relies on POSIX locks on the database file, which a process loses all at once
when it closes any descriptor of that file. The store's checks of the file (its header) once ran
again after the first connection (`require_migrated` on a file that exists): another process
closing its last connection then believed itself the last user, checkpointed and deleted the WAL,
and every later write of the daemon went to the deleted file, lost to everyone else.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.store.engine import Store
from bot.store.tables import PollCursorRow

READ = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1])
row = connection.execute("SELECT cursor FROM poll_cursors WHERE name = 'probe'").fetchone()
connection.close()
print(row[0] if row else "")
"""


def _write(store: Store, value: str) -> None:
    with store.write() as session:
        row = session.get(PollCursorRow, "probe") or PollCursorRow(name="probe")
        row.cursor, row.updated_at = value, datetime.now(UTC)
        session.add(row)


def _read_elsewhere(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", READ, str(path)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_writes_after_require_migrated_on_an_existing_empty_file_reach_other_processes(tmp_path):
    path = tmp_path / "kindling.sqlite3"
    url = f"sqlite:///{path}"
    first = Store(url)  # as `kindling status` does before any daemon ran: an empty WAL file
    with first.read() as session:
        session.execute(select(1))
    first.dispose()
    assert path.exists()

    daemon = Store(url)
    try:
        daemon.require_migrated()  # migrates the empty file, re-checking it on the way
        _write(daemon, "one")
        assert _read_elsewhere(path) == "one"  # another process opens and closes the file
        _write(daemon, "two")
        assert _read_elsewhere(path) == "two"
    finally:
        daemon.dispose()
