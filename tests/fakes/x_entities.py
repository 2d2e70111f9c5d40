"""What X finds in a post's text: links (shown as t.co when the fake shortens them), hashtags and
mentions, and the `entities` object X answers with. Indices count code points, as X's v2 does."""

from __future__ import annotations

import re
from typing import Any

from twitter_text import extract_urls_with_indices

# (start, end, url as shown, expanded_url) of one link in the shown text
Link = tuple[int, int, str, str]
# A hashtag has a letter somewhere (#2026 is none), and is not glued to a word or an entity.
_HASHTAG = re.compile(r"(?<![\w&#])#(\w*[^\W\d_]\w*)")
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_])")


def links_in(text: str, *, shorten: bool) -> tuple[str, list[Link]]:
    """The text as X shows it, and its links. X expands a bare domain with http://."""
    if "." not in text:
        return text, []
    shown, links, at = "", [], 0
    for url in extract_urls_with_indices(text):
        start, end = url["indices"]
        written = str(url["url"])
        code = f"{abs(hash(written)) % 10**10:010d}"
        as_shown = f"https://t.co/{code}" if shorten else written
        shown += text[at:start]
        expanded = written if re.match(r"https?://", written, re.I) else f"http://{written}"
        links.append((len(shown), len(shown) + len(as_shown), as_shown, expanded))
        shown, at = shown + as_shown, end
    return shown + text[at:], links


def _outside(links: list[Link], start: int) -> bool:
    return not any(begin <= start < end for begin, end, _, _ in links)


def hashtags(text: str, links: list[Link]) -> list[tuple[int, int, str]]:
    return [
        (m.start(), m.end(), m.group(1))
        for m in _HASHTAG.finditer(text)
        if _outside(links, m.start())
    ]


def mentions(text: str, links: list[Link]) -> list[tuple[int, int, str]]:
    return [
        (m.start(), m.end(), m.group(1))
        for m in _MENTION.finditer(text)
        if _outside(links, m.start())
    ]


def entities(text: str, links: list[Link], user_ids: dict[str, str]) -> dict[str, Any]:
    """X's `entities` for the text (only the kinds present; {} when none). `user_ids`: lower-case
    username -> id, for the mentions of users X knows."""
    out: dict[str, Any] = {}
    if tags := hashtags(text, links):
        out["hashtags"] = [{"start": s, "end": e, "tag": t} for s, e, t in tags]
    if named := mentions(text, links):
        out["mentions"] = [
            {"start": s, "end": e, "username": u}
            | ({"id": user_ids[u.lower()]} if u.lower() in user_ids else {})
            for s, e, u in named
        ]
    if links:
        out["urls"] = [
            {"start": s, "end": e, "url": url, "expanded_url": expanded}
            | {"display_url": re.sub(r"^https?://(www\.)?", "", expanded)[:30]}
            for s, e, url, expanded in links
        ]
    return out
