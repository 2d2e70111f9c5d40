"""Where each part of a card goes: the quote, who said it, the footer, the logo.

A card is planned before it is drawn: `plan` places every text in its box at the largest size
that fits, or says which part cannot fit even at its smallest size.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.cards import fonts
from bot.cards.layout import Block, Box, fit


@dataclass(frozen=True)
class Size:
    name: str
    width: int
    height: int

    @property
    def label(self) -> str:
        return f"{self.name} {self.width}×{self.height}"


LANDSCAPE = Size("landscape", 1200, 675)  # posts on X, Bluesky and Mastodon
PORTRAIT = Size("portrait", 1080, 1350)  # for supporters to share elsewhere
SIZES = (LANDSCAPE, PORTRAIT)


@dataclass(frozen=True)
class CardText:
    """The words on one card, in one language, whitespace already collapsed."""

    quote: str
    who: str
    detail: str  # role and organisation, may be empty
    footer: str  # hashtag and/or link, may be empty


@dataclass(frozen=True)
class Placed:
    block: Block
    box: Box


@dataclass(frozen=True)
class Plan:
    size: Size
    quote: Placed
    who: Placed
    detail: Placed | None
    footer: Placed | None
    mark: Box  # the big opening quotation mark goes here
    logo: Box


# The part that did not fit: "quote", "who", "detail" or "footer".
Overflow = str


@dataclass(frozen=True)
class Geometry:
    margin: int
    mark: Box
    quote: Box
    who: Box
    detail: Box
    footer: Box
    logo: Box


def geometry(size: Size) -> Geometry:
    """The boxes of a card of `size`, as fractions of it, so both sizes share one design."""
    w, h = size.width, size.height
    margin = round(min(w, h) * 0.08)
    inner = w - 2 * margin
    footer_h = round(h * 0.07)
    footer_y = h - margin - footer_h
    detail_h = round(h * 0.06)
    who_h = round(h * 0.065)
    detail_y = footer_y - round(h * 0.04) - detail_h
    who_y = detail_y - who_h
    mark_h = round(h * 0.13)
    quote_y = margin + mark_h
    quote_h = who_y - round(h * 0.04) - quote_y
    logo_w = round(inner * 0.25)
    if h > w:  # portrait: the logo at the top right, across from the quotation mark
        logo = Box(w - margin - logo_w, margin, logo_w, mark_h - round(h * 0.02))
        footer = Box(margin, footer_y, inner, footer_h)
    else:
        logo = Box(
            w - margin - logo_w, footer_y - round(h * 0.02), logo_w, footer_h + round(h * 0.02)
        )
        footer = Box(margin, footer_y, inner - logo_w - margin // 2, footer_h)
    return Geometry(
        margin=margin,
        mark=Box(margin, margin, inner, mark_h),
        quote=Box(margin, quote_y, inner, quote_h),
        who=Box(margin, who_y, inner, who_h),
        detail=Box(margin, detail_y, inner, detail_h),
        footer=footer,
        logo=logo,
    )


def plan(text: CardText, size: Size, font: str) -> Plan | list[Overflow]:
    """Every part placed at the largest size that fits its box, or the parts that cannot fit."""
    family = fonts.FAMILIES[font]
    shape = geometry(size)
    scale = min(size.width, size.height) / 675
    quote = _place(text.quote, family.bold, shape.quote, round(64 * scale), round(26 * scale))
    who = _place(text.who, family.bold, shape.who, round(34 * scale), round(18 * scale), 1)
    detail = _place(
        text.detail, family.regular, shape.detail, round(28 * scale), round(16 * scale), 1
    )
    footer = _place(text.footer, family.bold, shape.footer, round(26 * scale), round(16 * scale), 1)
    overflows = [
        name
        for name, placed, wanted in (
            ("quote", quote, text.quote),
            ("who", who, text.who),
            ("detail", detail, text.detail),
            ("footer", footer, text.footer),
        )
        if wanted and placed is None
    ]
    if overflows:
        return overflows
    assert quote is not None and who is not None
    return Plan(size, quote, who, detail, footer, shape.mark, shape.logo)


def _place(
    text: str, font_file: str, box: Box, largest: int, smallest: int, max_lines: int = 99
) -> Placed | None:
    if not text:
        return None
    block = fit(text, font_file, box, largest, smallest, max_lines)
    return None if block is None else Placed(block, box)
