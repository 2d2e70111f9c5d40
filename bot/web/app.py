"""`kindling serve`: the ASGI application (Starlette pages, a lean `/go/` path), its start-up,
campaign reloads and shutdown.

    app = create_app(config, WebOptions(postcodes=Path("postcodes.csv")))
    uvicorn.run(app, host="127.0.0.1", port=8000, access_log=False)

Routes: `/` the campaigns, `/{campaign}` an action page (`?lang=cy|en`, `constituency`,
`region`, `q`, `postcode`), `/graphics/{hash}.{ext}` a card or campaign image of the page's
"share a graphic" section (bot/web/graphics.py: made at load, cached a year, unknown names 404),
`/go/{token}` the click-recording redirect, `/healthz` ok or not
(bot/web/health.py), `/static/` the stylesheet and the Mastodon picker script. No route sets a
cookie; over HTTPS (or from a trusted proxy saying so) every answer carries
Strict-Transport-Security.
Campaign files are watched every `reload_seconds`: a valid change is served (its links written
to the database first), an invalid one is logged and the last good version stays.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Mapping, MutableMapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.campaign.loader import LoadedCampaign
from bot.campaign.model import Campaign
from bot.checks.registry import CampaignRegistry
from bot.checks.run import image_cache
from bot.compose.links import AskLink, ask_links
from bot.compose.templates import Templates
from bot.config import Config, WebSettings
from bot.engagement.recorded import first_answers
from bot.problems import ProblemsFound
from bot.store.engine import Store
from bot.web.finder import Finder, PostcodeTable, load_postcode_table
from bot.web.go import BENCH_PREFIX, PREFIX, ClientHasher, GoEndpoint, RateLimiter, page_headers
from bot.web.graphics import CampaignGraphics, GraphicFiles, build_graphics
from bot.web.health import Health
from bot.web.linkset import CampaignLinks, GoLink, sync_links
from bot.web.pages import UI_LANGUAGES, CampaignView, Pages, load_translations
from bot.web.server import TESTED_UVICORN, GoShortcut, HttpLimits
from bot.web.writer import ClickWriter

log = logging.getLogger("kindling.web")
RESERVED_PATHS = {
    "go",
    "go-unrecorded",
    "graphics",
    "healthz",
    "static",
    "favicon.ico",
    "robots.txt",
}
STATIC_DIR = Path(__file__).with_name("static")
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "web"


@dataclass(frozen=True)
class WebOptions:
    rate_limit: int = 30  # clicks recorded per client per window; 0: no limit (benchmarks)
    rate_window_seconds: float = 600.0
    postcodes: Path | None = None  # see bot.web.postcodes for the format
    pairings: Path | None = None
    reload_seconds: float = 5.0  # 0: never reload
    templates: Path | None = None  # default: <templates>/web, else the repository's templates/web
    benchmark_routes: bool = False  # adds /go-unrecorded/{token}: the redirect without a click


ANSWERED_SECONDS = 60.0  # how long the action page's "answered" marks are reused


class WebState:
    """Everything the running server holds; replaced parts are swapped whole, never mutated."""

    def __init__(self, config: Config, options: WebOptions, store: Store) -> None:
        self.config = config
        self.options = options
        self.store = store
        self.writer = ClickWriter(store)
        self.registry = CampaignRegistry(config)
        self.postcodes: PostcodeTable | None = (
            load_postcode_table(options.postcodes, options.pairings) if options.postcodes else None
        )
        self.translations = {language: load_translations(language) for language in UI_LANGUAGES}
        self.campaigns: dict[str, CampaignView] = {}
        self.links: dict[str, GoLink] = {}
        self.graphics = GraphicFiles(lambda: [v.graphics for v in self.campaigns.values()])
        self._views = itertools.count()
        self._answered: dict[str, tuple[float, dict[str, str]]] = {}  # campaign -> (read at, marks)
        self._reloader: asyncio.Task | None = None
        templates = options.templates or self.config.templates_dir / "web"
        self.pages = Pages(self, templates if templates.is_dir() else DEFAULT_TEMPLATES)
        self.go = GoEndpoint(
            lambda: self.links,
            self.writer,
            ClientHasher(),
            RateLimiter(options.rate_limit, options.rate_window_seconds),
            self.pages.go_page,
        )
        self.health = Health(self, details_for_everyone=config.settings.web.healthz_details)

    def next_view(self) -> int:
        return next(self._views)

    async def answered(self, campaign: Campaign) -> Mapping[str, str]:
        """Target id -> the link of its first response, where the organiser turned
        `listen.show_answered` on (else none); read from the database at most once a minute."""
        if not campaign.listen.show_answered:
            return {}
        now = time.monotonic()
        cached = self._answered.get(campaign.id)
        if cached is None or now - cached[0] >= ANSWERED_SECONDS:
            found = await asyncio.to_thread(first_answers, self.store, campaign.id)
            cached = self._answered[campaign.id] = (now, found)
        return cached[1]

    async def start(self) -> None:
        # As the daemon does: a new SQLite file gets the migrations, an outdated database is
        # refused (DatabaseNotReady says to run `kindling db upgrade`), never changed behind the
        # operator's back; `kindling serve` checks this before starting, so this is quick.
        await asyncio.to_thread(self.store.require_migrated)
        self.writer.start()
        await self.refresh(initial=True)
        if self.options.reload_seconds > 0:
            self._reloader = asyncio.create_task(self._reload_loop())

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def stop(self) -> None:
        if self._reloader is not None:
            self._reloader.cancel()
            with suppress(asyncio.CancelledError):
                await self._reloader
        await asyncio.to_thread(self.writer.stop)
        self.store.dispose()

    async def refresh(self, *, initial: bool = False) -> None:
        """(Re)load campaigns and links; the links are committed before they are served."""
        if initial:
            problems = await asyncio.to_thread(self.registry.load)
            for problem in problems:
                log.error("campaign not served: %s", problem)
        elif not await asyncio.to_thread(self.registry.reload):
            return
        views, links = await asyncio.to_thread(self._build)
        inserted, updated = await self.writer.run(lambda c: sync_links(c, links))
        self.links = {link.token: GoLink.from_ask_link(link) for link in links}
        self.campaigns = views
        log.info(
            "serving %d campaign(s), %d links (%d new, %d changed)",
            len(views),
            len(links),
            inserted,
            updated,
        )

    def _build(self) -> tuple[dict[str, CampaignView], list[AskLink]]:
        templates = Templates(self.config.templates_dir, self.config.settings.limits)
        views: dict[str, CampaignView] = {}
        links: list[AskLink] = []
        for active in self.registry.campaigns():
            campaign = active.loaded.campaign
            if campaign.id in views or campaign.id in RESERVED_PATHS:
                log.error("campaign id '%s' is already served or reserved: skipped", campaign.id)
                continue
            try:
                campaign_links = ask_links(active.loaded, templates)
            except (ProblemsFound, ValueError) as exc:
                log.error(
                    "campaign '%s' has no usable links, keeping the last: %s", campaign.id, exc
                )
                previous = self.campaigns.get(campaign.id)
                if previous is not None:
                    views[campaign.id] = previous
                    links.extend(previous.links.links)
                continue
            views[campaign.id] = CampaignView(
                campaign,
                CampaignLinks(active.loaded, campaign_links),
                Finder(campaign, self.postcodes),
                self._graphics(active.loaded),
            )
            links.extend(campaign_links)
        return views, links

    def _graphics(self, loaded: LoadedCampaign) -> CampaignGraphics:
        """The campaign's graphics, made now (or found made) in the image cache: never per
        request. The same campaign as before keeps the graphics it had."""
        previous = self.campaigns.get(loaded.campaign.id)
        if previous is not None and previous.campaign is loaded.campaign:
            return previous.graphics
        return build_graphics(loaded, image_cache(self.config))

    async def _reload_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.reload_seconds)
            try:
                await self.refresh()
            except Exception:
                log.exception("campaign reload failed; still serving the last good version")


class _WithHeaders:
    """An ASGI `send` that adds `headers` to the response start (those it does not set)."""

    __slots__ = ("headers", "send")

    def __init__(self, send: Any, headers: list[tuple[bytes, bytes]]) -> None:
        self.send = send
        self.headers = headers

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            given = message.get("headers", [])
            names = {name for name, _ in given}
            extra = [(k, v) for k, v in self.headers if k not in names]
            message = {**message, "headers": [*given, *extra]}
        await self.send(message)


class KindlingApp:
    """The ASGI callable: `/go/` straight to its lean endpoint, everything else to Starlette
    with the pages' security headers. Carries what Kindling's HTTP protocol reads from the app
    it serves (bot/web/server.py): `http_limits` and the `/go/` shortcut."""

    def __init__(self, web: WebState, starlette: Starlette) -> None:
        self.web = web
        self.starlette = starlette
        self._bench = web.options.benchmark_routes
        self.settings = web.config.settings.web
        self.http_limits = HttpLimits.from_settings(self.settings)
        hsts = self.http_limits.hsts
        self._hsts = [hsts] if hsts else []
        self.go_shortcut = GoShortcut(web.go, benchmark_routes=self._bench, hsts=hsts)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.starlette(scope, receive, send)
            return
        if self._hsts and scope.get("scheme") == "https":
            send = _WithHeaders(send, self._hsts)
        path = scope["path"]
        if path.startswith(PREFIX):
            await self.web.go(scope, receive, send)
        elif self._bench and path.startswith(BENCH_PREFIX):
            await self.web.go(scope, receive, send, record=False)
        else:
            await self.starlette(scope, receive, _WithHeaders(send, page_headers()))

    def uvicorn_options(self, host: str, port: int, **overrides: Any) -> dict[str, Any]:
        """How `kindling serve` runs this app under uvicorn (tests and benchmarks use the same).

        No access log: URLs carry postcodes and Mastodon servers. No server header, no
        websockets. Proxy headers read from the addresses uvicorn trusts (FORWARDED_ALLOW_IPS,
        default 127.0.0.1 and ::1), so the rate limit sees the supporter, not the proxy. uvloop
        when installed (uvicorn's "auto"). Kindling's protocol with its limits and the `/go/`
        shortcut, or uvicorn's h11 where it cannot be used (bot/web/server.py).
        log_config=None keeps Kindling's own log format."""
        options: dict[str, Any] = {
            "host": host,
            "port": port,
            **protocol_options(self.settings),
            "ws": "none",
            "access_log": False,
            "server_header": False,
            "proxy_headers": True,
            "log_config": None,
        }
        return {**options, **overrides}


def protocol_options(settings: WebSettings) -> dict[str, Any]:
    """uvicorn's `http` and limit options: Kindling's protocol on the tested uvicorn, else
    uvicorn's h11 protocol with its own limits (after one warning)."""
    protocol = kindling_protocol()
    if protocol is None:
        return {
            "http": "h11",
            "timeout_keep_alive": settings.keep_alive_seconds,
            "limit_concurrency": settings.max_connections,
            "h11_max_incomplete_event_size": settings.max_request_line_bytes
            + settings.max_header_bytes,
        }
    return {"http": protocol, "timeout_keep_alive": settings.keep_alive_seconds}


def kindling_protocol() -> type | None:
    """GoProtocol when the installed uvicorn is `TESTED_UVICORN` and httptools is there."""
    import uvicorn

    if uvicorn.__version__ != TESTED_UVICORN:
        log.warning(
            "uvicorn %s is installed, but Kindling's HTTP protocol (its connection limits and "
            "the /go/ shortcut) was written and tested for uvicorn %s: serving every request "
            "through uvicorn's h11 protocol and its own limits instead (pip install uvicorn==%s)",
            uvicorn.__version__,
            TESTED_UVICORN,
            TESTED_UVICORN,
        )
        return None
    try:  # here, not at the top: without httptools this module still serves (through h11)
        from bot.web.go_protocol import GoProtocol
    except ImportError:
        log.warning(
            "httptools is not installed: serving every request through uvicorn's h11 "
            "protocol and its own limits (pip install httptools)"
        )
        return None
    return GoProtocol


def create_app(
    config: Config, options: WebOptions | None = None, *, store: Store | None = None
) -> KindlingApp:
    options = options or WebOptions()
    web = WebState(config, options, store or Store(config.database))
    pages = web.pages
    starlette = Starlette(
        routes=[
            Route("/", pages.index),
            Route("/healthz", web.health.endpoint),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
            Route("/graphics/{name}", web.graphics.endpoint, methods=["GET", "HEAD"]),
            Route("/{campaign}", pages.campaign),
        ],
        exception_handlers={404: pages.not_found},
        lifespan=web.lifespan,
    )
    return KindlingApp(web, starlette)
