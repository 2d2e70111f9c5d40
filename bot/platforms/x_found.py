"""Finding others' posts on X, without tweepy: the recent-search query Kindling sends, and X's
answers (raw dicts, as x.py takes them out of tweepy's objects) read into FoundPost/FoundPage.

The query is `(term OR term ...) -is:retweet`: a `#tag` stays as it is, an http(s) URL becomes
`url:"host/path"`. X's url: operator is a tokenized match on a post's links (the t.co and the
expanded URL), so the scheme and a leading www. are left out: `url:"example.org/petition"`
matches http://, https:// and www. forms alike. Operators with punctuation must be quoted.
Recent search takes queries of at most 512 characters (the Basic tier; Pro allows 4096).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from bot.platforms.base import FoundPage, FoundPost, PostRequest, Rejected, Subject
from bot.platforms.x_support import created_at, references

PLATFORM = "x"
QUERY_LIMIT = 512
RECENT = timedelta(days=7)  # how far back recent search reaches; an older since_id is refused
SEARCH_FIELDS = [
    "created_at",
    "lang",
    "author_id",
    "entities",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
]
SEARCH_EXPANSIONS = ["author_id", "in_reply_to_user_id"]
# X's `lang` values that name no language: undetermined, no linguistic content, and posts of
# only mentions, cashtags, hashtags, media links or very short text.
NOT_A_LANGUAGE = frozenset({"und", "zxx", "qam", "qct", "qht", "qme", "qst"})
_TAG = re.compile(r"#\w*[^\W\d_]\w*")  # X's hashtags have a letter: #2026 is none
_HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}|\d{1,19}")
_TWEPOCH_MS = 1288834974657  # X's snowflake epoch


class XRefusal(Exception):
    """X answered 200 with only `errors` (e.g. the post to like does not exist): for `_calling`
    in x.py to map, like every other failure."""


def subject_of(post: PostRequest) -> Subject:
    """The post a repost, like or quote acts on; Rejected without a usable X post id."""
    if post.subject is None or not post.subject.remote_id.isdigit():
        raise Rejected(PLATFORM, f"{post.key}: a {post.action} needs the X post id to act on")
    return post.subject


def subject_url(subject: Subject) -> str:
    return subject.url or f"https://x.com/i/web/status/{subject.remote_id}"


def query_term(term: str) -> str:
    """One search term as an X query operator."""
    term = term.strip()
    if _TAG.fullmatch(term):
        return term
    parts = urlsplit(term)
    if parts.scheme.lower() in ("http", "https") and parts.hostname:
        host = parts.netloc.lower().rsplit("@", 1)[-1].removeprefix("www.")
        target = host + parts.path.rstrip("/") + (f"?{parts.query}" if parts.query else "")
        if not re.search(r'["\s]', target):
            return f'url:"{target}"'
    raise Rejected(PLATFORM, f"search term {term!r} is neither a #hashtag nor an http(s) URL")


def search_query(terms: Sequence[str]) -> str:
    """All terms in one query, plain retweets left out; Rejected if it cannot be sent."""
    operators = list(dict.fromkeys(query_term(t) for t in terms))
    if not operators:
        raise Rejected(PLATFORM, "search needs at least one term")
    either = operators[0] if len(operators) == 1 else f"({' OR '.join(operators)})"
    query = f"{either} -is:retweet"
    if len(query) > QUERY_LIMIT:
        raise Rejected(
            PLATFORM,
            f"search query for {len(operators)} terms is {len(query)} characters, over X's "
            f"limit of {QUERY_LIMIT}: split the terms over more searches or use fewer",
        )
    return query


def author_query(author: str) -> str:
    """The posts of one account (username, with or without @, or numeric user id)."""
    name = author.strip().removeprefix("@")
    if not _HANDLE.fullmatch(name):
        raise Rejected(PLATFORM, f"{author!r} is not an X username or user id")
    return f"from:{name} -is:retweet"


def usable_since(newer_than: str | None, now: datetime) -> str | None:
    """The since_id to send. X refuses one older than recent search reaches; every post it can
    still find is newer than such a watermark anyway, so it is left out instead."""
    if newer_than is None:
        return None
    if not newer_than.isdigit():
        raise Rejected(PLATFORM, f"{newer_than!r} is not an X post id")
    made = datetime.fromtimestamp(((int(newer_than) >> 22) + _TWEPOCH_MS) / 1000, UTC)
    return newer_than if made > now - RECENT + timedelta(minutes=5) else None


def found_post(data: Mapping[str, Any], users: Mapping[str, str]) -> FoundPost:
    """One post of a search answer; `users`: user id -> username, from includes.users."""
    refs = references(dict(data))
    post_id, author_id = str(data["id"]), str(data.get("author_id", ""))
    username = users.get(author_id, "")
    entities = data.get("entities") or {}
    lang = data.get("lang")
    reply_to = str(data["in_reply_to_user_id"]) if data.get("in_reply_to_user_id") else None
    return FoundPost(
        remote_id=post_id,
        url=f"https://x.com/{username or 'i/web'}/status/{post_id}",
        author_id=author_id,
        author_handle=username.lower(),
        text=html.unescape(str(data["text"])),
        created_at=created_at(dict(data)),
        languages=(str(lang),) if lang and lang not in NOT_A_LANGUAGE else (),
        tags=tuple(str(h["tag"]) for h in entities.get("hashtags") or []),
        # a link X made for attached media (it has a media_key) is not a link the author shared
        links=tuple(
            str(u.get("expanded_url") or u["url"])
            for u in entities.get("urls") or []
            if not u.get("media_key") and (u.get("expanded_url") or u.get("url"))
        ),
        mentioned=tuple(
            str(m["username"]).lower() for m in entities.get("mentions") or [] if m.get("username")
        ),
        is_reply=reply_to is not None or "replied_to" in refs,
        reply_to_author_id=reply_to,
        reply_to_handle=users[reply_to].lower()
        if reply_to is not None and reply_to in users
        else None,
        is_repost="retweeted" in refs,
        reply_to_id=refs.get("replied_to"),
        quoted_id=refs.get("quoted"),
    )


def found_page(
    posts: Sequence[Mapping[str, Any]], users: Mapping[str, str], meta: Mapping[str, Any]
) -> FoundPage:
    return FoundPage(
        [found_post(p, users) for p in posts],
        next_page=str(meta["next_token"]) if meta.get("next_token") else None,
        newest=str(meta["newest_id"]) if meta.get("newest_id") else None,
    )


def confirm(data: Any, errors: Sequence[Mapping[str, Any]], flag: str) -> None:
    """A retweet or like answer: XRefusal when X refused with only `errors`; ValueError (an
    unreadable answer) when the flag is not true."""
    if not data and errors:
        raise XRefusal("; ".join(str(e.get("detail") or e.get("title") or e) for e in errors))
    if not isinstance(data, Mapping) or data.get(flag) is not True:
        raise ValueError(f"X answered {data!r}, not {flag}: true")
