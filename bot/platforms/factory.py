"""Build the adapter for a platform from the configuration (or a simulated one for dry runs)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.clock import Clock
from bot.config import Config
from bot.platforms.base import (
    Account,
    AuthFailed,
    MentionPage,
    Metrics,
    OwnPost,
    Platform,
    PostRequest,
    Published,
)
from bot.platforms.simulated import SimulatedPlatform


class UnavailablePlatform:
    """Stands in for a platform whose adapter cannot be built (e.g. credentials missing):
    every call fails with AuthFailed, so the daemon pauses it and the others carry on."""

    metrics_batch = 1

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def _fail(self) -> AuthFailed:
        return AuthFailed(self.name, self.reason)

    def check_account(self) -> Account:
        raise self._fail()

    def publish(self, post: PostRequest) -> Published:
        raise self._fail()

    def find_published(self, post: PostRequest) -> Published | None:
        raise self._fail()

    def recent_own_posts(self, limit: int = 100) -> list[OwnPost]:
        raise self._fail()

    def metrics(self, remote_ids: Sequence[str]) -> list[Metrics]:
        raise self._fail()

    def mentions(self, cursor: str | None = None) -> MentionPage:
        raise self._fail()

    def delete(self, remote_id: str) -> None:
        raise self._fail()


def make_platform(name: str, config: Config, dry_run: bool, clock: Clock | None = None) -> Platform:
    """The adapter for `name`; `clock` is what its rate-limit gate reads (the daemon's clock)."""
    if dry_run:
        return SimulatedPlatform(name)
    try:
        if name == "x":
            from bot.platforms.x import XPlatform

            return XPlatform.from_config(config, clock)
        if name == "bluesky":
            from bot.platforms.bluesky import BlueskyPlatform

            return BlueskyPlatform.from_config(config, clock)
        if name == "mastodon":
            from bot.platforms.mastodon import MastodonPlatform

            return MastodonPlatform.from_config(config, clock)
    except AuthFailed as exc:
        return UnavailablePlatform(name, exc.message)
    raise ValueError(f"unknown platform {name!r}")
