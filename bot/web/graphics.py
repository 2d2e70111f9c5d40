"""The action page's "share a graphic" section: a campaign's quote cards (both sizes) and its
messages' images, for supporters to download, describe (alt text) and share.

Bounded work: every file is made once, when the campaign is loaded or reloaded (in the reload's
own thread), and kept on disk: cards in the card cache under the hash of their inputs (as the
daemon draws them), campaign images copied into the image cache. A request only looks its name
up in a dictionary and sends the file: nothing is drawn, decoded or read from the campaign's
folder per request. The URL is the file's content hash (`/graphics/<sha256 prefix>.<ext>`), so
it can be cached for a year (`immutable`): a changed card or image gets a new URL. A name that
is not in the dictionary is a 404 that repeats nothing of the request.

Pillow and the fonts (bot.cards) are imported only for a campaign with quotes or images.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from bot.campaign.confine import Refused
from bot.campaign.loader import LoadedCampaign
from bot.campaign.model import Campaign
from bot.compose.lengths import count
from bot.compose.links import intent_url

log = logging.getLogger("kindling.web")

PREFIX = "/graphics/"
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}
CACHE_CONTROL = "public, max-age=31536000, immutable"
# The platforms whose composer a plain link can open with the text (Mastodon needs the
# supporter's own server: not offered here).
SHARE_PLATFORMS = ("x", "bluesky", "threads")


@dataclass(frozen=True)
class ServedFile:
    path: Path
    content_type: str


@dataclass(frozen=True)
class GraphicFile:
    url: str
    size: str  # "landscape", "portrait" or "image" (a campaign image as the organiser made it)
    width: int
    height: int
    download_name: str


@dataclass(frozen=True)
class ShareLink:
    platform: str
    url: str


@dataclass(frozen=True)
class Graphic:
    id: str  # quote id, or message id for a campaign image
    language: str
    alt: str
    files: tuple[GraphicFile, ...]
    share: tuple[ShareLink, ...]


@dataclass(frozen=True)
class CampaignGraphics:
    """A campaign's graphics per language, and the files their URLs name."""

    by_language: dict[str, list[Graphic]] = field(default_factory=dict)
    files: dict[str, ServedFile] = field(default_factory=dict)

    def add(self, graphic: Graphic) -> None:
        self.by_language.setdefault(graphic.language, []).append(graphic)


def file_name(data: bytes, extension: str) -> str:
    """The URL's last part: a content hash (128 bits) and the format's extension."""
    return f"{hashlib.sha256(data).hexdigest()[:32]}.{extension}"


def share_text(parts: list[str], campaign: Campaign, platform: str) -> str:
    """`parts` (the quote and who said it), then the campaign's first hashtag and link; without
    the quote when that would be too long for `platform` (the graphic shows it anyway)."""
    tail = []
    if campaign.hashtags:
        tail.append(f"#{campaign.hashtags[0]}")
    tail.extend(list(campaign.links.values())[:1])
    for chosen in (parts, parts[1:], []):
        text = " ".join([*chosen, *tail]).strip()
        if count(platform, text).ok:
            return text
    return ""


def share_links(parts: list[str], campaign: Campaign) -> tuple[ShareLink, ...]:
    links = []
    for platform in SHARE_PLATFORMS:
        if platform in campaign.ask_platforms:
            text = share_text(parts, campaign, platform)
            links.append(ShareLink(platform, intent_url(platform, text)))
    return tuple(links)


def build_graphics(loaded: LoadedCampaign, cache: Path) -> CampaignGraphics:
    """Every graphic of the campaign, made (or found made) in `cache`. A card or image that
    cannot be made is logged and left out; the rest of the page is served as before."""
    campaign = loaded.campaign
    graphics = CampaignGraphics()
    if campaign.quote_pools:
        _cards(loaded, cache / "cards", graphics)
    if any(message.image is not None for message in campaign.messages):
        _images(loaded, cache / "shared", graphics)
    return graphics


def _cards(loaded: LoadedCampaign, cache: Path, graphics: CampaignGraphics) -> None:
    from bot.cards.build import CardTooLong, cache_key, campaign_cards, card_png
    from bot.cards.images import Unusable, digest, load_logo
    from bot.cards.logo import logo_bytes

    campaign = loaded.campaign
    data, reason = logo_bytes(loaded)
    try:
        logo = load_logo(data) if data is not None and reason is None else None
    except Unusable as unusable:
        log.error("campaign '%s': its logo %s: cards are drawn without it", campaign.id, unusable)
        logo, data = None, None
    logo_digest = digest(data) if logo is not None and data is not None else None
    made: dict[tuple[str, str, str], list[GraphicFile]] = {}
    alts: dict[tuple[str, str, str], tuple[str, list[str]]] = {}
    for card in campaign_cards(campaign):
        try:
            png = card_png(card, campaign.cards, logo, logo_digest, cache)
        except (CardTooLong, OSError) as exc:
            log.error("campaign '%s': card %s not offered: %s", campaign.id, card.file_name, exc)
            continue
        name = file_name(png, "png")
        path = cache / f"{cache_key(card, campaign.cards, logo_digest)}.png"
        graphics.files[name] = ServedFile(path, CONTENT_TYPES["png"])
        key = (card.pool, card.quote.id, card.language)
        made.setdefault(key, []).append(
            GraphicFile(
                PREFIX + name,
                card.size.name,
                card.size.width,
                card.size.height,
                f"{campaign.id}-{card.file_name}",
            )
        )
        alts[key] = (card.alt, [f"“{card.text.quote}”", card.text.who])
    for key, files in made.items():
        alt, parts = alts[key]
        graphics.add(Graphic(key[1], key[2], alt, tuple(files), share_links(parts, campaign)))


def _images(loaded: LoadedCampaign, cache: Path, graphics: CampaignGraphics) -> None:
    from bot.cards.images import Unusable, inspect, read_limited, write_atomically

    campaign = loaded.campaign
    for message in campaign.messages:
        if message.image is None:
            continue
        try:
            data = read_limited(loaded.file_named(message.image.path))
            found = inspect(data)
            extension = EXTENSIONS[found.format]
            name = file_name(data, extension)
            target = cache / name
            if not target.is_file():
                write_atomically(target, data)
        except (OSError, Unusable, Refused) as exc:
            log.error(
                "campaign '%s': the image of message '%s' is not offered: %s",
                campaign.id,
                message.id,
                exc,
            )
            continue
        graphics.files[name] = ServedFile(target, CONTENT_TYPES[extension])
        shown = GraphicFile(
            PREFIX + name,
            "image",
            found.width,
            found.height,
            f"{campaign.id}-{message.id}.{extension}",
        )
        for language in campaign.languages:
            alt = message.image.alt.get(language)
            if alt:
                graphics.add(
                    Graphic(message.id, language, alt, (shown,), share_links([], campaign))
                )


class GraphicFiles:
    """`/graphics/{name}`: the file a served campaign's graphic names, else 404."""

    def __init__(self, sets: Callable[[], Iterable[CampaignGraphics]]) -> None:
        self.sets = sets

    def find(self, name: str) -> ServedFile | None:
        for graphics in self.sets():
            served = graphics.files.get(name)
            if served is not None:
                return served
        return None

    async def endpoint(self, request: Request) -> Response:
        served = self.find(request.path_params["name"])
        if served is None or not served.path.is_file():
            if served is not None:  # the cache was emptied under the running server
                log.error(
                    "graphic file %s is gone: reload the campaign to make it again", served.path
                )
            return not_found()
        return FileResponse(
            served.path,
            media_type=served.content_type,
            headers={"cache-control": CACHE_CONTROL},
        )


def not_found() -> Response:
    """Says nothing of what was asked for."""
    return PlainTextResponse("Not found\n", status_code=404, headers={"cache-control": "no-store"})
