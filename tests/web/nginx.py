"""nginx (Debian package `nginx`) running deploy/nginx/kindling.conf in front of a test server.

The configuration is the deployed file with only its addresses, ports and certificate changed
(each replacement must find its text, so the file cannot drift from what is tested), inside a
minimal `nginx.conf` whose paths all lie under a temporary prefix. nginx runs in the
foreground as one process (`daemon off`, `master_process off`), stopped by SIGTERM.
Without nginx the tests are skipped, except under CI=true (where .ci/run installs it), where
they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = ROOT / "deploy" / "nginx" / "kindling.conf"
CERTIFICATE = "/etc/letsencrypt/live/campaign.example.org/fullchain.pem"
KEY = "/etc/letsencrypt/live/campaign.example.org/privkey.pem"
WRAPPER = """\
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    include {prefix}/kindling.conf;
}}
"""


@dataclass(frozen=True)
class Proxy:
    http_port: int
    https_port: int
    certificate: Path


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None
    )
    if found is None:
        message = "nginx is not installed (apt-get install nginx)"
        if os.environ.get("CI") == "true":  # .ci/run installs it: a skip there hides a bug
            pytest.fail(message)
        pytest.skip(message)
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tested_configuration(kindling_port: int, proxy: Proxy, key: Path) -> str:
    """deploy/nginx/kindling.conf with loopback ports and the test certificate."""
    text = DEPLOYED.read_text(encoding="utf-8")
    for old, new in (
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{kindling_port};"),
        ("listen 80;", f"listen 127.0.0.1:{proxy.http_port};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{proxy.https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        (CERTIFICATE, str(proxy.certificate)),
        (KEY, str(key)),
    ):
        assert text.count(old) == 1, f"deploy/nginx/kindling.conf no longer has {old!r}"
        text = text.replace(old, new)
    return text


@contextmanager
def running_nginx(
    kindling_port: int, prefix: Path, certificate: Path, key: Path
) -> Iterator[Proxy]:
    binary = nginx_binary()
    proxy = Proxy(_free_port(), _free_port(), certificate)
    (prefix / "temp").mkdir(parents=True, exist_ok=True)
    (prefix / "kindling.conf").write_text(
        tested_configuration(kindling_port, proxy, key), encoding="utf-8"
    )
    (prefix / "nginx.conf").write_text(WRAPPER.format(prefix=prefix), encoding="utf-8")
    command = [binary, "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not _listening(proxy.https_port):
            assert process.poll() is None, f"nginx stopped: {process.stderr.read()}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "nginx did not start listening"
            time.sleep(0.05)
        yield proxy
    finally:
        process.terminate()
        process.wait(timeout=20)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
