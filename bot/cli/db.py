"""`kindling db`: the database schema's migrations (upgrade, current, downgrade, revision)."""

from __future__ import annotations

import sys

import click

from bot.cli.common import fail, pass_config
from bot.config import Config

# Alembic and the store are imported inside the commands, so the other commands start without them.


@click.group()
def db() -> None:
    """The database's schema: create it, upgrade it, show its revision."""


@db.command()
@click.argument("revision", default="head")
@pass_config
def upgrade(config: Config, revision: str) -> None:
    """Create or upgrade the database's tables to REVISION (default: the latest).

    Safe to run again; `kindling run` refuses a database that is not at the latest revision.
    """
    from bot.store.migrate import current, shown
    from bot.store.migrate import upgrade as run_upgrade

    url = config.database
    before = current(url)
    after = run_upgrade(url, revision)
    if before == after:
        click.echo(f"{shown(url)}: already at revision {after}")
    else:
        click.echo(f"{shown(url)}: upgraded from {before or 'nothing'} to revision {after}")


@db.command()
@click.option("--check", is_flag=True, help="Exit 1 unless the database is at the latest.")
@pass_config
def current(config: Config, check: bool) -> None:
    """Print the database's revision and the latest this Kindling knows."""
    from bot.store.migrate import check_current, head, shown
    from bot.store.migrate import current as current_revision

    url = config.database
    revision = current_revision(url)
    latest = head()
    state = "up to date" if revision == latest else "NOT up to date"
    click.echo(f"{shown(url)}: revision {revision or 'none'} (latest {latest}): {state}")
    problem = check_current(url)
    if problem is not None:
        click.echo(problem, err=True)
        if check:
            sys.exit(1)


@db.command()
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_config
def downgrade(config: Config, revision: str, yes: bool) -> None:
    """Migrate down to REVISION ('base' drops every table): the dropped data is lost."""
    from bot.store.migrate import downgrade as run_downgrade
    from bot.store.migrate import shown

    url = config.database
    if not yes:
        click.confirm(f"Downgrade {shown(url)} to {revision}, losing what it drops?", abort=True)
    after = run_downgrade(url, revision)
    click.echo(f"{shown(url)}: now at revision {after or 'none (no tables)'}")


@db.command()
@click.option("-m", "--message", required=True, help="What the change is, in a few words.")
@pass_config
def revision(config: Config, message: str) -> None:
    """For developers: write a migration for the change to bot/store/tables.py.

    Compares the models with the configured database, which must be at the latest revision
    (use a scratch database: KINDLING_DATABASE_URL=sqlite:////tmp/x.sqlite3). Read the file
    it writes and tidy it before committing.
    """
    from bot.store.migrate import check_current, new_revision

    url = config.database
    problem = check_current(url)
    if problem is not None:
        fail([f"kindling db revision: {problem}"])
    click.echo(f"wrote {new_revision(message, url)}")
