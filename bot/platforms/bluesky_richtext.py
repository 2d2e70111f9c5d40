"""What goes into a Bluesky post record, computed without the network (and without atproto).

- Facets: links, #hashtags and @mentions with UTF-8 *byte* offsets, found the way the Bluesky
  app finds them (the regular expressions of @atproto/api's rich-text detection). Mentions are
  found here and resolved to DIDs by the adapter; only http(s) URLs become links (a bare domain
  such as `example.org` stays text: recognising it needs a list of top-level domains).
- Length: 300 grapheme clusters and 3000 UTF-8 bytes, checked before anything is sent (the SDK's
  record model checks only 3000 code points).
- Record keys: a deterministic TID per (idempotency key, slot, position in the thread), so that
  a retried create lands on the same key and cannot make a second post.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import regex

from bot.compose.lengths import BLUESKY_BYTES, BLUESKY_GRAPHEMES, graphemes

# --- facets ------------------------------------------------------------------------------------

# `(?a:\b)`: JavaScript's \b is ASCII-only, so `@bob.test's` and `@bob.testŵ` end where the app
# ends them. The handle itself is ASCII by definition.
_MENTION = re.compile(r"(?:^|(?<=[\s(]))@([a-zA-Z0-9.-]+)(?a:\b)")
_HANDLE = re.compile(
    r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)
_URL = re.compile(r"(?:^|(?<=[\s(]))(https?://\S+)", re.IGNORECASE)
_ZERO_WIDTH = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAG = regex.compile(
    rf"(?:^|(?<=\s))[#＃]((?!\ufe0f)[^\s{_ZERO_WIDTH}]*[^0-9\s\p{{P}}{_ZERO_WIDTH}]+[^\s{_ZERO_WIDTH}]*)?"
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
MAX_TAG_GRAPHEMES = 64


@dataclass(frozen=True)
class Facet:
    kind: Literal["link", "tag", "mention"]
    value: str  # link: the URI; tag: the tag without '#'; mention: the handle without '@'
    byte_start: int  # inclusive, in the UTF-8 encoding of the text
    byte_end: int  # exclusive


def byte_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of code point `index` in `text`."""
    return len(text[:index].encode("utf-8"))


def _facet(
    text: str, kind: Literal["link", "tag", "mention"], value: str, start: int, end: int
) -> Facet:
    return Facet(kind, value, byte_offset(text, start), byte_offset(text, end))


def detect_facets(text: str) -> list[Facet]:
    """Links, hashtags and mentions of `text` (as sent: normalise it first), by position."""
    facets: list[Facet] = []
    for match in _MENTION.finditer(text):
        handle = match.group(1)
        if _HANDLE.match(handle):
            facets.append(_facet(text, "mention", handle, match.start(), match.end(1)))
    for match in _URL.finditer(text):
        uri, start, end = match.group(1), match.start(1), match.end(1)
        if uri[-1] in ".,;:!?":
            uri, end = uri[:-1], end - 1
        if uri.endswith(")") and "(" not in uri:
            uri, end = uri[:-1], end - 1
        facets.append(_facet(text, "link", uri, start, end))
    for match in _TAG.finditer(text):
        tag = _TRAILING_PUNCTUATION.sub("", match.group(1) or "")
        if not tag or graphemes(tag) > MAX_TAG_GRAPHEMES:
            continue
        start = match.start()  # the '#'
        facets.append(_facet(text, "tag", tag, start, start + 1 + len(tag)))
    return sorted(facets, key=lambda facet: facet.byte_start)


def mentioned_handles(text: str) -> list[str]:
    """The distinct handles `text` mentions, lower-cased, in order of first appearance."""
    seen: dict[str, None] = {}
    for facet in detect_facets(text):
        if facet.kind == "mention":
            seen.setdefault(facet.value.lower(), None)
    return list(seen)


def normalize(text: str) -> str:
    """The text as it is sent: NFC, so Welsh ŵ is one code point and offsets match."""
    return unicodedata.normalize("NFC", text)


def length_problem(text: str) -> str | None:
    """Why Bluesky would refuse `text` as too long (300 graphemes, 3000 bytes), or None."""
    count, size = graphemes(text), len(text.encode("utf-8"))
    if count > BLUESKY_GRAPHEMES:
        return f"the text is {count} graphemes long; Bluesky allows {BLUESKY_GRAPHEMES}"
    if size > BLUESKY_BYTES:
        return f"the text is {size} UTF-8 bytes long; Bluesky allows {BLUESKY_BYTES}"
    return None


# --- deterministic record keys (TIDs) ----------------------------------------------------------

TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_PATTERN = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_MICROSECONDS = 1_000_000


def encode_tid(timestamp_us: int, clock_id: int) -> str:
    """A TID: 53-bit microseconds since the epoch, then a 10-bit clock id, in 13 sortable chars."""
    if not 0 <= timestamp_us < 2**53 or not 0 <= clock_id < 1024:
        raise ValueError(f"TID out of range: timestamp {timestamp_us}, clock id {clock_id}")
    value = (timestamp_us << 10) | clock_id
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def decode_tid(tid: str) -> tuple[int, int]:
    """(timestamp in microseconds, clock id) of a TID."""
    if not TID_PATTERN.match(tid):
        raise ValueError(f"not a TID: {tid!r}")
    value = 0
    for char in tid:
        value = (value << 5) | TID_ALPHABET.index(char)
    return value >> 10, value & 1023


def record_key(key: str, slot: datetime, index: int = 0) -> str:
    """The TID of post `index` of the thread for idempotency key `key` due at `slot`.

    timestamp = slot (whole seconds, µs) + sha256 part mod 10^6, clock id = another sha256 part
    mod 1024: stable across processes and releases, distinct for distinct keys (about 2^30
    values per slot second), and ordered by slot when slots are at least a second apart.
    """
    if slot.tzinfo is None:
        raise ValueError("the slot must be timezone-aware")
    name = key if index == 0 else f"{key}\x00{index}"
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    seconds = int(slot.astimezone(UTC).timestamp())
    offset = int.from_bytes(digest[:8], "big") % _MICROSECONDS
    clock_id = int.from_bytes(digest[8:10], "big") % 1024
    return encode_tid(seconds * _MICROSECONDS + offset, clock_id)


def created_at(slot: datetime, index: int = 0) -> str:
    """The record's createdAt: the slot time (replies 1 ms apart, in order), never 'now'."""
    moment = slot.astimezone(UTC) + timedelta(milliseconds=index)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
