"""Quote cards: laid out within their margins, never cut, deterministic, cached by their inputs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from bot.campaign.model import Campaign, Cards, Quote
from bot.cards import fonts
from bot.cards.build import Card, alt_text, cache_key, card_png, card_text
from bot.cards.design import LANDSCAPE, PORTRAIT, CardText, Plan, Size, geometry, plan
from bot.cards.layout import Box, fit, wrap

REGULAR = fonts.FAMILIES["open-sans"].regular
BOLD = fonts.FAMILIES["open-sans"].bold
WELSH = "Daliwch draed eich arweinwyr at y tân: ŵyr, ŷd, âêîôû áéíóú àèìòù äëïöüÿ ẁẃẅ ỳýÿ"
LONG = " ".join(["cydgynhyrchu"] * 40)


def _card(text: CardText, size: Size = LANDSCAPE) -> Card:
    quote = Quote(id="q", who="Nick Andrews", text={"cy": text.quote}, source="letter")
    return Card("pool", quote, "cy", size, text, alt_text(text))


def _text(quote: str = WELSH) -> CardText:
    return CardText(quote, "— Nick Andrews", "Cyfarwyddwr, Cydgynhyrchu Cymru", "#Cymru")


def test_wrap_breaks_only_at_spaces_and_refuses_a_word_wider_than_the_box() -> None:
    words = WELSH.split()
    lines = wrap(words, BOLD, 40, 400)
    assert lines is not None and len(lines) > 1
    assert " ".join(lines).split() == words  # every word kept whole, in order
    assert all(fonts.load(BOLD, 40).getlength(line) <= 400 for line in lines)
    assert (
        wrap(["Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch"], BOLD, 40, 400) is None
    )


def test_fit_sizes_a_long_text_down_and_gives_up_below_the_smallest_size() -> None:
    box = Box(0, 0, 600, 200)
    short = fit("Daliwch draed", BOLD, box, 60, 20)
    longer = fit(" ".join(["gwasanaethau"] * 12), BOLD, box, 60, 20)
    assert short is not None and longer is not None
    assert short.size == 60 and longer.size < 60
    assert longer.height <= box.height
    assert fit(LONG * 3, BOLD, box, 60, 20) is None


@pytest.mark.parametrize("size", [LANDSCAPE, PORTRAIT])
def test_every_part_of_a_card_is_drawn_inside_its_margins(size: Size) -> None:
    look = Cards(background="#102030", layout="left")
    png = card_png(
        _card(_text(" ".join(["gwasanaethau cyhoeddus"] * 9)), size), look, None, None, None
    )
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (size.width, size.height)
    margin = geometry(size).margin
    background = (0x10, 0x20, 0x30)
    pixels = image.load()
    assert pixels is not None
    for x in range(size.width):
        for y in [*range(margin), *range(size.height - margin, size.height)]:
            assert pixels[x, y] == background, (x, y)
    for y in range(size.height):
        for x in [*range(margin), *range(size.width - margin, size.width)]:
            assert pixels[x, y] == background, (x, y)
    inner = image.crop((margin, margin, size.width - margin, size.height - margin))
    assert len(inner.getcolors(1 << 20) or []) > 2  # something was drawn inside


def test_a_quote_too_long_for_its_card_does_not_fit_at_any_size() -> None:
    laid_out = plan(_text(LONG * 3), LANDSCAPE, "open-sans")
    assert laid_out == ["quote"]
    assert isinstance(plan(_text(), LANDSCAPE, "open-sans"), Plan)


def test_the_font_draws_welsh_and_names_what_it_cannot_draw() -> None:
    assert fonts.missing_characters(WELSH, BOLD) == []
    assert fonts.missing_characters(WELSH, REGULAR) == []
    assert fonts.missing_characters("Hwyl 🔥 fawr 🔥", BOLD) == ["🔥"]
    assert fonts.describe("🔥") == "U+1F525 FIRE"


def test_the_same_inputs_give_the_same_bytes_and_a_change_gives_new_ones() -> None:
    look = Cards()
    card = _card(_text())
    first = card_png(card, look, None, None, None)
    assert card_png(card, look, None, None, None) == first
    other_look = card_png(card, Cards(accent="#00ff00"), None, None, None)
    assert other_look != first
    assert cache_key(card, look, None) == cache_key(card, look, None)
    assert cache_key(card, look, None) != cache_key(card, Cards(accent="#00ff00"), None)
    assert cache_key(card, look, None) != cache_key(card, look, "logo-hash")
    assert cache_key(card, look, None) != cache_key(_card(_text("Arall")), look, None)


def test_a_card_is_drawn_once_then_read_from_the_cache(tmp_path: Path) -> None:
    look = Cards()
    card = _card(_text())
    png = card_png(card, look, None, None, tmp_path)
    cached = tmp_path / f"{cache_key(card, look, None)}.png"
    assert cached.read_bytes() == png
    cached.write_bytes(b"marked")  # proves the second call reads the cache, not the renderer
    assert card_png(card, look, None, None, tmp_path) == b"marked"


def test_a_logo_is_drawn_with_its_transparency_inside_its_box() -> None:
    logo = Image.new("RGBA", (200, 100), (255, 0, 0, 0))
    logo.paste((255, 0, 0, 255), (50, 25, 150, 75))
    look = Cards(background="#000000")
    png = card_png(_card(_text()), look, logo, "d", None)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    box = geometry(LANDSCAPE).logo
    red, green, blue = image.split()
    reddish = ImageChops.multiply(
        red.point(lambda v: 255 if v > 200 else 0), green.point(lambda v: 255 if v < 60 else 0)
    )
    reddish = ImageChops.multiply(reddish, blue.point(lambda v: 255 if v < 60 else 0))
    found = reddish.getbbox()
    assert found is not None, "the logo's opaque part is drawn"
    left, top, right, bottom = found
    assert box.x <= left and right <= box.x + box.width
    assert box.y <= top and bottom <= box.y + box.height
    corner = image.getpixel((box.x + box.width - 1, box.y + box.height - 1))
    assert corner == (0, 0, 0)  # the transparent part shows the background


def test_card_text_and_alt_text_in_each_language() -> None:
    campaign = Campaign.model_validate(
        {
            "id": "c",
            "name": {"cy": "Ymgyrch", "en": "Campaign"},
            "languages": ["cy", "en"],
            "active": {"start": "2026-12-01"},
            "links": {"letter": "https://example.org/letter/"},
            "hashtags": ["Cymru"],
        }
    )
    quote = Quote(
        id="q",
        who={"cy": "Prif Weinidog", "en": "First Minister"},
        role={"cy": "Cyfarwyddwr", "en": "Director"},
        organisation="NEF",
        text={"cy": "Daliwch\n  draed", "en": "Hold feet"},
        source="letter",
    )
    text = card_text(campaign, quote, "cy")
    assert text == CardText(
        "Daliwch draed", "— Prif Weinidog", "Cyfarwyddwr, NEF", "#Cymru  ·  example.org/letter"
    )
    assert (
        alt_text(card_text(campaign, quote, "en")) == "“Hold feet” — First Minister, Director, NEF"
    )
