"""Notes for handles that cannot reach anyone on their platform, found without going online.

The campaign model already refuses a handle of the wrong shape (an X handle of 16 characters, a
Bluesky handle without a dot). What it lets through, and what is noted here at the handle's
place: a `did:plc:` that is not 24 characters of a-z and 2-7; an X username with a word X does
not allow in one; a Mastodon address on a server of another network; and an `@mention` typed
into a post's text that the platform would link to nobody, or to someone else (X reads
`@jane.doe.bsky.social` as `@jane`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.campaign.loader import LoadedCampaign
from bot.campaign.model import Message, Target
from bot.problems import Problem, excerpt

_PLC = re.compile(r"did:plc:[a-z2-7]{24}")
_X_FORBIDDEN_WORDS = ("twitter", "admin")  # X refuses usernames containing these
# Servers of other networks: a "Mastodon address" there is a handle for another platform.
_NOT_MASTODON = frozenset({"x.com", "twitter.com", "bsky.social", "bsky.app", "threads.net"})
# An @mention in text: not inside an email address or a longer word.
_MENTION = re.compile(r"(?<![\w@.])@([\w.-]+)")
_X_USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")
_DOMAIN = re.compile(r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*")


def handle_notes(loaded: LoadedCampaign) -> list[Problem]:
    campaign = loaded.campaign
    notes = [note for target in campaign.targets for note in _target_notes(loaded, target)]
    for message in campaign.messages:
        notes += _mention_notes(loaded, message)
    return notes


def _target_notes(loaded: LoadedCampaign, target: Target) -> Iterator[Problem]:
    handles = target.handles
    who = f"target '{target.id}'"
    if (
        handles.bluesky
        and handles.bluesky.startswith("did:plc:")
        and not _PLC.fullmatch(handles.bluesky)
    ):
        yield loaded.problem(
            target,
            ("handles", "bluesky"),
            f"{who}: '{excerpt(handles.bluesky)}' cannot be a Bluesky DID: 'did:plc:' is "
            "followed by 24 characters of a-z and 2-7",
        )
    if handles.x and any(word in handles.x.lower() for word in _X_FORBIDDEN_WORDS):
        yield loaded.problem(
            target,
            ("handles", "x"),
            f"{who}: X does not allow 'Twitter' or 'Admin' in a username, so "
            f"'{excerpt(handles.x)}' cannot be an X account",
        )
    if handles.mastodon and handles.mastodon.rsplit("@", 1)[-1].lower() in _NOT_MASTODON:
        server = handles.mastodon.rsplit("@", 1)[-1]
        yield loaded.problem(
            target,
            ("handles", "mastodon"),
            f"{who}: '{excerpt(handles.mastodon)}' is not a Mastodon address: {server} is not "
            "a Mastodon server (is it the handle for another platform?)",
        )


@dataclass(frozen=True)
class TypedMention:
    """An `@mention` typed into a message's text: `skip` earlier ones are written the same."""

    message: Message
    path: tuple[str | int, ...]
    written: str  # with its '@'
    skip: int


def typed_mentions(message: Message) -> Iterator[TypedMention]:
    """The mentions typed into the message's texts and thread (not printed by `{{ … }}`)."""
    texts: list[tuple[tuple[str | int, ...], str]] = [
        (("text", language), text) for language, text in (message.text or {}).items()
    ]
    for index, reply in enumerate(message.thread):
        texts += [(("thread", index, language), text) for language, text in reply.items()]
    for path, text in texts:
        seen: dict[str, int] = {}
        for match in _MENTION.finditer(text):
            written = match.group(0).rstrip(".-")
            skip = seen.get(written, 0)
            seen[written] = skip + 1
            yield TypedMention(message, path, written, skip)


def located(loaded: LoadedCampaign, mention: TypedMention, message: str) -> Problem:
    """`message` at the mention itself, or at its text when it cannot be found there."""
    file, line, col = loaded.where(mention.message, mention.path)
    found = loaded.find_written(mention.message, (line, col), mention.written, mention.skip)
    if found is None:
        return loaded.problem(mention.message, mention.path, message)
    return Problem(file, found[0], found[1], message)


def _mention_notes(loaded: LoadedCampaign, message: Message) -> list[Problem]:
    platforms = message.platforms or loaded.campaign.platforms
    notes = []
    for mention in typed_mentions(message):
        name = mention.written[1:]
        reasons = [r for p in platforms if (r := _unreachable(p, name)) is not None]
        if reasons:
            text = f"message '{message.id}' mentions '{excerpt(mention.written)}': "
            notes.append(located(loaded, mention, text + "; ".join(reasons)))
    return notes


def mentionable(platform: str, name: str) -> bool:
    """Whether `@name` in a text can mention an account on `platform`."""
    return _unreachable(platform, name) is None


def _unreachable(platform: str, name: str) -> str | None:
    if platform == "x" and not _X_USERNAME.fullmatch(name):
        reached = _X_USERNAME.match(name)
        return (
            f"on X it mentions '@{reached.group(0)}' (X usernames are 1-15 of A-Z, a-z, 0-9 and _)"
            if reached
            else "on X it mentions nobody"
        )
    if platform == "bluesky" and not _DOMAIN.fullmatch(name):
        return (
            "on Bluesky it mentions nobody (a Bluesky mention is a full handle, @name.bsky.social)"
        )
    return None
