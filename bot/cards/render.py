"""A planned card drawn with Pillow: the same plan, look and logo give the same PNG bytes."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from bot.campaign.model import Cards
from bot.cards import fonts
from bot.cards.design import Placed, Plan
from bot.cards.layout import Box

MARK = "“"


def draw_card(plan: Plan, look: Cards, logo: Image.Image | None) -> bytes:
    """The card as PNG bytes (no metadata, fixed palette method and compression: the same
    inputs give the same bytes)."""
    size = plan.size
    image = Image.new("RGB", (size.width, size.height), look.background)
    pen = ImageDraw.Draw(image)
    centred = look.layout == "centred"
    _mark(pen, plan.mark, fonts.FAMILIES[look.font].bold, look.accent, centred)
    _text(pen, plan.quote, look.text, centred, middle=True)
    rule_y = plan.quote.box.y + plan.quote.box.height + round(size.height * 0.015)
    rule_w = round(size.width * 0.08)
    rule_x = (size.width - rule_w) // 2 if centred else plan.quote.box.x
    pen.rectangle(
        (rule_x, rule_y, rule_x + rule_w, rule_y + max(4, size.height // 150)), look.accent
    )
    _text(pen, plan.who, look.text, centred)
    if plan.detail is not None:
        _text(pen, plan.detail, look.text, centred)
    if plan.footer is not None:
        _text(pen, plan.footer, look.accent, centred)
    if logo is not None:
        _logo(image, logo, plan.logo)
    # A card is a few flat colours and their anti-aliasing: 256 colours keep every edge, and
    # the file is a third of the RGB one (Bluesky takes 1,000,000 bytes at most).
    palette = image.quantize(256, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    palette.save(out, "PNG", compress_level=6)
    return out.getvalue()


def _text(
    pen: ImageDraw.ImageDraw, placed: Placed, colour: str, centred: bool, middle: bool = False
) -> None:
    """The block's lines from the top of its box (or centred in it, `middle`), each line left
    aligned or centred; `anchor="la"` puts a line's ascender at y, as the layout measured."""
    block, box = placed.block, placed.box
    font = fonts.load(block.font_file, block.size)
    top = box.y + (box.height - block.height) // 2 if middle else box.y
    for index, (line, width) in enumerate(zip(block.lines, block.widths(), strict=True)):
        x = box.x + (box.width - width) / 2 if centred else box.x
        pen.text((x, top + index * block.line_height), line, font=font, fill=colour, anchor="la")


def _mark(pen: ImageDraw.ImageDraw, box: Box, font_file: str, colour: str, centred: bool) -> None:
    """The opening quotation mark, its ink three quarters of the box's height."""
    probe = fonts.load(font_file, 100).getbbox(MARK)
    size = max(1, round(100 * box.height * 0.75 / (probe[3] - probe[1])))
    font = fonts.load(font_file, size)
    left, top, right, _ = font.getbbox(MARK)
    x = box.x + (box.width - (right - left)) // 2 if centred else box.x
    pen.text((x - left, box.y - top), MARK, font=font, fill=colour)


def _logo(image: Image.Image, logo: Image.Image, box: Box) -> None:
    """The logo scaled to fit its box, at the box's bottom right, transparency kept."""
    fitted = logo.copy()
    fitted.thumbnail((box.width, box.height), Image.Resampling.LANCZOS)
    x = box.x + box.width - fitted.width
    y = box.y + box.height - fitted.height
    image.paste(fitted, (x, y), fitted if fitted.mode == "RGBA" else None)
