"""The HTML pages: campaign list, a campaign's action page, the Mastodon form and error pages.

Templates are `templates/web/*.html` (Jinja2, autoescaped: campaign data and query strings are
text, never markup). Campaign content is shown in the page's language where the campaign has it,
in its first language otherwise, and every such piece carries its own `lang` attribute.

The fixed interface text is translated with gettext: `bot/web/locale/{cy,en}/LC_MESSAGES/
kindling.po`, compiled in memory when the server starts (Babel reads the .po and writes a .mo to
a buffer, which Python's gettext reads), so no compiled file is kept in git to drift from its
source. Welsh has six plural forms:

    Plural-Forms: nplurals=6; plural=(n==0) ? 0 : (n==1) ? 1 : (n==2) ? 2 : (n==3) ? 3 :
                  (n==6) ? 4 : 5;

(Babel's own rule for `cy` has five and folds 0 into "other": the header in cy/kindling.po is
the one used.) To add a message, mark it in a template with `{{ _("...") }}` or
`{{ ngettext(...) }}` (or in Python with `N_`), and add its msgid and translation to both .po
files; the tests fail for any interface string without a Welsh translation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from gettext import GNUTranslations
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bot.campaign.model import Campaign

# Shared with the HTML report; re-exported for the web's callers (app.py, tests/web).
from bot.translations import catalog_path as catalog_path
from bot.translations import load_translations as load_translations
from bot.web.finder import Finder
from bot.web.graphics import CampaignGraphics
from bot.web.linkset import CampaignLinks, GoLink

UI_LANGUAGES = ("cy", "en")
LANGUAGE_NAMES = {"cy": "Cymraeg", "en": "English"}


@dataclass(frozen=True)
class Languages:
    """The interface languages a page offers, in the campaign's order (Welsh first if it is)."""

    current: str
    offered: tuple[str, ...]


def choose_language(requested: str | None, campaign_languages: list[str] | None) -> Languages:
    """`?lang=` if the page offers it, else the campaign's first language, else Welsh."""
    order = [lang for lang in campaign_languages or [] if lang in UI_LANGUAGES]
    for language in UI_LANGUAGES:
        if language not in order:
            order.append(language)
    offered = tuple(order)
    current = requested if requested in offered else offered[0]
    return Languages(current, offered)


@dataclass(frozen=True)
class CampaignView:
    """A served campaign: its model, its links, its target finder."""

    campaign: Campaign
    links: CampaignLinks
    finder: Finder
    graphics: CampaignGraphics = field(default_factory=CampaignGraphics)


class PageSource(Protocol):
    """What the pages show (bot.web.app.WebState): campaigns and their view counter."""

    translations: dict[str, GNUTranslations]

    @property
    def campaigns(self) -> dict[str, CampaignView]: ...

    def next_view(self) -> int: ...

    async def answered(self, campaign: Campaign) -> Mapping[str, str]: ...


def N_(message: str) -> str:  # the gettext convention: marked here, translated when shown
    return message


PLATFORM_LABELS = {
    "x": N_("Post on X"),
    "bluesky": N_("Post on Bluesky"),
    "mastodon": N_("Post on Mastodon"),
    "threads": N_("Post on Threads"),
    "email": N_("Send an email"),
}
MESSAGES = {
    "not_found": (
        N_("Page not found"),
        N_("There is nothing at this address. The link may be old or mistyped."),
    ),
    "unavailable": (
        N_("Please try again"),
        N_(
            "We could not record your click just now, so we have not sent you on. "
            "Please go back and press the button again."
        ),
    ),
}
HOME = N_("See the campaigns")


@dataclass(frozen=True)
class Text:
    """A piece of campaign content and the language it is in."""

    text: str
    lang: str


def localise(value: str | dict[str, str] | None, lang: str, primary: str) -> Text | None:
    if value is None:
        return None
    if isinstance(value, str):
        return Text(value, lang)
    for language in (lang, primary, *value):
        if value.get(language):
            return Text(value[language], language)
    return None


class Pages:
    def __init__(self, web: PageSource, templates_dir: Path) -> None:
        self.web = web
        self.translations: dict[str, GNUTranslations] = web.translations
        self.envs: dict[str, Environment] = {}
        self._messages: dict[str, str] = {}
        for language in UI_LANGUAGES:
            env = Environment(
                loader=FileSystemLoader(str(templates_dir)),
                autoescape=select_autoescape(default=True, default_for_string=True),
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
            )
            env.install_gettext_translations(self.translations[language], newstyle=True)  # type: ignore[attr-defined]
            env.globals["language_names"] = LANGUAGE_NAMES
            self.envs[language] = env

    def render(self, template: str, lang: Languages, **context: Any) -> str:
        gettext = self.translations[lang.current].gettext
        context.setdefault("platform_labels", {k: gettext(v) for k, v in PLATFORM_LABELS.items()})
        return self.envs[lang.current].get_template(template).render(lang=lang, **context)

    def message(self, kind: str) -> str:
        """A page in both languages (Welsh first): for answers that belong to no campaign."""
        cached = self._messages.get(kind)
        if cached is None:
            cached = self._messages[kind] = self._message(kind)
        return cached

    def _message(self, kind: str) -> str:
        title, text = MESSAGES[kind]
        sections = [
            {
                "lang": language,
                "title": self.translations[language].gettext(title),
                "text": self.translations[language].gettext(text),
                "home": self.translations[language].gettext(HOME),
            }
            for language in UI_LANGUAGES
        ]
        return self.render(
            "message.html", Languages(UI_LANGUAGES[0], UI_LANGUAGES), sections=sections
        )

    # -- routes -----------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        views = list(self.web.campaigns.values())
        first = views[0].campaign.languages if views else None
        lang = choose_language(request.query_params.get("lang"), first)
        items = [
            {
                "id": view.campaign.id,
                "name": localise(view.campaign.name, lang.current, view.campaign.primary_language),
                "summary": localise(
                    view.campaign.summary, lang.current, view.campaign.primary_language
                ),
            }
            for view in views
        ]
        html = self.render("index.html", lang, campaigns=items, switch_url=_switcher("/", {}))
        return HTMLResponse(html)

    async def campaign(self, request: Request) -> Response:
        view = self.web.campaigns.get(request.path_params["campaign"])
        if view is None:
            return HTMLResponse(self.message("not_found"), status_code=404)
        campaign = view.campaign
        params = request.query_params
        lang = choose_language(params.get("lang"), campaign.languages)
        current, primary = lang.current, campaign.primary_language
        search = view.finder.search(
            constituency=params.get("constituency", ""),
            region=params.get("region", ""),
            query=params.get("q", ""),
            postcode=params.get("postcode", "") if view.finder.postcodes else "",
        )
        ask_language = current if current in campaign.languages else primary
        counter = self.web.next_view()
        shown = [*search.results, *view.finder.everyone]
        blocks = {t.id: view.links.blocks(t.id, ask_language, counter) for t in shown}
        kept = {
            key: value
            for key, value in {
                "constituency": search.constituency,
                "region": search.region,
                "q": search.query,
                "postcode": search.postcode,
            }.items()
            if value
        }
        html = self.render(
            "campaign.html",
            lang,
            name=localise(campaign.name, current, primary),
            summary=localise(campaign.summary, current, primary),
            requests=[localise(item, current, primary) for item in campaign.requests],
            finder=view.finder,
            search=search,
            postcodes=view.finder.postcodes is not None,
            blocks=blocks,
            answered=await self.web.answered(campaign),
            everyone=view.finder.everyone,
            quotes=_quotes(campaign, current, primary),
            graphics=view.graphics.by_language.get(ask_language, []),
            supporters=[
                {"name": localise(s.name, current, primary), "url": s.url}
                for s in campaign.supporters
            ],
            mastodon=any(
                button.platform == "mastodon"
                for target_blocks in blocks.values()
                for block in target_blocks
                for button in block.buttons
            ),
            page_path=f"/{campaign.id}",
            switch_url=_switcher(f"/{campaign.id}", kept),
        )
        return HTMLResponse(html)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return HTMLResponse(self.message("not_found"), status_code=404)

    async def go_page(
        self, status: int, name: str, link: GoLink | None, context: dict[str, Any]
    ) -> bytes:
        """Pages the /go/ endpoint answers with (see `bot.web.go`)."""
        if name in MESSAGES:
            return self.message(name).encode("utf-8")
        assert link is not None
        language = link.language if link.language in UI_LANGUAGES else UI_LANGUAGES[0]
        lang = Languages(language, (language,))
        context.setdefault("confirm", False)
        context.setdefault("error", False)
        return self.render(f"{name}.html", lang, link=link, **context).encode("utf-8")


def _switcher(path: str, kept: dict[str, str]) -> Callable[[str], str]:
    def url(language: str) -> str:
        return f"{path}?{urlencode({**kept, 'lang': language})}"

    return url


def _quotes(campaign: Any, lang: str, primary: str) -> list[dict[str, Any]]:
    quotes = []
    for pool in campaign.quote_pools:
        for quote in pool.quotes:
            credit = [
                localise(part, lang, primary)
                for part in (quote.who, quote.role, quote.organisation)
                if part
            ]
            quotes.append({"text": localise(quote.text, lang, primary), "credit": credit})
    return quotes
