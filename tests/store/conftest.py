"""The store tests run on SQLite and on a private PostgreSQL cluster (tests/peers/postgres.py)."""

from __future__ import annotations

from tests.peers.postgres import (  # noqa: F401 (fixtures)
    database_url_fixture,
    postgres_server_fixture,
    postgres_url_fixture,
)
