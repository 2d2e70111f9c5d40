"""Every image a campaign would post, checked before it can fail at send time: each message's
image and the cards' logo decoded for real and held to every target platform's limits, and
every quote card laid out (does it fit, can the font draw every character, is its alt text
within each platform's limit)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from bot.campaign.confine import Refused, is_file
from bot.campaign.loader import LoadedCampaign
from bot.campaign.model import Campaign, Quote
from bot.cards import fonts
from bot.cards.build import Card, campaign_cards
from bot.cards.design import Plan, plan
from bot.cards.images import PLATFORM_LIMITS, Unusable, load_logo, prepared, read_limited
from bot.cards.logo import logo_bytes
from bot.problems import PATH_CHARS, Problem, excerpt

PART_WORDS = {
    "quote": "the quote",
    "who": "the name",
    "detail": "the role and organisation",
    "footer": "the hashtag and link",
}


def image_problems(
    loaded: LoadedCampaign, cache: Path | None = None, *, cards: bool = True
) -> list[Problem]:
    """Every image problem of the campaign (its quote cards' too unless `cards` is false);
    images re-encoded to fit are kept in `cache`."""
    problems = list(_message_images(loaded, cache))
    problems += _logo(loaded)
    if cards:
        problems += card_problems(loaded)
    return problems


def _platforms(campaign: Campaign, chosen: Sequence[str] | None) -> list[str]:
    return [name for name in (chosen or campaign.platforms) if name in PLATFORM_LIMITS]


def _message_images(loaded: LoadedCampaign, cache: Path | None) -> Iterator[Problem]:
    """Only images whose path is usable: a refused or missing path is campaign_rules' to say."""
    campaign = loaded.campaign
    for message in campaign.messages:
        if message.image is None:
            continue
        data = _read(loaded, message.image.path)
        if data is None:
            continue
        shown = excerpt(message.image.path, PATH_CHARS)
        for platform in _platforms(campaign, message.platforms):
            try:
                prepared(data, platform, cache)
            except Unusable as unusable:
                yield loaded.problem(message, ("image", "path"), f"image file '{shown}' {unusable}")
                break
        for platform in _platforms(campaign, message.platforms):
            limits = PLATFORM_LIMITS[platform]
            for language, alt in message.image.alt.items():
                if len(alt) > limits.alt_chars and platform != "x":  # X's: campaign_rules
                    yield loaded.problem(
                        message,
                        ("image", "alt", language),
                        f"alt text ({language}) is {len(alt)} characters, over "
                        f"{limits.name}'s limit of {limits.alt_chars}",
                    )


def _read(loaded: LoadedCampaign, name: str) -> bytes | None:
    try:
        path = loaded.file_named(name)
    except Refused:
        return None
    if not is_file(path):
        return None
    try:
        return read_limited(path)
    except OSError:
        return None


def _logo(loaded: LoadedCampaign) -> Iterator[Problem]:
    data, reason = logo_bytes(loaded)
    if data is not None:
        try:
            load_logo(data)
        except Unusable as unusable:
            name = excerpt(loaded.campaign.cards.logo, PATH_CHARS)
            reason = f"logo file '{name}' {unusable}"
    if reason is not None:
        yield loaded.problem(loaded.campaign, ("cards", "logo"), reason)


def card_problems(loaded: LoadedCampaign) -> list[Problem]:
    """Each card laid out without drawing it: parts that cannot fit, characters the font
    cannot draw, alt text over a platform's limit; each reported once, at the words."""
    campaign = loaded.campaign
    seen: set[tuple[str, ...]] = set()
    problems: list[Problem] = []
    for card in campaign_cards(campaign):
        for key, problem in _card_problems(loaded, card):
            if key not in seen:
                seen.add(key)
                problems.append(problem)
    return problems


def _card_problems(loaded: LoadedCampaign, card: Card) -> Iterator[tuple[tuple[str, ...], Problem]]:
    campaign = loaded.campaign
    quote, language = card.quote, card.language
    font = fonts.FAMILIES[campaign.cards.font]
    where = f"the card of quote '{quote.id}' ({language})"
    for part, text in _parts(card):
        lacking = fonts.missing_characters(text, font.bold) if text else []
        if lacking:
            named = ", ".join(fonts.describe(char) for char in lacking[:3])
            yield (
                (quote.id, language, part, "glyph"),
                _at(loaded, quote, part, language, f"{where}: the font cannot draw {named}"),
            )
    laid_out = plan(card.text, card.size, campaign.cards.font)
    if not isinstance(laid_out, Plan):
        for part in laid_out:
            yield (
                (quote.id, language, part, card.size.name),
                _at(
                    loaded,
                    quote,
                    part,
                    language,
                    f"{where}: {PART_WORDS[part]} does not fit the {card.size.label} card even at "
                    "the smallest size; shorten it",
                ),
            )
    for platform in _platforms(campaign, None):
        limits = PLATFORM_LIMITS[platform]
        if len(card.alt) > limits.alt_chars:
            yield (
                (quote.id, language, "alt", platform),
                _at(
                    loaded,
                    quote,
                    "quote",
                    language,
                    f"{where}: its alt text (the quote and who said it) is {len(card.alt)} "
                    f"characters, over {limits.name}'s limit of {limits.alt_chars}",
                ),
            )


def _parts(card: Card) -> list[tuple[str, str]]:
    text = card.text
    return [
        ("quote", text.quote),
        ("who", text.who),
        ("detail", text.detail),
        ("footer", text.footer),
    ]


def _at(loaded: LoadedCampaign, quote: Quote, part: str, language: str, message: str) -> Problem:
    """The problem at the words it is about: the quote's text in that language, its name, role
    (or organisation), or the campaign's first hashtag (else its links) for the footer."""
    if part == "footer":
        campaign = loaded.campaign
        tagged = campaign.hashtags and campaign.cards.footer in ("hashtag", "both")
        return loaded.problem(campaign, ("hashtags", 0) if tagged else ("links",), message)
    field = {"quote": "text", "who": "who", "detail": "role"}[part]
    if part == "detail" and quote.role is None:
        field = "organisation"
    value = getattr(quote, field)
    path: tuple[str, ...] = (field, language) if isinstance(value, dict) else (field,)
    return loaded.problem(quote, path, message)
