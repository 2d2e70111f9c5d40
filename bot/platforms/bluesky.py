"""The Bluesky adapter, on the atproto SDK 0.0.73.

- One session, reused: saved in `data/bluesky-session` (0600, atomic) on CREATE and REFRESH
  (refresh tokens are single-use); the app password is used only when the saved one is refused.
- Exactly once: each post of a thread is created at a deterministic TID record key from (key,
  slot, position), createdAt = the slot; a second create on that key answers 500. `publish` is
  idempotent: after a 5xx or a timeout it reads the key back and a record there counts as
  published (a retry completes a half-made thread); only if it is absent is `Ambiguous` raised.
- Every SDK/HTTP failure becomes one `PlatformError` in `_map`. A 429 or `RateLimit-Remaining:
  0` blocks that XRPC method until `RateLimit-Reset`: calls before then raise `RateLimited`
  without touching the network.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from atproto_client import Client, Session, SessionEvent, models
from atproto_client import exceptions as sdk
from atproto_client.request import Request
from atproto_core.exceptions import AtProtocolError
from pydantic import ValidationError

from bot.clock import Clock, SystemClock
from bot.platforms import bluesky_found as found
from bot.platforms import bluesky_richtext as rt
from bot.platforms import bluesky_support as sup
from bot.platforms.base import (
    Account,
    Ambiguous,
    AuthFailed,
    FoundPage,
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
    http_date,
)

if TYPE_CHECKING:
    from bot.config import Config

T = TypeVar("T")
NAME = "bluesky"
POST = "app.bsky.feed.post"
# The record each amplification creates (a quote is a post embedding the quoted one).
COLLECTIONS = {"repost": "app.bsky.feed.repost", "like": "app.bsky.feed.like", "quote": POST}
SESSION_FILE = "bluesky-session"
PASSWORD_VARIABLE = "KINDLING_BLUESKY_APP_PASSWORD"
TOKEN_ERRORS = {"ExpiredToken", "InvalidToken"}
ACCOUNT_ERRORS = {"AccountTakedown", "AccountDeactivated", "AccountSuspended"}


class BlueskyPlatform:
    name = NAME
    metrics_batch = 25
    combines_terms = False  # searchPosts takes one query; a local AppView matches a substring

    def __init__(
        self,
        *,
        service_url: str,
        handle: str,
        password: str,
        session_path: Path,
        timeout: float,
        clock: Clock | None = None,
        web_url: str = "",
    ) -> None:
        self._clock = clock or SystemClock()  # the rate-limit gate and resets read this clock
        self.service_url = service_url.rstrip("/")
        self._web_url = web_url  # [bluesky] web_url: where a post of the account is seen
        self.handle = handle.removeprefix("@").lower()
        self._password = password
        self._session_file = sup.SessionFile(session_path, self.service_url, self.handle)
        self._gate = sup.RateLimitGate(self._clock.now)
        request = Request(
            timeout=httpx.Timeout(timeout),
            event_hooks={
                "request": [self._gate.before],
                "response": [self._gate.after, self._note_date],
            },
        )
        self.server_date: datetime | None = None  # the PDS's clock, for `kindling doctor`
        self._client = Client(base_url=self.service_url, request=request)
        self._client.on_session_change(self._session_changed)
        self._did: str | None = None
        self._lock = threading.RLock()  # one login or refresh at a time

    @classmethod
    def from_config(cls, config: Config, clock: Clock | None = None) -> BlueskyPlatform:
        handle, password = config.bluesky_handle, config.secrets.get(PASSWORD_VARIABLE)
        if not handle or not password:
            missing = [] if handle else ["the handle (KINDLING_BLUESKY_HANDLE or [bluesky] handle)"]
            missing += [] if password else [f"the app password ({PASSWORD_VARIABLE})"]
            raise AuthFailed(NAME, "not configured: set " + " and ".join(missing))
        settings = config.settings.bluesky
        return cls(
            service_url=settings.service_url,
            handle=handle,
            password=password,
            session_path=config.data_dir / SESSION_FILE,
            timeout=settings.timeout_seconds,
            clock=clock,
            web_url=settings.web_url,
        )

    def __repr__(self) -> str:
        return f"BlueskyPlatform(service_url={self.service_url!r}, handle={self.handle!r})"

    def close(self) -> None:
        self._client.request.close()

    def _note_date(self, response: httpx.Response) -> None:
        self.server_date = http_date(response.headers.get("date")) or self.server_date

    # --- the Platform interface ----------------------------------------------------------------

    def check_account(self) -> Account:
        self._ensure_session()
        info = self._call("checking the account", self._client.com.atproto.server.get_session)
        return Account(id=info.did, handle=info.handle)

    def publish(self, post: PostRequest) -> Published:
        if post.action in ("repost", "like"):
            return self._amplify(post)
        texts, facets, images = sup.prepare(post)  # Rejected here sends nothing
        self._ensure_session()
        dids = self._resolve({f.value.lower() for fs in facets for f in fs if f.kind == "mention"})
        embed: Any = self._embed(images) if images else None
        if post.action == "quote":
            embed = models.AppBskyEmbedRecord.Main(record=_strong_ref(post.subject))
        refs: list[models.ComAtprotoRepoStrongRef.Main] = []
        for index, text in enumerate(texts):
            reply = None
            if refs:
                reply = models.AppBskyFeedPost.ReplyRef(root=refs[0], parent=refs[-1])
            try:
                record = models.AppBskyFeedPost.Record(
                    text=text,
                    created_at=rt.created_at(post.slot, index),
                    langs=[post.language],
                    facets=[_facet_model(f, dids) for f in facets[index]] or None,
                    embed=embed if index == 0 else None,
                    reply=reply,
                )
            except ValidationError as exc:
                raise Rejected(NAME, f"{sup.which(index)} is not a valid post: {exc}") from None
            refs.append(self._create(record, rt.record_key(post.key, post.slot, index)))
        return self._published(refs, post.slot)

    def find_published(self, post: PostRequest) -> Published | None:
        """The post for `post.key`, or None unless every post of its thread exists."""
        if post.action in ("repost", "like"):
            rkey = rt.record_key(post.key, post.slot)
            ref = self._get_post(rkey, COLLECTIONS[post.action])
            return None if ref is None else self._amplified(ref.uri, post.subject)
        refs = []
        for index in range(1 + len(post.thread)):
            ref = self._get_post(rt.record_key(post.key, post.slot, index))
            if ref is None:
                return None
            refs.append(ref)
        return self._published(refs, post.slot)

    def recent_own_posts(self, limit: int = 100) -> list[OwnPost]:
        did = self._ensure_session()
        posts: list[OwnPost] = []
        cursor: str | None = None
        while len(posts) < limit:
            params = models.AppBskyFeedGetAuthorFeed.Params(
                actor=did, limit=min(100, limit - len(posts)), cursor=cursor
            )
            feed = self._call(
                "reading own posts", partial(self._client.app.bsky.feed.get_author_feed, params)
            )
            posts += [sup.own_post_of(item) for item in feed.feed if sup.is_own_post(item, did)]
            cursor = feed.cursor
            if not cursor or not feed.feed:
                break
        return posts[:limit]

    def metrics(self, remote_ids: Sequence[str]) -> list[Metrics]:
        """Counts from app.bsky.feed.getPosts, in calls of at most 25 URIs each."""
        self._ensure_session()
        found: list[Metrics] = []
        for start in range(0, len(remote_ids), self.metrics_batch):
            uris = list(remote_ids[start : start + self.metrics_batch])
            answer = self._call(
                "reading post counts",
                partial(
                    self._client.app.bsky.feed.get_posts,
                    models.AppBskyFeedGetPosts.Params(uris=uris),
                ),
            )
            found += [sup.metrics_of(view) for view in answer.posts]
        return found

    def mentions(self, cursor: str | None = None) -> MentionPage:
        """Mentions, replies and quotes newer than `cursor` (the newest indexedAt seen so far)."""
        did = self._ensure_session()

        def fetch(page: str | None) -> Any:
            params = models.AppBskyNotificationListNotifications.Params(
                limit=100, cursor=page, reasons=list(sup.MENTION_REASONS)
            )
            return self._call(
                "reading notifications",
                lambda: self._client.app.bsky.notification.list_notifications(params),
            )

        return sup.collect_mentions(fetch, cursor, did)

    def delete(self, remote_id: str) -> None:
        did = self._ensure_session()
        repo, collection, rkey = sup.split_uri(remote_id)
        if repo != did or collection != POST:
            raise Rejected(NAME, f"not a post of this account: {remote_id}")
        data = models.ComAtprotoRepoDeleteRecord.Data(repo=did, collection=POST, rkey=rkey)
        self._call("deleting a post", lambda: self._client.com.atproto.repo.delete_record(data))

    # --- amplification -------------------------------------------------------------------------

    def search(
        self,
        terms: Sequence[str],
        *,
        newer_than: str | None = None,
        page: str | None = None,
        limit: int = 100,
    ) -> FoundPage:
        """app.bsky.feed.searchPosts for one term, newest first (sort=latest)."""
        (term,) = terms
        self._ensure_session()
        params = models.AppBskyFeedSearchPosts.Params(
            q=term, sort="latest", since=newer_than, cursor=page, limit=min(limit, 100)
        )
        answer = self._call(
            f"searching for {term}", lambda: self._client.app.bsky.feed.search_posts(params)
        )
        return self._page([(view, False) for view in answer.posts], answer.cursor, newer_than)

    def author_posts(
        self,
        author: str,
        *,
        newer_than: str | None = None,
        page: str | None = None,
        limit: int = 100,
    ) -> FoundPage:
        """app.bsky.feed.getAuthorFeed (posts and replies; reposts are left out)."""
        self._ensure_session()
        params = models.AppBskyFeedGetAuthorFeed.Params(
            actor=author, cursor=page, limit=min(limit, 100)
        )
        answer = self._call(
            f"reading @{author}'s posts", lambda: self._client.app.bsky.feed.get_author_feed(params)
        )
        items = [(item.post, item.reason is not None) for item in answer.feed]
        parents = {item.post.uri: sup.field(item, "reply", "parent") for item in answer.feed}
        return self._page(items, answer.cursor, newer_than, parents)

    def unamplify(self, action: str, published_id: str, subject: Subject) -> None:
        did = self._ensure_session()
        repo, collection, rkey = sup.split_uri(published_id)
        if repo != did or collection != COLLECTIONS.get(action):
            raise Rejected(NAME, f"not a {action} of this account: {published_id}")
        data = models.ComAtprotoRepoDeleteRecord.Data(repo=did, collection=collection, rkey=rkey)
        # Deleting a record that is already gone succeeds: undoing twice is harmless.
        self._call(f"undoing a {action}", lambda: self._client.com.atproto.repo.delete_record(data))

    def _amplify(self, post: PostRequest) -> Published:
        collection = COLLECTIONS[post.action]
        record_type = (
            models.AppBskyFeedRepost.Record
            if post.action == "repost"
            else models.AppBskyFeedLike.Record
        )
        record = record_type(
            subject=_strong_ref(post.subject), created_at=rt.created_at(post.slot, 0)
        )
        ref = self._create(record, rt.record_key(post.key, post.slot), collection)
        return self._amplified(ref.uri, post.subject)

    def _amplified(self, uri: str, subject: Subject | None) -> Published:
        return Published(remote_id=uri, url=subject.url if subject else "", created_at=None)

    def _page(
        self,
        items: list[tuple[Any, bool]],
        cursor: str | None,
        newer_than: str | None,
        parents: dict[str, Any] | None = None,
    ) -> FoundPage:
        """Posts with their reply parents' handles (one getProfiles call per 25 authors)."""
        dids = sorted(found.parent_dids(view for view, _ in items))
        handles: dict[str, str] = {}
        for start in range(0, len(dids), 25):
            params = models.AppBskyActorGetProfiles.Params(actors=dids[start : start + 25])
            answer = self._call(
                "reading reply authors",
                partial(self._client.app.bsky.actor.get_profiles, params),
            )
            handles.update({profile.did: profile.handle.lower() for profile in answer.profiles})
        return found.page_of(items, handles, cursor, newer_than, parents)

    # --- posts ---------------------------------------------------------------------------------

    def _resolve(self, handles: set[str]) -> dict[str, str]:
        dids = {}
        for handle in sorted(handles):
            params = models.ComAtprotoIdentityResolveHandle.Params(handle=handle)
            try:
                answer = self._call(
                    f"resolving @{handle}",
                    partial(self._client.com.atproto.identity.resolve_handle, params),
                )
            except Rejected as error:
                raise Rejected(
                    NAME, f"the mention @{handle} is not a Bluesky account ({error.message})"
                ) from None
            dids[handle] = answer.did
        return dids

    def _embed(self, images: list[sup.ImageData]) -> models.AppBskyEmbedImages.Main:
        embedded = []
        for image, data, mime in images:
            # (the SDK hands httpx the bytes as data=, which httpx deprecates: not ours to fix)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                blob = self._call(
                    f"uploading {image.path.name}",
                    partial(
                        self._client.com.atproto.repo.upload_blob,
                        data,
                        headers={"Content-Type": mime},
                    ),
                ).blob
            embedded.append(models.AppBskyEmbedImages.Image(alt=image.alt, image=blob))
        return models.AppBskyEmbedImages.Main(images=embedded)

    def _create(
        self, record: Any, rkey: str, collection: str = POST
    ) -> models.ComAtprotoRepoStrongRef.Main:
        data = models.ComAtprotoRepoCreateRecord.Data(
            repo=self._ensure_session(), collection=collection, rkey=rkey, record=record
        )
        try:
            made = self._call(
                "creating a post",
                lambda: self._client.com.atproto.repo.create_record(data),
                create=True,
            )
        except Ambiguous as error:
            # A 5xx or a timeout: the record may be there (a second create on the same key
            # answers 500). Reading the key back settles it.
            try:
                existing = self._get_post(rkey, collection)
            except PlatformError:
                raise error from None
            if existing is None:
                raise
            return existing
        return models.ComAtprotoRepoStrongRef.Main(uri=made.uri, cid=made.cid)

    def _get_post(
        self, rkey: str, collection: str = POST
    ) -> models.ComAtprotoRepoStrongRef.Main | None:
        params = models.ComAtprotoRepoGetRecord.Params(
            repo=self._ensure_session(), collection=collection, rkey=rkey
        )
        try:
            found = self._call(
                "looking up a post", lambda: self._client.com.atproto.repo.get_record(params)
            )
        except sup.RecordNotFound:
            return None
        return models.ComAtprotoRepoStrongRef.Main(uri=found.uri, cid=found.cid or "")

    def _published(self, refs: list[Any], slot: datetime) -> Published:
        bsky_app = sup.post_url(self.handle, refs[0].uri)
        return Published(
            remote_id=refs[0].uri,
            url=sup.shown_link(self.service_url, self._web_url, refs[0].uri, bsky_app) or bsky_app,
            created_at=slot,
            thread_ids=tuple(ref.uri for ref in refs[1:]),
        )

    # --- the session ---------------------------------------------------------------------------

    def _ensure_session(self) -> str:
        """The account's DID, logging in first if this instance has not yet."""
        with self._lock:
            return self._did or self._start_session()

    def _start_session(self) -> str:
        saved = self._session_file.load()
        if saved is not None:
            # A rejected saved session (bad, expired, revoked) falls back to the password.
            with contextlib.suppress(AuthFailed, Rejected, ValueError):
                self._client.login(session_string=saved, fetch_bsky_profile=False)
                self._did = self._check_session()
                return self._did
        self._did = self._password_login()
        return self._did

    def _check_session(self) -> str:
        """getSession with the imported session (after one refresh if it is refused)."""
        get_session = self._client.com.atproto.server.get_session
        try:
            info = self._raw("checking the saved session", get_session)
        except AuthFailed:
            self._refresh()
            info = self._raw("checking the saved session", get_session)
        self.handle = info.handle.lower()
        return str(info.did)

    def _refresh(self) -> None:
        """One refreshSession with the (single-use) refresh token; the new session is saved."""
        current = Session.decode(self._client.export_session_string())
        answer = self._raw(
            "refreshing the session",
            lambda: self._client.com.atproto.server.refresh_session(
                headers={"Authorization": f"Bearer {current.refresh_jwt}"},
                ignore_session_check=True,
            ),
        )
        fresh = Session(
            answer.handle, answer.did, answer.access_jwt, answer.refresh_jwt, current.pds_endpoint
        )
        self._client.login(session_string=fresh.export(), fetch_bsky_profile=False)
        self._session_file.save(fresh.export())

    def _password_login(self) -> str:
        try:
            self._raw(
                "logging in",
                lambda: self._client.login(self.handle, self._password, fetch_bsky_profile=False),
            )
        except AuthFailed as error:
            raise AuthFailed(
                NAME, f"{error.message} (check {self.handle} and {PASSWORD_VARIABLE})"
            ) from None
        return Session.decode(self._client.export_session_string()).did

    def _session_changed(self, event: SessionEvent, session: Session) -> None:
        if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
            self._session_file.save(session.export())

    # --- calls and errors ----------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T], *, create: bool = False) -> T:
        """`fn` with errors mapped; after an auth failure, one refresh (or login) and one retry."""
        try:
            return self._raw(what, fn, create=create)
        except sup.TokenRejected:
            with self._lock:
                try:
                    self._refresh()
                except (AuthFailed, Rejected):
                    self._did = self._password_login()
            return self._raw(what, fn, create=create)

    def _raw(self, what: str, fn: Callable[[], T], *, create: bool = False) -> T:
        try:
            return fn()
        except (AtProtocolError, ValidationError, httpx.HTTPError, OSError) as exc:
            raise self._map(exc, what, create) from exc

    def _map(self, exc: Exception, what: str, create: bool) -> PlatformError:
        """The one place where SDK and HTTP failures become the errors of base.py."""
        if isinstance(exc, PlatformError):
            return exc
        if isinstance(exc, ValidationError):
            return Rejected(NAME, f"{what}: invalid request: {exc.errors()[0]['msg']}")
        if isinstance(exc, sdk.RateLimitExceededError):
            reset = exc.reset_at or self._clock.now() + timedelta(seconds=exc.retry_after or 60)
            return RateLimited(NAME, f"{what}: rate limited until {reset:%H:%M:%S}Z", reset)
        if isinstance(exc, sdk.LoginRequiredError):
            return AuthFailed(NAME, f"{what}: not logged in")
        response = exc.response if isinstance(exc, sdk.RequestErrorBase) else None
        if response is not None:
            content = response.content
            error = str(getattr(content, "error", "") or "")
            message = str(getattr(content, "message", "") or "")
            detail = f"{what}: HTTP {response.status_code} {error} {message}".rstrip()
            status = response.status_code
            if error == "RecordNotFound":
                return sup.RecordNotFound(NAME, detail)
            if error in ACCOUNT_ERRORS:
                return AuthFailed(NAME, detail)  # the account itself is not usable
            if status == 401 or error in TOKEN_ERRORS:  # (or the password, for createSession)
                return sup.TokenRejected(NAME, detail)  # worth one refresh or login
            if status >= 500:
                return Ambiguous(NAME, detail) if create else Transient(NAME, detail)
            return Rejected(NAME, detail)
        cause = exc.__cause__ or exc
        never_sent = isinstance(
            cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
        )
        detail = f"{what}: {type(cause).__name__}: {cause}".rstrip(": ")
        if create and not never_sent:
            return Ambiguous(NAME, detail)
        return Transient(NAME, detail)


def _facet_model(facet: rt.Facet, dids: dict[str, str]) -> models.AppBskyRichtextFacet.Main:
    feature: Any
    if facet.kind == "link":
        feature = models.AppBskyRichtextFacet.Link(uri=facet.value)
    elif facet.kind == "tag":
        feature = models.AppBskyRichtextFacet.Tag(tag=facet.value)
    else:
        feature = models.AppBskyRichtextFacet.Mention(did=dids[facet.value.lower()])
    index = models.AppBskyRichtextFacet.ByteSlice(
        byte_start=facet.byte_start, byte_end=facet.byte_end
    )
    return models.AppBskyRichtextFacet.Main(features=[feature], index=index)


def _strong_ref(subject: Subject | None) -> models.ComAtprotoRepoStrongRef.Main:
    if subject is None or not subject.cid:
        raise Rejected(NAME, "an amplification needs the post's at:// URI and its CID")
    return models.ComAtprotoRepoStrongRef.Main(uri=subject.remote_id, cid=subject.cid)
