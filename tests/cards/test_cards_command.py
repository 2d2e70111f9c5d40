"""`kindling cards CAMPAIGN --out DIR` as an organiser runs it."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result
from PIL import Image

from bot.cli.main import main
from tests.cards.test_image_checks import QUOTES
from tests.conftest import MINIMAL_CAMPAIGN


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cards_writes_every_card_and_an_escaped_contact_sheet(
    workdir: Path, write: Callable[[str, str], Path]
) -> None:
    hostile = QUOTES.replace("Nick Andrews", '"<script>alert(1)</script>"')
    write("campaigns/demo.yaml", MINIMAL_CAMPAIGN + hostile)
    result = _run("cards", "demo", "--out", "out")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (workdir / "out").iterdir())
    assert names == [
        "index.html",
        "short.cy.landscape.png",
        "short.cy.portrait.png",
        "short.en.landscape.png",
        "short.en.portrait.png",
    ]
    with Image.open(workdir / "out/short.cy.portrait.png") as card:
        assert (card.format, card.size) == ("PNG", (1080, 1350))
    sheet = (workdir / "out/index.html").read_text(encoding="utf-8")
    assert "<script>" not in sheet
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in sheet
    assert "“Daliwch draed eich arweinwyr at y tân.” — " in sheet
    assert 'src="short.en.landscape.png"' in sheet


def test_cards_writes_nothing_for_a_campaign_that_fails_its_check(
    workdir: Path, write: Callable[[str, str], Path]
) -> None:
    too_long = QUOTES.replace("Hold your leaders’ feet.", " ".join(["feet"] * 300))
    write("campaigns/demo.yaml", MINIMAL_CAMPAIGN + too_long)
    result = _run("cards", "demo", "--out", "out")
    assert result.exit_code == 1
    assert "campaigns/demo.yaml:17:" in result.output
    assert not (workdir / "out").exists()


def test_cards_are_drawn_once_and_cached_in_the_data_directory(
    workdir: Path, write: Callable[[str, str], Path]
) -> None:
    write("campaigns/demo.yaml", MINIMAL_CAMPAIGN + QUOTES)
    assert _run("cards", "demo", "--out", "one").exit_code == 0
    cached = sorted((workdir / "data/cache/images/cards").iterdir())
    assert len(cached) == 4
    assert _run("cards", "demo", "--out", "two").exit_code == 0
    assert sorted((workdir / "data/cache/images/cards").iterdir()) == cached
    for name in ("short.cy.landscape.png", "short.en.portrait.png"):
        first = (workdir / "one" / name).read_bytes()
        assert (workdir / "two" / name).read_bytes() == first
        Image.open(io.BytesIO(first)).verify()
