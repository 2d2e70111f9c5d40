"""Every card of a campaign: one per quote of every quote pool, language and size, with its alt
text, drawn once and kept in a cache keyed by a hash of everything that shapes its pixels."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import PIL
from PIL import Image

from bot.campaign.model import Campaign, Cards, Localised, Quote
from bot.cards import fonts
from bot.cards.design import SIZES, CardText, Plan, Size, plan
from bot.cards.images import write_atomically
from bot.cards.render import draw_card

# Changed whenever the design or drawing changes, so cached cards are drawn again.
DESIGN_VERSION = "1"


@dataclass(frozen=True)
class Card:
    pool: str
    quote: Quote
    language: str
    size: Size
    text: CardText
    alt: str

    @property
    def file_name(self) -> str:
        return f"{self.quote.id}.{self.language}.{self.size.name}.png"


def local(value: Localised | None, language: str, primary: str) -> str:
    """A name or role in `language`: one text for all, or one per language (else the primary
    language's, as the templates' `| local` does)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.get(language) or value.get(primary) or next(iter(value.values()), "")


def _collapse(text: str) -> str:
    return " ".join(text.split())


def footer_text(campaign: Campaign) -> str:
    """The campaign's first hashtag and/or first link (without https://), per `cards.footer`."""
    choice = campaign.cards.footer
    tag = f"#{campaign.hashtags[0]}" if campaign.hashtags else ""
    link = next(iter(campaign.links.values()), "")
    link = link.removeprefix("https://").removeprefix("http://").rstrip("/")
    parts = {"hashtag": [tag], "link": [link], "both": [tag, link], "none": []}[choice]
    return "  ·  ".join(part for part in parts if part)


def card_text(campaign: Campaign, quote: Quote, language: str) -> CardText:
    primary = campaign.primary_language
    who = local(quote.who, language, primary)
    detail = ", ".join(
        part
        for part in (
            local(quote.role, language, primary),
            local(quote.organisation, language, primary),
        )
        if part
    )
    return CardText(
        quote=_collapse(quote.text[language]),
        who=_collapse(f"— {who}"),
        detail=_collapse(detail),
        footer=footer_text(campaign),
    )


def alt_text(text: CardText) -> str:
    """What a screen reader says for the card: the whole quote and who said it."""
    said_by = text.who + (f", {text.detail}" if text.detail else "")
    return f"“{text.quote}” {said_by}"


def campaign_cards(campaign: Campaign) -> list[Card]:
    """Every card, pool by pool, quote by quote, language by language, size by size. A quote
    without a text in a language has no card in it (the language checks report the gap)."""
    cards: list[Card] = []
    for pool in campaign.quote_pools:
        for quote in pool.quotes:
            for language in campaign.languages:
                if language not in quote.text:
                    continue
                text = card_text(campaign, quote, language)
                for size in SIZES:
                    cards.append(Card(pool.id, quote, language, size, text, alt_text(text)))
    return cards


def cache_key(card: Card, look: Cards, logo_digest: str | None) -> str:
    """A hash of every input of the card's pixels: its words, size, look, logo, fonts, Pillow."""
    family = fonts.FAMILIES[look.font]
    inputs = {
        "design": DESIGN_VERSION,
        "pillow": PIL.__version__,
        "text": [card.text.quote, card.text.who, card.text.detail, card.text.footer],
        "size": [card.size.width, card.size.height],
        "look": look.model_dump(exclude={"logo"}),
        "logo": logo_digest,
        "fonts": [fonts.digest(family.regular), fonts.digest(family.bold)],
    }
    encoded = json.dumps(inputs, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


class CardTooLong(Exception):
    def __init__(self, parts: list[str]) -> None:
        super().__init__(", ".join(parts))
        self.parts = parts


def card_png(
    card: Card, look: Cards, logo: Image.Image | None, logo_digest: str | None, cache: Path | None
) -> bytes:
    """The card's PNG, from the cache when it was drawn before. Raises CardTooLong."""
    target = None
    if cache is not None:
        target = cache / f"{cache_key(card, look, logo_digest)}.png"
        if target.is_file():
            return target.read_bytes()
    laid_out = plan(card.text, card.size, look.font)
    if not isinstance(laid_out, Plan):
        raise CardTooLong(laid_out)
    png = draw_card(laid_out, look, logo)
    if target is not None:
        write_atomically(target, png)
    return png
