"""A message's image too big for a platform is posted as the copy `kindling check` accepted
(re-encoded to fit), not as the campaign's file, which the platform would refuse at send time."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

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
