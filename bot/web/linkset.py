"""The links the action page offers and `/go/{token}` may redirect to.

On start-up and on every campaign reload, `ask_links` gives every (target, ask, wording,
platform, language) link of each campaign. They are written to the `links` table (through the
writer thread) *before* the in-memory index that `/go/` reads is swapped in, so every token the
server answers for is a row Kindling generated and every click row refers to one. A token whose
text changed (the organiser edited a wording) keeps its row with the new URL; tokens of targets
or asks that are gone stay in the table as history but are no longer served.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from bot.campaign.loader import LoadedCampaign
from bot.compose.links import AskLink, wording_for
from bot.store.tables import LinkRow


@dataclass(frozen=True, slots=True)
class GoLink:
    """What `/go/{token}` needs, ready to use: no lookups on the hot path."""

    token: str
    campaign_id: str
    target_id: str
    ask_id: str
    wording: int
    platform: str
    language: str
    text: str
    location: bytes | None  # the 302 Location header; None for Mastodon (built per request)
    click: tuple  # the first seven fields of a click row

    @classmethod
    def from_ask_link(cls, link: AskLink) -> GoLink:
        return cls(
            token=link.token,
            campaign_id=link.campaign_id,
            target_id=link.target_id,
            ask_id=link.ask_id,
            wording=link.wording,
            platform=link.platform,
            language=link.language,
            text=link.text,
            location=None if link.url is None else link.url.encode("ascii"),
            click=(
                link.token,
                link.campaign_id,
                link.target_id,
                link.ask_id,
                link.wording,
                link.platform,
                link.language,
            ),
        )


@dataclass(frozen=True)
class Button:
    platform: str
    token: str


@dataclass(frozen=True)
class AskBlock:
    """One ask for one target in one language: the wording to offer and a button per platform."""

    ask_id: str
    number: int  # 1-based position of the ask in the campaign
    language: str
    wording: int
    preview: str
    buttons: tuple[Button, ...]


class CampaignLinks:
    """A campaign's links grouped for the page: (target, ask, language, wording) -> platforms."""

    def __init__(self, loaded: LoadedCampaign, links: list[AskLink]) -> None:
        self.campaign = loaded.campaign
        self.links = links
        self._targets = {target.id: target for target in self.campaign.targets}
        self._groups: dict[tuple[str, str, str, int], list[AskLink]] = {}
        for link in links:  # ask_links orders platforms the campaign's way within a group
            key = (link.target_id, link.ask_id, link.language, link.wording)
            self._groups.setdefault(key, []).append(link)

    def languages_for(self, target_id: str) -> set[str]:
        return {language for (target, _, language, _) in self._groups if target == target_id}

    def blocks(self, target_id: str, language: str, counter: int) -> list[AskBlock]:
        """The asks to show for `target_id`, each in the wording this page view gets; the ask
        offered first also goes round with `counter`."""
        blocks = []
        target = self._targets.get(target_id)
        if target is None:
            return []
        for number, ask in enumerate(self.campaign.asks, start=1):
            if not ask.wordings_for(language, target.stance):
                continue
            wording = wording_for(ask, language, target, counter)
            group = self._groups.get((target_id, ask.id, language, wording))
            if not group:
                continue
            shown = next((link for link in group if link.platform != "email"), group[0])
            blocks.append(
                AskBlock(
                    ask.id,
                    number,
                    language,
                    wording,
                    shown.text,
                    tuple(Button(link.platform, link.token) for link in group),
                )
            )
        if not blocks:
            return blocks
        # Supporters are offered the asks in turn too, each target from its own starting point.
        offset = int.from_bytes(hashlib.sha256(target_id.encode()).digest()[:4], "big")
        start = (counter + offset) % len(blocks)
        return blocks[start:] + blocks[:start]


def sync_links(connection: Connection, links: Iterable[AskLink]) -> tuple[int, int]:
    """Insert new links and update changed URLs; returns (inserted, updated). Runs in the writer."""
    table = cast(Table, LinkRow.__table__)
    wanted = {link.token: link for link in links}
    campaigns = sorted({link.campaign_id for link in wanted.values()})
    stored: dict[str, str] = {}
    for campaign_id in campaigns:
        rows = connection.execute(
            select(table.c.token, table.c.url).where(table.c.campaign_id == campaign_id)
        )
        stored.update({token: url for token, url in rows})
    now = datetime.now(UTC)
    inserts = []
    updates = []
    for token, link in wanted.items():
        value = stored_url(link)
        if token not in stored:
            inserts.append(
                {
                    "token": token,
                    "campaign_id": link.campaign_id,
                    "target_id": link.target_id,
                    "ask_id": link.ask_id,
                    "wording": link.wording,
                    "platform": link.platform,
                    "language": link.language,
                    "url": value,
                    "created_at": now,
                }
            )
        elif stored[token] != value:
            updates.append({"b_token": token, "b_url": value})
    if inserts:
        connection.execute(insert(table), inserts)
    if updates:
        connection.execute(
            update(table)
            .where(table.c.token == bindparam("b_token"))
            .values(url=bindparam("b_url")),
            updates,
        )
    return len(inserts), len(updates)


def stored_url(link: AskLink) -> str:
    """What the links table keeps: the URL, or for Mastodon the text (the host is the supporter's)."""
    return link.url if link.url is not None else link.text
