"""The cards' logo: a file the campaign names, so read only from inside the campaign's folder."""

from __future__ import annotations

from bot.campaign.confine import Refused, is_file
from bot.campaign.loader import LoadedCampaign
from bot.cards.images import read_limited
from bot.problems import PATH_CHARS, excerpt


def logo_bytes(loaded: LoadedCampaign) -> tuple[bytes | None, str | None]:
    """The logo's bytes, or why it cannot be used (None, None: the campaign has no logo)."""
    name = loaded.campaign.cards.logo
    if name is None:
        return None, None
    shown = excerpt(name, PATH_CHARS)
    try:
        path = loaded.file_named(name)
    except Refused as refused:
        return None, f"logo file '{shown}' {refused.message}"
    if not is_file(path):
        return None, f"logo file '{shown}' not found (paths are relative to the campaign file)"
    try:
        return read_limited(path), None
    except OSError as exc:
        return None, f"logo file '{shown}' cannot be read: {exc.strerror or 'unreadable'}"
