"""A message's image too big for a platform is posted as the copy `kindling check` accepted
(re-encoded to fit), not as the campaign's file, which the platform would refuse at send time."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from bot.checks.registry import ActiveCampaign, CampaignRegistry
from bot.config import load_config
from bot.publish.timeline import planned_posts
from tests.cards.test_card_posts import kindling, make_project, outbox_rows
from tests.cards.test_image_checks import _noise_png

CAMPAIGN = """\
id: demo
name: {en: "Campaign", cy: "Ymgyrch"}
languages: [cy, en]
timezone: Europe/London
active: {start: 2026-12-01, end: 2099-01-31}
platforms: [x, bluesky]
links: {letter: "https://example.org/letter"}
messages:
  - id: photo
    schedule: {daily: ["10:00"]}
    text: {cy: "Darllenwch {{ link }}", en: "Read {{ link }}"}
    image: {path: "photo.png", alt: {cy: "Llun o'r cyfarfod", en: "A photo of the meeting"}}
"""


def test_a_photo_over_blueskys_limit_is_posted_there_as_the_fitted_copy(tmp_path: Path) -> None:
    project = make_project(tmp_path, campaign=CAMPAIGN)
    original = _noise_png(1400, 900)
    assert 1_000_000 < len(original) < 5_000_000  # over Bluesky's limit, within X's
    (project / "campaigns" / "photo.png").write_bytes(original)
    assert kindling(project, "check").returncode == 0

    done = kindling(project, "post", "demo", "photo", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr

    sent = {(lang, name): images for _, lang, name, state, images in outbox_rows(project)}
    assert set(sent) == {(lang, name) for lang in ("cy", "en") for name in ("x", "bluesky")}
    for language in ("cy", "en"):
        [on_x] = sent[(language, "x")]
        assert Path(on_x["path"]).read_bytes() == original  # X takes the campaign's file
        [on_bluesky] = sent[(language, "bluesky")]
        fitted = Path(on_bluesky["path"])
        assert fitted.parent.resolve() == (project / "data/cache/images").resolve()
        assert len(fitted.read_bytes()) <= 1_000_000
        with Image.open(fitted) as image:
            assert image.width >= 1000  # still readable
            assert fitted.suffix == {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}[image.format]
        assert (
            on_bluesky["alt"]
            == {"cy": "Llun o'r cyfarfod", "en": "A photo of the meeting"}[language]
        )
    assert (project / "campaigns" / "photo.png").read_bytes() == original  # never changed


def _fitted_files(project: Path) -> list[Path]:
    return sorted(p for p in (project / "data/cache/images").iterdir() if p.is_file())


def _plan(project: Path, active: ActiveCampaign) -> dict[tuple[str, str], set[Path]]:
    """One planning pass, as the daemon's (two days of slots): the files each (language,
    platform) would post."""
    config = load_config(project / "config.toml")
    now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    cache = project / "data/cache/images"
    posts = planned_posts(active, now, now + timedelta(days=2), config.settings, cache)
    posted: dict[tuple[str, str], set[Path]] = {}
    for post in posts:
        [image] = post.images
        posted.setdefault((post.slot.language, post.slot.platform), set()).add(image.path)
    assert len(posts) == 8  # 2 days, 2 languages, 2 platforms
    return posted


def test_check_and_the_planner_keep_one_fitted_copy_of_an_oversized_photo(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path, campaign=CAMPAIGN)
    original = _noise_png(1400, 900)
    (project / "campaigns" / "photo.png").write_bytes(original)
    assert kindling(project, "check").returncode == 0
    [kept] = _fitted_files(project)  # check's copy, for Bluesky (X takes the original)

    registry = CampaignRegistry(load_config(project / "config.toml"))
    assert registry.load() == []
    posted = _plan(project, registry.campaigns()[0])

    assert _fitted_files(project) == [kept]  # the planner posts check's copy: no second one
    assert kept.name == f"{hashlib.sha256(original).hexdigest()}-bluesky.jpg"
    for language in ("cy", "en"):
        assert posted[(language, "bluesky")] == {kept}
        assert posted[(language, "x")] == {project / "campaigns" / "photo.png"}
    done = kindling(project, "post", "demo", "photo", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _fitted_files(project) == [kept]
