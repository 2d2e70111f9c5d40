"""A discovery pass over every active campaign and platform: what the daemon's `amplify` job
and `kindling amplify discover` both run."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.amplify.discovery import Discovery, PassReport
from bot.amplify.planning import QuoteWriter
from bot.campaign.model import AMPLIFY_PLATFORMS
from bot.checks.registry import ActiveCampaign
from bot.compose.quoting import quote_text
from bot.platforms.base import Account, Amplifier, Platform, PlatformError

log = logging.getLogger("kindling.amplify")


class AmplifyRunner:
    def __init__(self, discovery: Discovery, platforms: Mapping[str, Platform]) -> None:
        self.discovery = discovery
        self.platforms = platforms
        self._own: dict[str, frozenset[str]] = {}

    def own_ids(self, name: str) -> frozenset[str]:
        """The bot's own account id and handle there, asked once (never amplify ourselves)."""
        if name not in self._own:
            account: Account = self.platforms[name].check_account()
            self._own[name] = frozenset({account.id.lower(), account.handle.lower()})
        return self._own[name]

    def run(self, campaigns: Sequence[ActiveCampaign], now: datetime) -> dict[str, PassReport]:
        """One pass; the report per platform name. A platform that fails is logged and left for
        the next pass; the others go on."""
        reports: dict[str, PassReport] = {}
        for active in campaigns:
            amplify = active.loaded.campaign.amplify
            if amplify is None:
                continue
            for name in amplify.platforms:
                platform = self.platforms.get(name)
                if not isinstance(platform, Amplifier):
                    continue  # not connected here, or a dry run's simulated network
                try:
                    own = self.own_ids(name)
                except PlatformError as exc:
                    log.warning("%s: cannot amplify now: %s", name, exc.message)
                    continue
                report = self.discovery.run(
                    active.loaded.campaign, platform, name, own, now, quote_writer(active)
                )
                reports.setdefault(name, PassReport()).add(report)
                if report.new or report.planned:
                    log.info(
                        "%s: campaign '%s': %d new post(s) found, %d queued, %d skipped, "
                        "%d amplification(s) planned",
                        name,
                        active.id,
                        report.new,
                        report.queued,
                        report.skipped,
                        report.planned,
                    )
        return reports

    def withdraw_blocked(self, campaigns: Sequence[ActiveCampaign], now: datetime) -> None:
        """After a campaign change: planned amplifications of newly blocklisted authors go."""
        for active in campaigns:
            for name in AMPLIFY_PLATFORMS:
                self.discovery.withdraw_blocked(active.loaded.campaign, name, now)


def quote_writer(active: ActiveCampaign) -> QuoteWriter:
    def write(language: str, platform: str, author: str) -> str:
        return quote_text(active.loaded, active.renderer.templates, language, platform, author)

    return write
