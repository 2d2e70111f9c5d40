"""Shared factory fixtures: campaigns, templates and target files written as real files."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.checking import CampaignReport, check_one
from bot.compose.templates import Templates

# The real local Bluesky network (session-scoped `bluesky_network` fixture) for any test module.
pytest_plugins = ["tests.peers.bluesky_network"]

MINIMAL_CAMPAIGN = """\
id: demo
name: {cy: "Ymgyrch", en: "Campaign"}
languages: [cy, en]
timezone: Europe/London
active: {start: 2026-12-01, end: 2027-01-31}
links: {letter: "https://example.org/letter"}
messages:
  - id: launch
    schedule: {at: "2026-12-02 10:00"}
    text: {cy: "Darllenwch {{ link }}", en: "Read {{ link }}"}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project directory, made the working directory so paths print relative."""
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def write(workdir: Path) -> Callable[[str, str], Path]:
    """write(relative_path, text) -> Path; dedents the text."""

    def _write(relative: str, text: str) -> Path:
        path = workdir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def check_campaign_text(
    workdir: Path, write: Callable[[str, str], Path]
) -> Callable[..., CampaignReport]:
    """Write campaigns/c.yaml (and optional templates/files), run the whole check on it."""

    def _check(
        text: str, *, files: dict[str, str] | None = None, name: str = "campaigns/c.yaml"
    ) -> CampaignReport:
        for relative, content in (files or {}).items():
            write(relative, content)
        path = write(name, text)
        return (
            check_one(Path(name), Templates(workdir / "templates"), "Europe/London")
            if path
            else None
        )

    return _check


@pytest.fixture
def problems_of(check_campaign_text: Callable[..., CampaignReport]) -> Callable[..., list[str]]:
    """The located problems of a campaign text, as printed: 'file:line:col: message'."""

    def _problems(text: str, **kwargs: object) -> list[str]:
        return [str(p) for p in check_campaign_text(text, **kwargs).problems]

    return _problems
