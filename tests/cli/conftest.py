"""Fixtures shared by the command-line tests that talk to the Mastodon stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.mastodon_server import MastodonFakeServer


@pytest.fixture(scope="module")
def server() -> Iterator[MastodonFakeServer]:
    """One Mastodon stand-in per test module."""
    with MastodonFakeServer() as running:
        yield running


@pytest.fixture
def fake(server: MastodonFakeServer) -> Iterator[MastodonFakeServer]:
    """The stand-in, reset for one test, which must leave no request refused by the spec."""
    server.state.reset()
    yield server
    assert server.state.violations == []
    assert server.state.response_violations == []
    server.state.reset()
