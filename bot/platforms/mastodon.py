"""The Mastodon adapter: Mastodon.py 2.3 behind the `Platform` interface (issue 16).

- Exactly once: every create carries `Idempotency-Key` = the outbox key (a thread's replies the
  key and their position); Mastodon answers a repeat within an hour with the status first made,
  so sending a row again after a lost answer cannot make a second status. Reconciliation reads
  the account's own statuses since the slot and matches their text, never posting blindly.
- Images: uploaded with their alt text as the description, waited for until processed, then
  attached; a retry of the post reuses its uploads (mastodon_media.py).
- Limits: `ratelimit_method="throw"` (Mastodon.py would otherwise sleep inside the call); the
  X-RateLimit-* headers are remembered per endpoint (mastodon_support.MastodonSession) and a
  used-up window raises `RateLimited` without a call. Every failure is mapped in `_calling`.
- Amplifying (search, author_posts, boost, favourite, quote, unamplify) is mastodon_amplify.py.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import mastodon as sdk

from bot.clock import Clock, SystemClock
from bot.platforms import mastodon_support as sup
from bot.platforms.base import (
    Account,
    Ambiguous,
    AuthFailed,
    MentionPage,
    Metrics,
    OwnPost,
    PlatformError,
    PostRequest,
    Published,
    RateLimited,
    Rejected,
    Transient,
)
from bot.platforms.mastodon_amplify import MastodonAmplifying
from bot.platforms.mastodon_media import Held, MastodonMedia

if TYPE_CHECKING:
    from bot.config import Config

log = logging.getLogger(__name__)
PLATFORM = "mastodon"
TOKEN_VARIABLE = "KINDLING_MASTODON_ACCESS_TOKEN"
RECONCILE_MARGIN = timedelta(hours=1)  # clock skew allowance before the slot
RECONCILE_LIMIT = 200  # own statuses read at most when reconciling
MENTION_PAGES = 5  # pages of 40 notifications followed after a cursor
NOTIFICATION_TYPES = ["mention", "quote"]


class MastodonPlatform(MastodonAmplifying, MastodonMedia):
    name = PLATFORM
    metrics_batch = 20  # GET /api/v1/statuses takes at most 20 ids

    def __init__(
        self,
        *,
        instance_url: str,
        access_token: str,
        timeout: float = 10.0,
        visibility: str = "public",
        max_characters: int = sup.DEFAULT_MAX_CHARACTERS,
        clock: Clock | None = None,
    ) -> None:
        self.max_characters = max_characters  # what `kindling check` holds posts to
        self._clock = clock or SystemClock()
        self.instance_url = instance_url.rstrip("/")
        self._domain = urlsplit(self.instance_url).netloc or self.instance_url
        self._visibility = visibility
        self._session = sup.MastodonSession()
        self._client = sdk.Mastodon(
            access_token=access_token,
            api_base_url=self.instance_url,
            request_timeout=timeout,
            ratelimit_method="throw",
            session=self._session,
            user_agent="kindling",
        )
        self._account: Account | None = None
        self._versioned = False
        self._account_ids: dict[str, str] = {}
        self._quotes: bool | None = None
        self._uploads: dict[tuple[str, int], Held] = {}  # reused by a retry (mastodon_media.py)

    @classmethod
    def from_config(cls, config: Config, clock: Clock | None = None) -> MastodonPlatform:
        settings = config.settings.mastodon
        token = config.secrets.get(TOKEN_VARIABLE)
        if not settings.instance_url or not token:
            missing = [] if settings.instance_url else ["[mastodon] instance_url in config.toml"]
            missing += [] if token else [f"the access token ({TOKEN_VARIABLE})"]
            raise AuthFailed(PLATFORM, "not configured: set " + " and ".join(missing))
        return cls(
            instance_url=settings.instance_url,
            access_token=token,
            timeout=settings.timeout_seconds,
            visibility=settings.visibility,
            max_characters=settings.max_characters,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"MastodonPlatform(instance_url={self.instance_url!r})"

    @property
    def rate_limits(self) -> dict[str, sup.RateWindow]:
        """The last X-RateLimit-* seen per endpoint, e.g. "POST /api/v1/statuses"."""
        return dict(self._session.windows)

    @property
    def server_date(self) -> datetime | None:
        """The instance's clock: the Date header of its latest answer (for `kindling doctor`)."""
        return self._session.server_date

    # --- the interface -----------------------------------------------------------------------
    def check_account(self) -> Account:
        with self._calling("check account", "GET /api/v1/accounts/verify_credentials"):
            me = self._client.account_verify_credentials()
            self._account = Account(str(me["id"]), sup.address(me, self._domain))
        self._compare_limits()
        return self._account

    def status_limits(self) -> tuple[int, int]:
        """(max_characters, characters_reserved_per_url) the instance reports."""
        with self._calling("read instance", "GET /api/v2/instance"):
            statuses = self._client.instance_v2()["configuration"]["statuses"]
            return int(statuses["max_characters"]), int(statuses["characters_reserved_per_url"])

    def _compare_limits(self) -> None:
        """Once, at start: warn when `kindling check` allows longer statuses than the instance
        (they would be refused at send time) or counts links differently."""
        try:
            limit, per_url = self.status_limits()
        except PlatformError as exc:
            log.info("mastodon: cannot read the instance's status limits: %s", exc.message)
            return
        if self.max_characters > limit:
            log.warning(
                "mastodon: [mastodon] max_characters is %d but the instance allows %d: longer "
                "posts pass `kindling check` and are refused when sent; set max_characters = %d",
                self.max_characters,
                limit,
                limit,
            )
        if per_url != sup.CHARACTERS_PER_URL:
            log.warning(
                "mastodon: the instance counts a link as %d characters, `kindling check` as %d",
                per_url,
                sup.CHARACTERS_PER_URL,
            )

    def publish(self, post: PostRequest) -> Published:
        if post.action in ("repost", "like"):
            return self._amplify(post)
        if post.action == "quote":
            return self._quote(post)
        if post.action != "post":
            raise Rejected(PLATFORM, f"{post.key}: unknown action {post.action!r}")
        media_ids = self._attachments(post)
        root = self._create(post.text, post.key, post.language, media_ids=media_ids)
        self._attached(post.key)
        replies: list[Any] = []
        for number, text in enumerate(post.thread, start=1):
            parent = replies[-1] if replies else root
            try:
                key = f"{post.key}#{number}"
                replies.append(self._create(text, key, post.language, reply_to=str(parent["id"])))
            except PlatformError as exc:
                raise Ambiguous(
                    PLATFORM,
                    f"thread partly published: status {root['id']} and {number - 1} of "
                    f"{len(post.thread)} replies exist; reply {number} failed: {exc.message}",
                ) from exc
        log.info("mastodon: published %s as %s (%d replies)", post.key, root["id"], len(replies))
        return sup.published(root, replies)

    def find_published(self, post: PostRequest) -> Published | None:
        """The first own status since the slot with the post's text (not a reply), and its
        thread's replies as far as they exist."""
        since = min(post.slot, self._clock.now()) - RECONCILE_MARGIN
        if post.action != "post":
            return self._find_amplified(post, since)
        own = [
            s
            for s in self._own_statuses(RECONCILE_LIMIT)
            if (sup.when(s["created_at"]) or since) >= since
        ]
        wanted = sup.fingerprint(post.text)
        roots = [
            s
            for s in own
            if not s.get("in_reply_to_id") and sup.fingerprint(sup.status_text(s)) == wanted
        ]
        if not roots:
            return None
        root = min(roots, key=lambda s: int(s["id"]))
        replies: list[Any] = []
        for text in post.thread:
            parent, wanted = str((replies[-1] if replies else root)["id"]), sup.fingerprint(text)
            reply = next(
                (
                    s
                    for s in own
                    if str(s.get("in_reply_to_id")) == parent
                    and sup.fingerprint(sup.status_text(s)) == wanted
                ),
                None,
            )
            if reply is None:
                break  # a partly published thread: fewer thread_ids than post.thread
            replies.append(reply)
        return sup.published(root, replies)

    def recent_own_posts(self, limit: int = 100) -> list[OwnPost]:
        return [
            OwnPost(
                str(s["id"]),
                sup.status_text(s),
                sup.when(s["created_at"]),
                str(s["url"] or s["uri"]),
            )
            for s in self._own_statuses(limit)
        ]

    def metrics(self, remote_ids: Sequence[str]) -> list[Metrics]:
        """Counts in batches of 20 (GET /api/v1/statuses?id[]=); one call each on an instance
        older than 4.3, which answers that 404."""
        found: list[Metrics] = []
        ids = [str(i) for i in remote_ids]
        for start in range(0, len(ids), self.metrics_batch):
            batch = ids[start : start + self.metrics_batch]
            try:
                with self._calling("metrics", "GET /api/v1/statuses"):
                    statuses = list(self._client.statuses(batch))
            except Rejected as exc:
                if not _not_found(exc):
                    raise
                statuses = [s for s in map(self._status_or_none, batch) if s is not None]
            found += [sup.metrics_of(s) for s in statuses]
        return found

    def mentions(self, cursor: str | None = None) -> MentionPage:
        """Mentions, replies and quotes newer than `cursor` (the newest notification id seen),
        oldest first; without a cursor only the latest page."""
        me, newest = self._me().id, cursor
        found = []
        for _ in range(MENTION_PAGES if cursor else 1):
            with self._calling("mentions", "GET /api/v1/notifications"):
                page = self._client.notifications(types=NOTIFICATION_TYPES, min_id=newest, limit=40)
            if not page:
                break
            newest = str(max(int(n["id"]) for n in page))
            found += [m for n in page if (m := sup.mention_of(n, me, self._domain)) is not None]
            if not cursor:
                break
        found.sort(key=lambda m: int(m.remote_id))
        return MentionPage(list({m.remote_id: m for m in found}.values()), newest)

    def delete(self, remote_id: str) -> None:
        try:
            with self._calling("delete status", "DELETE /api/v1/statuses/{id}"):
                self._client.status_delete(remote_id)
        except Rejected as exc:
            if not _not_found(exc):
                raise
        log.info("mastodon: deleted %s", remote_id)

    # --- helpers ------------------------------------------------------------------------------
    def _me(self) -> Account:
        return self._account or self.check_account()

    def _create(
        self,
        text: str,
        key: str,
        language: str,
        *,
        media_ids: list[str] | None = None,
        reply_to: str | None = None,
        quote_of: str | None = None,
    ) -> Any:
        with self._calling("create status", "POST /api/v1/statuses", create=True):
            return self._client.status_post(
                unicodedata.normalize("NFC", text),
                in_reply_to_id=reply_to,
                media_ids=media_ids or None,
                visibility=self._visibility,
                language=language or None,
                idempotency_key=key,
                quoted_status_id=quote_of,
            )

    def _status_or_none(self, status_id: str) -> Any:
        try:
            with self._calling("metrics", "GET /api/v1/statuses/{id}"):
                return self._client.status(status_id)
        except Rejected as exc:
            if _not_found(exc):
                return None
            raise

    def _own_statuses(self, limit: int) -> list[Any]:
        """The account's latest statuses (replies included, boosts not), newest first."""
        me, older = self._me().id, None
        statuses: list[Any] = []
        while len(statuses) < limit:
            with self._calling("own statuses", "GET /api/v1/accounts/{id}/statuses"):
                page = self._client.account_statuses(
                    me, exclude_reblogs=True, max_id=older, limit=min(40, limit - len(statuses))
                )
            if not page:
                break
            statuses += page
            older = str(page[-1]["id"])
        return statuses[:limit]

    @contextmanager
    def _calling(self, what: str, route: str, *, create: bool = False) -> Iterator[None]:
        """The one place where failures become base.py's errors. `create`: the call may have
        created a status, so a lost answer (timeout, 5xx, dropped connection) is Ambiguous."""
        window = self._session.windows.get(route)
        now = self._clock.now()
        if window and window.remaining <= 0 and window.reset_at > now:
            message = f"{what}: {route} used up until {window.reset_at:%H:%M:%S}Z"
            raise RateLimited(PLATFORM, message, window.reset_at)
        try:
            yield
        except sdk.MastodonRatelimitError as exc:
            reset = sup.reset_after_429(self._session.windows.get(route), self._clock.now())
            raise RateLimited(PLATFORM, f"{what}: 429 too many requests", reset) from exc
        except sdk.MastodonUnauthorizedError as exc:
            raise AuthFailed(PLATFORM, f"{what}: 401 (check {TOKEN_VARIABLE})") from exc
        except sdk.MastodonServerError as exc:
            kind = Ambiguous if create else Transient
            raise kind(PLATFORM, f"{what}: {sup.said(exc)}") from exc
        except sdk.MastodonAPIError as exc:
            status = exc.args[1] if len(exc.args) > 1 else None
            if status == 404:
                raise sup.NotFound(PLATFORM, f"{what}: {sup.said(exc)}") from exc
            if isinstance(status, int) and 400 <= status < 500:
                raise Rejected(PLATFORM, f"{what}: {sup.said(exc)}") from exc
            kind = Ambiguous if create else Transient
            raise kind(PLATFORM, f"{what}: unreadable answer from the instance") from exc
        except sdk.MastodonNetworkError as exc:
            cause = exc.__cause__ or exc.__context__
            if sup.never_sent(cause):
                raise Transient(PLATFORM, f"{what}: cannot reach the instance") from exc
            kind = Ambiguous if create else Transient
            name = type(cause).__name__ if cause else "no answer"
            raise kind(PLATFORM, f"{what}: no answer from the instance ({name})") from exc
        except (sdk.MastodonIllegalArgumentError, sdk.MastodonIOError) as exc:
            raise Rejected(PLATFORM, f"{what}: {exc}") from exc
        except (sdk.MastodonError, ValueError, KeyError, TypeError, AttributeError) as exc:
            kind = Ambiguous if create else Transient
            raise kind(PLATFORM, f"{what}: {type(exc).__name__}") from exc


def _not_found(exc: Rejected) -> bool:
    cause = exc.__cause__
    return isinstance(cause, sdk.MastodonNotFoundError)
