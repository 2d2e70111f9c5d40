"""A real browser on the real server: headless Debian Chromium driven by Playwright.

The server is `kindling serve`'s application under uvicorn on 127.0.0.1 (a free port, a fresh
SQLite file, the small fictional campaign of conftest.py). Nothing leaves the machine: every
request to another host is answered by a route handler here (the composer hosts) or aborted and
reported. Screenshots of the page in both languages go to tests/web/artifacts/.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.campaign.loader import load_campaign
from bot.compose.links import ask_links, intent_url
from bot.compose.templates import Templates
from tests.web.conftest import DEMO_CAMPAIGN, OTHER_CAMPAIGN, POSTCODES

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser


def _require_browser() -> None:
    missing = [what for what, ok in (("chromium", Path(CHROMIUM).exists()),) if not ok]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip)")
    if missing:
        message = f"browser test needs {', '.join(missing)} (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    _require_browser()
    root = tmp_path_factory.mktemp("browser")
    for name, text in (
        ("campaigns/demo.yaml", DEMO_CAMPAIGN),
        ("campaigns/other.yaml", OTHER_CAMPAIGN),
        ("postcodes.csv", POSTCODES),
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    (root / "templates").mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "KINDLING_DATABASE_URL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.web.browser_server", str(root), str(port)], cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        yield base, root
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture
def browser_page(server: tuple[str, Path]) -> Iterator[tuple[object, dict[str, list[str]]]]:
    from playwright.sync_api import sync_playwright

    base, _ = server
    seen: dict[str, list[str]] = {"composer": [], "blocked": []}

    def handle(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.startswith(base + "/"):
            route.continue_()
        elif url.startswith(("https://bsky.app/", "https://social.example.org/")):
            seen["composer"].append(url)  # answered here: nothing leaves the machine
            route.fulfill(status=200, content_type="text/html", body="<title>composer</title>")
        else:
            seen["blocked"].append(url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
        context.route("**/*", handle)
        page = context.new_page()
        try:
            yield page, seen
        finally:
            context.close()
            browser.close()
    assert seen["blocked"] == []


def _clicks(root: Path) -> list[tuple]:
    with sqlite3.connect(root / "data" / "kindling.sqlite3") as db:
        return db.execute(
            "SELECT token, campaign_id, target_id, platform, language, client_hash FROM clicks"
        ).fetchall()


def _expected_links(root: Path) -> dict[str, str | None]:
    loaded, problems = load_campaign(root / "campaigns" / "demo.yaml")
    assert loaded is not None and not problems
    return {link.token: link.url for link in ask_links(loaded, Templates(root / "templates"))}


def test_switch_to_welsh_pick_a_constituency_and_post_on_bluesky(browser_page, server):
    page, seen = browser_page
    base, root = server
    ARTIFACTS.mkdir(exist_ok=True)
    before = len(_clicks(root))

    page.goto(f"{base}/demo?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    page.select_option("#constituency", "Caerdydd Penarth")
    page.get_by_role("button", name="Show my politicians").click()
    page.wait_for_selector("#target-sian")
    page.screenshot(path=str(ARTIFACTS / "action-page-en.png"), full_page=True)

    page.get_by_role("link", name="Cymraeg").click()  # the language switch keeps the search
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "cy"
    assert page.locator("#constituency").input_value() == "Caerdydd Penarth"
    page.select_option("#constituency", "Gŵyr Abertawe")
    page.get_by_role("button", name="Dangos fy ngwleidyddion").click()
    page.wait_for_selector("#target-ceri")
    page.select_option("#constituency", "Caerdydd Penarth")
    page.get_by_role("button", name="Dangos fy ngwleidyddion").click()
    page.wait_for_selector("#target-sian")
    assert page.get_by_text("Canfuwyd dau wleidydd").is_visible()
    page.screenshot(path=str(ARTIFACTS / "action-page-cy.png"), full_page=True)

    button = page.locator("#target-sian .ask").first.locator("a.platform-bluesky")
    href = button.get_attribute("href")
    assert href and href.startswith("/go/")
    token = href.removeprefix("/go/")
    expected = _expected_links(root)[token]
    assert expected and expected.startswith("https://bsky.app/intent/compose?text=")
    with page.expect_request(lambda request: request.url.startswith("https://bsky.app/")):
        button.click()
    page.wait_for_url("https://bsky.app/**")
    assert seen["composer"] == [expected]
    assert page.url == expected

    rows = _clicks(root)[before:]
    assert len(rows) == 1
    assert rows[0][:5] == (token, "demo", "sian", "bluesky", "cy")
    assert rows[0][5]  # a salted hash: the browser sent no DNT


def test_the_mastodon_picker_asks_once_and_remembers_in_the_browser(browser_page, server):
    page, seen = browser_page
    base, root = server
    before = len(_clicks(root))
    page.goto(f"{base}/demo?lang=en&q=sian")
    button = page.locator("#target-sian .ask").first.locator("a.platform-mastodon")
    token = button.get_attribute("href").removeprefix("/go/")
    assert page.locator("#mastodon-dialog").is_hidden()
    button.click()
    dialog = page.locator("#mastodon-dialog")
    assert dialog.is_visible()
    page.fill("#mastodon-instance", "https://Social.Example.org/")
    with page.expect_request(lambda request: request.url.startswith("https://social.example.org/")):
        page.get_by_role("button", name="Continue to Mastodon").click()
    page.wait_for_url("https://social.example.org/**")
    text = _mastodon_text(root, token)
    assert seen["composer"][-1] == intent_url("mastodon", text, instance="social.example.org")

    page.goto(f"{base}/demo?lang=en&q=sian")  # remembered: straight through, no dialog
    assert page.evaluate("localStorage.getItem('kindling.mastodon.instance')") == (
        "social.example.org"
    )
    assert page.locator("#mastodon-remembered").is_visible()
    with page.expect_request(lambda request: request.url.startswith("https://social.example.org/")):
        page.locator("#target-sian .ask").first.locator("a.platform-mastodon").click()
    rows = _clicks(root)[before:]
    assert [row[3] for row in rows] == ["mastodon", "mastodon"]


def _mastodon_text(root: Path, token: str) -> str:
    with sqlite3.connect(root / "data" / "kindling.sqlite3") as db:
        return db.execute("SELECT url FROM links WHERE token = ?", (token,)).fetchone()[0]


def test_keyboard_order_starts_with_skip_link_then_language_then_content(browser_page, server):
    page, _ = browser_page
    base, _ = server
    page.goto(f"{base}/demo?constituency=Caerdydd+Penarth")
    focused = []
    for _ in range(4):
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate(
                "(() => { const e = document.activeElement;"
                " return (e.getAttribute('href') || e.id || e.tagName).toString(); })()"
            )
        )
    assert focused == [
        "#main",
        "/demo?constituency=Caerdydd+Penarth&lang=en",
        "#find",
        "constituency",
    ]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # the skip link moves focus to the main content
    assert page.evaluate("document.activeElement.id") == "main"


def test_share_a_graphic_images_load_downloads_are_pngs_and_alt_text_copies(browser_page, server):
    page, _ = browser_page
    base, _ = server
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    for language, heading, copy_label in (
        ("en", "Share a graphic", "Copy the description"),
        ("cy", "Rhannwch graffeg", "Copïwch y disgrifiad"),
    ):
        page.goto(f"{base}/demo?lang={language}")
        section = page.locator("#graphics")
        assert section.get_by_role("heading", name=heading).is_visible()
        image = section.locator("img").first
        image.scroll_into_view_if_needed()  # loading="lazy"
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
        assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [1200, 675]
        alt = image.get_attribute("alt") or ""
        assert alt.startswith("“Dyfyniad" if language == "cy" else "“A quote")
        assert section.locator(".alt-text").first.inner_text() == alt
        downloads = section.locator("a[download]")
        assert downloads.count() == 2
        for index, size in enumerate(((1200, 675), (1080, 1350))):
            link = downloads.nth(index)
            answer = page.request.get(base + (link.get_attribute("href") or ""))
            assert answer.status == 200 and answer.headers["content-type"] == "image/png"
            assert "immutable" in answer.headers["cache-control"]
            assert answer.body()[:8] == b"\x89PNG\r\n\x1a\n"
            assert (
                int.from_bytes(answer.body()[16:20]),
                int.from_bytes(answer.body()[20:24]),
            ) == size
            with page.expect_download() as download:
                link.click()
            assert (
                download.value.suggested_filename
                == f"demo-q1.{language}.{'landscape' if index == 0 else 'portrait'}.png"
            )
        button = section.get_by_role("button", name=copy_label)
        assert button.is_visible()  # the script shows it
        button.click()
        page.wait_for_function("() => !document.querySelector('[data-copied]').hidden")
        assert page.evaluate("navigator.clipboard.readText()") == alt
        share = section.locator("a.platform-bluesky").first.get_attribute("href") or ""
        assert share.startswith("https://bsky.app/intent/compose?text=")
    page.screenshot(path=str(ARTIFACTS / "share-a-graphic-cy.png"), full_page=True)


def test_share_a_graphic_without_scripts_shows_the_alt_text_and_hides_the_copy_button(server):
    from playwright.sync_api import sync_playwright

    base, _ = server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(java_script_enabled=False)
        blocked: list[str] = []

        def handle(route) -> None:  # type: ignore[no-untyped-def]
            if route.request.url.startswith(base + "/"):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", handle)
        page = context.new_page()
        try:
            page.goto(f"{base}/demo?lang=en")
            section = page.locator("#graphics")
            assert section.locator(".alt-text").first.is_visible()
            assert (
                "A quote <img src=x onerror=alert(1)>"
                in section.locator(".alt-text").first.inner_text()
            )
            assert section.locator("button[data-copy]").first.is_hidden()
            assert section.locator("a[download]").count() == 2
        finally:
            context.close()
            browser.close()
    assert blocked == []
