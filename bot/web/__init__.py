"""The supporter action page and the click-recording redirect (`kindling serve`)."""

from bot.web.app import KindlingApp, WebOptions, create_app

__all__ = ["KindlingApp", "WebOptions", "create_app"]
