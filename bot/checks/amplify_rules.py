"""`kindling check` for a campaign's `amplify:` section: what it watches must exist."""

from __future__ import annotations

from collections.abc import Iterator

from bot.campaign.amplify_sources import URL_PREFIXES
from bot.campaign.loader import LoadedCampaign
from bot.compose.quoting import quote_problems
from bot.compose.templates import Templates
from bot.problems import Problem, excerpt


def amplify_problems(loaded: LoadedCampaign, templates: Templates) -> list[Problem]:
    if loaded.campaign.amplify is None:
        return []
    return [*_section(loaded), *quote_problems(loaded, templates)]


def _section(loaded: LoadedCampaign) -> Iterator[Problem]:
    campaign = loaded.campaign
    amplify = campaign.amplify
    assert amplify is not None
    for index, platform in enumerate(amplify.platforms):
        if platform not in campaign.platforms:
            yield loaded.problem(
                campaign,
                ("amplify", "platforms", index),
                f"'{platform}' is not in the campaign's platforms "
                f"({', '.join(campaign.platforms)}): the bot has no account there to amplify from",
            )
    for index, link in enumerate(amplify.links):
        if link not in campaign.links and not link.startswith(URL_PREFIXES):
            yield loaded.problem(
                campaign,
                ("amplify", "links", index),
                f"unknown link '{excerpt(link)}': use an id from `links:` "
                f"({', '.join(campaign.links) or 'none'}) or a full http(s) URL",
            )
    hashtags = amplify.hashtags if amplify.hashtags is not None else campaign.hashtags
    if not hashtags and not amplify.links:
        yield loaded.problem(
            campaign,
            ("amplify",),
            "amplify has nothing to watch: give it `hashtags` or `links` (the campaign has no "
            "hashtags of its own)",
        )
    wanted = ", ".join(campaign.languages)
    if amplify.quote is not None:
        for language in campaign.languages:
            if language not in amplify.quote:
                yield loaded.problem(
                    campaign,
                    ("amplify", "quote"),
                    f"the quote has no '{language}' text (the campaign's languages are {wanted})",
                )
        for language in amplify.quote:
            if language not in campaign.languages:
                yield loaded.problem(
                    campaign,
                    ("amplify", "quote", language),
                    f"'{language}' is not one of the campaign's languages ({wanted})",
                    key=True,
                )
    for platform in ("x", "bluesky", "mastodon"):
        both = set(getattr(amplify.accounts, platform)) & set(getattr(amplify.blocklist, platform))
        for handle in sorted(both):
            index = getattr(amplify.blocklist, platform).index(handle)
            yield loaded.problem(
                campaign,
                ("amplify", "blocklist", platform, index),
                f"'{handle}' is both allowed (amplify.accounts) and blocked: the blocklist wins; "
                "remove one of them",
            )
