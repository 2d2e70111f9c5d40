"""`kindling cards`: every card of a campaign written to a folder, with an HTML contact sheet
(a Jinja2 template, autoescaped: quotes and names are campaign input) to review them."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jinja2 import Environment, StrictUndefined

from bot.campaign.loader import LoadedCampaign
from bot.cards.build import Card, campaign_cards, card_png
from bot.cards.images import digest, load_logo
from bot.cards.logo import logo_bytes

SHEET_NAME = "index.html"


@dataclass(frozen=True)
class Written:
    card: Card
    path: Path


def write_cards(loaded: LoadedCampaign, out: Path, cache: Path | None) -> list[Written]:
    """Every card as a PNG in `out`, and the contact sheet `out/index.html`. The campaign must
    have passed `kindling check` (its logo usable, every card fits)."""
    campaign = loaded.campaign
    data, reason = logo_bytes(loaded)
    assert reason is None, reason
    logo = load_logo(data) if data is not None else None
    logo_digest = digest(data) if data is not None else None
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for card in campaign_cards(campaign):
        path = out / card.file_name
        path.write_bytes(card_png(card, campaign.cards, logo, logo_digest, cache))
        written.append(Written(card, path))
    (out / SHEET_NAME).write_text(contact_sheet(loaded, written), encoding="utf-8")
    return written


def contact_sheet(loaded: LoadedCampaign, written: list[Written]) -> str:
    campaign = loaded.campaign
    source = (resources.files("bot.cards") / "templates" / "sheet.html").read_text("utf-8")
    environment = Environment(autoescape=True, undefined=StrictUndefined)
    template = environment.from_string(source)
    cards = [
        {
            "file": item.path.name,
            "pool": item.card.pool,
            "language": item.card.language,
            "size": item.card.size.name,
            "label": item.card.size.label,
            "alt": item.card.alt,
        }
        for item in written
    ]
    title = campaign.name.get(campaign.primary_language) or campaign.id
    return template.render(title=title, languages=campaign.languages, cards=cards, count=len(cards))
