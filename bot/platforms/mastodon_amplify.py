"""Amplifying on Mastodon (issue 16 point 6): the `Amplifier` half of the Mastodon adapter, mixed
into `MastodonPlatform` (mastodon.py holds the Mastodon.py client and maps every failure in
`_calling`; nothing here imports Mastodon.py).

- Discovery: the hashtag timeline of each "#tag" (`GET /api/v1/timelines/tag/:hashtag`: the
  public posts this instance knows of) and an allowlisted account's statuses (looked up once by
  its `user@instance` address, then `GET /api/v1/accounts/:id/statuses`, boosts left out); both
  newest first, `since_id` = the watermark, `max_id` = the page (mastodon_found.py).
- Repost is a boost, like a favourite: both idempotent on Mastodon (a second boost answers the
  first), so a lost answer is safe to retry (`Transient`), and reconciliation asks the status
  whether the account boosted or favourited it. Published carries the subject's id: Mastodon
  undoes both by it (unreblog, unfavourite).
- Quote: a status with `quoted_status_id` where the instance has quotes (API version 7, Mastodon
  4.5), else the bot's words and the link to the original; either way a status created once
  through the Idempotency-Key, undone by deleting it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from bot.platforms import mastodon_found as found
from bot.platforms import mastodon_support as sup
from bot.platforms.base import FoundPage, PostRequest, Published, Rejected, Subject

log = logging.getLogger(__name__)
PLATFORM = "mastodon"
# action -> (Mastodon.py method, the endpoint's last segment, the status flag it sets)
AMPLIFY = {
    "repost": ("status_reblog", "reblog", "reblogged"),
    "like": ("status_favourite", "favourite", "favourited"),
}
UNDO = {"repost": ("status_unreblog", "unreblog"), "like": ("status_unfavourite", "unfavourite")}


class MastodonAmplifying:
    combines_terms = False  # a hashtag timeline is one tag

    # Set by MastodonPlatform.__init__.
    _client: Any
    _domain: str
    _account_ids: dict[str, str]  # address -> account id, looked up once
    _quotes: bool | None  # whether the instance has quotes, asked once

    # Implemented by MastodonPlatform.
    def _calling(
        self, what: str, route: str, *, create: bool = False
    ) -> AbstractContextManager[None]:
        raise NotImplementedError

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
        raise NotImplementedError

    def _own_statuses(self, limit: int) -> list[Any]:
        raise NotImplementedError

    def delete(self, remote_id: str) -> None:
        raise NotImplementedError

    # --- discovery ----------------------------------------------------------------------------
    def search(
        self,
        terms: Sequence[str],
        *,
        newer_than: str | None = None,
        page: str | None = None,
        limit: int = 100,
    ) -> FoundPage:
        """The hashtag timeline of one "#tag", newest first; a link term is Rejected."""
        (term,) = terms
        tag = found.hashtag_of(term)
        asked = max(1, min(limit, found.PAGE_MOST))
        with self._calling(f"search {term}", f"GET /api/v1/timelines/tag/{tag}"):
            statuses = self._client.timeline_hashtag(
                tag, since_id=newer_than, max_id=page, limit=asked
            )
        return found.page_of(list(statuses), asked, self._domain)

    def author_posts(
        self,
        author: str,
        *,
        newer_than: str | None = None,
        page: str | None = None,
        limit: int = 100,
    ) -> FoundPage:
        """The statuses of `author` (`user@instance`, or an account id), boosts left out."""
        account_id = self._account_id(author)
        asked = max(1, min(limit, found.PAGE_MOST))
        with self._calling(f"statuses of {author}", "GET /api/v1/accounts/{id}/statuses"):
            statuses = self._client.account_statuses(
                account_id, exclude_reblogs=True, since_id=newer_than, max_id=page, limit=asked
            )
        return found.page_of(list(statuses), asked, self._domain)

    def _account_id(self, author: str) -> str:
        acct = author.strip().removeprefix("@").lower()
        if acct.isdigit():
            return acct
        if acct not in self._account_ids:
            try:
                with self._calling(f"look up {acct}", "GET /api/v1/accounts/lookup"):
                    self._account_ids[acct] = str(self._client.account_lookup(acct)["id"])
            except sup.NotFound:
                raise Rejected(PLATFORM, f"no account {acct} known to this instance") from None
        return self._account_ids[acct]

    # --- amplifying ---------------------------------------------------------------------------
    def _amplify(self, post: PostRequest) -> Published:
        """Boost or favourite the subject (doing it again changes nothing on Mastodon)."""
        subject = found.subject_of(post)
        method, segment, _ = AMPLIFY[post.action]
        with self._calling(post.action, f"POST /api/v1/statuses/{{id}}/{segment}"):
            answer = getattr(self._client, method)(subject.remote_id)
        log.info("mastodon: %s of %s done", post.action, subject.remote_id)
        return Published(subject.remote_id, subject.url, sup.when(answer.get("created_at")))

    def _quote(self, post: PostRequest) -> Published:
        subject = found.subject_of(post)
        if self._quotes_supported():
            made = self._create(post.text, post.key, post.language, quote_of=subject.remote_id)
        else:
            made = self._create(found.linked_quote(post.text, subject), post.key, post.language)
        log.info("mastodon: quoted %s as %s", subject.remote_id, made["id"])
        return sup.published(made, [])

    def _quotes_supported(self) -> bool:
        if self._quotes is None:
            with self._calling("read instance", "GET /api/v2/instance"):
                versions = self._client.instance_v2().get("api_versions") or {}
            self._quotes = int(versions.get("mastodon") or 0) >= found.QUOTES_API_VERSION
        return self._quotes

    def _find_amplified(self, post: PostRequest, since: datetime) -> Published | None:
        """Reconciliation: a boost or favourite as the subject's flag says; a quote among the
        account's statuses since `since`, by its text and what it quotes."""
        subject = found.subject_of(post)
        if post.action in AMPLIFY:
            try:
                with self._calling("read status", "GET /api/v1/statuses/{id}"):
                    status = self._client.status(subject.remote_id)
            except sup.NotFound:
                return None
            return (
                Published(subject.remote_id, subject.url)
                if status.get(AMPLIFY[post.action][2])
                else None
            )
        wanted = {sup.fingerprint(post.text), sup.fingerprint("RE: " + post.text)}
        for status in sorted(self._own_statuses(100), key=lambda s: int(s["id"])):
            made = sup.when(status.get("created_at"))
            if made is not None and made < since:
                continue
            if found.quoted_id(status) not in (None, subject.remote_id):
                continue
            if sup.fingerprint(sup.status_text(status)) in wanted:
                return sup.published(status, [])
        return None

    def unamplify(self, action: str, published_id: str, subject: Subject) -> None:
        """Unboost or unfavourite the subject, or delete the quote; what is gone is no error."""
        if action == "quote":
            return self.delete(published_id)
        if action not in UNDO:
            raise Rejected(PLATFORM, f"cannot undo {action!r}")
        method, segment = UNDO[action]
        try:
            with self._calling(f"undo {action}", f"POST /api/v1/statuses/{{id}}/{segment}"):
                getattr(self._client, method)(subject.remote_id)
        except sup.NotFound:
            pass  # the status itself is gone, and with it the boost or favourite
        log.info("mastodon: undid the %s of %s", action, subject.remote_id)
        return None
