"""The fake X's state (no HTTP here: see x_server.py; the endpoints are in x_endpoints.py).

Tests read and change `XFakeState` directly: posts, media, the request log, the violations, the
faults to inject and the rate-limit windows. Every handler runs under the state's lock.
"""

from __future__ import annotations

import html
import json
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.rejections import Rejections
from tests.fakes.x_bill import XBill
from tests.fakes.x_entities import Link, entities, hashtags, links_in

WINDOW = 900  # seconds: X's 15-minute rate-limit window
RATE_LIMITS = {
    "POST /2/tweets": 100,
    "DELETE /2/tweets/{id}": 50,
    "GET /2/tweets": 900,
    "GET /2/users/me": 75,
    "GET /2/users/by": 900,
    "GET /2/users/{id}/tweets": 900,
    "GET /2/users/{id}/mentions": 300,
    "GET /2/tweets/search/recent": 300,
    "POST /2/media/upload": 500,
    "POST /2/media/metadata": 500,
    "POST /2/users/{id}/retweets": 50,
    "DELETE /2/users/{id}/retweets/{source_tweet_id}": 50,
    "POST /2/users/{id}/likes": 50,
    "DELETE /2/users/{id}/likes/{tweet_id}": 50,
    "GET /2/users/{id}/liked_tweets": 75,
}
RECENT = timedelta(days=7)  # how far back recent search reaches
_TWEPOCH_MS = 1288834974657  # X's snowflake epoch


@dataclass(frozen=True)
class FakeAccount:
    user_id: str = "1790000000000000001"
    username: str = "kindling_test"
    name: str = "Kindling Test"
    consumer_key: str = "fake-consumer-key-3f9a"
    consumer_secret: str = "fake-consumer-secret-8c1d"
    access_token: str = "1790000000000000001-fakeaccesstoken77e2"
    access_token_secret: str = "fake-access-token-secret-5b0c"
    bearer_token: str = "fake-app-bearer-token-0d4e"


@dataclass
class FakePost:
    id: str
    text: str  # as X shows it (NFC; t.co links when shorten_urls)
    sent_text: str  # as the client sent it (NFC): the duplicate check compares these
    author_id: str
    created_at: datetime
    media_ids: list[str] = field(default_factory=list)
    in_reply_to: str | None = None
    quote_of: str | None = None
    metrics: dict[str, int] = field(default_factory=dict)
    retweet_of: str | None = None  # a plain retweet of that post
    lang: str = "en"  # X's detected language ("und" when it cannot tell)
    links: list[Link] = field(default_factory=list)  # in `text`, with their expanded_url


@dataclass
class FakeMedia:
    id: str
    size: int
    mime: str
    category: str
    alt_text: str | None = None


@dataclass
class Received:
    """One request as the fake received it, and what it answered."""

    method: str
    path: str
    route: str | None  # "GET /2/users/{id}/tweets", or None for an unknown path
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    response: bytes = b""
    content_type: str = ""

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body.startswith(b"{") else None


@dataclass
class Fault:
    kind: str  # "rate_limit" | "unauthorized" | "duplicate" | "error" | "hang"
    count: int = 1
    route: str | None = None  # "POST /2/tweets", "/2/tweets" or a concrete path; None: any
    after: bool = False  # let the call take effect first, then fail
    status: int = 500  # for "error": 500, 503 (or 4xx, answered as X's about:blank problem)
    reset_at: int | None = None  # for "rate_limit": epoch seconds (default: now + 15 min)
    headers: dict[str, str] = field(default_factory=dict)  # extra headers on the answer
    detail: str | None = None  # for "error": the problem's detail instead of the status phrase
    skip: int = 0  # let this many matching calls pass first (e.g. fail the third page)
    seconds: float = 30.0  # for "hang": then answer 503 (released early by reset())

    def matches(self, route: str, path: str) -> bool:
        return self.route is None or self.route in (route, route.split(" ", 1)[1], path)


def iso(moment: datetime) -> str:
    """X's timestamp format: 2026-05-01T12:00:00.000Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class XFakeState:
    """Everything the fake holds. Options: `metric_name` ("repost_count" as in the spec, or
    "retweet_count" as live X answers: off-spec, so it shows in `response_violations`),
    `shorten_urls` (links shown as t.co, like X), `escape_html` (& < > come back as entities,
    like X's v2 `text`)."""

    def __init__(
        self,
        account: FakeAccount | None = None,
        *,
        metric_name: str = "repost_count",
        shorten_urls: bool = False,
        escape_html: bool = True,
    ) -> None:
        self.account = account or FakeAccount()
        self._defaults = (metric_name, shorten_urls, escape_html)
        self.lock = threading.RLock()
        self._seq = 0
        self.release = threading.Event()
        self.bill = XBill()  # every billed call at the prices (x_bill.py)
        # X's time for new posts: a test on an accelerated clock gives the daemon's clock.
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        # X refuses a text identical to a *recent* post of the account, "recent" unpublished:
        # None takes every earlier post; a test may take a window (of `now`'s time).
        self.duplicate_window: timedelta | None = None
        self.reset()

    def reset(self) -> None:
        """Back to a fresh account, and release requests still hanging from a fault."""
        with self.lock:
            self.release.set()
            self.release = threading.Event()
            self.metric_name, self.shorten_urls, self.escape_html = self._defaults
            self.posts: dict[str, FakePost] = {}
            self.deleted: dict[str, FakePost] = {}
            self.media: dict[str, FakeMedia] = {}
            self.users = {self.account.user_id: self.account.username}
            self.requests: list[Received] = []
            self.violations = Rejections("x")  # each also recorded for the run
            self.response_violations: list[str] = []
            self.faults: list[Fault] = []
            self.limits = dict(RATE_LIMITS)
            self.windows: dict[str, tuple[int, int]] = {}  # route -> (calls used, reset epoch)
            self.retweets: dict[str, str] = {}  # source post id -> the account's retweet id
            self.likes: dict[str, datetime] = {}  # post id -> when the account liked it, in order
            self.reads: dict[str, int] = {}  # route -> posts returned (X bills per post read)
            self.bill.clear()  # the prices stay as the test set them

    def fail_next(self, kind: str, count: int = 1, **options: Any) -> Fault:
        """Answer the next `count` matching calls with a fault (see `Fault` for the options)."""
        fault = Fault(kind, count, **options)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """End every pending fault (e.g. an outage) and release hanging requests; keep the posts."""
        with self.lock:
            self.faults.clear()
            self.release.set()
            self.release = threading.Event()

    def add_post(
        self,
        text: str,
        *,
        author: str | None = None,
        in_reply_to: str | None = None,
        quote_of: str | None = None,
        created_at: datetime | str | None = None,
        lang: str = "en",
        retweet_of: str | None = None,
    ) -> str:
        """A post made outside the client: by the account (author None) or by `author`.
        Hashtags, mentions and links come from the text (links as t.co if `shorten_urls`);
        `retweet_of`: a plain retweet of that post (its text is made like X's)."""
        with self.lock:
            author_id = self.account.user_id
            if author and author != self.account.username:
                known = {name: uid for uid, name in self.users.items()}
                author_id = known.get(author) or str(2_000_000 + len(self.users))
                self.users[author_id] = author
            when = _moment(created_at)
            if retweet_of:
                return self.retweet(author_id, self.posts[retweet_of], when).id
            post = self.store(text, author_id, [], in_reply_to, quote_of, when)
            post.lang = lang
            return post.id

    def add_user(self, username: str) -> str:
        """An X account other than the campaign's (e.g. a target's), by its username: its id."""
        with self.lock:
            known = {name: uid for uid, name in self.users.items()}
            user_id = known.get(username) or str(2_000_000 + len(self.users))
            self.users[user_id] = username
            return user_id

    def posts_read(self) -> int:
        """Posts returned by every read so far: what X would bill."""
        with self.lock:
            return sum(self.reads.values())

    def set_metrics(self, post_id: str, **counts: int) -> None:
        with self.lock:
            self.posts[post_id].metrics.update(counts)

    def own_posts(self) -> list[FakePost]:
        with self.lock:
            return [p for p in self.posts.values() if p.author_id == self.account.user_id]

    def calls(self, route: str) -> list[Received]:
        """The requests received for `route`, e.g. "GET /2/tweets"."""
        with self.lock:
            return [r for r in self.requests if r.route == route]

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            posts = [asdict(p) | {"created_at": iso(p.created_at)} for p in self.posts.values()]
            requests = [
                {"method": r.method, "path": r.path, "route": r.route, "query": r.query}
                | {"json": r.json, "status": r.status}
                for r in self.requests
            ]
            return {
                "posts": posts,
                "deleted": list(self.deleted),
                "media": [asdict(m) for m in self.media.values()],
                "requests": requests,
                "violations": self.violations,
                "response_violations": self.response_violations,
                "faults": [asdict(f) for f in self.faults],
                "retweets": dict(self.retweets),
                "likes": list(self.likes),
                "reads": dict(self.reads),
                "posts_read": sum(self.reads.values()),
            }

    # --- called by the handlers, under the lock ----------------------------------------------
    def next_id(self, when: datetime) -> str:
        self._seq += 1
        return str(((int(when.timestamp() * 1000) - _TWEPOCH_MS) << 22) | (self._seq & 0x3FFFFF))

    def store(
        self,
        text: str,
        author_id: str,
        media_ids: list[str],
        in_reply_to: str | None,
        quote_of: str | None,
        created_at: datetime | None = None,
    ) -> FakePost:
        now = created_at or self.now()
        text = unicodedata.normalize("NFC", text)
        shown, links = links_in(text, shorten=self.shorten_urls)
        post = FakePost(self.next_id(now), shown, text, author_id, now, media_ids)
        post.in_reply_to, post.quote_of, post.links = in_reply_to, quote_of, links
        self.posts[post.id] = post
        return post

    def retweet(self, author_id: str, source: FakePost, when: datetime | None = None) -> FakePost:
        """A plain retweet: X shows it as "RT @author: text", with the source's links."""
        name = self.users.get(source.author_id, f"user{source.author_id}")
        post = self.store("", author_id, [], None, None, when)
        prefix = f"RT @{name}: "
        post.text = post.sent_text = prefix + source.text
        post.links = [(s + len(prefix), e + len(prefix), u, x) for s, e, u, x in source.links]
        post.retweet_of, post.lang = source.id, source.lang
        return post

    def hashtags(self, post: FakePost) -> list[str]:
        return [tag for _, _, tag in hashtags(post.text, post.links)]

    def link_texts(self, post: FakePost) -> list[str]:
        """Each link as shown and expanded: what X's url: operator matches."""
        return [text for _, _, shown, expanded in post.links for text in (shown, expanded)]

    def render(self, post: FakePost, fields: set[str], expansions: set[str]) -> dict[str, Any]:
        """The post as X shows it, with the requested fields (live or spec names)."""
        text = html.escape(post.text, quote=False) if self.escape_html else post.text
        out: dict[str, Any] = {"id": post.id, "text": text, "edit_history_tweet_ids": [post.id]}
        if "created_at" in fields:
            out["created_at"] = iso(post.created_at)
        if "author_id" in fields | expansions:
            out["author_id"] = post.author_id
        if "conversation_id" in fields:
            root = post
            while root.in_reply_to in self.posts:
                root = self.posts[root.in_reply_to]
            out["conversation_id"] = root.in_reply_to or root.id
        parent = self.posts.get(post.in_reply_to or "") or self.deleted.get(post.in_reply_to or "")
        if parent and "in_reply_to_user_id" in fields | expansions:
            out["in_reply_to_user_id"] = parent.author_id
        refs = [{"type": "replied_to", "id": post.in_reply_to}] if post.in_reply_to else []
        refs += [{"type": "quoted", "id": post.quote_of}] if post.quote_of else []
        refs += [{"type": "retweeted", "id": post.retweet_of}] if post.retweet_of else []
        if refs and "referenced_tweets" in fields:
            out["referenced_tweets"] = refs  # live X's field
        if refs and "referenced_posts" in expansions:
            out["referenced_posts"] = refs  # the spec's
        if "lang" in fields:
            out["lang"] = post.lang
        if "entities" in fields:
            known = {name.lower(): uid for uid, name in self.users.items()}
            if found := entities(post.text, post.links, known):
                out["entities"] = found
        if post.media_ids and "attachments" in fields:
            out["attachments"] = {"media_keys": [f"3_{m}" for m in post.media_ids]}
        if "public_metrics" in fields:
            counts = {"like_count": 0, "reply_count": 0, "quote_count": 0, "bookmark_count": 0}
            counts |= {"impression_count": 0} | post.metrics
            reposts = counts.pop("repost_count", 0) + counts.pop("retweet_count", 0)
            out["public_metrics"] = counts | {self.metric_name: reposts}
        return out

    def page(
        self, posts: list[FakePost], query: dict[str, Any], fields: set[str], expansions: set[str]
    ) -> dict[str, Any]:
        """Newest first, filtered by since_id/until_id/start_time/end_time, one page of them."""
        since, until = int(query.get("since_id", 0)), int(query.get("until_id", 10**20))
        start, end = _moment(query.get("start_time")), _moment(query.get("end_time"))
        token = int(query.get("pagination_token") or query.get("next_token") or 10**20)
        kept = [
            p
            for p in sorted(posts, key=lambda p: -int(p.id))
            if since < int(p.id) < min(until, token)
            and (start is None or p.created_at >= start)
            and (end is None or p.created_at <= end)
        ]
        size = query.get("max_results", 10)
        page, rest = kept[:size], kept[size:]
        meta: dict[str, Any] = {"result_count": len(page)}
        out: dict[str, Any] = {"meta": meta}
        if page:
            meta |= {"newest_id": page[0].id, "oldest_id": page[-1].id}
            out["data"] = [self.render(p, fields, expansions) for p in page]
        if rest:
            meta["next_token"] = page[-1].id
        if users := self.expanded_users(page, expansions):
            out["includes"] = {"users": [self.user(u) for u in users]}
        return out

    def expanded_users(self, posts: list[FakePost], expansions: set[str]) -> list[str]:
        """The ids of the users the expansions ask for (authors, users replied to), once each."""
        ids: list[str] = []
        for post in posts:
            if "author_id" in expansions:
                ids.append(post.author_id)
            parent = self.posts.get(post.in_reply_to or "") or self.deleted.get(
                post.in_reply_to or ""
            )
            if parent and "in_reply_to_user_id" in expansions:
                ids.append(parent.author_id)
        return list(dict.fromkeys(ids))

    def user(self, user_id: str) -> dict[str, str]:
        name = self.users.get(user_id, f"user{user_id}")
        shown = self.account.name if user_id == self.account.user_id else name.title()
        return {"id": user_id, "name": shown, "username": name}
