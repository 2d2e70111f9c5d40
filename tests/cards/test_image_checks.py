"""`kindling check` on images: decoded for real, held to each platform's limits, re-encoded to
fit when that keeps them readable; quote cards that cannot fit or be drawn; all as file:line:col."""

from __future__ import annotations

import hashlib
import io
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from bot.cards.images import MAX_PIXELS, Unusable, inspect, prepared
from tests.conftest import MINIMAL_CAMPAIGN

QUOTES = """\
hashtags: [Cymru]
quote_pools:
  - id: pool
    quotes:
      - id: short
        who: Nick Andrews
        text: {cy: "Daliwch draed eich arweinwyr at y tân.", en: "Hold your leaders’ feet."}
        source: letter
"""


def _campaign(image: str = "", extra: str = "", alt: str = "Llun") -> str:
    text = MINIMAL_CAMPAIGN
    if image:
        text += f'    image: {{path: "{image}", alt: {{cy: "{alt}", en: "{alt}"}}}}\n'
    return text + QUOTES + extra


def _noise_png(width: int, height: int) -> bytes:
    """Random pixels: PNG cannot compress them, so the file is large."""
    generator = random.Random(7)
    data = bytes(generator.getrandbits(8) for _ in range(width * height * 3))
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), data).save(out, "PNG")
    return out.getvalue()


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def test_the_founding_campaigns_cards_and_images_pass() -> None:
    from bot.campaign.loader import load_campaign
    from bot.checks.image_rules import image_problems

    loaded, problems = load_campaign(Path(__file__).parents[2] / "campaigns/open-letter-2.yaml")
    assert loaded is not None and not problems
    assert image_problems(loaded) == []


def test_a_fake_png_is_a_located_error(
    problems_of: Callable[..., list[str]], workdir: Path
) -> None:
    (workdir / "campaigns").mkdir(exist_ok=True)
    (workdir / "campaigns/fake.png").write_bytes(b"\x89PNG\r")
    found = problems_of(_campaign("fake.png"))
    assert found == [
        "campaigns/c.yaml:11:19: image file 'fake.png' is not an image Kindling can read "
        "(PNG, JPEG, GIF or WebP)"
    ]


def test_an_image_too_big_for_bluesky_is_re_encoded_into_the_cache_and_the_original_kept(
    workdir: Path, tmp_path: Path
) -> None:
    original = _noise_png(1400, 900)
    assert 1_000_000 < len(original) < 5_000_000
    fitted = prepared(original, "bluesky", tmp_path / "cache")
    assert len(fitted) <= 1_000_000
    found = inspect(fitted)
    assert found.width >= 1000  # still readable
    # One copy, named by the original's hash and its own format: the file the planner posts.
    [kept] = (tmp_path / "cache").iterdir()
    assert found.format == "JPEG"
    assert kept.name == f"{hashlib.sha256(original).hexdigest()}-bluesky.jpg"
    assert kept.read_bytes() == fitted
    legacy = kept.with_suffix(".img")  # the name check gave its copy before: removed when met
    legacy.write_bytes(fitted)
    assert prepared(original, "bluesky", tmp_path / "cache") == fitted
    assert list((tmp_path / "cache").iterdir()) == [kept]
    assert prepared(original, "x", None) == original  # within X's 5 MB: sent as it is


def test_an_image_that_cannot_fit_while_readable_is_a_located_error(
    problems_of: Callable[..., list[str]], workdir: Path
) -> None:
    frames = [Image.effect_noise((900, 900), 120 + i).convert("P") for i in range(3)]
    gif = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert len(gif) > 1_000_000
    (workdir / "campaigns/anim.gif").write_bytes(gif)
    found = problems_of(_campaign("anim.gif"))
    assert len(found) == 1
    assert found[0].startswith("campaigns/c.yaml:11:19: image file 'anim.gif' is ")
    assert "over Bluesky's limit of 1,000,000, and an animated GIF cannot be re-encoded" in found[0]


def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    # A PNG header claiming 20000×20000 pixels: refused from the header alone.
    bomb = _save(Image.new("1", (20000, 20000)), "PNG")
    assert len(bomb) < 200_000
    with pytest.raises(Unusable, match="pixels"):
        inspect(bomb)
    assert MAX_PIXELS < 20000 * 20000


def test_a_cmyk_jpeg_comes_out_rgb() -> None:
    cmyk = _save(Image.new("CMYK", (300, 200), (0, 255, 255, 0)), "JPEG")
    result = Image.open(io.BytesIO(prepared(cmyk, "bluesky", None)))
    assert result.mode == "RGB"
    red, green, blue = result.getpixel((150, 100))  # type: ignore[misc]
    assert red > 200 and green < 60 and blue < 60


def test_an_exif_rotated_photo_comes_out_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    photo = _save(Image.new("RGB", (400, 200), "blue"), "JPEG", exif=exif)
    result = Image.open(io.BytesIO(prepared(photo, "x", None)))
    assert result.size == (200, 400)
    assert result.getexif().get(0x0112, 1) == 1


def test_a_transparent_png_keeps_its_transparency_when_re_encoded() -> None:
    noise = Image.effect_noise((1400, 900), 100).convert("RGBA")
    noise.putalpha(Image.linear_gradient("L").resize((1400, 900)))
    original = _save(noise, "PNG")
    assert len(original) > 1_000_000
    result = Image.open(io.BytesIO(prepared(original, "bluesky", None)))
    assert result.mode == "RGBA"
    assert result.getpixel((10, 0))[3] < 20 and result.getpixel((10, 899))[3] > 230  # type: ignore[index]


def test_an_animated_gif_within_limits_is_kept_whole() -> None:
    frames = [Image.new("RGB", (50, 50), (60 * i, 0, 0)) for i in range(4)]
    gif = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert prepared(gif, "x", None) == gif
    assert inspect(gif).frames == 4


def test_alt_text_over_bluesky_and_x_limits_is_located(
    problems_of: Callable[..., list[str]], workdir: Path
) -> None:
    (workdir / "campaigns/ok.png").write_bytes(_save(Image.new("RGB", (10, 10)), "PNG"))
    found = problems_of(_campaign("ok.png", alt="a" * 2001))
    assert (
        "campaigns/c.yaml:11:39: alt text (cy) is 2001 characters, over Bluesky's limit of 2000"
        in found
    )
    assert any("over X's limit of 1000" in line for line in found)


def test_a_quote_too_long_for_its_card_is_a_located_error(
    problems_of: Callable[..., list[str]],
) -> None:
    long = " ".join(["cydgynhyrchu"] * 60)  # 779 characters: alt text within every limit
    text = _campaign().replace("Daliwch draed eich arweinwyr at y tân.", long)
    found = problems_of(text)
    assert found == [
        "campaigns/c.yaml:17:20: the card of quote 'short' (cy): the quote does not fit the "
        "landscape 1200×675 card even at the smallest size; shorten it",
        "campaigns/c.yaml:17:20: the card of quote 'short' (cy): the quote does not fit the "
        "portrait 1080×1350 card even at the smallest size; shorten it",
    ]


def test_a_character_the_font_lacks_is_a_located_error(
    problems_of: Callable[..., list[str]],
) -> None:
    text = _campaign().replace("Hold your leaders’ feet.", "Hold your leaders’ feet 🔥")
    assert problems_of(text) == [
        "campaigns/c.yaml:17:66: the card of quote 'short' (en): the font cannot draw U+1F525 FIRE"
    ]


def test_a_logo_outside_the_campaigns_folder_or_not_an_image_is_located(
    problems_of: Callable[..., list[str]], workdir: Path
) -> None:
    (workdir / "campaigns/logo.png").write_bytes(b"not a picture")
    outside = problems_of(_campaign(extra="cards: {logo: ../config.toml}\n"))
    assert len(outside) == 1 and outside[0].startswith("campaigns/c.yaml:19:15: logo file")
    assert "outside the campaign's folder" in outside[0]
    fake = problems_of(_campaign(extra="cards: {logo: logo.png}\n"))
    assert fake == [
        "campaigns/c.yaml:19:15: logo file 'logo.png' is not an image Kindling can read "
        "(PNG, JPEG, GIF or WebP)"
    ]


def test_the_original_image_file_is_never_changed(
    problems_of: Callable[..., list[str]], workdir: Path
) -> None:
    original = _noise_png(1400, 900)
    path = workdir / "campaigns/big.png"
    path.write_bytes(original)
    before = os.stat(path).st_mtime_ns
    assert problems_of(_campaign("big.png")) == []
    assert path.read_bytes() == original and os.stat(path).st_mtime_ns == before
