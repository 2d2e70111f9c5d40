"""The quick "is the database at the latest migration" check (bot/store/revision.py) agrees
with Alembic, and says "not known to be current" whenever Alembic would have a complaint."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bot.store import migrate
from bot.store.engine import Store
from bot.store.revision import head_from_files, is_current


def test_the_head_read_from_the_migration_files_is_alembics():
    assert head_from_files() is not None
    assert head_from_files() == migrate.head()


def revision_file(directory: Path, name: str, revision: str, down: str | None) -> None:
    (directory / f"{name}.py").write_text(
        f'"""{name}."""\n\nrevision = "{revision}"\ndown_revision: str | None = {down!r}\n'
        "branch_labels = None\n",
        encoding="utf-8",
    )


def test_a_history_that_is_not_one_line_has_no_head_here(tmp_path):
    (tmp_path / "__init__.py").write_text("", encoding="utf-8")
    revision_file(tmp_path, "0001_a", "0001", None)
    revision_file(tmp_path, "0002_b", "0002", "0001")
    assert head_from_files(tmp_path) == "0002"
    branched = tmp_path / "branched"
    branched.mkdir()
    revision_file(branched, "0001_a", "0001", None)
    revision_file(branched, "0002_b", "0002", "0001")
    revision_file(branched, "0003_c", "0003", "0001")  # two heads: ask Alembic
    assert head_from_files(branched) is None
    merged = tmp_path / "merged"
    merged.mkdir()
    revision_file(merged, "0001_a", "0001", None)
    (merged / "0002_m.py").write_text(
        'revision = "0002"\ndown_revision = ("0001", "0000")\n', encoding="utf-8"
    )
    assert head_from_files(merged) is None
    computed = tmp_path / "computed"
    computed.mkdir()
    (computed / "0001_a.py").write_text(
        "revision = make()\ndown_revision = None\n", encoding="utf-8"
    )
    assert head_from_files(computed) is None


def test_current_only_at_the_latest_revision(database_url):
    store = Store(database_url)
    try:
        assert not is_current(database_url, store.engine)  # empty: no version table
        migrate.upgrade(database_url, "0001")
        assert not is_current(database_url, store.engine)
        migrate.upgrade(database_url)
        assert is_current(database_url, store.engine)
        with store.write() as session:
            session.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        assert not is_current(database_url, store.engine)
        with store.write() as session:  # two rows: a branched history Alembic must judge
            session.execute(text(f"UPDATE alembic_version SET version_num = '{migrate.head()}'"))
            session.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0001')"))
        assert not is_current(database_url, store.engine)
    finally:
        store.dispose()


def test_a_missing_sqlite_file_is_not_created_by_the_check(tmp_path):
    path = tmp_path / "kindling.sqlite3"
    store = Store(f"sqlite:///{path}")
    try:
        assert not is_current(store.url, store.engine)
        assert not path.exists()
    finally:
        store.dispose()
