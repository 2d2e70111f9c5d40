"""`kindling login bluesky|mastodon|x`: check an app password or token against the account (one
call, through the adapter) and write it to the credentials file (bot/daemon/env_file.py); for X,
first get the access token by X's OAuth 1.0a PIN flow (bot/platforms/x_login.py). A secret is
read hidden (or from standard input with --stdin) and never printed. Thin wiring."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TypeVar

import click

from bot.cli.common import fail, pass_config
from bot.config import Config
from bot.platforms.base import Account, AuthFailed, PlatformError

T = TypeVar("T")
X_APP_KEYS = (
    "set KINDLING_X_API_KEY and KINDLING_X_API_SECRET in the environment first (the app's "
    "consumer key and secret: X developer portal > your app > Keys and tokens)"
)
ENV_FILE_HELP = "The credentials file to write (default: [paths] env_file in config.toml)."


@click.group()
def login() -> None:
    """Check a platform's credentials and save them for `kindling run` and the systemd unit."""


@login.command()
@click.option("--handle", help="The campaign account's handle (default: from the settings).")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the app password from stdin.")
@click.option("--env-file", metavar="PATH", help=ENV_FILE_HELP)
@click.option("--force", is_flag=True, help="Replace credentials the file already holds.")
@pass_config
def bluesky(
    config: Config, handle: str | None, from_stdin: bool, env_file: str | None, force: bool
) -> None:
    """Log in to Bluesky with an app password (Settings > Privacy and security > App passwords)."""
    handle = (handle or config.bluesky_handle or click.prompt("Bluesky handle")).removeprefix("@")
    password = read_secret("App password", from_stdin)
    account = checked("bluesky", partial(check_bluesky, config, handle, password))
    values = {"KINDLING_BLUESKY_HANDLE": handle, "KINDLING_BLUESKY_APP_PASSWORD": password}
    save("bluesky", config, env_file, values, force, account)


@login.command()
@click.option("--instance", metavar="URL", help="The instance (default: [mastodon] instance_url).")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the access token from stdin.")
@click.option("--env-file", metavar="PATH", help=ENV_FILE_HELP)
@click.option("--force", is_flag=True, help="Replace credentials the file already holds.")
@pass_config
def mastodon(
    config: Config, instance: str | None, from_stdin: bool, env_file: str | None, force: bool
) -> None:
    """Log in to Mastodon with an access token (your instance: Preferences > Development >
    New application, scopes read and write)."""
    from bot.platforms.mastodon import MastodonPlatform

    url = (instance or config.settings.mastodon.instance_url).rstrip("/")
    if not url.startswith(("https://", "http://")):
        fail(["kindling login mastodon: give --instance https://… or set [mastodon] instance_url"])
    token = read_secret("Access token", from_stdin)
    timeout = config.settings.mastodon.timeout_seconds
    platform = MastodonPlatform(instance_url=url, access_token=token, timeout=timeout)
    account = checked("mastodon", platform.check_account)
    values = {"KINDLING_MASTODON_ACCESS_TOKEN": token}
    save("mastodon", config, env_file, values, force, account)
    if url != config.settings.mastodon.instance_url.rstrip("/"):
        click.echo(f'also set [mastodon] instance_url = "{url}" in config.toml')


@login.command(name="x")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the PIN from stdin.")
@click.option("--env-file", metavar="PATH", help=ENV_FILE_HELP)
@click.option("--force", is_flag=True, help="Replace credentials the file already holds.")
@pass_config
def x_login(config: Config, from_stdin: bool, env_file: str | None, force: bool) -> None:
    """Get the campaign account's access token by X's PIN flow: the app's key and secret from
    KINDLING_X_API_KEY and KINDLING_X_API_SECRET; open the printed page as the campaign account,
    allow the app, enter the PIN X shows."""
    from bot.platforms.x import XPlatform
    from bot.platforms.x_login import XLogin

    key, secret = (config.secrets.get(f"KINDLING_X_API_{part}") for part in ("KEY", "SECRET"))
    if not key or not secret:
        fail([f"kindling login x: {X_APP_KEYS}: nothing written"])
    settings = config.settings.x
    flow = XLogin(key, secret, api_base_url=settings.api_base_url, timeout=settings.timeout_seconds)
    url = checked("x", flow.authorize_url)
    click.echo(f"Open this page as the campaign account and allow the app:\n  {url}")
    access = checked("x", partial(flow.access_token, read_secret("PIN X shows", from_stdin)))
    platform = XPlatform(
        key,
        secret,
        access.token,
        access.secret,
        api_base_url=settings.api_base_url,
        timeout=settings.timeout_seconds,
    )
    account = checked("x", platform.check_account)
    values = {
        "KINDLING_X_API_KEY": key,
        "KINDLING_X_API_SECRET": secret,
        "KINDLING_X_ACCESS_TOKEN": access.token,
        "KINDLING_X_ACCESS_TOKEN_SECRET": access.secret,
    }
    save("x", config, env_file, values, force, account)


def read_secret(label: str, from_stdin: bool) -> str:
    """The secret, hidden as it is typed, or the first line of stdin; never echoed."""
    if from_stdin:
        secret = sys.stdin.readline().strip()
    else:
        secret = str(click.prompt(label, hide_input=True, err=True)).strip()
    if not secret:
        fail([f"kindling login: no {label.lower()} given: nothing written"])
    return secret


def check_bluesky(config: Config, handle: str, password: str) -> Account:
    """A password login (the saved session is not used: the password itself is checked)."""
    from bot.platforms.bluesky import SESSION_FILE, BlueskyPlatform

    with tempfile.TemporaryDirectory(prefix="kindling-login-") as scratch:
        settings = config.settings.bluesky
        platform = BlueskyPlatform(
            service_url=settings.service_url,
            handle=handle,
            password=password,
            session_path=Path(scratch) / SESSION_FILE,
            timeout=settings.timeout_seconds,
        )
        try:
            return platform.check_account()
        finally:
            platform.close()


def checked(name: str, check: Callable[[], T]) -> T:
    try:
        return check()
    except AuthFailed as exc:
        fail([f"kindling login {name}: refused: {exc.message}: nothing written"])
    except PlatformError as exc:
        fail(
            [f"kindling login {name}: could not check the account: {exc.message}: nothing written"]
        )


def save(
    name: str,
    config: Config,
    env_file: str | None,
    values: Mapping[str, str],
    force: bool,
    account: Account,
) -> None:
    from bot.daemon.env_file import EnvFileError, write_env_file

    path = Path(env_file) if env_file else config.path(config.settings.paths.env_file)
    try:
        write_env_file(path, values, force=force)
    except EnvFileError as exc:
        fail([f"kindling login {name}: {exc}"])
    click.echo(
        f"{name}: account {account.handle} accepted the credentials; wrote "
        f"{', '.join(values)} to {path} (mode 0600). kindling run, doctor and the other "
        "commands read it (a variable set in the environment wins); for the service: "
        "kindling systemd --environment-file"
    )
    if path.resolve() != config.env_file.resolve():
        click.echo(
            f"note: {path} is not [paths] env_file ({config.env_file}): set env_file = "
            f'"{path}" in config.toml for the other commands to read it'
        )
