"""`kindling systemd`: the unit file that runs `kindling run` as a service. Thin wiring."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from bot.cli.common import fail, pass_config
from bot.config import Config

# systemd's rule for user names it creates and accepts everywhere (User=).
_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,30}")


@click.command()
@click.option(
    "--write",
    "target",
    metavar="PATH",
    help="Write the unit to PATH (e.g. kindling.service) instead of printing it.",
)
@click.option("--force", is_flag=True, help="With --write: replace an existing file.")
@click.option(
    "--user",
    default="kindling",
    show_default=True,
    help="The dedicated user the service runs as.",
)
@click.option(
    "--environment-file",
    default="/etc/kindling/kindling.env",
    show_default=True,
    metavar="PATH",
    help="The credentials file (KINDLING_* variables), readable by root only.",
)
@click.option(
    "--watchdog-seconds",
    type=click.IntRange(min=10, max=3600),
    default=60,
    show_default=True,
    help="WatchdogSec=: systemd restarts the daemon when its scheduler is silent this long.",
)
@pass_config
def systemd(
    config: Config,
    target: str | None,
    force: bool,
    user: str,
    environment_file: str,
    watchdog_seconds: int,
) -> None:
    """Print (or --write) a systemd unit for `kindling run`: Type=notify with a watchdog, a
    dedicated user, the credentials from an EnvironmentFile=, hardening."""
    from bot.daemon.systemd_unit import UnitOptions, unit_text

    if not _USER_NAME.fullmatch(user):
        fail([f"kindling systemd: --user {user!r}: expected a user name like kindling"])
    if not environment_file.startswith("/"):
        fail([f"kindling systemd: --environment-file {environment_file!r}: give an absolute path"])
    options = UnitOptions(user, Path(environment_file), watchdog_seconds)
    try:
        text = unit_text(config, options)
    except ValueError as exc:
        fail([f"kindling systemd: {exc}"])
    if target is None:
        click.echo(text, nl=False)
        return
    _write(Path(target), text, force)
    click.echo(
        f"wrote {target}: install it with `cp {target} /etc/systemd/system/kindling.service`, "
        "then `systemctl daemon-reload && systemctl enable --now kindling`"
    )


def _write(path: Path, text: str, force: bool) -> None:
    """Whole or not at all: a temporary file beside `path`, renamed over it."""
    if path.exists() and not force:
        fail([f"kindling systemd: {path} exists: nothing written (--force replaces it)"])
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        fail([f"kindling systemd: cannot write {path}: {exc.strerror}: nothing written"])
