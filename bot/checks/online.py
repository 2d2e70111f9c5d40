"""`kindling check --online`: every Bluesky handle and Mastodon address of a campaign's targets,
and every Bluesky mention typed into its posts, looked up on its network (read-only, free).

One that no account has is a problem at its place in the file; one that could not be looked up
(the network failed, the server answered something else) is a note saying so, never a problem.
X handles (the targets' and the `@mentions` typed into X posts) only when asked (`--x`): X
bills each lookup (bot/publish/x_handles.py prices, refuses and charges them). The lookups
themselves are done by a `Resolver` (bot/platforms/lookup.py); this module only says what to ask
and where to report.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.campaign.loader import LoadedCampaign
from bot.checks.handles import located, mentionable, typed_mentions
from bot.problems import Problem, excerpt

NETWORKS = {"bluesky": "Bluesky", "mastodon": "Mastodon", "x": "X"}
FREE = ("bluesky", "mastodon")  # looked up by every `check --online`


class Answer(Protocol):
    @property
    def outcome(self) -> str: ...  # "found", "missing" or "unknown"

    @property
    def reason(self) -> str: ...


class Resolver(Protocol):
    def look_up(self, platform: str, handle: str) -> Answer: ...


@dataclass(frozen=True)
class _Asked:
    platform: str
    handle: str
    who: str  # "target 'ms-a'" or "message 'launch'"
    where: Problem  # the place, with an empty message


@dataclass
class OnlineResult:
    problems: list[Problem]
    notes: list[Problem]
    looked_up: int


def check_online(
    loaded: LoadedCampaign, resolver: Resolver, networks: Sequence[str] = FREE
) -> OnlineResult:
    result = OnlineResult([], [], 0)
    for asked in _handles(loaded, networks):
        answer = resolver.look_up(asked.platform, asked.handle)
        result.looked_up += 1
        network = NETWORKS[asked.platform]
        shown = excerpt(asked.handle)
        if answer.outcome == "missing":
            message = f"{asked.who}: no {network} account has the handle '{shown}'"
            result.problems.append(_at(asked.where, message))
        elif answer.outcome != "found":
            message = f"{asked.who}: could not look up the {network} handle '{shown}': "
            result.notes.append(_at(asked.where, message + answer.reason))
    return result


def _at(where: Problem, message: str) -> Problem:
    return Problem(where.file, where.line, where.col, message)


def handles_of(loaded: LoadedCampaign, platform: str) -> list[str]:
    """The handles of `platform` a `check --online` of `loaded` would look up."""
    return [asked.handle for asked in _handles(loaded, (platform,))]


def _handles(loaded: LoadedCampaign, networks: Sequence[str]) -> Iterator[_Asked]:
    campaign = loaded.campaign
    for target in campaign.targets:
        who = f"target '{target.id}'"
        for platform in networks:
            handle = getattr(target.handles, platform)
            if handle and not handle.startswith("did:"):
                where = loaded.problem(target, ("handles", platform), "")
                yield _Asked(platform, handle, who, where)
    for message in campaign.messages:
        posted_on = message.platforms or campaign.platforms
        for platform in [p for p in ("bluesky", "x") if p in networks and p in posted_on]:
            for mention in typed_mentions(message):
                if mentionable(platform, mention.written[1:]):
                    where = located(loaded, mention, "")
                    yield _Asked(platform, mention.written[1:], f"message '{message.id}'", where)
