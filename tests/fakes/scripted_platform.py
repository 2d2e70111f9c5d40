"""An in-process adapter double for outbox and daemon unit tests: it answers from a script.

It stands in for an adapter (the boundary the outbox talks to), not for a network: tests of the
real adapters run against the fake X server and the real local Bluesky network.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.platforms.base import (
    Account,
    MentionPage,
    Metrics,
    OwnPost,
    PlatformError,
    PostRequest,
    Published,
)


class ScriptedPlatform:
    metrics_batch = 100

    def __init__(self, name: str = "x") -> None:
        self.name = name
        self.posts: dict[str, Published] = {}  # what the "network" holds, by idempotency key
        self.calls: list[str] = []
        # Errors to raise from the next publish calls, in order; ("after", error) creates first.
        self.script: list[PlatformError | tuple[str, PlatformError]] = []
        self.find_errors: list[PlatformError] = []
        self._lock = threading.Lock()

    def check_account(self) -> Account:
        return Account("1", f"bot.{self.name}")

    def publish(self, post: PostRequest) -> Published:
        with self._lock:
            self.calls.append(f"publish {post.key}")
            step = self.script.pop(0) if self.script else None
            if isinstance(step, PlatformError):
                raise step
            published = Published(
                f"{self.name}-{len(self.posts) + 1}",
                f"https://{self.name}.test/{len(self.posts) + 1}",
                datetime.now(UTC),
            )
            self.posts[post.key] = published
            if isinstance(step, tuple):
                raise step[1]
            return published

    def find_published(self, post: PostRequest) -> Published | None:
        with self._lock:
            self.calls.append(f"find {post.key}")
            if self.find_errors:
                raise self.find_errors.pop(0)
            return self.posts.get(post.key)

    def recent_own_posts(self, limit: int = 100) -> list[OwnPost]:
        return []

    def metrics(self, remote_ids: Sequence[str]) -> list[Metrics]:
        return []

    def mentions(self, cursor: str | None = None) -> MentionPage:
        return MentionPage()

    def delete(self, remote_id: str) -> None:
        self.posts = {k: v for k, v in self.posts.items() if v.remote_id != remote_id}
