"""The one small interface every network adapter implements, and the one error hierarchy.

Adapters know nothing of campaigns: they publish a text (with an idempotency key and the slot
it belongs to), look up their own posts, fetch metrics and mentions, and check the account.
Every failure of the underlying library or HTTP call is mapped, in the adapter, to exactly one of
the errors below; nothing else escapes an adapter.
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Image:
    path: Path
    alt: str


ACTIONS = ("post", "repost", "like", "quote")


@dataclass(frozen=True)
class Subject:
    """Someone else's post that an amplification (repost, like, quote) acts on."""

    remote_id: str  # X: the tweet id; Bluesky: the at:// URI
    cid: str | None = None  # Bluesky: the content hash a strong reference needs
    url: str = ""


@dataclass(frozen=True)
class PostRequest:
    """One post to publish. `key` is unique per (campaign, message, language, platform, slot).

    `action` is "post" for the bot's own posts; "repost", "like" and "quote" amplify `subject`
    (a quote carries `text`; a repost or like ignores it)."""

    key: str
    text: str
    language: str
    slot: datetime  # timezone-aware, UTC: when the post was due
    images: tuple[Image, ...] = ()
    # Further posts of a thread, published as replies in order after this one.
    thread: tuple[str, ...] = ()
    action: str = "post"
    subject: Subject | None = None


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


@dataclass(frozen=True)
class FoundPost:
    """Someone's post found by a search or in an author's feed: a candidate for amplifying."""

    remote_id: str  # X: the tweet id; Bluesky: the at:// URI
    url: str
    author_id: str  # X user id or Bluesky DID
    author_handle: str  # lower-case, without '@'
    text: str
    created_at: datetime | None
    cid: str | None = None  # Bluesky only
    languages: tuple[str, ...] = ()  # as the post declares them (X: its detected `lang`)
    tags: tuple[str, ...] = ()  # hashtags without '#', as written
    links: tuple[str, ...] = ()  # full URLs the post links to (X: expanded t.co links)
    mentioned: tuple[str, ...] = ()  # handles mentioned, lower-case, without '@'
    is_reply: bool = False
    reply_to_author_id: str | None = None  # whom it replies to, where the network says
    reply_to_handle: str | None = None
    is_repost: bool = False  # a plain repost/retweet, not the author's own words
    reply_to_id: str | None = None  # the post it replies to (X: its id; Bluesky: at:// URI)
    quoted_id: str | None = None  # the post it quotes
    # The posts it replies to or quotes, where the answer carried them (Bluesky author feeds).
    referenced: tuple[FoundPost, ...] = ()


@dataclass(frozen=True)
class FoundPage:
    """One page of a search or author feed, newest first.

    `next_page` continues the same query with older posts (None: nothing older that is newer
    than `newer_than`). `newest` is the watermark of the newest post on the page: pass the one
    from a query's first page as `newer_than` next time to fetch only posts made since."""

    posts: list[FoundPost] = field(default_factory=list)
    next_page: str | None = None
    newest: str | None = None


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


def http_date(value: str | None) -> datetime | None:
    """An answer's `Date` header as an aware UTC time (None when absent or unreadable): each
    adapter keeps the latest as `server_date`, so `kindling doctor` can measure clock skew."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@runtime_checkable
class BillsOwnReads(Protocol):
    """An adapter whose network bills reading the account's own posts (X): reconciliation
    charges what its lookups read."""

    most_reads_per_lookup: int  # the most own posts one `find_published` reads

    def take_own_reads(self) -> int:
        """Own posts this thread's calls read since the last take."""
        ...


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

    def mentions(self, cursor: str | None = None) -> MentionPage:
        """Mentions, replies and quotes by others since `cursor`, and the next cursor. Some may
        have been returned by an earlier call: callers store them once, by remote id."""
        ...

    def delete(self, remote_id: str) -> None: ...


@runtime_checkable
class Amplifier(Protocol):
    """What an adapter adds to `Platform` to find supporters' posts and amplify them.

    Repost, like and quote go through `Platform.publish` (PostRequest.action and .subject), so
    they pass the outbox like every post: exactly once, budgets, rate limits."""

    # True: `search` takes every term in one query (X: OR); False: one term a call (Bluesky).
    combines_terms: bool

    def search(
        self,
        terms: Sequence[str],
        *,
        newer_than: str | None = None,
        page: str | None = None,
        limit: int = 100,
    ) -> FoundPage:
        """At most `limit` posts containing any of `terms` ("#tag" or a URL), newest first,
        excluding plain reposts. Raises RateLimited with nothing lost: call again with the same
        `page`. (X reads are billed per post: `limit` keeps a page inside the read budget.)"""
        ...

    def author_posts(
        self,
        author: str,
        *,
        newer_than: str | None = None,
        page: str | None = None,
        limit: int = 100,
    ) -> FoundPage:
        """Posts by `author` (handle or id), newest first, excluding plain reposts."""
        ...

    def unamplify(self, action: str, published_id: str, subject: Subject) -> None:
        """Undo a repost, like or quote the bot made (`published_id`: what publish returned).
        Undoing something already gone is not an error."""
        ...
