"""click_counts (migration 0005) on SQLite and PostgreSQL: the triggers keep it equal to a GROUP
BY over `clicks` whoever writes (the web server's writer, the ORM, Core, raw SQL: inserts,
deletes, updates); the upgrade counts the clicks already there; the downgrade removes it all."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, inspect, select, text, update

from bot.store import migrate
from bot.store.engine import Store
from bot.store.tables import ClickCountRow, ClickRow
from bot.web.writer import ClickWriter

KEY = ("campaign_id", "target_id", "ask_id", "wording", "platform", "language")
START = datetime(2026, 12, 1, 9, tzinfo=UTC)


def grouped(store: Store) -> dict[tuple, int]:
    """The counts as a GROUP BY over every click gives them."""
    columns = [getattr(ClickRow, c) for c in KEY]
    with store.read() as session:
        rows = session.execute(select(*columns, func.count()).group_by(*columns)).all()
    return {tuple(row[:-1]): row[-1] for row in rows}


def kept(store: Store) -> dict[tuple, int]:
    columns = [getattr(ClickCountRow, c) for c in KEY]
    with store.read() as session:
        rows = session.execute(select(*columns, ClickCountRow.clicks)).all()
    return {tuple(row[:-1]): row[-1] for row in rows}


def row(rng: random.Random, n: int) -> dict:
    return {
        "token": f"tok{n}",
        "campaign_id": rng.choice(("demo", "other")),
        "target_id": f"t{rng.randrange(6)}",
        "ask_id": rng.choice(("letter", "meet")),
        "wording": rng.randrange(2),
        "platform": rng.choice(("x", "bluesky", "email")),
        "language": rng.choice(("cy", "en")),
        "at": START + timedelta(minutes=n * 37),
        "client_hash": None,
    }


def triggers(store: Store) -> set[str]:
    with store.engine.connect() as connection:
        if store.engine.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        else:
            query = (
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal UNION "
                "SELECT proname FROM pg_proc WHERE proname LIKE 'click_counts%'"
            )
        return {name for (name,) in connection.execute(text(query))}


def test_counts_follow_inserts_deletes_and_updates_of_every_kind(database_url):
    migrate.upgrade(database_url)
    store = Store(database_url)
    rng = random.Random(5)
    try:
        with store.engine.begin() as connection:  # Core: one multi-row INSERT, then single ones
            connection.execute(insert(ClickRow), [row(rng, n) for n in range(300)])
            for n in range(300, 320):
                connection.execute(insert(ClickRow).values(**row(rng, n)))
        with store.write() as session:  # the ORM
            session.add_all(ClickRow(**row(rng, n)) for n in range(320, 340))
        assert kept(store) == grouped(store)
        assert sum(kept(store).values()) == 340
        with store.engine.begin() as connection:
            connection.execute(delete(ClickRow).where(ClickRow.target_id == "t1"))
            connection.execute(delete(ClickRow).where(ClickRow.id % 7 == 0))
            connection.execute(
                update(ClickRow).where(ClickRow.target_id == "t2").values(target_id="t9")
            )
            connection.execute(update(ClickRow).where(ClickRow.id % 5 == 0).values(wording=7))
            connection.execute(update(ClickRow).where(ClickRow.id % 3 == 0).values(token="x"))
        assert kept(store) == grouped(store)
        assert not any(key[1] in ("t1", "t2") for key in kept(store))  # no rows of zero
        with store.engine.begin() as connection:  # a transaction rolled back counts nothing
            before = kept(store)
            connection.execute(insert(ClickRow), [row(rng, n) for n in range(400, 410)])
            connection.rollback()
        assert kept(store) == before == grouped(store)
        with store.engine.begin() as connection:
            connection.execute(delete(ClickRow))
        assert kept(store) == {} == grouped(store)
    finally:
        store.dispose()


def test_counts_follow_the_web_servers_writer(database_url):
    migrate.upgrade(database_url)
    store = Store(database_url)
    writer = ClickWriter(store)
    rng = random.Random(7)
    clicks = []
    for n in range(600):
        r = row(rng, n)
        clicks.append(
            (
                r["token"],
                *(r[c] for c in KEY),
                r["at"].timestamp(),
                None,
            )
        )
    writer.start()

    async def main() -> None:
        await asyncio.gather(*(writer.record(c) for c in clicks))

    try:
        asyncio.run(main())
    finally:
        writer.stop()
    try:
        assert writer.rows == 600
        assert writer.batches < 600  # group commits: multi-row INSERTs went through the triggers
        assert kept(store) == grouped(store)
        assert sum(kept(store).values()) == 600
    finally:
        store.dispose()


def test_the_upgrade_counts_existing_clicks_and_the_downgrade_removes_table_and_triggers(
    database_url,
):
    migrate.upgrade(database_url, "0004")
    store = Store(database_url)
    rng = random.Random(9)
    try:
        with store.engine.begin() as connection:
            connection.execute(insert(ClickRow), [row(rng, n) for n in range(200)])
        migrate.upgrade(database_url, "0005")
        assert kept(store) == grouped(store)
        assert sum(kept(store).values()) == 200
        assert {"click_counts_insert", "click_counts_delete", "click_counts_update"} <= triggers(
            store
        )
        migrate.downgrade(database_url, "0004")
        assert "click_counts" not in inspect(store.engine).get_table_names()
        assert not {t for t in triggers(store) if t.startswith("click_counts")}
        with store.engine.begin() as connection:  # clicks work without the triggers' table
            connection.execute(insert(ClickRow), [row(rng, n) for n in range(200, 210)])
            connection.execute(delete(ClickRow).where(ClickRow.id == 1))
        migrate.upgrade(database_url)
        assert kept(store) == grouped(store)
        assert sum(kept(store).values()) == 209
    finally:
        store.dispose()
