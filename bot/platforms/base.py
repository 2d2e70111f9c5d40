"""The one small interface every network adapter implements, and the one error hierarchy.

Adapters know nothing of campaigns: they publish a text (with an idempotency key and the slot
it belongs to), look up their own posts, fetch metrics and mentions, and check the account.
Every failure of the underlying library or HTTP call is mapped, in the adapter, to exactly one of
the errors below; nothing else escapes an adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Image:
    path: Path
    alt: str


@dataclass(frozen=True)
class PostRequest:
    """One post to publish. `key` is unique per (campaign, message, language, platform, slot)."""

    key: str
    text: str
    language: str
    slot: datetime  # timezone-aware, UTC: when the post was due
    images: tuple[Image, ...] = ()
    # Further posts of a thread, published as replies in order after this one.
    thread: tuple[str, ...] = ()


@dataclass(frozen=True)
class Published:
    remote_id: str  # X: the tweet id; Bluesky: the at:// URI
    url: str  # where a person can see it
    created_at: datetime | None = None
    # For threads: the remote ids of the replies, in order.
    thread_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class OwnPost:
    remote_id: str
    text: str
    created_at: datetime | None
    url: str


@dataclass(frozen=True)
class Metrics:
    remote_id: str
    likes: int
    reposts: int
    replies: int
    quotes: int
    impressions: int | None = None
    bookmarks: int | None = None


@dataclass(frozen=True)
class Mention:
    remote_id: str
    kind: str  # "mention", "reply" or "quote"
    author_id: str  # X user id or Bluesky DID
    author_handle: str
    text: str
    created_at: datetime | None
    url: str
    in_reply_to: str | None = None  # the remote id of our post, where known


@dataclass(frozen=True)
class Account:
    id: str  # X user id or Bluesky DID
    handle: str


@dataclass(frozen=True)
class MentionPage:
    mentions: list[Mention] = field(default_factory=list)
    cursor: str | None = None  # pass back to get only newer ones


class PlatformError(Exception):
    """Base of every error an adapter raises. `platform` says which network."""

    def __init__(self, platform: str, message: str) -> None:
        super().__init__(f"{platform}: {message}")
        self.platform = platform
        self.message = message


class RateLimited(PlatformError):
    """Too many calls: try again at `reset_at` (UTC), not before."""

    def __init__(self, platform: str, message: str, reset_at: datetime) -> None:
        super().__init__(platform, message)
        self.reset_at = reset_at


class AuthFailed(PlatformError):
    """Credentials missing, wrong, expired or revoked: pause this platform and tell the operator."""


class Rejected(PlatformError):
    """A permanent refusal of this request (too long, invalid): retrying cannot help."""


class Duplicate(Rejected):
    """The network refuses the text as a duplicate of a recent post of this account."""


class Transient(PlatformError):
    """Failed before anything could have been created (e.g. connection refused): safe to retry."""


class Ambiguous(PlatformError):
    """A create call may or may not have taken effect (timeout, 5xx): reconcile, never retry blind."""


@runtime_checkable
class Platform(Protocol):
    name: str
    metrics_batch: int  # the most ids one metrics call takes (X 100, Bluesky 25)

    def check_account(self) -> Account: ...

    def publish(self, post: PostRequest) -> Published:
        """Create the post. Raises one of the errors above; never retries a create by itself."""
        ...

    def find_published(self, post: PostRequest) -> Published | None:
        """Reconciliation: the post made for `post.key` if it exists on the network, else None."""
        ...

    def recent_own_posts(self, limit: int = 100) -> list[OwnPost]: ...

    def metrics(self, remote_ids: Sequence[str]) -> list[Metrics]:
        """Counts for at most `metrics_batch` posts, in one call."""
        ...

    def mentions(self, cursor: str | None = None) -> MentionPage: ...

    def delete(self, remote_id: str) -> None: ...
