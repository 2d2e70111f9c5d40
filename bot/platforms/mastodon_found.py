"""Mastodon statuses found by a hashtag timeline or in an account's statuses, as `FoundPost`s
(no Mastodon.py here: its entities are dicts).

- Handles are `user@instance` addresses (`mastodon_support.address`), as campaigns write them.
- Links are the status's own links: the `<a href>`s of its HTML that are neither a mention nor a
  hashtag (Mastodon marks those with the classes `mention` and `hashtag`), and its preview card.
- Watermarks and pages are status ids: `newest` the highest id of a page (pass it back as
  `newer_than`, sent as `since_id`), `next_page` the lowest (sent as `max_id`) while a page is
  full; Mastodon ids grow with time, so either continues exactly where the last call stopped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html.parser import HTMLParser
from typing import Any

from bot.platforms.base import FoundPage, FoundPost, PostRequest, Rejected, Subject
from bot.platforms.mastodon_support import address, plain_text, when

PLATFORM = "mastodon"
PAGE_MOST = 40  # the most statuses one Mastodon list call returns
QUOTES_API_VERSION = 7  # Mastodon 4.5: `quoted_status_id` (api_versions.mastodon in the instance)
_HASHTAG = re.compile(r"#?(\w*[^\W\d_]\w*)")
_MARKED = {"mention", "hashtag"}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        href, classes = values.get("href"), set((values.get("class") or "").split())
        if (
            tag == "a"
            and href
            and href.startswith(("http://", "https://"))
            and not (classes & _MARKED)
        ):
            self.links.append(href)


def links_of(status: dict[str, Any]) -> tuple[str, ...]:
    reader = _Links()
    reader.feed(str(status.get("content") or ""))
    reader.close()
    card = status.get("card") or {}
    if isinstance(card, dict) and card.get("url"):
        reader.links.append(str(card["url"]))
    return tuple(dict.fromkeys(reader.links))


def hashtag_of(term: str) -> str:
    """The tag of a search term "#tag"; Rejected for anything else (a link: Mastodon has no
    search by link, and its full-text search is optional and finds only one's own posts)."""
    match = _HASHTAG.fullmatch(term.strip())
    if not term.strip().startswith("#") or match is None:
        raise Rejected(
            PLATFORM,
            f"search term {term[:100]!r}: Mastodon finds posts by hashtag only (links are "
            "matched in the posts a hashtag or an allowlisted account's statuses bring)",
        )
    return match.group(1)


def _mentioned(status: dict[str, Any], domain: str) -> dict[str, str]:
    """account id -> address, of the accounts the status mentions."""
    return {str(m["id"]): address(m, domain) for m in status.get("mentions") or [] if "id" in m}


def found_post(status: dict[str, Any], domain: str, depth: int = 0) -> FoundPost:
    """One status; `domain` is the bot's instance (a local account's `acct` has no domain)."""
    author = status["account"]
    mentioned = _mentioned(status, domain)
    replied = status.get("in_reply_to_account_id")
    quote = status.get("quote")
    quoted = quote.get("quoted_status") if isinstance(quote, dict) else None
    referenced = (found_post(quoted, domain, 1),) if quoted and depth == 0 else ()
    return FoundPost(
        remote_id=str(status["id"]),
        url=str(status.get("url") or status.get("uri") or ""),
        author_id=str(author["id"]),
        author_handle=address(author, domain),
        text=plain_text(str(status.get("content") or "")),
        created_at=when(status.get("created_at")),
        languages=(str(status["language"]),) if status.get("language") else (),
        tags=tuple(str(t["name"]) for t in status.get("tags") or [] if t.get("name")),
        links=links_of(status),
        mentioned=tuple(mentioned.values()),
        is_reply=status.get("in_reply_to_id") is not None,
        reply_to_author_id=str(replied) if replied else None,
        reply_to_handle=mentioned.get(str(replied)) if replied else None,
        is_repost=status.get("reblog") is not None,
        reply_to_id=str(status["in_reply_to_id"]) if status.get("in_reply_to_id") else None,
        quoted_id=quoted_id(status),
        referenced=referenced,
    )


def page_of(statuses: Sequence[dict[str, Any]], asked: int, domain: str) -> FoundPage:
    """A page of a Mastodon list, newest first, boosts left out (a boost is not the author's
    own words). A full page (`asked` statuses) may have older ones after it."""
    ids = [int(s["id"]) for s in statuses]
    return FoundPage(
        posts=[found_post(s, domain) for s in statuses if s.get("reblog") is None],
        next_page=str(min(ids)) if ids and len(ids) >= asked else None,
        newest=str(max(ids)) if ids else None,
    )


def subject_of(post: PostRequest) -> Subject:
    """The status a boost, favourite or quote acts on; Rejected without a Mastodon status id."""
    if post.subject is None or not post.subject.remote_id.isdigit():
        raise Rejected(PLATFORM, f"{post.key}: a {post.action} needs the Mastodon status id")
    return post.subject


def linked_quote(text: str, subject: Subject) -> str:
    """A quote where the instance has none: the bot's words, then the link to the original."""
    if not subject.url:
        raise Rejected(PLATFORM, f"cannot quote status {subject.remote_id}: its address is unknown")
    return f"{text.rstrip()}\n\n{subject.url}"


def quoted_id(status: dict[str, Any]) -> str | None:
    """The id of the status `status` quotes (an accepted or pending quote), or None."""
    quote = status.get("quote")
    if not isinstance(quote, dict):
        return None
    inner = quote.get("quoted_status_id") or (quote.get("quoted_status") or {}).get("id")
    return str(inner) if inner else None
