"""The quote card a post carries (`card: true`, `landscape` or `portrait` on a message with a
quote pool): the rotated quote's card of that size in the post's language, with its alt text.

The card is drawn into the card cache under a hash of its inputs, so planning the same slot again
(after a restart, or a crash between upload and post) finds the same file with the same bytes;
a cache emptied meanwhile is drawn again, into the same file, at the next planning pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.campaign.loader import LoadedCampaign
from bot.campaign.model import Message
from bot.checks.registry import FittedFiles
from bot.platforms.base import Image

if TYPE_CHECKING:
    from bot.cards.build import Card

# bot.cards (Pillow and the fonts, about 10 MB) is imported by the functions below only when a
# post carries a card: a daemon whose campaigns post text never loads it.


def post_card(
    loaded: LoadedCampaign, message: Message, language: str, quote_id: str | None
) -> Card | None:
    """The card of `message`'s post in `language` with the quote `quote_id`; None when the
    message has no card (or the slot no quote, or the quote no text in that language: gaps
    `kindling check` reports)."""
    campaign = loaded.campaign
    size_name = message.card_size
    if size_name is None or message.quote_pool is None or quote_id is None:
        return None
    pool = campaign.quote_pool(message.quote_pool)
    quote = next((q for q in pool.quotes if q.id == quote_id), None)
    if quote is None or language not in quote.text:
        return None
    from bot.cards.build import Card, alt_text, card_text
    from bot.cards.design import SIZES

    size = next(size for size in SIZES if size.name == size_name)
    text = card_text(campaign, quote, language)
    return Card(pool.id, quote, language, size, text, alt_text(text))


def card_image(loaded: LoadedCampaign, card: Card, cache: Path) -> Image:
    """The card as an image to post: its file in `cache` (drawn now unless it is there
    already) and its alt text. The campaign has passed `kindling check`: its logo is usable
    and the card fits."""
    from bot.cards.build import CardTooLong, cache_key, card_png
    from bot.cards.images import digest, load_logo
    from bot.cards.logo import logo_bytes

    data, reason = logo_bytes(loaded)
    if reason is not None:
        raise ValueError(reason)
    logo = load_logo(data) if data is not None else None
    logo_digest = digest(data) if data is not None else None
    look = loaded.campaign.cards
    # ValueError is what the daemon's planning reports (and skips the campaign for) rather than
    # send a post without the card the organiser asked for.
    try:
        card_png(card, look, logo, logo_digest, cache)
    except CardTooLong as too_long:
        raise ValueError(f"the card of quote '{card.quote.id}' does not fit: {too_long}") from None
    except OSError as exc:
        raise ValueError(f"cannot write the card to {cache}: {exc.strerror}") from None
    return Image(cache / f"{cache_key(card, look, logo_digest)}.png", card.alt)


def fitted_image(
    image: Image, platform: str, cache: Path, known: FittedFiles | None = None
) -> Image:
    """`image` as `platform` takes it: the campaign's file when it fits that platform's limits,
    else the copy `kindling check` accepted (re-encoded to fit, or made upright and RGB), the
    one file in `cache` that check keeps too (bot/cards/images.py, `prepared_file`).

    `known` (the campaign load's, dropped on reload) remembers which file each (image,
    platform) posts, under the image's size and mtime: an unchanged image is not read again
    on the next planning pass; a changed one is read, hashed and fitted again."""
    from bot.cards.images import PLATFORM_LIMITS, Unusable, prepared_file

    if platform not in PLATFORM_LIMITS:
        return image
    try:
        status = image.path.stat()
        key = (image.path.resolve(), platform, cache)
        stamp = (status.st_size, status.st_mtime_ns)
        seen = None if known is None else known.get(key)
        if seen is not None and seen[:2] == stamp:
            posted = seen[2]
            if posted is None:
                return image
            if posted.is_file():  # else the cache was emptied: made again below
                return Image(posted, image.alt)
        posted = prepared_file(image.path.read_bytes(), platform, cache)
    except Unusable as unusable:
        raise ValueError(f"the image {image.path.name} {unusable}") from None
    except OSError as exc:
        raise ValueError(f"cannot prepare the image {image.path.name}: {exc.strerror}") from None
    if known is not None:
        known[key] = (*stamp, posted)
    return image if posted is None else Image(posted, image.alt)
