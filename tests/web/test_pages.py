"""The action page: languages, finding politicians, inert hostile input, headers, health."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from bot.web import create_app
from bot.web.pages import choose_language, load_translations
from tests.web.conftest import TestClient, make_config, token_for

HOSTILE = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"


class _Tags(HTMLParser):
    """Every start tag with its attributes, to check structure without string matching."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_campaign_page_is_welsh_first_with_a_switch_to_english(client):
    page = client.get("/demo")
    assert page.status_code == 200
    assert '<html lang="cy"' in page.text
    assert "Anfonwch neges at eich gwleidyddion" in page.text
    switch = [a for tag, a in tags(page.text) if tag == "a" and a.get("hreflang") == "en"]
    assert switch and switch[0]["href"] == "/demo?lang=en" and switch[0]["lang"] == "en"
    english = client.get(switch[0]["href"])
    assert '<html lang="en"' in english.text
    assert "Message your politicians" in english.text
    assert "A Made-up Campaign for Water" in english.text
    back = [a for tag, a in tags(english.text) if tag == "a" and a.get("hreflang") == "cy"]
    assert back[0]["href"] == "/demo?lang=cy"


def test_the_switch_keeps_the_search(client):
    page = client.get("/demo?constituency=Caerdydd+Penarth&lang=cy")
    switch = next(a for tag, a in tags(page.text) if tag == "a" and a.get("hreflang") == "en")
    assert switch["href"] == "/demo?constituency=Caerdydd+Penarth&lang=en"


def test_an_english_only_campaign_starts_in_english(client):
    page = client.get("/other")
    assert '<html lang="en"' in page.text
    assert "Another Campaign" in page.text


def test_unknown_language_falls_back_to_the_campaigns_first(client):
    assert '<html lang="cy"' in client.get("/demo?lang=fr").text
    assert '<html lang="cy"' in client.get(f"/demo?lang={quote(HOSTILE)}").text


def test_choose_language():
    assert choose_language(None, ["cy", "en"]).current == "cy"
    assert choose_language("en", ["cy", "en"]).offered == ("cy", "en")
    assert choose_language(None, ["en"]).offered == ("en", "cy")
    assert choose_language("de", None).current == "cy"


def test_index_lists_campaigns(client):
    page = client.get("/")
    assert page.status_code == 200
    hrefs = [a["href"] for tag, a in tags(page.text) if tag == "a"]
    assert "/demo?lang=cy" in hrefs and "/other?lang=cy" in hrefs


def test_constituency_shows_its_members_and_the_fixed_targets(app, client):
    page = client.get("/demo?constituency=Caerdydd+Penarth&lang=en").text
    assert "Siân Ŵyn" in page and "Bob Ffug" in page and "Ceri Ffug" not in page
    assert "Llywodraeth Ffug" in page  # no constituency: offered to everyone
    assert "2 politicians found" in page
    go_links = {a["href"] for tag, a in tags(page) if tag == "a" and a["href"].startswith("/go/")}
    assert go_links and all(href[4:] in app.web.links for href in go_links)
    for href in go_links:
        assert app.web.links[href[4:]].language == "en"


def test_buttons_per_platform_where_the_target_has_a_handle(app, client):
    page = client.get("/demo?constituency=Gŵyr+Abertawe&lang=en").text
    card = page[page.index('id="target-ceri"') :]
    card = card[: card.index("</article>")]
    platforms = set(re.findall(r"platform-(\w+)", card))
    assert platforms == {"bluesky"}


@pytest.mark.parametrize(
    ("query", "found"), [("sian", "Siân Ŵyn"), ("ŴYN", "Siân Ŵyn"), ("ceri", "Ceri Ffug")]
)
def test_name_search_ignores_case_and_accents(client, query, found):
    page = client.get(f"/demo?q={quote(query)}&lang=en").text
    assert found in page
    assert "1 politician found" in page


def test_postcode_finds_the_senedd_constituency_through_the_pairings(client):
    page = client.get("/demo?postcode=cf101aa&lang=en").text
    assert "Your postcode is in: Caerdydd Penarth" in page
    assert "Siân Ŵyn" in page
    assert "Caerdydd Penarth" in client.get("/demo?postcode=CF11+9ZZ&lang=en").text  # a district
    assert "Gŵyr Abertawe" in client.get("/demo?postcode=SA18+1AB&lang=en").text  # not SA1 8
    assert "We do not know that postcode" in client.get("/demo?postcode=LL11+1AA&lang=en").text
    assert "does not look like a postcode" in client.get("/demo?postcode=hello&lang=en").text


def test_welsh_plurals_in_the_count_strings(client):
    page = client.get("/demo?constituency=Caerdydd+Penarth").text
    assert "Canfuwyd dau wleidydd" in page  # two, with the soft mutation
    assert "Tri chefnogwr wedi’u henwi yma" in page  # three supporters, aspirate mutation
    assert "Dwy neges arall" in client.get("/demo?q=sian").text  # feminine two: 3 asks shown
    assert "Ni chanfuwyd unrhyw wleidydd" in client.get("/demo?q=nobody").text


def test_welsh_plural_rule_has_six_forms():
    welsh = load_translations("cy")
    assert welsh._info["plural-forms"] == (  # type: ignore[attr-defined]
        "nplurals=6; plural=(n==0) ? 0 : (n==1) ? 1 : (n==2) ? 2 : (n==3) ? 3 : (n==6) ? 4 : 5;"
    )
    forms = {
        n: welsh.ngettext("%(num)d politician found", "%(num)d politicians found", n)
        for n in (0, 1, 2, 3, 4, 5, 6, 7, 11, 100)
    }
    assert forms[0] == "Ni chanfuwyd unrhyw wleidydd"
    assert forms[1] == "Canfuwyd un gwleidydd"
    assert forms[2] == "Canfuwyd dau wleidydd"
    assert forms[3] == "Canfuwyd tri gwleidydd"
    assert forms[6] == "Canfuwyd chwe gwleidydd"
    assert {forms[n] for n in (4, 5, 7, 11, 100)} == {"Canfuwyd %(num)d o wleidyddion"}


def test_hostile_campaign_data_and_query_strings_are_inert(client):
    page = client.get(
        f"/demo?q={quote(HOSTILE)}&constituency={quote(HOSTILE)}&postcode={quote(HOSTILE)}"
    ).text
    english = client.get("/demo?lang=en").text
    for html in (page, english):
        assert "<script>alert" not in html and "<img src=x" not in html
        scripts = [attrs["src"] for tag, attrs in tags(html) if tag == "script"]
        assert scripts == ["/static/copy.js"]  # the graphics' copy buttons; no mastodon target
        assert not any(name.startswith("on") for _, attrs in tags(html) for name in attrs)
    assert "&lt;script&gt;alert(&#39;en&#39;)&lt;/script&gt;" in english
    assert "&lt;b&gt;Dros&lt;/b&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the search box shows it, as text


def test_the_only_scripts_are_the_mastodon_picker_and_copy_button_files(client):
    page = client.get("/demo?constituency=Caerdydd+Penarth").text
    scripts = [attrs for tag, attrs in tags(page) if tag == "script"]
    assert scripts == [
        {"src": "/static/copy.js", "defer": None},
        {"src": "/static/mastodon.js", "defer": None},
    ]
    assert re.search(r"<script[^>]*>[^<]+</script>", page) is None  # nothing inline
    script = client.get("/static/mastodon.js")
    assert script.status_code == 200 and "localStorage" in script.text
    assert "fetch(" not in script.text and "XMLHttpRequest" not in script.text
    copy = client.get("/static/copy.js")
    assert copy.status_code == 200 and "clipboard.writeText" in copy.text
    assert "fetch(" not in copy.text and "XMLHttpRequest" not in copy.text


def test_security_headers_and_no_cookies_anywhere(app, client):
    token = token_for(app, platform="x")
    for path in (
        "/",
        "/demo",
        "/demo?lang=en",
        "/healthz",
        "/static/kindling.css",
        "/nope/x",
        f"/go/{token}",
    ):
        answer = client.get(path)
        assert "set-cookie" not in answer.headers, path
        assert answer.headers["referrer-policy"] == "no-referrer", path
        assert answer.headers["x-content-type-options"] == "nosniff", path
    page = client.get("/demo")
    csp = page.headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp
        and "frame-ancestors 'none'" in csp
    )
    assert client.cookies == {} or not list(client.cookies)


def test_unknown_campaign_and_path_are_404_pages(client):
    for path in ("/nope", "/demo/nope", "/static/nope.js"):
        answer = client.get(path)
        assert answer.status_code == 404, path
    assert "Page not found" in client.get("/nope").text


def test_healthz_tells_a_client_elsewhere_only_ok(client):
    health = client.get("/healthz")  # TestClient's client is "testclient", not loopback
    assert health.status_code == 200
    assert health.json() == {"ok": True}
    assert health.headers["cache-control"] == "no-store"


def test_healthz_details_for_everyone_when_configured(project, options):
    app = create_app(make_config(project, healthz_details=True), options)
    with TestClient(app) as client:
        body = client.get("/healthz").json()
    assert body["ok"] is True and body["database"] is True and body["writer"] is True
    assert body["campaigns"] == 2 and set(body["campaign_ids"]) == {"demo", "other"}
    assert body["links"] > 0


def test_healthz_reports_a_stopped_writer(app, client):
    app.web.writer.stop()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["ok"] is False


def test_accessibility_basics(client):
    page = client.get("/demo?constituency=Caerdydd+Penarth").text
    parsed = tags(page)
    assert (
        "meta",
        {"name": "viewport", "content": "width=device-width, initial-scale=1"},
    ) in parsed
    labelled = {attrs["for"] for tag, attrs in parsed if tag == "label"}
    fields = [
        attrs
        for tag, attrs in parsed
        if tag in ("input", "select") and attrs.get("type") != "hidden"
    ]
    assert fields and all(field["id"] in labelled for field in fields)
    assert parsed[0][0] == "html" and parsed[0][1]["lang"] == "cy"
    skip = next(attrs for tag, attrs in parsed if tag == "a")
    assert skip["href"] == "#main"  # the first link skips to the content
    ids = [attrs["id"] for _, attrs in parsed if attrs.get("id")]
    assert len(ids) == len(set(ids))
    previews = [attrs for tag, attrs in parsed if tag == "blockquote"]
    assert previews and all(attrs.get("lang") in ("cy", "en") for attrs in previews)


def test_asks_rotate_between_page_views(client):
    seen = set()
    for _ in range(6):
        page = client.get("/demo?q=sian&lang=en").text
        first = page.index('class="ask"')
        seen.add(
            re.search(r'<blockquote class="preview" lang="en"><p>(.*?)</p>', page[first:]).group(1)
        )
    assert len(seen) >= 2


def test_reload_serves_a_changed_campaign(app, client, project):
    import asyncio
    import os
    import time

    path = project / "campaigns" / "other.yaml"
    path.write_text(path.read_text().replace("Another Campaign", "Renamed Campaign"))
    os.utime(path, (time.time() + 5, time.time() + 5))
    client.portal.call(app.web.refresh)
    assert "Renamed Campaign" in client.get("/other").text
    path.write_text("id: other\nname: [broken")  # invalid: the last good version stays
    os.utime(path, (time.time() + 10, time.time() + 10))
    client.portal.call(app.web.refresh)
    assert "Renamed Campaign" in client.get("/other").text
    assert asyncio  # the refresh ran on the app's own loop


def _contrast(one: str, two: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(one), luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_colours_meet_wcag_aa_contrast(client):
    css = client.get("/static/kindling.css").text
    buttons = re.findall(r"\.(?:button|platform-\w+) \{[^}]*?background: (#[0-9a-f]{6})", css)
    assert len(buttons) >= 6
    for background in buttons:
        assert _contrast("#ffffff", background) >= 4.5, background
    for text in ("#1b1b1b", "#484949", "#0b4f8a", "#a4190f"):
        assert _contrast(text, "#ffffff") >= 4.5 and _contrast(text, "#f3f2f1") >= 4.5, text
    assert "min-height: 48px" in css  # big tap targets
