"""The IANA time zone type shared by the settings and the campaign model.

It lives at the bottom layer so that bot/config.py needs no campaign type and bot/campaign/
needs no setting: both validate a zone name the same way, with the same message.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

from bot.problems import excerpt


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    # OSError: with the tzdata package installed, a name too long for a file name is looked up
    # as a file and fails as one.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"'{excerpt(value)}' is not an IANA time zone (e.g. Europe/London, Europe/Dublin)"
        ) from None
    return value


Timezone = Annotated[str, AfterValidator(check_timezone)]
