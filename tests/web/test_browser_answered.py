"""The "answered" mark in a real browser (issue 15 point 3): headless Debian Chromium on the real
server, a campaign with `listen: {show_answered: true}` and a response in its SQLite file. The
mark is visible beside the target who answered, named for screen readers, and leads to the
response (answered here by a route handler: nothing leaves the machine)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator

import pytest
from sqlalchemy import insert

from bot.store.engine import Store
from bot.store.tables import ResponseRow, table
from tests.web.conftest import DEMO_CAMPAIGN, OTHER_CAMPAIGN, POSTCODES
from tests.web.test_answered import response
from tests.web.test_browser import ARGS, CHROMIUM, ROOT, _free_port, _require_browser

pytestmark = pytest.mark.browser
FIRST = "https://bsky.app/profile/sian.ffug.example/post/first"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _require_browser()
    root = tmp_path_factory.mktemp("answered")
    campaign = textwrap.dedent(DEMO_CAMPAIGN) + "listen: {show_answered: true}\n"
    for name, text in (
        ("campaigns/demo.yaml", campaign),
        ("campaigns/other.yaml", textwrap.dedent(OTHER_CAMPAIGN)),
        ("postcodes.csv", textwrap.dedent(POSTCODES)),
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
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
        store = Store(f"sqlite:///{root / 'data' / 'kindling.sqlite3'}")  # migrated by the server
        with store.write() as session:
            session.execute(insert(table(ResponseRow)), [response("sian", "first", 10)])
        store.dispose()
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_the_answered_mark_is_visible_named_and_leads_to_the_response(served: str) -> None:
    from playwright.sync_api import sync_playwright

    opened: list[str] = []

    def handle(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.startswith(served + "/"):
            route.continue_()
        elif url == FIRST:
            opened.append(url)
            route.fulfill(status=200, content_type="text/html", body="<title>response</title>")
        else:
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="cy-GB")
        context.route("**/*", handle)
        page = context.new_page()
        try:
            page.goto(f"{served}/demo?constituency=Caerdydd+Penarth")
            mark = page.locator("#target-sian .answered a")
            assert mark.is_visible() and mark.inner_text().startswith("Wedi ateb")
            assert page.get_by_role("link", name="Wedi ateb — ymateb cyntaf Siân Ŵyn").count() == 1
            assert page.locator("#target-bob .answered").count() == 0
            mark.click()
            page.wait_for_url(FIRST)
            assert opened == [FIRST]
        finally:
            context.close()
            browser.close()
