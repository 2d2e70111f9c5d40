"""systemd's notify protocol (sd_notify(3)): READY=1, WATCHDOG=1, STATUS=, STOPPING=1.

Each message is one datagram on the Unix socket named by $NOTIFY_SOCKET (a name starting with
`@` is in the abstract namespace). Without $NOTIFY_SOCKET (not started by systemd with
Type=notify) every call does nothing. A failed send is logged once and never stops the daemon:
systemd notices a silent watchdog by itself.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("kindling.systemd")


def _address(name: str) -> str | bytes:
    return b"\0" + name[1:].encode() if name.startswith("@") else name


class SystemdNotifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        name = environ.get("NOTIFY_SOCKET", "")
        self._address = _address(name) if name else None
        self.watchdog_seconds = _watchdog_seconds(environ)
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def ready(self, status: str) -> None:
        self._send(f"READY=1\nSTATUS={one_line(status)}")

    def status(self, status: str) -> None:
        self._send(f"STATUS={one_line(status)}")

    def watchdog(self) -> None:
        if self.watchdog_seconds is not None:
            self._send("WATCHDOG=1")

    def stopping(self, status: str) -> None:
        self._send(f"STOPPING=1\nSTATUS={one_line(status)}")

    def _send(self, message: str) -> None:
        if self._address is None:
            return
        payload = message.encode("utf-8", errors="replace")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(payload, self._address)
        except OSError as exc:
            if not self._warned:
                log.warning("cannot notify systemd on $NOTIFY_SOCKET: %s", exc.strerror or exc)
                self._warned = True


def _watchdog_seconds(environ: Mapping[str, str]) -> float | None:
    """systemd's WatchdogSec, when it is meant for this process (WATCHDOG_PID, if set, is ours)."""
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000


def one_line(text: str) -> str:
    """A STATUS= text: one line (a newline would start another assignment), short enough for
    `systemctl status`."""
    return " ".join(text.split())[:200]
