"""A platform that sends nothing: it records what would be sent (dry runs, demos, tests)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.platforms.base import (
    Account,
    MentionPage,
    Metrics,
    OwnPost,
    PostRequest,
    Published,
)


class SimulatedPlatform:
    """Behaves like a network that accepts every post; `sent` lists them in order."""

    metrics_batch = 100

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[PostRequest, Published]] = []
        self._by_key: dict[str, Published] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def check_account(self) -> Account:
        return Account(id=f"simulated-{self.name}", handle=f"dry-run.{self.name}")

    def publish(self, post: PostRequest) -> Published:
        with self._lock:
            existing = self._by_key.get(post.key)
            if existing is not None:
                return existing
            number = next(self._ids)
            published = Published(
                remote_id=f"dry-run-{self.name}-{number}",
                url=f"dry-run://{self.name}/{number}",
                created_at=datetime.now(UTC),
                thread_ids=tuple(
                    f"dry-run-{self.name}-{number}.{i}" for i, _ in enumerate(post.thread, 1)
                ),
            )
            self._by_key[post.key] = published
            self.sent.append((post, published))
            return published

    def find_published(self, post: PostRequest) -> Published | None:
        with self._lock:
            return self._by_key.get(post.key)

    def recent_own_posts(self, limit: int = 100) -> list[OwnPost]:
        with self._lock:
            recent = self.sent[-limit:]
        return [OwnPost(p.remote_id, r.text, p.created_at, p.url) for r, p in reversed(recent)]

    def metrics(self, remote_ids: Sequence[str]) -> list[Metrics]:
        return [Metrics(remote_id, 0, 0, 0, 0) for remote_id in remote_ids[: self.metrics_batch]]

    def mentions(self, cursor: str | None = None) -> MentionPage:
        return MentionPage([], cursor)

    def delete(self, remote_id: str) -> None:
        with self._lock:
            self.sent = [(r, p) for r, p in self.sent if p.remote_id != remote_id]
            self._by_key = {k: p for k, p in self._by_key.items() if p.remote_id != remote_id}
