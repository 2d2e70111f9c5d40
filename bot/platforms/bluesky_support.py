"""Parts of the Bluesky adapter that need no atproto import: the saved-session file, the
rate-limit gate on the HTTP client, images, URIs and URLs, and notifications as `Mention`s."""

from __future__ import annotations

import contextlib
import email.utils
import json
import mimetypes
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.platforms import bluesky_richtext as rt
from bot.platforms.base import (
    AuthFailed,
    Image,
    Mention,
    MentionPage,
    Metrics,
    OwnPost,
    PostRequest,
    RateLimited,
    Rejected,
)

if TYPE_CHECKING:  # the adapter's HTTP client; listening imports this module without it
    import httpx

NAME = "bluesky"
ImageData = tuple[Image, bytes, str]  # the image, its bytes, its MIME type
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000  # app.bsky.embed.images#image: maxSize
DEFAULT_BACKOFF = timedelta(seconds=60)
MENTION_REASONS = ("mention", "reply", "quote")
MAX_NOTIFICATION_PAGES = 10
# listNotifications is ordered by sortAt, the earlier of a record's createdAt and the AppView's
# indexedAt, so a notification indexed late sorts among ones already read. Each poll reads this
# far below the newest time seen before (the store keeps each response once, by its URI) rather
# than stopping at the first notification it has seen.
LATE_INDEXING = timedelta(minutes=30)


class RecordNotFound(Rejected):
    """getRecord: no record at that key (the adapter turns it into None, never raises it)."""


class TokenRejected(AuthFailed):
    """The session's token was refused (expired, revoked): worth one refresh or login."""


class SessionFile:
    """The saved session string, for one service and handle (another one's is ignored)."""

    def __init__(self, path: Path, service_url: str, handle: str) -> None:
        self.path, self.service_url, self.handle = path, service_url, handle

    def load(self) -> str | None:
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or saved.get("service_url") != self.service_url:
            return None
        if str(saved.get("handle", "")).lower() != self.handle:
            return None
        session = saved.get("session")
        return session if isinstance(session, str) and session else None

    def save(self, session_string: str) -> None:
        """Write atomically (temporary file, fsync, rename), readable by the owner only."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "service_url": self.service_url,
            "handle": self.handle,
            "session": session_string,
        }
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:  # mkstemp makes the file 0600
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(payload, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


class RateLimitGate:
    """httpx event hooks: learn each XRPC method's reset time from `RateLimit-*` headers, and
    refuse (raise `RateLimited`) before sending a call to a method whose budget is spent."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._until: dict[str, datetime] = {}
        self._now = clock or (lambda: datetime.now(UTC))

    def before(self, request: httpx.Request) -> None:
        method = xrpc_method(request.url.path)
        until = self._until.get(method)
        if until is None:
            return
        if until > self._now():
            raise RateLimited(
                NAME, f"{method}: rate limit spent until {until:%Y-%m-%d %H:%M:%S}Z", until
            )
        del self._until[method]

    def after(self, response: httpx.Response) -> None:
        headers = response.headers
        spent = headers.get("ratelimit-remaining", "").strip() == "0"
        if response.status_code != 429 and not spent:
            return
        until = reset_time(headers, self._now())
        if until is not None:
            self._until[xrpc_method(response.request.url.path)] = until

    def blocked_until(self, method: str) -> datetime | None:
        return self._until.get(method)


def reset_time(headers: httpx.Headers | dict[str, str], now: datetime) -> datetime | None:
    """When the spent budget comes back: `RateLimit-Reset` (epoch seconds), else `Retry-After`
    (seconds or an HTTP date), else a minute from now."""
    reset = str(headers.get("ratelimit-reset", "")).strip()
    if reset.isdigit():
        return datetime.fromtimestamp(int(reset), UTC)
    retry = str(headers.get("retry-after", "")).strip()
    if retry.isdigit():
        return now + timedelta(seconds=int(retry))
    if retry:
        try:
            moment = email.utils.parsedate_to_datetime(retry)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return now + DEFAULT_BACKOFF


def xrpc_method(path: str) -> str:
    return path.rsplit("/xrpc/", 1)[-1].strip("/")


def split_uri(uri: str) -> tuple[str, str, str]:
    """(repo DID, collection, record key) of an at:// URI."""
    parts = uri.removeprefix("at://").split("/")
    if not uri.startswith("at://") or len(parts) != 3 or not all(parts):
        raise Rejected(NAME, f"not an at:// record URI: {uri!r}")
    return parts[0], parts[1], parts[2]


def post_url(handle: str, uri: str) -> str:
    """Where a person sees the post: https://bsky.app/profile/HANDLE/post/RKEY."""
    return f"https://bsky.app/profile/{handle}/post/{split_uri(uri)[2]}"


def on_public_network(service_url: str) -> bool:
    """Whether the PDS is Bluesky's own (bsky.social, or one of its *.bsky.network hosts), whose
    posts bsky.app shows. A self-hosted PDS's may not be there."""
    host = urlsplit(service_url).hostname or ""
    return host == "bsky.social" or host.endswith(".bsky.network")


def shown_link(service_url: str, web_url: str, uri: str | None, stored: str | None) -> str | None:
    """The address to show for the account's own post `uri` (at://), recorded as `stored`: the
    `[bluesky] web_url` template filled in ({handle}, {did}, {rkey}) when one is set; else the
    recorded bsky.app link on the public network, and elsewhere the at:// URI itself (a bsky.app
    link would not open a self-hosted PDS's post)."""
    try:
        did, _, rkey = split_uri(uri or "")
    except Rejected:  # a dry run's row, or no record
        return stored
    if web_url:
        recorded = re.fullmatch(r"https://bsky\.app/profile/([^/]+)/post/[^/]+", stored or "")
        return web_url.format(handle=recorded.group(1) if recorded else did, did=did, rkey=rkey)
    return stored if on_public_network(service_url) else uri


def field(obj: Any, *names: str) -> Any:
    """obj.a.b... for SDK models (snake_case attributes) or plain dicts (camelCase keys)."""
    for name in names:
        if obj is None:
            return None
        if isinstance(obj, dict):
            camel = name.split("_")[0] + "".join(p.title() for p in name.split("_")[1:])
            obj = obj.get(name, obj.get(camel))
        else:
            obj = getattr(obj, name, None)
    return obj


def quoted_uri(record: Any) -> str | None:
    """The URI a post quotes: app.bsky.embed.record, or the record of recordWithMedia."""
    embed = field(record, "embed")
    uri = field(embed, "record", "uri")
    if isinstance(uri, str):
        return uri
    nested = field(embed, "record", "record", "uri")
    return nested if isinstance(nested, str) else None


def collect_mentions(
    fetch: Callable[[str | None], Any], cursor: str | None, own_did: str
) -> MentionPage:
    """Page through listNotifications (newest first) down to `LATE_INDEXING` below `cursor`, the
    newest indexedAt returned last time; the first call (no cursor) reads one page. Other
    accounts' mentions, replies and quotes only, some of them possibly returned before; the new
    cursor is the newest indexedAt seen."""
    seen_until = newest_time = parse_time(cursor)
    read_down_to = seen_until - LATE_INDEXING if seen_until is not None else None
    newest, page, found = cursor, None, []
    for _ in range(MAX_NOTIFICATION_PAGES):
        answer = fetch(page)
        reached_old = False
        for item in answer.notifications:
            indexed = parse_time(item.indexed_at)
            sort_time = _sort_time(item, indexed)
            if read_down_to is not None and sort_time is not None and sort_time < read_down_to:
                reached_old = True
                break
            if indexed is not None and (newest_time is None or indexed > newest_time):
                newest, newest_time = item.indexed_at, indexed
            if item.reason in MENTION_REASONS and item.author.did != own_did:
                found.append(mention_of(item))
        page = answer.cursor
        if reached_old or seen_until is None or not page or not answer.notifications:
            break
    return MentionPage(mentions=found, cursor=newest)


def _sort_time(item: Any, indexed: datetime | None) -> datetime | None:
    """The AppView's sortAt for a notification: the earlier of its record's createdAt and its
    indexedAt."""
    created = parse_time(field(item.record, "created_at"))
    if created is None or indexed is None:
        return indexed or created
    return min(created, indexed)


def mention_of(item: Any) -> Mention:
    """A listNotifications item (reason mention, reply or quote) as a `Mention`."""
    record = item.record
    parent = field(record, "reply", "parent", "uri")
    in_reply_to = quoted_uri(record) if item.reason == "quote" else parent
    return Mention(
        remote_id=item.uri,
        kind=item.reason,
        author_id=item.author.did,
        author_handle=item.author.handle,
        text=str(field(record, "text") or ""),
        created_at=parse_time(field(record, "created_at")),
        url=post_url(item.author.handle, item.uri),
        in_reply_to=in_reply_to if isinstance(in_reply_to, str) else None,
    )


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from the network (Z or offset) as an aware datetime, or None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def prepare(post: PostRequest) -> tuple[list[str], list[list[rt.Facet]], list[ImageData]]:
    """The texts (NFC), their facets and the images of a post and its thread, checked."""
    texts = [rt.normalize(text) for text in (post.text, *post.thread)]
    for index, text in enumerate(texts):
        problem = rt.length_problem(text)
        if problem:
            raise Rejected(NAME, f"{which(index)}: {problem}")
    return texts, [rt.detect_facets(text) for text in texts], read_images(post.images)


def which(index: int) -> str:
    return "the post" if index == 0 else f"reply {index} of the thread"


def read_images(images: Sequence[Image]) -> list[ImageData]:
    """(image, bytes, MIME type) of each image, checked before anything is sent."""
    if len(images) > MAX_IMAGES:
        raise Rejected(NAME, f"{len(images)} images; Bluesky allows {MAX_IMAGES} per post")
    read = []
    for image in images:
        mime = mimetypes.guess_type(image.path.name)[0] or ""
        if not mime.startswith("image/"):
            raise Rejected(NAME, f"{image.path}: not an image type Bluesky accepts")
        try:
            data = image.path.read_bytes()
        except OSError as exc:
            raise Rejected(NAME, f"{image.path}: cannot read the image: {exc}") from None
        if len(data) > MAX_IMAGE_BYTES:
            raise Rejected(
                NAME, f"{image.path}: {len(data)} bytes; Bluesky allows {MAX_IMAGE_BYTES}"
            )
        read.append((image, data, mime))
    return read


def metrics_of(view: Any) -> Metrics:
    """An app.bsky.feed.defs#postView's counts."""
    return Metrics(
        remote_id=view.uri,
        likes=view.like_count or 0,
        reposts=view.repost_count or 0,
        replies=view.reply_count or 0,
        quotes=view.quote_count or 0,
        bookmarks=view.bookmark_count,
    )


def is_own_post(item: Any, did: str) -> bool:
    """A getAuthorFeed item that is the account's own post (not a repost of another's)."""
    return item.reason is None and item.post.author.did == did


def own_post_of(item: Any) -> OwnPost:
    post = item.post
    return OwnPost(
        remote_id=post.uri,
        text=str(field(post.record, "text") or ""),
        created_at=parse_time(field(post.record, "created_at")),
        url=post_url(post.author.handle, post.uri),
    )
