"""The fonts cards are drawn with (shipped in bot/cards/fonts/, nothing fetched at run time) and
which characters each can draw: a character a font lacks would come out as an empty box."""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import ImageFont


@dataclass(frozen=True)
class FontFamily:
    regular: str
    bold: str


# `cards.font` in a campaign names one of these (bot.campaign.model.CardFont).
FAMILIES: dict[str, FontFamily] = {
    "open-sans": FontFamily("OpenSans-Regular.ttf", "OpenSans-Bold.ttf"),
}


def font_path(file_name: str) -> Path:
    return Path(str(resources.files("bot.cards") / "fonts" / file_name))


@functools.lru_cache(maxsize=8)
def _characters(file_name: str) -> frozenset[int]:
    """The code points the font maps to a glyph (its best cmap), read once."""
    with TTFont(font_path(file_name), lazy=True) as font:
        return frozenset(font.getBestCmap())


def missing_characters(text: str, file_name: str) -> list[str]:
    """The characters of `text` the font cannot draw, in order, each once. Whitespace is never
    drawn (the layout splits words on it), so it is never missing."""
    known = _characters(file_name)
    found: list[str] = []
    for char in text:
        if ord(char) in known or char in found or char.isspace():
            continue
        found.append(char)
    return found


def describe(char: str) -> str:
    """A character named so an organiser can find it: U+1F600 GRINNING FACE."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed character')}"


@functools.lru_cache(maxsize=256)
def load(file_name: str, size: int) -> ImageFont.FreeTypeFont:
    # Basic layout: the same glyph positions whether or not libraqm is installed.
    return ImageFont.truetype(font_path(file_name), size, layout_engine=ImageFont.Layout.BASIC)


@functools.lru_cache(maxsize=8)
def digest(file_name: str) -> str:
    """The font file's SHA-256: part of every card's cache key, so a new font redraws them."""
    return hashlib.sha256(font_path(file_name).read_bytes()).hexdigest()
