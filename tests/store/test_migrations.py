"""The migrations on SQLite and PostgreSQL: from an empty database to the latest revision and back,
the models and the migrations agree, and start-up refuses a database that is not migrated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, text

from bot.store import migrate
from bot.store.engine import Store
from bot.store.location import Database
from bot.store.migrate import DatabaseNotReady
from bot.store.tables import Base, OutboxRow, PlatformStateRow

MODEL_TABLES = set(Base.metadata.tables)


def tables(url: str) -> set[str]:
    store = Store(url)
    try:
        return set(inspect(store.engine).get_table_names())
    finally:
        store.dispose()


def test_upgrade_from_an_empty_database_creates_every_model_table(database_url):
    assert migrate.current(database_url) is None
    assert "kindling db upgrade" in (migrate.check_current(database_url) or "")
    assert migrate.upgrade(database_url) == migrate.head()
    assert migrate.current(database_url) == migrate.head()
    assert migrate.check_current(database_url) is None
    assert tables(database_url) == MODEL_TABLES | {"alembic_version"}
    assert migrate.upgrade(database_url) == migrate.head()  # again: nothing to do


def test_the_models_and_the_migrations_agree(database_url):
    """A change to bot/store/tables.py without a migration fails here: `kindling db revision`."""
    migrate.upgrade(database_url)
    assert migrate.differences(database_url) == []


def test_downgrade_to_base_drops_every_table_and_upgrade_restores_them(database_url):
    migrate.upgrade(database_url)
    assert migrate.downgrade(database_url, "base") is None
    assert tables(database_url) <= {"alembic_version"}
    assert migrate.upgrade(database_url) == migrate.head()
    assert migrate.differences(database_url) == []


def test_the_revision_chain_is_linear_and_every_step_goes_down_and_up(database_url):
    revisions = list(migrate.script().walk_revisions())  # newest first
    assert len(migrate.script().get_heads()) == 1
    assert revisions[-1].revision == migrate.INITIAL_REVISION
    for revision in reversed(revisions):
        assert migrate.upgrade(database_url, revision.revision) == revision.revision
    for revision in revisions:
        assert migrate.downgrade(database_url, revision.down_revision or "base") == (
            revision.down_revision
        )


def test_utc_datetimes_round_trip_as_aware_utc_on_both_backends(database_url):
    migrate.upgrade(database_url)
    store = Store(database_url)
    try:
        cardiff_winter = datetime(
            2026, 12, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5))
        )
        with store.write() as session:
            session.add(PlatformStateRow(platform="x", auth="ok", updated_at=cardiff_winter))
        with store.read() as session:
            row = session.get(PlatformStateRow, "x")
        assert row is not None
        assert row.updated_at == cardiff_winter
        assert row.updated_at.tzinfo == UTC
        assert row.updated_at.hour == 14
        with pytest.raises(Exception, match="naive datetime"), store.write() as session:
            session.add(PlatformStateRow(platform="b", auth="ok", updated_at=datetime(2026, 1, 1)))
        with store.read() as session:  # comparisons with aware values use the same instant
            found = session.scalar(
                select(PlatformStateRow.platform).where(
                    PlatformStateRow.updated_at > datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
                )
            )
        assert found == "x"
    finally:
        store.dispose()


def test_a_missing_or_empty_sqlite_database_is_created_on_start(tmp_path):
    """In the default data directory, itself created (the only directory the store makes)."""
    url = f"sqlite:///{tmp_path / 'data' / 'kindling.sqlite3'}"
    store = Store(Database(url, creatable_directory=tmp_path / "data"))
    try:
        store.require_migrated()
        assert migrate.current(url) == migrate.head()
        store.require_migrated()  # idempotent
    finally:
        store.dispose()


def test_start_refuses_an_empty_postgresql_database_and_says_what_to_run(postgres_url):
    store = Store(postgres_url)
    try:
        with pytest.raises(
            DatabaseNotReady, match=r"is empty \(no tables\): run `kindling db upgrade`"
        ):
            store.require_migrated()
        assert tables(postgres_url) == set()  # nothing created behind the operator's back
    finally:
        store.dispose()


def test_start_refuses_a_database_at_a_revision_it_does_not_know(database_url):
    migrate.upgrade(database_url)
    store = Store(database_url)
    try:
        with store.write() as session:
            session.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(
            DatabaseNotReady, match="revision 9999, which this Kindling does not know"
        ):
            store.require_migrated()
    finally:
        store.dispose()


def test_an_older_revision_with_data_is_refused_then_upgraded_and_downgraded_keeping_it(
    database_url,
):
    migrate.upgrade(database_url, "0001")
    store = Store(database_url)
    try:
        with store.write() as session:
            session.execute(
                text(
                    "INSERT INTO clicks (token, campaign_id, target_id, ask_id, wording, platform, language, at)"
                    " VALUES ('tok', 'demo', 'ms-a', 'ask', 1, 'x', 'cy', :at)"
                ),
                {"at": datetime(2026, 12, 1, tzinfo=UTC)},
            )
        with pytest.raises(
            DatabaseNotReady,
            match=rf"at revision 0001, this Kindling needs {migrate.head()}: run `kindling db upgrade`",
        ):
            store.require_migrated()
        migrate.upgrade(database_url)
        assert migrate.current(database_url) == migrate.head()
        indexes = {i["name"] for i in inspect(store.engine).get_indexes("clicks")}
        # 0006: one index that grows at its end replaces ix_clicks_report and the (campaign, at)
        # one; 0004 had dropped ix_clicks_target, a prefix of ix_clicks_report.
        assert indexes == {"ix_clicks_time"}
        store.require_migrated()
        migrate.downgrade(database_url, "0005")
        indexes = {i["name"] for i in inspect(store.engine).get_indexes("clicks")}
        assert indexes == {"ix_clicks_report", "ix_clicks_campaign_at"}
        migrate.downgrade(database_url, "0001")
        indexes = {i["name"] for i in inspect(store.engine).get_indexes("clicks")}
        assert "ix_clicks_report" not in indexes
        assert "ix_clicks_target" in indexes
        with store.read() as session:
            assert session.execute(text("SELECT token, target_id FROM clicks")).all() == [
                ("tok", "ms-a")
            ]
    finally:
        store.dispose()


def test_outbox_rows_from_before_amplification_become_posts_and_survive_a_round_trip(
    database_url,
):
    migrate.upgrade(database_url, "0002")
    store = Store(database_url)
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    try:
        with store.write() as session:
            session.execute(
                text(
                    "INSERT INTO outbox (key, mode, campaign_id, message_id, language, platform,"
                    " slot_at, latest_at, text, state, attempts, created_at, updated_at)"
                    " VALUES ('live:k', 'live', 'c', 'launch', 'cy', 'x', :at, :at, 'Helo',"
                    " 'sent', 1, :at, :at)"
                ),
                {"at": at},
            )
        migrate.upgrade(database_url)
        with store.read() as session:
            row = session.scalars(select(OutboxRow)).one()
            assert (row.key, row.action, row.subject_id, row.text) == (
                "live:k",
                "post",
                None,
                "Helo",
            )
        assert "amplify_candidates" in tables(database_url)
        migrate.downgrade(database_url, "0002")
        assert "amplify_candidates" not in tables(database_url)
        with store.read() as session:
            assert session.execute(text("SELECT key, text FROM outbox")).all() == [
                ("live:k", "Helo")
            ]
    finally:
        store.dispose()


def test_a_database_made_before_migrations_is_refused_and_left_alone(database_url):
    store = Store(database_url)
    try:
        Base.metadata.tables["outbox"].create(store.engine)  # an old create_all, fewer tables
        now = datetime(2026, 12, 1, tzinfo=UTC)
        with store.write() as session:
            session.add(
                OutboxRow(
                    key="k",
                    mode="live",
                    campaign_id="c",
                    message_id="m",
                    language="cy",
                    platform="x",
                    slot_at=now,
                    latest_at=now,
                    text="Helo",
                    state="sent",
                    attempts=1,
                    created_at=now,
                    updated_at=now,
                )
            )
        with pytest.raises(
            DatabaseNotReady, match=r"no migration history .* `kindling db upgrade`"
        ):
            store.require_migrated()
        # Adoption stamps the initial revision, so it is only offered while that is the latest
        # (it was, for databases made during the first day's development); now it says why not.
        with pytest.raises(DatabaseNotReady, match="can no longer adopt it: export its data"):
            migrate.upgrade(database_url)
        with store.read() as session:
            assert session.scalar(select(OutboxRow.text)) == "Helo"  # nothing was changed
    finally:
        store.dispose()
