"""What a campaign's `amplify:` section watches, resolved once: terms, allowlist, blocklist."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.campaign.model import Amplify, Campaign

URL_PREFIXES = ("http://", "https://")


@dataclass(frozen=True)
class Sources:
    """Everything discovery and the rules need to know about one campaign on one platform."""

    campaign_id: str
    platform: str
    settings: Amplify
    hashtags: tuple[str, ...]  # without '#', as the organiser wrote them
    links: tuple[str, ...]  # full URLs
    allowlist: frozenset[str]  # lower-case handles or ids
    blocklist: frozenset[str]
    targets: frozenset[str]  # the politicians' handles on this platform, lower-case
    languages: frozenset[str]

    @property
    def terms(self) -> list[str]:
        """Search terms: "#tag" for each hashtag, then each link (not on Mastodon, which has no
        search by link: there links match in what the hashtags and feeds bring)."""
        tags = [f"#{tag}" for tag in self.hashtags]
        return tags if self.platform == "mastodon" else tags + list(self.links)

    @property
    def feeds(self) -> list[str]:
        """Allowlisted accounts whose own feeds are read (not on X: X bills every read)."""
        if self.platform not in ("bluesky", "mastodon") or not self.settings.watch_feeds:
            return []
        return sorted(self.allowlist)


def sources_for(campaign: Campaign, platform: str) -> Sources | None:
    """The sources of `campaign` on `platform`, or None if it does not amplify there."""
    amplify = campaign.amplify
    if amplify is None or platform not in amplify.platforms:
        return None
    hashtags = tuple(amplify.hashtags if amplify.hashtags is not None else campaign.hashtags)
    links = tuple(campaign.links.get(link, link) for link in amplify.links)
    allowed = set(getattr(amplify.accounts, platform))
    if amplify.supporters:
        for supporter in campaign.supporters:
            handle = getattr(supporter.handles, platform)
            if handle:
                allowed.add(handle)
    targets = {getattr(target.handles, platform) for target in campaign.targets}
    return Sources(
        campaign_id=campaign.id,
        platform=platform,
        settings=amplify,
        hashtags=hashtags,
        links=tuple(link for link in links if link.startswith(URL_PREFIXES)),
        allowlist=frozenset(h.lower() for h in allowed),
        blocklist=frozenset(h.lower() for h in getattr(amplify.blocklist, platform)),
        targets=frozenset(h.lower() for h in targets if h),
        languages=frozenset(amplify.languages or campaign.languages),
    )


def same_link(found: str, wanted: str) -> bool:
    """`found` points at `wanted` or below it (scheme, `www.`, case of the host and a trailing
    slash do not matter; a query or fragment on `found` is allowed)."""
    a, b = urlsplit(found.strip()), urlsplit(wanted.strip())
    host_a = (a.hostname or "").removeprefix("www.")
    host_b = (b.hostname or "").removeprefix("www.")
    if host_a != host_b or not host_a:
        return False
    path_a, path_b = a.path.rstrip("/"), b.path.rstrip("/")
    return path_a == path_b or path_a.startswith(path_b + "/")
