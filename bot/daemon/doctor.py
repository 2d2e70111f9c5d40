"""`kindling doctor`: everything a first live run needs, each checked and, when wrong, said with
what to do. The checks only look: they create no database, no directory, and post nothing.

Each check gives `Finding`s: ok, warn (worth fixing, the run would still work) or fail (the run
would not). The platforms are checked through their adapters (bot/platforms/), one cheap call
each (X: users/me, Bluesky: a session, Mastodon: verify_credentials); the same answer's `Date`
header gives the platform's clock. A finding never holds a secret: the adapters' messages name
the variables, never their values.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.platforms.base import AuthFailed, Platform, PlatformError
from bot.platforms.factory import make_platform
from bot.store.errors import StoreError

Status = Literal["ok", "warn", "fail"]
PLATFORMS = ("x", "bluesky", "mastodon")
# What a platform's credentials are made of: any of them set means the platform is configured.
CREDENTIALS = {
    "x": (
        "KINDLING_X_API_KEY",
        "KINDLING_X_API_SECRET",
        "KINDLING_X_ACCESS_TOKEN",
        "KINDLING_X_ACCESS_TOKEN_SECRET",
    ),
    "bluesky": ("KINDLING_BLUESKY_APP_PASSWORD",),
    "mastodon": ("KINDLING_MASTODON_ACCESS_TOKEN",),
}
LOGIN_FIX = {
    "x": "run `kindling login x` for new access tokens (a revoked or expired token cannot be "
    "repaired), or set KINDLING_X_* in the environment",
    "bluesky": "make a new app password (Bluesky: Settings > Privacy and security > App "
    "passwords) and run `kindling login bluesky`",
    "mastodon": "make a new access token (your instance: Preferences > Development) and run "
    "`kindling login mastodon`",
}
REACH_FIX = {
    "x": "check [x] api_base_url in config.toml (or KINDLING_X_API_BASE_URL) and "
    "this machine's network",
    "bluesky": "check [bluesky] service_url in config.toml (or KINDLING_BLUESKY_SERVICE_URL) and "
    "this machine's network",
    "mastodon": "check [mastodon] instance_url in config.toml (or KINDLING_MASTODON_INSTANCE_URL) and "
    "this machine's network",
}
MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class Finding:
    what: str  # the thing checked: "database", "x credentials", ...
    status: Status
    detail: str  # what was found
    fix: str = ""  # what to do, when not ok

    def line(self) -> str:
        """One line: `ok   what: detail`, `WARN what: detail; fix`, `FAIL what: detail; fix`."""
        label = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}[self.status]
        fix = f" -> {self.fix}" if self.fix and self.status != "ok" else ""
        return f"{label} {self.what}: {self.detail}{fix}"


def configured_platforms(config: Config) -> list[str]:
    """The platforms with any of their credentials or account settings given."""
    given = {
        "x": any(config.secrets.get(v) for v in CREDENTIALS["x"]),
        "bluesky": bool(config.bluesky_handle or config.secrets.get(CREDENTIALS["bluesky"][0])),
        "mastodon": bool(
            config.settings.mastodon.instance_url or config.secrets.get(CREDENTIALS["mastodon"][0])
        ),
    }
    return [name for name in PLATFORMS if given[name]]


def check_database(config: Config, current: Callable[[Config], str | None]) -> Finding:
    """`current` is bot.store.migrate.check_current's shape: why the database cannot be used
    (with what to run), or None. Passed in so that Alembic is imported by the command only."""
    try:
        problem = current(config)
    except StoreError as exc:
        return Finding("database", "fail", str(exc))  # the message says what to do
    if problem is None:
        return Finding("database", "ok", "at the latest revision")
    what, _, fix = problem.rpartition(": ")
    return Finding("database", "fail", what or problem, fix)


def check_platform(
    name: str, config: Config, clock: Clock, platform: Platform | None = None
) -> list[Finding]:
    """The account check (one call) and, from the same answer's Date, the clock skew."""
    platform = platform or make_platform(name, config, dry_run=False, clock=clock)
    what = f"{name} credentials"
    try:
        account = platform.check_account()
        found = [Finding(what, "ok", f"account {account.handle}")]
    except AuthFailed as exc:
        # An adapter that could not be built (UnavailablePlatform) says what is missing.
        missing = exc.message.startswith(("not configured", "missing credentials"))
        fix = f"set what is missing, or run `kindling login {name}`" if missing else LOGIN_FIX[name]
        found = [Finding(what, "fail", exc.message if missing else f"refused: {exc.message}", fix)]
    except PlatformError as exc:
        found = [Finding(what, "fail", f"not checked: {exc.message}", REACH_FIX[name])]
    server: datetime | None = getattr(platform, "server_date", None)
    if server is not None:
        found.append(clock_finding(name, clock.now(), server, config))
    return found


def clock_finding(name: str, now: datetime, server: datetime, config: Config) -> Finding:
    limit = config.settings.doctor.clock_skew_seconds
    skew = (now - server).total_seconds()
    what = f"{name} clock"
    ahead = "ahead of" if skew > 0 else "behind"
    detail = f"this machine is {abs(skew):.0f} s {ahead} {name}'s clock"
    # The Date header has whole seconds: up to one second of difference is rounding.
    if abs(skew) <= max(limit, 1.0):
        return Finding(what, "ok", f"within {limit:g} s of {name}'s clock")
    fix = "synchronise this machine's clock (e.g. `timedatectl set-ntp true`)"
    return Finding(what, "warn", f"{detail} (more than {limit:g} s)", fix)


def check_data_directory(config: Config) -> list[Finding]:
    """Writable by this user, not writable by every user, and with room on its disk."""
    directory = config.data_dir
    what = f"data directory {directory}"
    if not directory.exists():
        fix = f"create it: `mkdir -m 0750 -p {directory}` (or `kindling db upgrade` creates it)"
        return [Finding(what, "fail", "does not exist", fix)]
    if not directory.is_dir():
        return [Finding(what, "fail", "is not a directory", "set [paths] data to a directory")]
    found = [_permissions(directory, what)]
    found.append(_free_space(directory, config.settings.doctor.min_free_disk_mb))
    return found


def _permissions(directory: Path, what: str) -> Finding:
    mode = directory.stat().st_mode
    if not os.access(directory, os.W_OK | os.X_OK):
        fix = f"run Kindling as the directory's owner, or `chown` {directory} to this user"
        return Finding(what, "fail", "not writable by this user", fix)
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        fix = f"`chmod o-w {directory}`"
        return Finding(what, "fail", "writable by every user of this machine", fix)
    return Finding(what, "ok", f"writable by this user, mode {stat.S_IMODE(mode):04o}")


def _free_space(directory: Path, minimum_mb: int) -> Finding:
    free_mb = shutil.disk_usage(directory).free // MEGABYTE
    what = "disk space"
    if free_mb < minimum_mb:
        fix = (
            f"free space on that disk, or set [paths] data to a disk with at least {minimum_mb} MB"
        )
        return Finding(what, "fail", f"{free_mb} MB free for {directory}", fix)
    return Finding(what, "ok", f"{free_mb} MB free for {directory}")


def run_checks(
    config: Config,
    current: Callable[[Config], str | None],
    clock: Clock | None = None,
    platforms: Mapping[str, Platform] | None = None,
) -> list[Finding]:
    """Every check, in the order a first run meets them. `platforms` replaces adapters (tests)."""
    clock = clock or SystemClock()
    found = [check_database(config, current), *check_data_directory(config)]
    names = configured_platforms(config)
    if not names:
        fix = "run `kindling login bluesky` (or x, mastodon), or set KINDLING_* in the environment"
        found.append(Finding("platforms", "fail", "no platform has credentials", fix))
    for name in names:
        given = (platforms or {}).get(name)
        found += check_platform(name, config, clock, given)
    return found
