"""What the command modules share: the settings passed to each command, the one way problems
are printed, the campaign a command names, and rich's console."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, NoReturn, ParamSpec, TypeVar

import click

from bot.campaign.loader import find_campaign
from bot.config import Config, Secrets, load_config
from bot.problems import Problem, ProblemsFound

if TYPE_CHECKING:
    from rich.console import Console

P = ParamSpec("P")
R = TypeVar("R")


def fail(problems: Iterable[Problem | str]) -> NoReturn:
    """Print each problem as one line on stderr and exit with status 1."""
    for problem in problems:
        click.echo(str(problem), err=True)
    sys.exit(1)


def load_settings(ctx: click.Context) -> Config:
    """The settings from the file `main` found (ctx.obj) with the credentials file's variables
    (`with_env_file`), or their problems and exit status 1."""
    try:
        config = load_config(ctx.obj)
    except ProblemsFound as found:
        fail(found.problems)
    return with_env_file(config)


def with_env_file(config: Config) -> Config:
    """`config` with what the credentials file `kindling login` writes ([paths] env_file) sets,
    under the environment (a variable already set wins). No file: `config` as it is. A line
    that is not NAME=value: exit status 1. A file this user may not read: the environment only,
    in silence when it holds credentials (the service user, given them by systemd's
    EnvironmentFile=, and the organiser's own 0600 file in the checkout), else said on stderr."""
    from bot.daemon.env_file import EnvFileError, read_env_file

    try:
        values = read_env_file(config.env_file)
    except EnvFileError as exc:
        fail([str(exc)])
    except OSError as exc:
        if Secrets.from_environment().values:  # e.g. the service, given them by systemd
            return config
        click.echo(
            f"kindling: cannot read the credentials file {config.env_file} ({exc.strerror}): "
            "credentials from the environment only",
            err=True,
        )
        return config
    return config.with_env_file(values) if values else config


def pass_config(command: Callable[Concatenate[Config, P], R]) -> Callable[P, R]:
    """Call the command with the loaded settings as its first argument."""

    @functools.wraps(command)
    def with_config(*args: P.args, **kwargs: P.kwargs) -> R:
        return command(load_settings(click.get_current_context()), *args, **kwargs)

    return with_config


def campaign_path_or_exit(config: Config, reference: str) -> Path:
    """The campaign file for a path or an id, or a clear message and exit status 1."""
    path = find_campaign(reference, config.campaigns_dir)
    if path is None:
        fail(
            [
                f"{reference}: no campaign file or campaign id '{reference}' in {config.campaigns_dir}"
            ]
        )
    return path


def console(stderr: bool = False) -> Console:
    """Rich's console, imported only by the commands that draw (JSON output never needs it)."""
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=True, highlight=False)
