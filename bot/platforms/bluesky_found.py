"""Bluesky search results and author feeds as `FoundPost`s (no atproto import: SDK models and
plain dicts are read alike through `field`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.platforms.base import FoundPage, FoundPost
from bot.platforms.bluesky_support import field, parse_time, post_url, quoted_uri, split_uri

TAG = "app.bsky.richtext.facet#tag"
LINK = "app.bsky.richtext.facet#link"


def sort_at(view: Any) -> str | None:
    """The AppView's ordering time of a post, min(createdAt, indexedAt), as a fixed-width UTC
    string (so watermarks compare as text)."""
    times = [parse_time(field(view, "indexed_at")), parse_time(field(view, "record", "created_at"))]
    known = [t for t in times if t is not None]
    return _stamp(min(known)) if known else None


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parent_dids(views: Iterable[Any]) -> set[str]:
    """The authors of the posts these posts reply to (from the parent's at:// URI)."""
    found = set()
    for view in views:
        parent = field(view, "record", "reply", "parent", "uri")
        if isinstance(parent, str) and parent.startswith("at://"):
            found.add(split_uri(parent)[0])
    return found


def found_post(view: Any, handles: Mapping[str, str], parent: Any = None) -> FoundPost:
    """An app.bsky.feed.defs#postView; `handles` maps parent authors' DIDs to their handles.
    `parent`: the postView it replies to, where the feed carried it (getAuthorFeed does)."""
    post = _post_of(view, field(view, "record"), handles)
    referenced = [_post_of(parent, field(parent, "record"), handles)] if _has_text(parent) else []
    quoted = _quoted_view(view)
    if quoted is not None:
        referenced.append(_post_of(quoted, field(quoted, "value"), handles))
    return replace(post, referenced=tuple(referenced))


def _has_text(view: Any) -> bool:
    """A readable post (a parent may be a notFoundPost or blockedPost: no record)."""
    return isinstance(field(view, "uri"), str) and field(view, "record") is not None


def _quoted_view(view: Any) -> Any:
    """The viewRecord of the post `view` quotes (embed.record#view, or inside
    embed.recordWithMedia#view), or None."""
    inner = field(view, "embed", "record")
    if inner is not None and field(inner, "value") is None:
        inner = field(inner, "record")
    if inner is None or field(inner, "value") is None or not isinstance(field(inner, "uri"), str):
        return None
    return inner


def _post_of(view: Any, record: Any, handles: Mapping[str, str]) -> FoundPost:
    """A postView (its `record`) or an embedded viewRecord (its `value`) as a FoundPost."""
    author_handle = str(field(view, "author", "handle") or "").lower()
    tags, links = [], []
    for facet in field(record, "facets") or []:
        for feature in field(facet, "features") or []:
            kind = field(feature, "py_type") or field(feature, "$type")
            if kind == TAG or (kind is None and field(feature, "tag")):
                tags.append(str(field(feature, "tag")))
            elif kind == LINK or (kind is None and field(feature, "uri")):
                links.append(str(field(feature, "uri")))
    tags += [str(tag) for tag in field(record, "tags") or []]
    external = field(record, "embed", "external", "uri")
    if isinstance(external, str):
        links.append(external)
    parent = field(record, "reply", "parent", "uri")
    parent_did = split_uri(parent)[0] if isinstance(parent, str) else None
    return FoundPost(
        remote_id=str(field(view, "uri")),
        url=post_url(author_handle, str(field(view, "uri"))),
        author_id=str(field(view, "author", "did")),
        author_handle=author_handle,
        text=str(field(record, "text") or ""),
        created_at=parse_time(field(record, "created_at")),
        cid=str(field(view, "cid")),
        languages=tuple(str(lang) for lang in field(record, "langs") or []),
        tags=tuple(tags),
        links=tuple(links),
        is_reply=parent is not None,
        reply_to_author_id=parent_did,
        reply_to_handle=handles.get(parent_did, None) if parent_did else None,
        reply_to_id=parent if isinstance(parent, str) else None,
        quoted_id=quoted_uri(record),
    )


def page_of(
    views: list[tuple[Any, bool]],
    handles: Mapping[str, str],
    cursor: str | None,
    newer_than: str | None,
    parents: Mapping[str, Any] | None = None,
) -> FoundPage:
    """A page of (postView, is_repost), newest first, cut where posts reach `newer_than`.
    `parents`: post URI -> the postView it replies to (an author feed's `reply.parent`)."""
    # A repost in an author feed sorts by when it was reposted, not by the post's own time.
    own = [view for view, is_repost in views if not is_repost]
    stamps = [sort_at(view) for view in own]
    known = [stamp for stamp in stamps if stamp]
    posts, reached_old = [], False
    for view, stamp in zip(own, stamps, strict=True):
        if newer_than is not None and stamp is not None and stamp < newer_than:
            reached_old = True
            continue
        posts.append(found_post(view, handles, (parents or {}).get(str(field(view, "uri")))))
    return FoundPage(
        posts=posts,
        next_page=None if reached_old or not views else cursor,
        newest=max(known) if known else None,
    )
