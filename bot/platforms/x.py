"""The X adapter: tweepy 4.17 `Client`, OAuth 1.0a user context, behind the `Platform` interface.

`client.session` is replaced by `XSession` (x_support.py):
the configured base URL instead of tweepy's hard-coded api.twitter.com, a timeout, and the
x-rate-limit-* headers of every answer remembered, so a used-up window raises `RateLimited`
without calling X. Read calls pass `user_auth=True` (else tweepy sends `Bearer None`). Every
failure is mapped to base.py's errors in one place, `_calling`; nothing else escapes.

Amplifying (issue 6): `search`/`author_posts` through recent search (the query and the reading
of answers are in x_found.py), repost and like as `publish` actions that X undoes by the source
post's id, quote as a post with `quote_tweet_id`.
"""

from __future__ import annotations

import html
import logging
import mimetypes
import re
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
import tweepy

from bot.clock import Clock, SystemClock
from bot.platforms.base import (
    Account,
    Ambiguous,
    AuthFailed,
    Duplicate,
    FoundPage,
    Image,
    Mention,
    MentionPage,
    Metrics,
    OwnPost,
    PlatformError,
    PostRequest,
    Published,
    RateLimited,
    Rejected,
    Subject,
    Transient,
)
from bot.platforms.x_found import (
    SEARCH_EXPANSIONS,
    SEARCH_FIELDS,
    XRefusal,
    author_query,
    confirm,
    found_page,
    search_query,
    subject_of,
    subject_url,
    usable_since,
)
from bot.platforms.x_support import (
    RateWindow,
    XSession,
    created_at,
    fingerprint,
    mention_of,
    never_sent,
    references,
    reset_at,
)

if TYPE_CHECKING:
    from bot.config import Config

log = logging.getLogger(__name__)
PLATFORM = "x"
CREDENTIAL_VARIABLES = (
    "KINDLING_X_API_KEY",
    "KINDLING_X_API_SECRET",
    "KINDLING_X_ACCESS_TOKEN",
    "KINDLING_X_ACCESS_TOKEN_SECRET",
)
RECONCILE_MARGIN = timedelta(hours=1)  # clock skew allowance before the slot
RECONCILE_LIMIT = 200  # own posts read at most when reconciling (X bills per post read)
USERS_BATCH = 100  # usernames a user lookup takes at most (GET /2/users/by)
LIKES_READ = 100  # the latest likes read to reconcile a like: the first page, at most
# X's answers to a second retweet or like (v1.1 refused them; v2 answers 200 retweeted/liked)
ALREADY = re.compile(r"already (retweeted|reposted|liked|favorited)", re.IGNORECASE)
MENTION_PAGES = 5  # pages of 100 followed after a cursor
ALT_TEXT_LIMIT = 1000  # characters, as the spec's CreateMediaMetadata says
POST_FIELDS = ["created_at", "conversation_id", "referenced_tweets"]
MENTION_FIELDS = [*POST_FIELDS, "author_id", "in_reply_to_user_id"]
# oauthlib and requests-oauthlib log the consumer key, the access token and the signed
# Authorization header at DEBUG: keep them quiet even when the operator turns DEBUG on.
for _name in ("oauthlib", "requests_oauthlib"):
    if logging.getLogger(_name).level < logging.WARNING:
        logging.getLogger(_name).setLevel(logging.WARNING)


class XPlatform:
    """X through tweepy, OAuth 1.0a user context of the campaign account."""

    name = "x"
    metrics_batch = 100
    users_batch = USERS_BATCH
    most_reads_per_lookup = RECONCILE_LIMIT
    combines_terms = True  # X's search takes every term in one query, joined by OR

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        *,
        api_base_url: str = "https://api.x.com",
        timeout: float = 20.0,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or SystemClock()  # rate windows and reconciliation read this clock
        self._session = XSession(api_base_url, timeout)
        self._client = tweepy.Client(
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
            wait_on_rate_limit=False,  # True would sleep inside the call, up to 15 minutes
        )
        self._client.session = self._session
        self._auth = tweepy.OAuth1UserHandler(
            consumer_key, consumer_secret, access_token, access_token_secret
        ).apply_auth()
        self._account: Account | None = None
        self._own_reads = threading.local()  # own posts read by this thread's calls, unbilled

    @classmethod
    def from_config(cls, config: Config, clock: Clock | None = None) -> XPlatform:
        return from_config(
            config, clock
        )  # the module function, as bot/platforms/factory.py calls it

    def __repr__(self) -> str:
        return f"XPlatform(api_base_url={self._session.base_url!r})"

    @property
    def rate_limits(self) -> dict[str, RateWindow]:
        """The last x-rate-limit-* seen per endpoint, e.g. "POST /2/tweets"."""
        return dict(self._session.windows)

    @property
    def server_date(self) -> datetime | None:
        """X's clock: the Date header of its latest answer (for `kindling doctor`)."""
        return self._session.server_date

    # --- the interface -----------------------------------------------------------------------
    def check_account(self) -> Account:
        with self._calling("check account", "GET /2/users/me"):
            user = self._client.get_me(user_fields=["username"], user_auth=True).data
            self._account = Account(str(user.data["id"]), str(user.data["username"]))
        return self._account

    def publish(self, post: PostRequest) -> Published:
        """A post (with images and a thread), a quote (the same, quoting the subject), or a
        repost or like of the subject: Published carries the subject's id for those, as X undoes
        them by it. A second repost or like of the same post counts as published."""
        if post.action in ("repost", "like"):
            return self._amplify(post.action, subject_of(post))
        if post.action not in ("post", "quote"):
            raise Rejected(PLATFORM, f"{post.key}: unknown action {post.action!r}")
        quoted = subject_of(post).remote_id if post.action == "quote" else None
        media_ids = [self._upload(image) for image in post.images]
        root = self._create(post.text, media_ids=media_ids, quote_of=quoted)
        replies: list[str] = []
        for number, text in enumerate(post.thread, start=1):
            try:
                replies.append(self._create(text, reply_to=replies[-1] if replies else root))
            except PlatformError as exc:
                raise Ambiguous(
                    PLATFORM,
                    f"thread partly published: post {root} and {number - 1} of "
                    f"{len(post.thread)} replies exist; reply {number} failed: {exc.message}",
                ) from exc
        log.info("x: published %s as %s (%d replies)", post.key, root, len(replies))
        return Published(root, self._url(root), thread_ids=tuple(replies))

    def find_published(self, post: PostRequest) -> Published | None:
        """Own posts since the slot: a post or quote by its text (a quote must quote the
        subject), a repost as the retweet of the subject; a like among the latest likes."""
        if post.action == "like":
            return self._find_like(subject_of(post))
        since = min(post.slot, self._clock.now()) - RECONCILE_MARGIN
        # Retweets only when looking for one: many would crowd posts out of the posts read.
        retweets = post.action == "repost"
        own = self._own_posts(RECONCILE_LIMIT, start_time=since, retweets=retweets)
        if retweets:
            subject = subject_of(post)
            made = [d for d in own if references(d).get("retweeted") == subject.remote_id]
            return (
                Published(subject.remote_id, subject_url(subject), created_at(made[0]))
                if made
                else None
            )
        wanted = fingerprint(post.text)
        quoted = subject_of(post).remote_id if post.action == "quote" else None
        roots = [
            d
            for d in own
            if fingerprint(d["text"], from_x=True) == wanted
            and not {"replied_to", "retweeted"} & set(references(d))
            and references(d).get("quoted") == quoted
        ]
        if not roots:
            return None
        root = min(roots, key=lambda d: int(d["id"]))  # the first after the slot
        replies: list[str] = []
        for text in post.thread:
            parent, wanted = replies[-1] if replies else str(root["id"]), fingerprint(text)
            reply = next(
                (
                    d
                    for d in own
                    if references(d).get("replied_to") == parent
                    and fingerprint(d["text"], from_x=True) == wanted
                ),
                None,
            )
            if reply is None:
                break  # a partly published thread: fewer thread_ids than post.thread
            replies.append(str(reply["id"]))
        root_id = str(root["id"])
        return Published(root_id, self._url(root_id), created_at(root), tuple(replies))

    def recent_own_posts(self, limit: int = 100) -> list[OwnPost]:
        """The account's own words: posts, replies and quotes, not its plain retweets."""
        return [
            OwnPost(str(d["id"]), html.unescape(d["text"]), created_at(d), self._url(str(d["id"])))
            for d in self._own_posts(limit, retweets=False)
        ]

    def take_own_reads(self) -> int:
        """The account's own posts (and likes) this thread's calls read since the last take:
        what reconciliation's lookups cost, which X bills per post read."""
        count = int(getattr(self._own_reads, "count", 0))
        self._own_reads.count = 0
        return count

    def _count_own_reads(self, count: int) -> None:
        self._own_reads.count = int(getattr(self._own_reads, "count", 0)) + count

    def metrics(self, remote_ids: Sequence[str]) -> list[Metrics]:
        """Counts for the posts that still exist, in calls of at most `metrics_batch` ids."""
        found: list[Metrics] = []
        ids = [str(i) for i in remote_ids]
        for start in range(0, len(ids), self.metrics_batch):
            batch = ids[start : start + self.metrics_batch]
            with self._calling("metrics", "GET /2/tweets"):
                response = self._client.get_tweets(
                    batch, tweet_fields=["public_metrics"], user_auth=True
                )
                for tweet in response.data or []:
                    counts = tweet.data.get("public_metrics") or {}
                    found.append(
                        Metrics(
                            str(tweet.data["id"]),
                            likes=int(counts.get("like_count", 0)),
                            reposts=int(counts.get("repost_count", counts.get("retweet_count", 0))),
                            replies=int(counts.get("reply_count", 0)),
                            quotes=int(counts.get("quote_count", 0)),
                            impressions=counts.get("impression_count"),
                            bookmarks=counts.get("bookmark_count"),
                        )
                    )
        return found

    def mentions(self, cursor: str | None = None) -> MentionPage:
        """Mentions newer than `cursor` (all pages, up to MENTION_PAGES), oldest first; without
        a cursor only the latest page. The returned cursor is the newest id seen."""
        user_id, newest, token = self._me().id, cursor, None
        found: list[Mention] = []
        for _ in range(MENTION_PAGES if cursor else 1):
            with self._calling("mentions", "GET /2/users/{id}/mentions"):
                response = self._client.get_users_mentions(
                    user_id,
                    since_id=cursor,
                    pagination_token=token,
                    max_results=100,
                    tweet_fields=MENTION_FIELDS,
                    expansions=["author_id"],
                    user_fields=["username"],
                    user_auth=True,
                )
                users = {
                    str(u.data["id"]): str(u.data["username"])
                    for u in response.includes.get("users", [])
                }
                found += [mention_of(t.data, users, user_id) for t in response.data or []]
            if newest == cursor and response.meta.get("newest_id"):
                newest = str(response.meta["newest_id"])
            token = response.meta.get("next_token")
            if not token:
                break
        else:
            if cursor:
                log.warning("x: more than %d new mentions; older ones skipped", 100 * MENTION_PAGES)
        return MentionPage(sorted(found, key=lambda m: int(m.remote_id)), newest)

    def delete(self, remote_id: str) -> None:
        """Delete the post; one that is already gone is not an error."""
        try:
            with self._calling("delete post", "DELETE /2/tweets/{id}"):
                deleted = self._client.delete_tweet(remote_id, user_auth=True).data["deleted"]
        except Rejected as exc:
            if not _not_found(exc):
                raise
            deleted = False
        log.info("x: deleted %s%s", remote_id, "" if deleted else " (it was already gone)")

    def existing_users(self, usernames: Sequence[str]) -> set[str]:
        """Which of `usernames` (at most USERS_BATCH, one call) are X accounts: their usernames
        in lower case. X bills each account found; a username no account has is in `errors`."""
        if len(usernames) > USERS_BATCH:
            raise ValueError(f"at most {USERS_BATCH} usernames a lookup")
        with self._calling("look up users", "GET /2/users/by"):
            response = self._client.get_users(usernames=list(usernames), user_auth=True)
            return {str(user.data["username"]).lower() for user in response.data or []}

    # --- amplifying ---------------------------------------------------------------------------
    def search(
        self,
        terms: Sequence[str],
        *,
        newer_than: str | None = None,
        page: str | None = None,
        limit: int = 100,
    ) -> FoundPage:
        """Posts of the last 7 days with any of `terms`, newest first, `limit` (10-100) a page."""
        return self._search("search", search_query(terms), newer_than, page, limit)

    def author_posts(
        self,
        author: str,
        *,
        newer_than: str | None = None,
        page: str | None = None,
        limit: int = 100,
    ) -> FoundPage:
        return self._search("author posts", author_query(author), newer_than, page, limit)

    def unamplify(self, action: str, published_id: str, subject: Subject) -> None:
        """Undo a repost or like (by the subject's id) or delete a quote; gone is no error."""
        if action == "quote":
            return self.delete(published_id)
        if action not in ("repost", "like"):
            raise Rejected(PLATFORM, f"cannot undo {action!r}")
        route = "retweets" if action == "repost" else "likes"
        undo = self._client.unretweet if action == "repost" else self._client.unlike
        try:  # X answers 200 retweeted/liked false when there was nothing to undo
            with self._calling(f"undo {action}", f"DELETE /2/users/{{id}}/{route}/{{id}}"):
                undo(subject.remote_id, user_auth=True)
        except Rejected as exc:
            if not _not_found(exc):
                raise
        log.info("x: undid the %s of %s", action, subject.remote_id)
        return None

    # --- helpers ------------------------------------------------------------------------------
    def _me(self) -> Account:
        return self._account or self.check_account()

    def _amplify(self, action: str, subject: Subject) -> Published:
        route = "retweets" if action == "repost" else "likes"
        call, flag = (
            (self._client.retweet, "retweeted")
            if action == "repost"
            else (self._client.like, "liked")
        )
        try:
            with self._calling(action, f"POST /2/users/{{id}}/{route}", create=True):
                answer = call(subject.remote_id, user_auth=True)
                confirm(answer.data, answer.errors, flag)
        except Duplicate:  # "already retweeted/liked": what we wanted exists
            log.info("x: %s of %s was already there", action, subject.remote_id)
        return Published(subject.remote_id, subject_url(subject))

    def _find_like(self, subject: Subject) -> Published | None:
        with self._calling("liked posts", "GET /2/users/{id}/liked_tweets"):
            response = self._client.get_liked_tweets(
                self._me().id, max_results=LIKES_READ, user_auth=True
            )
            liked = {str(t.data["id"]) for t in response.data or []}
            self._count_own_reads(len(liked))
        return (
            Published(subject.remote_id, subject_url(subject))
            if subject.remote_id in liked
            else None
        )

    def _search(
        self, what: str, query: str, newer_than: str | None, page: str | None, limit: int
    ) -> FoundPage:
        since = usable_since(newer_than, self._clock.now())
        with self._calling(what, "GET /2/tweets/search/recent"):
            response = self._client.search_recent_tweets(
                query,
                since_id=since,
                next_token=page,
                max_results=min(100, max(10, limit)),  # X bills each post: the budget's share
                sort_order="recency",  # newest first, whatever X's default may become
                tweet_fields=SEARCH_FIELDS,
                expansions=SEARCH_EXPANSIONS,
                user_fields=["username"],
                user_auth=True,
            )
            users = {
                str(u.data["id"]): str(u.data["username"])
                for u in response.includes.get("users", [])
            }
            return found_page([t.data for t in response.data or []], users, response.meta)

    def _url(self, remote_id: str) -> str:
        handle = self._account.handle if self._account else "i/web"
        return f"https://x.com/{handle}/status/{remote_id}"

    def _create(
        self,
        text: str,
        *,
        media_ids: list[str] | None = None,
        reply_to: str | None = None,
        quote_of: str | None = None,
    ) -> str:
        with self._calling("create post", "POST /2/tweets", create=True):
            response = self._client.create_tweet(
                text=unicodedata.normalize("NFC", text),
                media_ids=media_ids or None,
                in_reply_to_tweet_id=reply_to,
                quote_tweet_id=quote_of,
                user_auth=True,
            )
            return str(response.data["id"])

    def _upload(self, image: Image) -> str:
        """POST /2/media/upload (multipart), then POST /2/media/metadata for the alt text:
        tweepy has no v2 media upload. No post exists yet, so failures here are never ambiguous."""
        if len(image.alt) > ALT_TEXT_LIMIT:
            raise Rejected(
                PLATFORM, f"alt text of {image.path.name} is longer than {ALT_TEXT_LIMIT}"
            )
        try:
            data = image.path.read_bytes()
        except OSError as exc:
            raise Rejected(PLATFORM, f"cannot read image {image.path}: {exc.strerror}") from exc
        mime = mimetypes.guess_type(image.path.name)[0] or "application/octet-stream"
        category = "tweet_gif" if mime == "image/gif" else "tweet_image"
        with self._calling("upload image", "POST /2/media/upload"):
            files = {"media": (image.path.name, data, mime)}
            answer = self._raw("/2/media/upload", files=files, data={"media_category": category})
            media_id = str(answer["data"]["id"])
        if image.alt:
            with self._calling("set alt text", "POST /2/media/metadata"):
                metadata = {"alt_text": {"text": unicodedata.normalize("NFC", image.alt)}}
                self._raw("/2/media/metadata", json={"id": media_id, "metadata": metadata})
        return media_id

    def _raw(self, route: str, **kwargs: Any) -> dict[str, Any]:
        """A signed POST tweepy cannot make; errors raised as tweepy's, for `_calling`."""
        headers = {"User-Agent": self._client.user_agent}
        url = self._session.base_url + route
        with self._session.post(url, auth=self._auth, headers=headers, **kwargs) as response:
            if not 200 <= response.status_code < 300:
                raise tweepy.HTTPException(response)
            return dict(response.json())

    def _own_posts(
        self, limit: int, start_time: datetime | None = None, *, retweets: bool
    ) -> list[dict[str, Any]]:
        """The account's latest posts (replies included; retweets if `retweets`), newest
        first, as X's raw dicts."""
        user_id, token = self._me().id, None
        posts: list[dict[str, Any]] = []
        while len(posts) < limit:
            with self._calling("own posts", "GET /2/users/{id}/tweets"):
                response = self._client.get_users_tweets(
                    user_id,
                    max_results=min(100, max(5, limit - len(posts))),
                    pagination_token=token,
                    start_time=start_time,
                    exclude=None if retweets else ["retweets"],
                    tweet_fields=POST_FIELDS,
                    user_auth=True,
                )
                posts += [t.data for t in response.data or []]
                self._count_own_reads(len(response.data or []))
            token = response.meta.get("next_token")
            if not token:
                break
        return posts[:limit]

    @contextmanager
    def _calling(self, what: str, route: str, *, create: bool = False) -> Iterator[None]:
        """The one place where failures become base.py's errors. `create`: the call may have
        created a post, so a lost answer (timeout, 5xx, broken connection) is Ambiguous."""
        window = self._session.windows.get(route)
        now = self._clock.now()
        if window and window.remaining <= 0 and window.reset_at > now:
            raise RateLimited(
                PLATFORM,
                f"{what}: {route} used up until {window.reset_at:%H:%M:%S}Z",
                window.reset_at,
            )
        try:
            yield
        except tweepy.HTTPException as exc:
            raise self._http_error(what, exc, create) from exc
        except XRefusal as exc:  # 200 with only errors: nothing was done
            raise Rejected(PLATFORM, f"{what}: {exc}") from exc
        except requests.RequestException as exc:
            if never_sent(exc):
                raise Transient(PLATFORM, f"{what}: cannot reach X ({type(exc).__name__})") from exc
            kind = Ambiguous if create else Transient
            raise kind(PLATFORM, f"{what}: no answer from X ({type(exc).__name__})") from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            kind = Ambiguous if create else Transient
            raise kind(
                PLATFORM, f"{what}: unreadable answer from X ({type(exc).__name__})"
            ) from exc

    def _http_error(self, what: str, exc: tweepy.HTTPException, create: bool) -> PlatformError:
        response = exc.response
        status = int(response.status_code)
        said = "; ".join(str(m) for m in exc.api_messages) or str(response.reason or "")
        message = f"{what}: {status} {said}".rstrip()
        try:
            problem = str(response.json().get("type", ""))
        except ValueError:
            problem = ""
        if status == 429:
            return RateLimited(PLATFORM, message, reset_at(response.headers, self._clock.now()))
        if status == 401:
            return AuthFailed(PLATFORM, f"{message} (check {', '.join(CREDENTIAL_VARIABLES)})")
        if status == 402:
            return AuthFailed(PLATFORM, f"{message} (the X account's API credits may be used up)")
        if status == 403 and ("duplicate content" in said.lower() or ALREADY.search(said)):
            return Duplicate(PLATFORM, message)
        if status == 403 and re.search(r"unsupported-authentication|client-forbidden", problem):
            return AuthFailed(PLATFORM, message)
        if status >= 500:
            return (Ambiguous if create else Transient)(PLATFORM, message)
        return Rejected(PLATFORM, message)


def _not_found(exc: Rejected) -> bool:
    """The refusal was a 404: what should be removed is already gone."""
    return getattr(getattr(exc.__cause__, "response", None), "status_code", None) == 404


def from_config(config: Config, clock: Clock | None = None) -> XPlatform:
    """The X adapter for the configured account; AuthFailed names missing credentials."""
    values = {name: config.secrets.get(name) for name in CREDENTIAL_VARIABLES}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise AuthFailed(
            PLATFORM,
            f"missing credentials: set {', '.join(missing)} in the environment "
            "(OAuth 1.0a user context of the campaign account)",
        )
    settings = config.settings.x
    return XPlatform(
        *(str(values[name]) for name in CREDENTIAL_VARIABLES),
        api_base_url=settings.api_base_url,
        timeout=settings.timeout_seconds,
        clock=clock,
    )
