"""Issue 14 point 6: `kindling check --online` looks up the targets' Bluesky handles and Mastodon
addresses, and the Bluesky mentions typed into posts, against a local fake of both networks: one
no account has is a problem at its place; a lookup the network failed is a note, not a problem."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from tests.conftest import MINIMAL_CAMPAIGN

EXISTING = {"ms-a.example.org", "news.example.org", "ms_a@toot.example"}
CAMPAIGN = MINIMAL_CAMPAIGN.replace(
    'text: {cy: "Darllenwch {{ link }}", en: "Read {{ link }}"}',
    'text: {cy: "Darllenwch @news.example.org", en: "Read @gone.example.org {{ link }}"}',
) + (
    "targets:\n"
    "  - {id: ms-a, name: A, handles: {bluesky: ms-a.example.org, mastodon: ms_a@toot.example}}\n"
    "  - {id: ms-b, name: B, handles: {bluesky: typo.example.org, mastodon: ms_b@toot.example}}\n"
    "  - {id: ms-c, name: C, handles: {x: ms_c, mastodon: ms_c@down.example}}\n"
)  # targets on lines 12 to 14


class _Networks(BaseHTTPRequestHandler):
    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/xrpc/com.atproto.identity.resolveHandle":
            handle = query["handle"][0]
            self.asked.append(handle)
            if handle in EXISTING:
                self._answer(200, {"did": "did:plc:" + "a" * 24})
            else:
                self._answer(
                    400, {"error": "InvalidRequest", "message": "Unable to resolve handle"}
                )
        elif url.path.endswith("/.well-known/webfinger"):
            address = query["resource"][0].removeprefix("acct:")
            self.asked.append(address)
            if "down.example" in url.path:
                self.close_connection = True  # a server that is down: no answer at all
                return
            self._answer(200 if address in EXISTING else 404, {"subject": address})
        else:
            self._answer(404, {})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def networks() -> Iterator[str]:
    _Networks.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Networks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _col(line: int, needle: str) -> int:
    return CAMPAIGN.splitlines()[line - 1].index(needle) + 1


def _check(write, networks: str, *args: str):
    write("campaigns/c.yaml", CAMPAIGN)
    write(
        "config.toml",
        f'[bluesky]\nservice_url = "{networks}"\n[check]\n'
        f'webfinger_url = "{networks}/{{server}}/.well-known/webfinger"\ntimeout_seconds = 5\n',
    )
    runner = CliRunner()
    return runner.invoke(main, ["--config", "config.toml", "check", *args], catch_exceptions=False)


def test_handles_no_account_has_are_problems_and_failed_lookups_notes(workdir, write, networks):
    result = _check(write, networks, "--online")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line for line in lines if ": note: " not in line and line.startswith("campaigns")] == [
        f"campaigns/c.yaml:10:{_col(10, '@gone')}: message 'launch': no Bluesky account has the "
        "handle 'gone.example.org'",
        f"campaigns/c.yaml:13:{_col(13, 'typo.')}: target 'ms-b': no Bluesky account has the "
        "handle 'typo.example.org'",
        f"campaigns/c.yaml:13:{_col(13, 'ms_b@')}: target 'ms-b': no Mastodon account has the "
        "handle 'ms_b@toot.example'",
    ]
    [note] = [line for line in lines if ": note: target 'ms-c'" in line]
    assert note.startswith(
        f"campaigns/c.yaml:14:{_col(14, 'ms_c@')}: note: target 'ms-c': could not look up the "
        "Mastodon handle 'ms_c@down.example': RemoteProtocolError"
    )
    assert "3 problems found" in result.output
    # X handles are never asked (X bills every read); each handle is asked once.
    assert sorted(_Networks.asked) == sorted(
        {
            "ms-a.example.org",
            "typo.example.org",
            "news.example.org",
            "gone.example.org",
            "ms_a@toot.example",
            "ms_b@toot.example",
            "ms_c@down.example",
        }
    )


def test_without_online_nothing_is_asked(workdir, write, networks):
    result = _check(write, networks)
    assert result.exit_code == 0, result.output
    assert _Networks.asked == []
