"""A database Kindling cannot use is said by `main` for every command: `str()` of the
StoreError as one line on stderr, exit status 1, no traceback, nothing written."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli.main import KindlingGroup, main
from bot.store import migrate
from bot.store.errors import StoreError
from tests.conftest import MINIMAL_CAMPAIGN

# Every command that opens the store, with arguments that get it that far.
STORE_COMMANDS = [
    ["post", "demo", "launch", "--dry-run"],
    ["report", "demo"],
    ["report", "demo", "--json"],
    ["queue"],
    ["approve", "1"],
    ["reject", "1"],
    ["unamplify", "1"],
    ["engagement", "poll"],
    ["amplify", "discover"],
]


@pytest.fixture
def outdated(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite database one migration behind, as the configured database."""
    (workdir / "campaigns" / "demo.yaml").write_text(MINIMAL_CAMPAIGN, encoding="utf-8")
    url = f"sqlite:///{workdir / 'old.sqlite3'}"
    migrate.upgrade(url, "0005")
    monkeypatch.setenv("KINDLING_DATABASE_URL", url)
    return url


@pytest.mark.parametrize("args", STORE_COMMANDS, ids=" ".join)
def test_an_outdated_database_is_one_line_for_every_command(outdated: str, args: list[str]):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert not isinstance(result.exception, StoreError)  # said, not raised
    assert result.stdout == ""
    assert result.stderr == (
        f"the database {outdated} is at revision 0005, this Kindling needs "
        f"{migrate.head()}: run `kindling db upgrade`\n"
    )
    assert migrate.current(outdated) == "0005"


def test_the_group_catches_a_store_error_from_any_command_below_it():
    @click.group(cls=KindlingGroup)
    def top() -> None:
        """A stand-in for `kindling`."""

    @top.group()
    def nested() -> None:
        """A command group below it, like `kindling db`."""

    @nested.command()
    def broken() -> None:
        raise StoreError("the database x: what is wrong: what to do")

    result = CliRunner().invoke(top, ["nested", "broken"])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "the database x: what is wrong: what to do\n"
