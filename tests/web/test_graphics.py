"""The action page's "share a graphic" section over plain HTTP: the cards and campaign images
it offers, their headers (content type, a year's immutable cache), content-hashed names, 404s
that echo nothing, and the work done once (at load), never per request."""

from __future__ import annotations

import hashlib
import io
import random
import re
import textwrap
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image

from bot.web import create_app
from tests.web.conftest import DEMO_CAMPAIGN, TestClient, make_config
from tests.web.test_pages import tags

GRAPHIC_URL = re.compile(r"^/graphics/[0-9a-f]{32}\.(png|jpg)$")


def _graphics(html: str) -> dict[str, list[dict[str, str | None]]]:
    found: dict[str, list[dict[str, str | None]]] = {"img": [], "download": [], "share": []}
    for tag, attrs in tags(html):
        href = attrs.get("href") or ""
        if tag == "img" and (attrs.get("src") or "").startswith("/graphics/"):
            found["img"].append(attrs)
        elif tag == "a" and "download" in attrs:
            found["download"].append(attrs)
        elif tag == "a" and ("compose?text=" in href or "intent/tweet?text=" in href):
            found["share"].append(attrs)
    return found


def test_the_page_offers_each_card_in_both_sizes_with_its_alt_text(client):
    page = client.get("/demo?lang=en")
    assert page.status_code == 200
    assert 'id="graphics-heading">Share a graphic</h2>' in page.text
    found = _graphics(page.text)
    # The demo campaign has one quote: its English card, landscape shown, both to download.
    assert len(found["img"]) == 1
    image = found["img"][0]
    alt = image["alt"] or ""
    assert alt.startswith("“A quote <img src=x onerror=alert(1)>”") and "Person Ffug" in alt
    assert image["lang"] == "en" and image["width"] == "1200" and image["height"] == "675"
    # The alt text is on the page as text too (copy button or not), escaped.
    assert "“A quote &lt;img src=x onerror=alert(1)&gt;” — Person Ffug, Chair</p>" in page.text
    downloads = found["download"]
    assert [(d["download"], GRAPHIC_URL.match(d["href"] or "") is not None) for d in downloads] == [
        ("demo-q1.en.landscape.png", True),
        ("demo-q1.en.portrait.png", True),
    ]
    assert downloads[0]["href"] == image["src"]
    # Share links carry the quote, who said it, the hashtag and the link.
    shares = {a["class"]: unquote(a["href"] or "") for a in found["share"]}
    x_link = shares["button platform-x"]
    assert x_link.startswith("https://x.com/intent/tweet?text=“A quote")
    assert "— Person Ffug #DŵrGlân https://example.org/letter?a=1&b=2" in x_link
    assert shares["button platform-bluesky"].startswith("https://bsky.app/intent/compose?text=")
    assert '<script src="/static/copy.js" defer></script>' in page.text


def test_the_welsh_page_offers_the_welsh_cards_in_welsh(client):
    page = client.get("/demo?lang=cy")
    assert "Rhannwch graffeg" in page.text and "Copïwch y disgrifiad" in page.text
    found = _graphics(page.text)
    assert [d["download"] for d in found["download"]] == [
        "demo-q1.cy.landscape.png",
        "demo-q1.cy.portrait.png",
    ]
    assert (found["img"][0]["alt"] or "").startswith("“Dyfyniad")
    assert found["img"][0]["lang"] == "cy"


def test_a_campaign_without_quotes_or_images_has_no_section(client):
    page = client.get("/other")
    assert page.status_code == 200
    assert "graphics-heading" not in page.text and "copy.js" not in page.text


def test_a_card_is_served_as_png_for_a_year_and_named_by_its_content(client):
    page = client.get("/demo?lang=en")
    for download in _graphics(page.text)["download"]:
        url = download["href"] or ""
        answer = client.get(url)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/png"
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "set-cookie" not in answer.headers
        assert url == f"/graphics/{hashlib.sha256(answer.content).hexdigest()[:32]}.png"
        with Image.open(io.BytesIO(answer.content)) as card:
            size = card.size
        assert size == (
            (1200, 675) if "landscape" in (download["download"] or "") else (1080, 1350)
        )
        head = client.head(url)
        assert head.status_code == 200 and head.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    "path",
    [
        "/graphics/" + "0" * 32 + ".png",
        "/graphics/<script>alert(1)</script>.png",
        "/graphics/..%2F..%2Fcampaigns%2Fdemo.yaml",
        "/graphics/a/b.png",
        "/graphics",
    ],
)
def test_an_unknown_graphic_is_a_404_that_echoes_nothing(client, path):
    answer = client.get(path)
    assert answer.status_code == 404
    assert "script" not in answer.text and "demo" not in answer.text and "0000" not in answer.text
    assert "immutable" not in answer.headers.get("cache-control", "")


def test_cards_are_drawn_once_at_load_never_per_request(project, options, monkeypatch):
    import bot.cards.build as build

    app = create_app(make_config(project), options)
    with TestClient(app) as client:
        cards = sorted((project / "data" / "cache" / "images" / "cards").glob("*.png"))
        assert len(cards) == 4  # one quote, cy and en, two sizes: drawn at start-up
        drawn = []
        monkeypatch.setattr(build, "draw_card", lambda *a: drawn.append(a) or b"")
        page = client.get("/demo?lang=en")
        for download in _graphics(page.text)["download"]:
            assert client.get(download["href"] or "").status_code == 200
    assert drawn == []


def _noisy_jpeg(path: Path) -> bytes:
    noise = random.Random(7).randbytes(400 * 300 * 3)
    Image.frombytes("RGB", (400, 300), noise).save(path, "JPEG", quality=90)
    return path.read_bytes()


def test_a_campaign_image_is_offered_as_the_organiser_made_it(project):
    original = _noisy_jpeg(project / "campaigns" / "river.jpg")
    text = textwrap.dedent(DEMO_CAMPAIGN) + textwrap.dedent(
        """\
        messages:
          - id: river
            schedule: {daily: ["09:00"]}
            text: {cy: "Afon", en: "River"}
            image: {path: river.jpg, alt: {cy: "Afon lân", en: "A clean river"}}
        """
    )
    (project / "campaigns" / "demo.yaml").write_text(text, encoding="utf-8")
    app = create_app(make_config(project), None)
    with TestClient(app) as client:
        page = client.get("/demo?lang=en")
        found = _graphics(page.text)
        images = [d for d in found["download"] if d["download"] == "demo-river.jpg"]
        assert len(images) == 1
        answer = client.get(images[0]["href"] or "")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
        assert answer.content == original
        assert "A clean river" in [i["alt"] for i in found["img"]]
        assert "Afon lân" in client.get("/demo?lang=cy").text


def test_a_share_text_too_long_for_x_leaves_the_quote_to_the_graphic(project):
    from bot.campaign.loader import load_campaign
    from bot.compose.lengths import count
    from bot.web.graphics import share_text

    loaded, problems = load_campaign(project / "campaigns" / "demo.yaml")
    assert loaded is not None and not problems
    long_quote = "“" + "gair " * 80 + "”"
    on_x = share_text([long_quote, "— Person Ffug"], loaded.campaign, "x")
    assert on_x == "— Person Ffug #DŵrGlân https://example.org/letter?a=1&b=2"
    on_threads = share_text([long_quote, "— Person Ffug"], loaded.campaign, "threads")
    assert on_threads.startswith("“gair") and count("threads", on_threads).ok
