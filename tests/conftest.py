"""Shared factory fixtures: campaigns, templates and target files written as real files."""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.checks.run import CampaignReport, check_one
from bot.compose.templates import Templates
from tests.fakes import rejections

# The real local Bluesky network (session-scoped `bluesky_network` fixture) and a private
# PostgreSQL cluster (`postgres_url`, and `database_url` for both backends) for any test module.
pytest_plugins = ["tests.peers.postgres", "tests.peers.bluesky_network"]

REJECTIONS = pytest.StashKey[Path]()  # the run's directory of refused requests, if this run owns it
REJECTED = pytest.StashKey[list[str]]()


ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Subprocesses (`python -m bot`, the fakes) import this checkout's code: a venv shared by two
    checkouts has only one of them installed, and a test would otherwise run the other's.

    Every stand-in records each request its API description refuses in one directory for
    the run (tests/fakes/rejections.py); a nested run makes its own."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    if os.environ.get(rejections.ENV):
        return
    folder = Path(tempfile.mkdtemp(prefix="kindling-rejections-"))
    os.environ[rejections.ENV] = str(folder)
    config.stash[REJECTIONS] = folder


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a stand-in refused a request that no test expected (issue 16)."""
    folder = session.config.stash.get(REJECTIONS, None)
    if folder is None:
        return
    found = rejections.unexpected(folder)
    if found:
        session.config.stash[REJECTED] = rejections.summary(found, folder)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        shutil.rmtree(folder, ignore_errors=True)
    os.environ.pop(rejections.ENV, None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(REJECTED, [])
    if lines:
        terminalreporter.section("requests refused by an API description", sep="=", red=True)
        for line in lines:
            terminalreporter.write_line(line)


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

# Three targets, three stances (one of them none), one ask whose wordings are partly for stances.
STANCE_CAMPAIGN = (
    MINIMAL_CAMPAIGN
    + """\
targets:
  - {id: ally, name: Aelod Cefnogol, stance: supportive, handles: {x: ally_ms}}
  - {id: foe, name: Aelod Gwrthwynebus, stance: opposed, handles: {x: foe_ms, email: foe@senedd.example}}
  - {id: unsure, name: Aelod Ansicr, handles: {x: unsure_ms}}
asks:
  - id: statement
    wordings:
      cy:
        - '{{ handle or target.name }}, cefnogwch gydgynhyrchu.'
        - {text: '{{ handle or target.name }}, diolch am eich cefnogaeth.', stances: [supportive]}
        - {text: '{{ handle or target.name }}, ailystyriwch os gwelwch yn dda.', stances: [opposed]}
      en:
        - '{{ handle or target.name }}, please back co-production.'
        - {text: '{{ handle or target.name }}, thank you for your support.', stances: [supportive]}
        - {text: '{{ handle or target.name }}, please think again.', stances: [opposed]}
        - {text: '{{ handle or target.name }}, hear us out.', stances: [opposed, supportive]}
"""
)


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
