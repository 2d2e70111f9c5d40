"""A small fictional campaign served by the real application, and helpers to inspect the clicks."""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Config, PathsSettings, Secrets, Settings, WebSettings
from bot.store.engine import Store
from bot.store.tables import ClickRow
from bot.web import KindlingApp, WebOptions, create_app

with warnings.catch_warnings():  # starlette asks for httpx2; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

# Every person, handle and address here is made up.
DEMO_CAMPAIGN = """\
    id: demo
    name: {cy: "Ymgyrch Ffug <b>Dros</b> Dŵr", en: "A Made-up Campaign for Water"}
    languages: [cy, en]
    timezone: Europe/London
    active: {start: 2026-12-01, end: 2027-01-31}
    links: {letter: "https://example.org/letter?a=1&b=2"}
    hashtags: [DŵrGlân]
    summary:
      cy: "Crynodeb <script>alert('cy')</script> ŵ ŷ"
      en: "A summary <script>alert('en')</script>"
    requests:
      - {cy: "Cais cyntaf", en: "First request"}
    quote_pools:
      - id: quotes
        quotes:
          - id: q1
            who: Person Ffug
            role: {cy: Cadeirydd, en: Chair}
            text: {cy: "Dyfyniad <img src=x onerror=alert(1)>", en: "A quote <img src=x onerror=alert(1)>"}
            source: made up
    supporters:
      - name: "Grŵp Ffug"
        url: https://example.org/group
      - name: {cy: "Cymdeithas", en: "Society"}
      - name: Third Supporter
    targets:
      - id: sian
        name: "Siân Ŵyn"
        role: Member of the Senedd
        constituency: Caerdydd Penarth
        handles: {x: sian_ffug, bluesky: sian.ffug.example, mastodon: sian@social.ffug.example, email: sian@senedd.ffug.example}
      - id: bob
        name: "Bob Ffug"
        role: Member of the Senedd
        constituency: Caerdydd Penarth
        handles: {x: bob_ffug, bluesky: bob.ffug.example}
      - id: ceri
        name: "Ceri Ffug"
        role: Member of the Senedd
        constituency: Gŵyr Abertawe
        handles: {bluesky: ceri.ffug.example}
      - id: gov
        name: "Llywodraeth Ffug"
        handles: {x: llyw_ffug, bluesky: llyw.ffug.example}
    ask_platforms: [x, bluesky, mastodon, email]
    asks:
      - id: ask-water
        wordings:
          cy:
            - "{{ handle or target.name }}, cefnogwch ddŵr glân #1 & mwy: {{ link }} {{ hashtags | tags }}"
            - "{{ handle or target.name }}, mae dŵr glân yn bwysig: {{ link }}"
          en:
            - "{{ handle or target.name }}, back clean water #1 & more: {{ link }} {{ hashtags | tags }}"
            - "{{ handle or target.name }}, clean water matters: {{ link }}"
      - id: ask-rivers
        wordings:
          cy: ["{{ handle or target.name }}, achubwch ein hafonydd: {{ link }}"]
          en: ["{{ handle or target.name }}, save our rivers: {{ link }}"]
      - id: ask-sea
        wordings:
          cy: ["{{ handle or target.name }}, glanhewch y môr: {{ link }}"]
          en: ["{{ handle or target.name }}, clean up the sea: {{ link }}"]
    """
OTHER_CAMPAIGN = """\
    id: other
    name: {en: "Another Campaign"}
    languages: [en]
    active: {start: 2026-12-01, end: 2027-01-31}
    links: {site: "https://example.org/other"}
    targets:
      - id: dana
        name: Dana Ffug
        constituency: Somewhere
        handles: {bluesky: dana.ffug.example}
    ask_platforms: [bluesky]
    asks:
      - id: ask-other
        wordings: {en: ["{{ handle }}, hello: {{ link }}"]}
    """
POSTCODES = """\
    postcode,westminster
    CF10 1AA,Cardiff South and Penarth
    CF11,Cardiff West
    SA1 8,Swansea West
    """


def make_config(root: Path, **web: object) -> Config:
    """The demo project's settings; `web` sets `[web]` settings (bot.config.WebSettings)."""
    paths = PathsSettings(
        campaigns=str(root / "campaigns"),
        templates=str(root / "templates"),
        data=str(root / "data"),
    )
    settings = Settings(paths=paths, web=WebSettings.model_validate(web))
    return Config(settings, root, Secrets({}))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("KINDLING_DATABASE_URL", raising=False)
    for name, text in (
        ("campaigns/demo.yaml", DEMO_CAMPAIGN),
        ("campaigns/other.yaml", OTHER_CAMPAIGN),
        ("postcodes.csv", POSTCODES),
    ):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    (tmp_path / "templates").mkdir()
    return tmp_path


@pytest.fixture
def options(project: Path) -> WebOptions:
    return WebOptions(postcodes=project / "postcodes.csv", reload_seconds=0)


@pytest.fixture
def app(project: Path, options: WebOptions) -> KindlingApp:
    return create_app(make_config(project), options)


@pytest.fixture
def client(app: KindlingApp) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def clicks(app: KindlingApp) -> Callable[[], list[ClickRow]]:
    """Every click row, read through SQLAlchemy (so dates go through the model's types)."""

    def read() -> list[ClickRow]:
        store = Store(app.web.store.url)
        try:
            with store.read() as session:
                return list(session.scalars(select(ClickRow).order_by(ClickRow.id)))
        finally:
            store.dispose()

    return read


def token_for(app: KindlingApp, **fields: object) -> str:
    """The token of the served link matching every given field (campaign_id, platform, ...)."""
    for token, link in app.web.links.items():
        if all(getattr(link, name) == value for name, value in fields.items()):
            return token
    raise AssertionError(f"no link with {fields}")


async def _asgi_get(app: KindlingApp, path: str, headers: list[tuple[bytes, bytes]]) -> dict:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("192.0.2.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return {
        "status": start["status"],
        "headers": {k.decode(): v.decode() for k, v in start["headers"]},
    }


def raw_get(
    client: TestClient, path: str, headers: list[tuple[bytes, bytes]] | None = None
) -> dict:
    """GET through the running app without httpx (which cannot hold a mailto: Location)."""
    return client.portal.call(_asgi_get, client.app, path, headers or [])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives headless Debian Chromium (/usr/bin/chromium) with Playwright"
    )
