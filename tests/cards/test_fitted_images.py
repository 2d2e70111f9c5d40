"""A message's image too big for a platform is posted as the copy `kindling check` accepted
(re-encoded to fit), not as the campaign's file, which the platform would refuse at send time."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


# Every file the process opens (Python's "open" audit event: builtins.open, io.open and os.open,
# so Pillow's and pathlib's reads too) whose real path is being watched.
_WATCHED: set[str] = set()
_OPENED: list[str] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event != "open" or not _WATCHED or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    path = os.path.realpath(os.fsdecode(args[0]))
    if path in _WATCHED:
        _OPENED.append(path)


sys.addaudithook(_audit)  # audit hooks cannot be removed: it does nothing unless watching


@contextmanager
def _reads_of(path: Path) -> Iterator[list[str]]:
    """The opens of `path` (by anything in this process) while the block runs."""
    _WATCHED.add(os.path.realpath(path))
    start = len(_OPENED)
    found: list[str] = []
    try:
        yield found
    finally:
        found.extend(_OPENED[start:])
        _WATCHED.clear()


def test_an_unchanged_image_is_not_read_again_and_a_changed_one_is_refitted(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path, campaign=CAMPAIGN)
    photo = project / "campaigns" / "photo.png"
    photo.write_bytes(_noise_png(1400, 900))
    registry = CampaignRegistry(load_config(project / "config.toml"))
    assert registry.load() == []
    active = registry.campaigns()[0]

    with _reads_of(photo) as reads:
        first = _plan(project, active)
    assert len(reads) == 2  # once per platform, not once per slot
    [kept] = _fitted_files(project)
    with _reads_of(photo) as reads:
        assert _plan(project, active) == first
    assert reads == []  # unchanged (same size and mtime): not opened at all

    status = photo.stat()  # the same bytes, touched: read again, the same copy found
    os.utime(photo, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    with _reads_of(photo) as reads:
        assert _plan(project, active) == first
    assert len(reads) == 2
    assert _fitted_files(project) == [kept]

    changed = _noise_png(1500, 900)  # new content and size: read, hashed and fitted again
    photo.write_bytes(changed)
    with _reads_of(photo) as reads:
        refitted = _plan(project, active)
    assert len(reads) == 2
    new = project / "data/cache/images" / f"{hashlib.sha256(changed).hexdigest()}-bluesky.jpg"
    assert refitted[("cy", "bluesky")] == refitted[("en", "bluesky")] == {new}
    assert len(new.read_bytes()) <= 1_000_000
    assert refitted[("cy", "x")] == {photo}
    assert len(active.fitted_images) == 2  # one entry per image and platform: bounded

    new.unlink()  # the cache emptied under the daemon: the copy is made again
    with _reads_of(photo) as reads:
        assert _plan(project, active) == refitted
    assert len(reads) == 1 and new.is_file()  # for Bluesky: X's posts the campaign's file

    assert registry.reload()  # the campaign's folder changed: its load, and what it knew, go
    assert registry.campaigns()[0].fitted_images == {}
