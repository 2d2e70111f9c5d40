"""How `kindling serve` runs under uvicorn (bot/web/server.py): its protocol only on the uvicorn
it was written for, else uvicorn's own h11 protocol after one warning; the dependency range
that says so; the open-file limit raised to fit the connection cap."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import uvicorn
from packaging.requirements import Requirement

from bot.web import WebOptions, create_app
from bot.web.go_protocol import GoProtocol
from bot.web.server import OPEN_FILES_MARGIN, TESTED_UVICORN
from tests.web.conftest import make_config, token_for
from tests.web.live import closed_by_server, read_responses, request, serving

ROOT = Path(__file__).resolve().parents[2]


def test_the_tested_uvicorn_gets_kindlings_protocol(project, caplog):
    app = create_app(make_config(project), WebOptions(reload_seconds=0))
    options = app.uvicorn_options("127.0.0.1", 8000)
    assert uvicorn.__version__ == TESTED_UVICORN
    assert options["http"] is GoProtocol and options["ws"] == "none"
    assert options["timeout_keep_alive"] == 5.0
    assert "limit_concurrency" not in options  # the protocol turns connections away itself
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_another_uvicorn_falls_back_to_its_h11_protocol_with_one_warning(
    project, caplog, monkeypatch
):
    monkeypatch.setattr(uvicorn, "__version__", "0.55.0")
    config = make_config(project, max_connections=50, max_header_bytes=4096)
    app = create_app(config, WebOptions(reload_seconds=0))
    with serving(app) as (port, asgi):
        token = token_for(app, platform="x")
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(request(f"/go/{token}"))
            (answer,) = read_responses(sock, 1)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            # h11's own limit: on a head that is still incomplete past it.
            sock.sendall(b"GET /demo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 20000)
            (refused,) = read_responses(sock, 1)
            assert closed_by_server(sock, 5)
    assert answer["status"] == 302
    assert answer["headers"]["location"] == app.web.links[token].location.decode()
    assert asgi.calls == [f"/go/{token}"]  # through the ASGI app: no shortcut
    assert refused["status"] == 400
    ours = [r for r in caplog.records if r.name.startswith("kindling")]
    warnings = [r for r in ours if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "0.55.0" in warnings[0].getMessage() and TESTED_UVICORN in warnings[0].getMessage()
    options = app.uvicorn_options("127.0.0.1", port)
    assert options["http"] == "h11" and options["limit_concurrency"] == 50
    assert options["h11_max_incomplete_event_size"] == 4096 + 8192


def test_the_dependency_range_is_the_tested_uvicorn_and_the_lock_pins_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (wanted,) = [
        Requirement(line)
        for line in project["project"]["dependencies"]
        if Requirement(line).name == "uvicorn"
    ]
    assert list(wanted.specifier.filter(["0.53.9", TESTED_UVICORN, "0.54.1", "0.55.0"])) == [
        TESTED_UVICORN
    ]
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
    assert f"uvicorn=={TESTED_UVICORN}" in lock


RAISE_LIMIT = """
import logging, resource, sys
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, int(sys.argv[1]) if sys.argv[1] else hard))
from bot.web.server import ensure_open_files
ensure_open_files(1000)
print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


@pytest.mark.parametrize(
    ("hard", "expected_soft", "warns"), [("", 1000, False), ("600", 600, True)]
)
def test_serve_raises_the_open_file_limit_to_fit_the_connection_cap(hard, expected_soft, warns):
    done = subprocess.run(
        [sys.executable, "-c", RAISE_LIMIT, hard], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    if not warns:
        expected_soft += OPEN_FILES_MARGIN
    assert int(done.stdout) == expected_soft
    assert ("WARNING the open-file limit (600)" in done.stderr) is warns
