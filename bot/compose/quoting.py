"""The bot's words above a quoted supporter post: the campaign's `amplify.quote` template."""

from __future__ import annotations

from bot.campaign.loader import LoadedCampaign
from bot.compose.lengths import count
from bot.compose.renderings import default_link
from bot.compose.templates import TemplateProblem, Templates
from bot.problems import Problem

# The longest author handles a check renders with: X allows 15 characters; Bluesky handles are
# domain names, and 40 characters covers nearly all of them; a Mastodon address is user@server
# (Mastodon's usernames have at most 30 characters).
SAMPLE_AUTHORS = {
    "x": "a" * 15,
    "bluesky": "a" * 28 + ".bsky.social",
    "mastodon": "a" * 30 + "@mastodon.social",
}


def quote_text(
    loaded: LoadedCampaign, templates: Templates, language: str, platform: str, author: str
) -> str:
    """The quote text for a post by `author` (a handle without '@'). Raises TemplateProblem."""
    campaign = loaded.campaign
    assert campaign.amplify is not None and campaign.amplify.quote is not None
    source = campaign.amplify.quote[language]
    file, line, col = loaded.where(campaign, ("amplify", "quote", language))
    name = templates.inline(f"{file}:{line}:{col}", source)
    context = {
        "campaign": campaign,
        "language": language,
        "platform": platform,
        "links": campaign.links,
        "hashtags": campaign.hashtags,
        "link": default_link(campaign),
        "author": author,
    }
    return templates.render(name, context).strip()


def quote_problems(loaded: LoadedCampaign, templates: Templates) -> list[Problem]:
    """Template errors and texts over a platform's limit, rendered with the longest handles."""
    campaign = loaded.campaign
    amplify = campaign.amplify
    if amplify is None or amplify.quote is None:
        return []
    problems = []
    for language in amplify.quote:
        if language not in campaign.languages:
            continue  # reported by the language checks
        for platform in amplify.platforms:
            try:
                text = quote_text(loaded, templates, language, platform, SAMPLE_AUTHORS[platform])
            except TemplateProblem as problem:
                problems.append(_located(loaded, language, problem))
                break
            counted = count(platform, text)
            if not counted.ok:
                problems.append(
                    loaded.problem(
                        campaign,
                        ("amplify", "quote", language),
                        f"the quote text is {counted.length} {counted.unit} on {platform}, over "
                        f"{counted.limit}{f' ({counted.note})' if counted.note else ''}",
                    )
                )
    return problems


def _located(loaded: LoadedCampaign, language: str, problem: TemplateProblem) -> Problem:
    """At the `{{ … }}` the problem names, if it names one, else at the quote's text."""
    path = ("amplify", "quote", language)
    file, line, col = loaded.where(loaded.campaign, path)
    if problem.expression is not None:
        found = loaded.find_written(
            loaded.campaign, (line, col), problem.expression, problem.occurrence
        )
        if found is not None:
            return Problem(file, found[0], found[1], problem.message)
    return loaded.problem(loaded.campaign, path, problem.message)
