"""The systemd unit `kindling systemd` writes: Type=notify with a watchdog, a dedicated user, the
credentials from an EnvironmentFile=, and a file system read-only except for the data directory.

The daemon's side of the contract is bot/daemon/systemd_notify.py (READY=1 once planned,
WATCHDOG=1 from the scheduler loop, STATUS=, STOPPING=1).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from bot import __version__
from bot.config import Config

# Characters a unit file cannot carry in a path without trouble, whatever the quoting.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class UnitOptions:
    user: str
    environment_file: Path
    watchdog_seconds: int


def quoted(value: str) -> str:
    """One word of a unit file: `%` doubled (systemd's specifiers), quoted if it has spaces."""
    if _UNSAFE.search(value):
        raise ValueError(f"{value!r}: a path with control characters cannot go in a unit file")
    value = value.replace("%", "%%")
    if re.search(r"[\s\"'\\;]", value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def exec_start(config: Config) -> list[str]:
    """The command systemd runs: this installation's kindling, with this config file."""
    script = Path(sys.executable).parent / "kindling"
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "bot"]
    if config.source is not None:
        command += ["--config", str(config.source.resolve())]
    return [*command, "run"]


def writable_paths(config: Config) -> list[Path]:
    """Where the daemon writes: the data directory, a SQLite file (and its lock, WAL and journal
    beside it) kept elsewhere, and the log file's directory."""
    paths = [config.data_dir.resolve()]
    url = config.database_url
    if url.startswith("sqlite:///"):
        paths.append(Path(url.removeprefix("sqlite:///").split("?")[0]).resolve().parent)
    if config.settings.logging.file:
        paths.append(config.path(config.settings.logging.file).resolve().parent)
    unique: list[Path] = []
    for path in paths:
        if not any(path == kept or path.is_relative_to(kept) for kept in unique):
            unique = [kept for kept in unique if not kept.is_relative_to(path)] + [path]
    return unique


def unit_text(config: Config, options: UnitOptions) -> str:
    user = options.user
    writable = " ".join(quoted(str(p)) for p in writable_paths(config))
    return f"""\
# Kindling's daemon (`kindling run`), written by `kindling systemd` (Kindling {__version__}).
# Before starting it:
#   - a dedicated user: useradd --system --shell /usr/sbin/nologin {user}
#   - the data directory, owned by it: {writable}
#   - the credentials (KINDLING_* variables, README.md), readable by root only:
#     {quoted(str(options.environment_file))} (mode 0600)
# Then: cp kindling.service /etc/systemd/system/ && systemctl daemon-reload
#       systemctl enable --now kindling; `kindling status` says whether it runs.

[Unit]
Description=Kindling campaign posting daemon
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart={" ".join(quoted(word) for word in exec_start(config))}
WorkingDirectory={quoted(str(config.root.resolve()))}
User={user}
EnvironmentFile={quoted(str(options.environment_file))}
# The daemon sends WATCHDOG=1 from its scheduler loop; a hung loop is restarted.
WatchdogSec={options.watchdog_seconds}
Restart=on-failure
RestartSec=10
TimeoutStopSec=30
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths={writable}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes

[Install]
WantedBy=multi-user.target
"""
