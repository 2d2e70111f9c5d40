"""How long a text is on each platform, counted the platform's way. The one place that knows.

- X: twitter-text v3 weighted length (NFC; URLs count 23; code points outside the light ranges
  and emoji count 2), from `twitter-text-parser`'s own configuration, URL and emoji extractors.
- Bluesky: 300 extended grapheme clusters and 3000 UTF-8 bytes.
- Mastodon: 500 characters, every http(s) URL counted as 23, `@user@server` counted as `@user`.
- Threads: 500 characters. Email: no limit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import regex
from twitter_text import extract_emojis_with_indices, extract_urls_with_indices
from twitter_text.config import config as _twitter_config
from twitter_text.regexp import emoji as _emoji_data
from twitter_text.regexp.valid_cctld import valid_cctld
from twitter_text.regexp.valid_gtld import valid_gtld
from twitter_text.regexp.valid_punycode import valid_punycode

X_LIMIT = 280
BLUESKY_GRAPHEMES = 300
BLUESKY_BYTES = 3000
MASTODON_LIMIT = 500
MASTODON_URL_LENGTH = 23
THREADS_LIMIT = 500
LIMITS: dict[str, int | None] = {
    "x": X_LIMIT,
    "bluesky": BLUESKY_GRAPHEMES,
    "mastodon": MASTODON_LIMIT,
    "threads": THREADS_LIMIT,
    "email": None,
}
PLATFORMS = tuple(LIMITS)

_X = _twitter_config["version3"]
_X_SCALE = _X["scale"]
# Every code point outside the configured light ranges weighs default_weight.
_X_HEAVY = regex.compile(
    "[^"
    + "".join(
        f"\\U{r['start']:08x}-\\U{r['end']:08x}" for r in _X["ranges"] if r["weight"] == _X_SCALE
    )
    + "]"
)


def _emoji_code_points() -> frozenset[str] | None:
    """Every non-ASCII code point of every emoji twitter-text's pattern can match. A text with
    none of them cannot contain an emoji, so its (slow) scan is skipped: Welsh text full of
    typographic apostrophes (U+2019) no longer pays for it. None if the data does not allow it."""
    points: set[str] = set()
    for start, end in _emoji_data.single_codepoint_emoji_ranges:
        points.update(chr(c) for c in range(start, end + 1))
    for entry in _emoji_data.emoji_list:
        non_ascii = {c for c in entry.emoji if ord(c) > 0x7F}
        if not non_ascii:
            return None  # an all-ASCII emoji: no shortcut is safe
        points |= non_ascii
    return frozenset(points)


_EMOJI_POINTS = _emoji_code_points()
_GRAPHEME_JOINERS = regex.compile(
    r"[\r\p{GCB=Extend}\p{GCB=ZWJ}\p{GCB=Regional_Indicator}\p{GCB=Prepend}\p{GCB=SpacingMark}"
    r"\p{GCB=L}\p{GCB=V}\p{GCB=T}\p{GCB=LV}\p{GCB=LVT}]"
)
_NEWLINES = regex.compile(r"\r\n|\r")
_GRAPHEME = regex.compile(r"\X")
# A URL holds no white space: the text is cut into tokens (maximal runs of non-space). Only the
# tokens with a dot can hold one. (Not `\S*\.\S*`: on a long run without a dot that pattern
# retries from every position and takes quadratic time.)
_TOKEN = regex.compile(r"\S+")
# twitter-text's URL pattern backtracks through every way of splitting a chain of dot-separated
# labels into subdomains: a token like "a.a.a.a...." of 800 labels takes it 9 s, 1600 labels
# 29 s. No web address has more than a few labels (DNS allows 127; real ones have under 10), so
# a token with a chain of more than MAX_URL_LABELS labels is counted as plain characters, and
# the cost of every token is bounded. Labels: what twitter-text allows in a domain name
# (anything but white space and ASCII punctuation other than - and _).
MAX_URL_LABELS = 16
_LABEL = r"[^\s!\"#$%&'()*+,./:;<=>?@\[\\\]^`{|}~]"
_LONG_LABEL_CHAIN = regex.compile(rf"(?<!{_LABEL})(?:{_LABEL}++\.){{{MAX_URL_LABELS}}}{_LABEL}")
# Every domain twitter-text accepts ends in "." and a top-level domain (its own lists, with their
# own look-ahead): a token without one holds no URL, and its scan is skipped.
_TOP_LEVEL_DOMAIN = re.compile(  # the standard library compiles this long alternation faster
    rf"\.(?:{valid_gtld.pattern}|{valid_cctld.pattern}|{valid_punycode.pattern})", re.IGNORECASE
)
_MASTODON_URL = regex.compile(r"(?<![\w/])https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'}]")
_MASTODON_REMOTE_MENTION = regex.compile(r"(?<![\w@])(@[\w.]+)@[\w.-]+\.\w+")


@dataclass(frozen=True)
class Count:
    platform: str
    length: int
    limit: int | None
    unit: str
    note: str | None = None  # a second limit that was broken, e.g. Bluesky bytes

    @property
    def ok(self) -> bool:
        return self.note is None and (self.limit is None or self.length <= self.limit)


def x_weighted_length(text: str) -> int:
    """twitter-text v3 weighted length, as `twitter_text.parse_tweet(text).weightedLength`."""
    normalized = _NEWLINES.sub("\n", unicodedata.normalize("NFC", text))
    entities: dict[int, int] = {}
    if "." in normalized:
        for start, end in _url_spans(normalized):
            entities[start] = end
    urls_at = set(entities)
    if _EMOJI_POINTS is None or not _EMOJI_POINTS.isdisjoint(normalized):
        for emoji in extract_emojis_with_indices(normalized):
            start, end = emoji["indices"]
            entities.setdefault(start, end)
    weight = 0
    position = 0
    light_weight = _X_SCALE
    for start in sorted(entities):
        if start < position:
            continue  # inside an entity already counted, as parse_tweet skips it
        gap = normalized[position:start]
        weight += len(gap) * light_weight + len(_X_HEAVY.findall(gap)) * (
            _X["default_weight"] - light_weight
        )
        weight += (
            _X["transformed_url_length"] * _X_SCALE if start in urls_at else _X["default_weight"]
        )
        position = entities[start]
    rest = normalized[position:]
    weight += len(rest) * light_weight + len(_X_HEAVY.findall(rest)) * (
        _X["default_weight"] - light_weight
    )
    return weight // _X_SCALE


def _url_spans(text: str) -> list[tuple[int, int]]:
    """twitter-text's URL spans, found token by token: a URL holds no white space, and what the
    pattern looks at around a token is the white space character on either side (or the text's
    edge), which goes into the cache key. Tokens recur across renderings (the campaign's link,
    the same words), so each is extracted once."""
    spans = []
    for token in _TOKEN.finditer(text):
        if "." not in token.group():
            continue
        start, end = token.span()
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        spans += [(start + a, start + b) for a, b in _token_urls(before, token.group(), after)]
    return spans


@lru_cache(maxsize=65536)
def _token_urls(before: str, token: str, after: str) -> tuple[tuple[int, int], ...]:
    if _LONG_LABEL_CHAIN.search(token) or not _TOP_LEVEL_DOMAIN.search(token):
        return ()
    shift = len(before)
    found = extract_urls_with_indices(before + token + after)
    return tuple(
        (url["indices"][0] - shift, url["indices"][1] - shift)
        for url in found
        if shift <= url["indices"][0] < shift + len(token)
    )


def x_has_url(text: str) -> bool:
    """Whether X would treat part of `text` as a link (and charge for a post with a link)."""
    normalized = _NEWLINES.sub("\n", unicodedata.normalize("NFC", text))
    return "." in normalized and bool(_url_spans(normalized))


def graphemes(text: str) -> int:
    """Extended grapheme clusters. Without any character that joins a cluster, each code point
    is one (the common case, checked in one regex search)."""
    if text.isascii():
        return len(text) - text.count("\r\n")  # in ASCII only CR LF joins
    if max(text) <= "\uffff" and _bmp_joiners().isdisjoint(text):
        return len(text)
    return len(_GRAPHEME.findall(text))


@lru_cache(maxsize=1)
def _bmp_joiners() -> frozenset[str]:
    """The code points of the Basic Multilingual Plane that can join a grapheme cluster (a set
    test is much faster than the regex class on every text; built once, on first use)."""
    plane = "".join(chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF)
    return frozenset(_GRAPHEME_JOINERS.findall(plane))


def mastodon_length(text: str) -> int:
    text = _MASTODON_URL.sub("x" * MASTODON_URL_LENGTH, text)
    text = _MASTODON_REMOTE_MENTION.sub(r"\1", text)
    return graphemes(text)


@lru_cache(maxsize=65536)
def count(platform: str, text: str) -> Count:
    """The counted length of `text` (NFC) on `platform`, with its limit."""
    text = unicodedata.normalize("NFC", text)
    if platform == "x":
        return Count("x", x_weighted_length(text), X_LIMIT, "weighted characters")
    if platform == "bluesky":
        size = len(text.encode("utf-8"))
        note = f"{size} UTF-8 bytes, over {BLUESKY_BYTES}" if size > BLUESKY_BYTES else None
        return Count("bluesky", graphemes(text), BLUESKY_GRAPHEMES, "graphemes", note)
    if platform == "mastodon":
        return Count("mastodon", mastodon_length(text), MASTODON_LIMIT, "characters")
    if platform == "threads":
        return Count("threads", graphemes(text), THREADS_LIMIT, "characters")
    if platform == "email":
        return Count("email", graphemes(text), None, "characters")
    raise ValueError(f"unknown platform {platform!r}")
