"""The outbox's fixtures: a migrated store on each backend, and outboxes over it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.config import XPrices
from bot.publish.budget import Budget
from bot.publish.outbox import Outbox
from bot.store.engine import Store
from bot.store.migrate import upgrade


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on each backend: a SQLite file, then a fresh PostgreSQL database."""
    upgrade(database_url)
    store = Store(database_url)
    yield store
    store.dispose()


@pytest.fixture
def make_outbox(store: Store) -> Callable[..., Outbox]:
    def _make(
        mode: str = "live", budget_usd: float = 100.0, campaign_budget: float | None = None
    ) -> Outbox:
        return Outbox(store, mode, Budget(store, budget_usd), XPrices(), {"demo": campaign_budget})

    return _make
