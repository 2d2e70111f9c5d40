"""Pre-filled message links: one builder per platform, and every link of a campaign.

A link opens the supporter's own composer (or email program) with an ask's text filled in; the
supporter edits and sends it from their own account. The text is rendered exactly as
`kindling preview` renders asks (`bot.compose.renderings.render_asks`), so the length that
`kindling check` counted is the length of the text in the link.

Encoding: the text is NFC-normalised (Welsh ŵ and ŷ stay one code point whatever the input),
then every query parameter is percent-encoded with `urllib.parse.quote(s, safe="")`: `#`, `&`,
`+`, `%`, `/`, newlines and emoji can never end or split a parameter. Intent links keep a line
break as `%0A`; `mailto:` links follow RFC 6068 (`%20` for a space, never `+`; line breaks as
`%0D%0A`).

Mastodon has no central site: the link goes to the supporter's own server, which only the
supporter's browser knows. `AskLink.url` is None for Mastodon; `mastodon_share_path` gives the
part after the host, and `intent_url("mastodon", text, instance=...)` the whole link once the
instance is known (validated as a bare host name).
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from bot.campaign.loader import LoadedCampaign
from bot.campaign.model import Ask, Target
from bot.compose.renderings import Rendering, render_asks
from bot.compose.templates import Templates
from bot.problems import ProblemsFound, excerpt

INTENT_BASES = {
    "x": "https://x.com/intent/tweet?text=",
    "bluesky": "https://bsky.app/intent/compose?text=",
    "threads": "https://www.threads.com/intent/post?text=",
}
LINK_PLATFORMS = ("x", "bluesky", "mastodon", "threads", "email")
TOKEN_LENGTH = 16

# A host name: dot-separated labels of letters, digits and inner hyphens, the last one starting
# with a letter (so no IP addresses), at most 253 characters. Nothing else: no scheme, port,
# path, user, or leading slashes.
_HOST = re.compile(
    r"(?=[a-z0-9.-]{1,253}\Z)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
)
_LOCAL_PART = re.compile(r"[^@\s,;:<>()\[\]\\\"]{1,64}")
_NEWLINES = re.compile(r"\r\n|\r|\n")


def _param(value: str) -> str:
    return quote(unicodedata.normalize("NFC", value), safe="")


def mastodon_instance(value: str) -> str:
    """`value` as a bare host name (lower case, IDNA-encoded), or ValueError.

    Accepts `mastodon.social`, `Social.Example.org`, `bücher.example`; refuses anything that is
    not only a host: `evil.example/path`, `//x`, `user@host`, `https://host`, `host:443`, '' .
    """
    if not isinstance(value, str) or not value:
        raise ValueError("a Mastodon server name is required, e.g. mastodon.social")
    host = value.lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(
                f"'{excerpt(value)}' is not a server name such as mastodon.social"
            ) from None
    if not _HOST.fullmatch(host):
        raise ValueError(
            f"'{excerpt(value)}' is not a server name such as mastodon.social "
            "(only the name: no https://, no path, no @user)"
        )
    return host


def mastodon_share_path(text: str) -> str:
    """The path and query of a Mastodon share link, to append to `https://{instance}`."""
    return "/share?text=" + _param(_NEWLINES.sub("\n", text))


def _mailto(text: str, email: str | None, subject: str | None) -> str:
    address = ""
    if email is not None:
        local, at, domain = email.rpartition("@")
        if not at or not _LOCAL_PART.fullmatch(local):
            raise ValueError(f"'{excerpt(email)}' is not one email address")
        try:
            mastodon_instance(domain)  # the same host-name rule
        except ValueError:
            raise ValueError(f"'{excerpt(email)}' is not one email address") from None
        address = quote(unicodedata.normalize("NFC", email), safe="@")
    fields = []
    if subject:
        fields.append("subject=" + _param(_NEWLINES.sub(" ", subject)))
    fields.append("body=" + _param(_NEWLINES.sub("\r\n", text)))
    return f"mailto:{address}?{'&'.join(fields)}"


def intent_url(
    platform: str,
    text: str,
    *,
    email: str | None = None,
    subject: str | None = None,
    instance: str | None = None,
) -> str:
    """The link that opens `platform`'s composer with `text` filled in.

    `instance` (Mastodon only, required there) is the supporter's server; `email` and
    `subject` are for `email`. Raises ValueError for an unknown platform or a bad instance or
    address.
    """
    text = unicodedata.normalize("NFC", text)
    if platform in INTENT_BASES:
        return INTENT_BASES[platform] + _param(_NEWLINES.sub("\n", text))
    if platform == "mastodon":
        if instance is None:
            raise ValueError("a Mastodon link needs the supporter's server (instance)")
        return f"https://{mastodon_instance(instance)}{mastodon_share_path(text)}"
    if platform == "email":
        return _mailto(text, email, subject)
    raise ValueError(f"unknown platform {platform!r} (known: {', '.join(LINK_PLATFORMS)})")


def link_token(
    campaign_id: str, target_id: str, ask_id: str, wording: int, platform: str, language: str
) -> str:
    """A stable id for one link: lower-case base32 of sha256(campaign|target|ask|wording|platform|
    language), its first 16 characters (80 bits). Ids cannot contain '|', so keys cannot
    collide by concatenation."""
    key = "|".join((campaign_id, target_id, ask_id, str(wording), platform, language))
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii")[:TOKEN_LENGTH].lower()


@dataclass(frozen=True)
class AskLink:
    campaign_id: str
    target_id: str
    ask_id: str
    wording: int  # 1-based, as in `kindling preview` and `check`
    platform: str
    language: str
    text: str
    url: str | None  # None for Mastodon: the instance is the supporter's
    token: str


def wording_for(ask: Ask, language: str, target: Target, counter: int) -> int:
    """The wording (1-based) to give the `counter`-th supporter who writes to `target`.

    Only the wordings that apply to the target's stance take part. Consecutive counters get
    consecutive ones, so a politician receives each in turn rather than a wall of identical
    text; each (ask, target) starts at its own stable offset, so supporters writing to
    different targets at once do not all get the same wording. The number returned is the
    wording's place in the ask's whole list for `language`, whatever the target's stance.
    """
    numbers = ask.wordings_for(language, target.stance)
    if not numbers:
        stance = f"stance '{target.stance}'" if target.stance else "no stance"
        raise ValueError(
            f"ask '{ask.id}' has no wordings in '{language}' for target '{target.id}' ({stance})"
        )
    seed = hashlib.sha256(f"{ask.id}|{target.id}".encode()).digest()
    offset = int.from_bytes(seed[:8], "big") % len(numbers)
    return numbers[(offset + counter) % len(numbers)]


def _checked_renderings(loaded: LoadedCampaign, templates: Templates) -> list[Rendering]:
    """The asks' renderings; ProblemsFound with what `kindling check` would report, or for
    duplicate target ids."""
    renderings, problems = render_asks(loaded, templates)
    seen: set[str] = set()
    for target in loaded.campaign.targets:
        if target.id in seen:
            problems.append(loaded.problem(target, ("id",), f"duplicate target id '{target.id}'"))
        seen.add(target.id)
    if problems:
        raise ProblemsFound(sorted(set(problems)))
    return renderings


def ask_links(
    loaded: LoadedCampaign, templates: Templates, *, rotate_from: int = 0
) -> list[AskLink]:
    """Every (target, ask wording, platform, language) where the target has a handle there and
    the wording applies to the target's stance.

    Ordered by target, ask, language and platform (campaign order); within each, the wordings
    start with `wording_for(ask, language, target, rotate_from)` and go round from there, so the
    first link of each group is the one to offer next. Raises `ProblemsFound` with the located
    problems `kindling check` reports (a template error, a text over its platform's limit) or
    for duplicate target ids: nothing is exported from a campaign that does not pass.
    """
    campaign = loaded.campaign
    renderings = _checked_renderings(loaded, templates)
    targets = {target.id: target for target in campaign.targets}
    target_order = {target.id: index for index, target in enumerate(campaign.targets)}
    asks = {ask.id: ask for ask in campaign.asks}
    ask_order = {ask.id: index for index, ask in enumerate(campaign.asks)}
    language_order = {language: index for index, language in enumerate(campaign.languages)}
    keyed: list[tuple[tuple[int, ...], AskLink]] = []
    for rendering in renderings:
        assert rendering.target is not None and rendering.wording is not None
        target = targets[rendering.target]
        ask = asks[rendering.id]
        language, platform = rendering.language, rendering.platform
        url = None
        if platform != "mastodon":
            subject = campaign.name.get(language) or campaign.name.get(campaign.primary_language)
            url = intent_url(platform, rendering.text, email=target.handles.email, subject=subject)
        link = AskLink(
            campaign.id, target.id, ask.id, rendering.wording, platform, language,
            rendering.text, url,
            link_token(campaign.id, target.id, ask.id, rendering.wording, platform, language),
        )  # fmt: skip
        platforms: list[str] = list(ask.platforms or campaign.ask_platforms)
        # The turn counts among the wordings this target is given, not the whole list.
        numbers = ask.wordings_for(language, target.stance)
        first = numbers.index(wording_for(ask, language, target, rotate_from))
        turn = (numbers.index(rendering.wording) - first) % len(numbers)
        key = (
            target_order[target.id],
            ask_order[ask.id],
            language_order.get(language, len(language_order)),
            platforms.index(platform),
            turn,
        )
        keyed.append((key, link))
    keyed.sort(key=lambda pair: pair[0])
    links = [link for _, link in keyed]
    tokens = {link.token for link in links}
    if len(tokens) != len(links):  # 80 bits: not expected in practice, but never ambiguous
        raise ValueError("two links share a token; rename a target or an ask")
    return links
