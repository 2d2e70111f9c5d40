"""Checks that need the whole campaign: ids, languages, references, schedules, handles' reach,
and whether every target has a wording of every ask for its stance."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from bot.campaign.confine import Refused, is_file
from bot.campaign.loader import LoadedCampaign
from bot.campaign.model import Campaign, Message
from bot.campaign.recurrence import occurrences
from bot.checks.amplify_rules import amplify_problems
from bot.compose.templates import Templates
from bot.problems import PATH_CHARS, Problem, excerpt

# How far ahead an open-ended campaign is searched for a recurrence's first firing.
OPEN_ENDED_HORIZON = timedelta(days=366)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
ALT_TEXT_LIMIT = 1000  # X's limit; Bluesky allows more


def check_campaign(loaded: LoadedCampaign, templates: Templates) -> list[Problem]:
    problems: list[Problem] = []
    problems += _duplicate_ids(loaded)
    problems += _languages(loaded)
    problems += _references(loaded, templates)
    problems += _schedules(loaded)
    problems += _stances(loaded)
    problems += amplify_problems(loaded, templates)
    return problems


def stance_notes(loaded: LoadedCampaign) -> list[Problem]:
    """Stances that wordings are written for but no target has: notes, not errors, since an
    organiser may prepare wordings before the targets of that stance are added (a typo shows
    here too, and as an error on any target left without a wording)."""
    campaign = loaded.campaign
    held = sorted({target.stance for target in campaign.targets if target.stance})
    notes = []
    for ask in campaign.asks:
        for language, wordings in ask.wordings.items():
            for index, wording in enumerate(wordings):
                stances = wording.stances or []
                unused = [(i, stance) for i, stance in enumerate(stances) if stance not in held]
                nobody = (
                    "; this wording is given to no target" if len(unused) == len(stances) else ""
                )
                for stance_index, stance in unused:
                    hint = _suggest(stance, held) if held else ""
                    notes.append(
                        loaded.problem(
                            ask,
                            ("wordings", language, index, "stances", stance_index),
                            f"no target has the stance '{stance}'{hint}{nobody}",
                        )
                    )
    return notes


def _duplicate_ids(loaded: LoadedCampaign) -> Iterator[Problem]:
    campaign = loaded.campaign
    groups: dict[str, Iterable[object]] = {
        "message": campaign.messages,
        "quote pool": campaign.quote_pools,
        "quote": [quote for pool in campaign.quote_pools for quote in pool.quotes],
        "target": campaign.targets,
        "ask": campaign.asks,
    }
    for kind, entries in groups.items():
        first_seen: dict[str, object] = {}
        for entry in entries:
            entry_id = entry.id  # type: ignore[attr-defined]
            if entry_id in first_seen:
                file, line, _ = loaded.where(first_seen[entry_id])
                yield loaded.problem(
                    entry,
                    ("id",),
                    f"duplicate {kind} id '{entry_id}' (first used at {file}:{line})",
                )
            else:
                first_seen[entry_id] = entry
    seen: set[str] = set()
    for index, language in enumerate(campaign.languages):
        if language in seen:
            yield loaded.located.problem(
                ("languages", index), f"language '{language}' is listed twice"
            )
        seen.add(language)


LocalisedText = tuple[object, tuple, dict | None, str]  # entry, path, {language: text}, what


def _localised_texts(campaign: Campaign) -> list[LocalisedText]:
    """Every text of the campaign that must exist in each of its languages."""
    texts: list[LocalisedText] = [
        (campaign, ("name",), campaign.name, "the campaign name"),
        (campaign, ("summary",), campaign.summary, "the summary"),
    ]
    texts += [
        (campaign, ("requests", i), r, f"request {i + 1}") for i, r in enumerate(campaign.requests)
    ]
    for message in campaign.messages:
        texts.append((message, ("text",), message.text, f"message '{message.id}'"))
        for index, reply in enumerate(message.thread):
            texts.append(
                (message, ("thread", index), reply, f"reply {index + 1} of message '{message.id}'")
            )
        if message.image:
            what = f"the image of message '{message.id}'"
            texts.append((message, ("image", "alt"), message.image.alt, what))
    for pool in campaign.quote_pools:
        for quote in pool.quotes:
            texts.append((quote, ("text",), quote.text, f"quote '{quote.id}'"))
            for part in ("who", "role", "organisation"):
                value = getattr(quote, part)
                if isinstance(value, dict):
                    texts.append((quote, (part,), value, f"the {part} of quote '{quote.id}'"))
    for supporter in campaign.supporters:
        if isinstance(supporter.name, dict):
            texts.append((supporter, ("name",), supporter.name, "a supporter's name"))
    texts += [(ask, ("wordings",), ask.wordings, f"ask '{ask.id}'") for ask in campaign.asks]
    return texts


def _languages(loaded: LoadedCampaign) -> Iterator[Problem]:
    campaign = loaded.campaign
    wanted = ", ".join(campaign.languages)
    for entry, path, text, what in _localised_texts(campaign):
        if text is None:
            continue
        for language in campaign.languages:
            if language not in text:
                yield loaded.problem(
                    entry,
                    path,
                    f"{what} has no '{language}' text (the campaign's languages are {wanted})",
                )
        for language in text:
            if language not in campaign.languages:
                yield loaded.problem(
                    entry,
                    (*path, language),
                    f"'{language}' is not one of the campaign's languages ({wanted})",
                    key=True,
                )
    for target in campaign.targets:
        if target.language and target.language not in campaign.languages:
            yield loaded.problem(
                target,
                ("language",),
                f"target language '{target.language}' is not one of the campaign's languages ({wanted})",
            )


def _references(loaded: LoadedCampaign, templates: Templates) -> Iterator[Problem]:
    campaign = loaded.campaign
    pools = [pool.id for pool in campaign.quote_pools]
    for message in campaign.messages:
        if message.template is not None:
            yield from _template(loaded, templates, message, message.template)
        pool = message.quote_pool
        if pool is not None and pool not in pools and pool not in loaded.broken_ids:
            yield loaded.problem(
                message, ("quote_pool",), f"unknown quote pool '{pool}'{_suggest(pool, pools)}"
            )
        if message.image is not None:
            yield from _image(loaded, message)
        if message.link is not None and message.link not in campaign.links:
            yield loaded.problem(
                message,
                ("link",),
                f"unknown link '{excerpt(message.link)}'"
                f"{_suggest(message.link, list(campaign.links))}",
            )
        for index, platform in enumerate(message.platforms or []):
            if platform not in campaign.platforms:
                yield loaded.problem(
                    message,
                    ("platforms", index),
                    f"'{platform}' is not in the campaign's platforms ({', '.join(campaign.platforms)})",
                )
    for ask in campaign.asks:
        for index, ask_platform in enumerate(ask.platforms or []):
            if ask_platform not in campaign.ask_platforms:
                yield loaded.problem(
                    ask,
                    ("platforms", index),
                    f"'{ask_platform}' is not in the campaign's ask_platforms "
                    f"({', '.join(campaign.ask_platforms)})",
                )


def _template(
    loaded: LoadedCampaign, templates: Templates, message: Message, template: str
) -> Iterator[Problem]:
    name = excerpt(template, PATH_CHARS)
    refusal = templates.refusal(template)
    if refusal is not None:
        yield loaded.problem(message, ("template",), f"template '{name}' {refusal}")
        return
    for language in loaded.campaign.languages:
        if templates.file_for(template, language) is None:
            yield loaded.problem(
                message,
                ("template",),
                f"unknown template '{name}' for '{language}': "
                f"expected templates/{name}.{language}.j2 or templates/{name}.j2",
            )
            return


def _image(loaded: LoadedCampaign, message: Message) -> Iterator[Problem]:
    """The image must be a picture file inside the campaign's folder: anything a campaign names
    is uploaded to X and Bluesky, so a path outside it could publish any file on the server."""
    image = message.image
    assert image is not None
    shown = excerpt(image.path, PATH_CHARS)
    try:
        path = loaded.file_named(image.path)
    except Refused as refused:
        yield loaded.problem(message, ("image", "path"), f"image file '{shown}' {refused.message}")
    else:
        if not is_file(path):
            yield loaded.problem(
                message,
                ("image", "path"),
                f"image file '{shown}' not found (paths are relative to the campaign file)",
            )
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            yield loaded.problem(
                message, ("image", "path"), f"'{shown}' is not a PNG, JPEG, GIF or WebP image"
            )
    for language, alt in image.alt.items():
        if len(alt) > ALT_TEXT_LIMIT:
            yield loaded.problem(
                message,
                ("image", "alt", language),
                f"alt text ({language}) is {len(alt)} characters, over X's limit of {ALT_TEXT_LIMIT}",
            )


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (known: {', '.join(known)})" if known else " (none are defined)"


def _schedules(loaded: LoadedCampaign) -> Iterator[Problem]:
    campaign = loaded.campaign
    start = campaign.active.start_local()
    end = campaign.active.end_local()
    for message in campaign.messages:
        schedule = message.schedule
        if schedule.at is not None:
            at = schedule.at.replace(tzinfo=None)
            if at < start or (end is not None and at > end):
                yield loaded.problem(
                    message,
                    ("schedule", "at"),
                    f"{at:%Y-%m-%d %H:%M} is outside the active window "
                    f"({_window_text(campaign)}): move it inside, or widen 'active'",
                )
            elif _in_quiet_hours(campaign, at):
                yield loaded.problem(
                    message,
                    ("schedule", "at"),
                    f"{at:%H:%M} falls in quiet hours ({_quiet_text(campaign)}): it would never be posted",
                )
            continue
        if _first_firing(campaign, message) is None:
            kind = next(k for k in ("daily", "weekly", "cron") if getattr(schedule, k))
            reason = "in the active window" + (
                " outside quiet hours" if campaign.quiet_hours else ""
            )
            yield loaded.problem(
                message,
                ("schedule", kind),
                f"this schedule never fires {reason} ({_window_text(campaign)}"
                + (f"; quiet {_quiet_text(campaign)}" if campaign.quiet_hours else "")
                + ")",
            )


def _first_firing(campaign: Campaign, message: Message) -> datetime | None:
    start = campaign.active.start_local()
    end = campaign.active.end_local() or start + OPEN_ENDED_HORIZON
    for moment in occurrences(message.schedule, start, end + timedelta(microseconds=1)):
        if not _in_quiet_hours(campaign, moment):
            return moment
    return None


def _in_quiet_hours(campaign: Campaign, moment: datetime) -> bool:
    return campaign.quiet_hours is not None and campaign.quiet_hours.contains(moment.time())


def _window_text(campaign: Campaign) -> str:
    start = campaign.active.start_local()
    end = campaign.active.end_local()
    return f"{start:%Y-%m-%d %H:%M} to " + (f"{end:%Y-%m-%d %H:%M}" if end else "open end")


def _quiet_text(campaign: Campaign) -> str:
    quiet = campaign.quiet_hours
    assert quiet is not None
    return f"{quiet.start:%H:%M}-{quiet.end:%H:%M}"


def _stances(loaded: LoadedCampaign) -> Iterator[Problem]:
    """A target must have at least one wording of every ask in every language: all of an ask's
    wordings in a language may be for other stances, which would leave it nothing to send."""
    campaign = loaded.campaign
    for target in campaign.targets:
        for ask in campaign.asks:
            languages = [
                language
                for language in campaign.languages
                if language in ask.wordings and not ask.wordings_for(language, target.stance)
            ]
            if not languages:
                continue
            where = ", ".join(languages)
            if target.stance:
                message = (
                    f"target '{target.id}' has the stance '{target.stance}', but no wording of "
                    f"ask '{ask.id}' in {where} is for it: list '{target.stance}' in a wording's "
                    "'stances', or add a wording without 'stances'"
                )
            else:
                message = (
                    f"target '{target.id}' has no stance, but every wording of ask '{ask.id}' "
                    f"in {where} lists 'stances': give the target a stance, or add a wording "
                    "without 'stances'"
                )
            yield loaded.problem(target, ("stance",), message)
