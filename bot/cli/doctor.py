"""`kindling doctor`: is this machine ready for a first live run? Thin wiring; the checks are in
bot/daemon/doctor.py."""

from __future__ import annotations

import sys

import click

from bot.cli.common import with_env_file
from bot.config import Config, load_config
from bot.problems import ProblemsFound


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check what a first live run needs: the settings, the database's revision, each configured
    platform's credentials (one call each) and clock, the data directory's permissions and free
    disk space. One line each (ok, WARN or FAIL with what to do); exit status 1 if any fails."""
    from bot.daemon.doctor import run_checks

    try:
        config = load_config(ctx.obj)
    except ProblemsFound as found:
        for problem in found.problems:
            click.echo(f"FAIL config: {problem}")
        click.echo("(fix the settings file first: the other checks need it)")
        sys.exit(1)
    click.echo(f"ok   config: {config.source or 'defaults (no config.toml)'}")
    config = with_env_file(config)
    if config.from_file:
        click.echo(f"ok   credentials file: {config.env_file} (the environment's variables win)")
    findings = run_checks(config, database_problem)
    for finding in findings:
        click.echo(finding.line())
    failed = sum(finding.status == "fail" for finding in findings)
    warned = sum(finding.status == "warn" for finding in findings)
    click.echo(f"{failed} failed, {warned} warning(s)" if failed or warned else "all ok")
    sys.exit(1 if failed else 0)


def database_problem(config: Config) -> str | None:
    """Why the database cannot be used as it is, with what to run; None when it can."""
    from bot.store.migrate import check_current

    return check_current(config.database)
