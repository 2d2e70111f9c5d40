"""Issue 14 point 6, X: `kindling check --online --x` looks up the targets' X handles and the
`@mentions` typed into X posts against the fake X server (GET /2/users/by, checked against the
spec): the cost is said first, the month's X budget refuses what it cannot pay (nothing read),
each account found is charged through the one spend path, a handle no account has is a problem
at its place, and an X outage is a note, never a bad handle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from bot.cli.main import main
from bot.config import load_config
from bot.publish.budget import Budget
from bot.store.engine import Store
from bot.store.tables import SpendRow
from tests.fakes.x_server import XFakeServer
from tests.fakes.x_state import FakeAccount

pytestmark = [pytest.mark.xfake]

ACCOUNT = FakeAccount()
CAMPAIGN = """\
id: demo
name: {cy: "Ymgyrch", en: "Campaign"}
languages: [cy, en]
timezone: Europe/London
active: {start: 2026-12-01, end: 2027-01-31}
platforms: [x]
links: {letter: "https://example.org/letter"}
messages:
  - id: launch
    schedule: {at: "2026-12-02 10:00"}
    text: {cy: "Darllenwch @news_cy", en: "Read @Gone_En {{ link }}"}
targets:
  - {id: ms-a, name: A, handles: {x: MS_A}}
  - {id: ms-b, name: B, handles: {x: typo_b}}
"""
COST_LINE = (
    "X: 4 handles to look up, at most $0.040 ([x.prices] user_read $0.010 for each account found)"
)


@pytest.fixture
def x_fake() -> Iterator[XFakeServer]:
    with XFakeServer() as server:
        for name in ("ms_a", "news_cy"):
            server.state.add_user(name)
        yield server
        assert server.state.violations == [], "requests the spec refuses"
        assert server.state.response_violations == [], "answers the spec refuses"


@pytest.fixture
def project(workdir, write, x_fake: XFakeServer, monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "KINDLING_X_API_KEY": ACCOUNT.consumer_key,
        "KINDLING_X_API_SECRET": ACCOUNT.consumer_secret,
        "KINDLING_X_ACCESS_TOKEN": ACCOUNT.access_token,
        "KINDLING_X_ACCESS_TOKEN_SECRET": ACCOUNT.access_token_secret,
    }.items():
        monkeypatch.setenv(name, value)
    write("campaigns/c.yaml", CAMPAIGN)
    budget(write, x_fake, 25.0)
    assert kindling("db", "upgrade").exit_code == 0
    return workdir


def budget(write, x_fake: XFakeServer, usd: float) -> None:
    write(
        "config.toml",
        f'[x]\napi_base_url = "{x_fake.url}"\ntimeout_seconds = 5\nmonthly_budget_usd = {usd}\n',
    )


def kindling(*args: str) -> Result:
    return CliRunner().invoke(main, ["--config", "config.toml", *args], catch_exceptions=False)


def _col(line: int, needle: str) -> int:
    return CAMPAIGN.splitlines()[line - 1].index(needle) + 1


def _spends() -> list[tuple[str, float]]:
    config = load_config(Path("config.toml"))
    store = Store(config.database)
    try:
        with store.read() as session:
            return [(s.kind, s.usd) for s in session.scalars(select(SpendRow))]
    finally:
        store.dispose()


def test_x_handles_no_account_has_are_problems_and_the_accounts_found_are_charged(
    project, x_fake: XFakeServer
):
    result = kindling("check", "--online", "--x")

    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0] == COST_LINE  # said before anything is read
    lines = result.output.splitlines()
    problems = [line for line in lines if line.startswith("campaigns/") and ": note: " not in line]
    assert problems == [
        f"campaigns/c.yaml:11:{_col(11, '@Gone')}: message 'launch': no X account has the "
        "handle 'Gone_En'",
        f"campaigns/c.yaml:14:{_col(14, 'typo_b')}: target 'ms-b': no X account has the "
        "handle 'typo_b'",
    ]
    assert "X: 2 account(s) found, $0.020 charged" in result.output
    # One call for the four handles; X bills the two accounts it returned.
    [call] = x_fake.state.calls("GET /2/users/by")
    assert sorted(dict(call.query)["usernames"].split(",")) == [
        "gone_en",
        "ms_a",
        "news_cy",
        "typo_b",
    ]
    assert x_fake.state.bill.by_route() == {"GET /2/users/by": pytest.approx(0.02)}
    assert _spends() == [("user_read", pytest.approx(0.02))]  # the one spend path
    config = load_config(Path("config.toml"))
    store = Store(config.database)
    try:
        assert Budget(store, 25.0).spent("x", datetime.now(UTC)) == pytest.approx(0.02)
    finally:
        store.dispose()


def test_without_x_no_x_handle_is_asked(project, x_fake: XFakeServer):
    result = kindling("check", "--online")

    assert result.exit_code == 0, result.output
    assert "X:" not in result.output
    assert x_fake.state.requests == []


def test_lookups_the_budget_cannot_pay_are_refused_and_nothing_is_read(
    project, write, x_fake: XFakeServer
):
    budget(write, x_fake, 0.03)  # four handles may cost $0.04

    result = kindling("check", "--online", "--x")

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [COST_LINE]
    assert result.stderr.startswith(
        "kindling check --x: X handles not looked up, nothing read: x monthly budget: "
        "$0.030 left for reads"
    )
    assert "this read may cost $0.040" in result.stderr
    assert x_fake.state.requests == []
    assert x_fake.state.bill.total() == 0 and _spends() == []


def test_an_x_outage_is_a_note_not_a_bad_handle(project, x_fake: XFakeServer):
    x_fake.state.fail_next("error", status=503, route="GET /2/users/by")

    result = kindling("check", "--online", "--x")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == COST_LINE
    notes = [line for line in result.output.splitlines() if "could not look up" in line]
    assert f"campaigns/c.yaml:14:{_col(14, 'typo_b')}: note: target 'ms-b': could not look up " in (
        "\n".join(notes)
    )
    assert len(notes) == 4
    assert all(
        "X is unavailable (an outage or no connection): look up users: 503" in n for n in notes
    )
    assert "no X account" not in result.output
    assert "X: 0 account(s) found, $0.000 charged; 4 handle(s) not looked up" in result.output
    assert x_fake.state.bill.total() == 0 and _spends() == []


def test_x_without_online_is_a_usage_error(project, x_fake: XFakeServer):
    result = kindling("check", "--x")

    assert result.exit_code == 2
    assert "--x looks up X handles with --online" in result.output
    assert x_fake.state.requests == []
