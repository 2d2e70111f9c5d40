"""The probe of tests/test_rejections.py: one request the Mastodon API description refuses.

Not collected by a normal run (its name does not match `test_*.py`); the nested runs of
tests/test_rejections.py name this file, with PROBE set to "unexpected" or "consumed".
"""

from __future__ import annotations

import os

import httpx

from tests.fakes.mastodon_server import MastodonFakeServer

PROBE = "KINDLING_REJECTION_PROBE"


def test_probe_sends_a_refused_request() -> None:
    with MastodonFakeServer() as server:
        answer = httpx.post(
            f"{server.url}/api/v1/statuses",
            json={"status": "Hello", "visibility": "everyone"},  # not a visibility
            headers={"Authorization": f"Bearer {server.state.token}"},
        )
        assert answer.status_code == 422 and len(server.state.violations) == 1
        if os.environ[PROBE] == "consumed":
            server.state.violations.clear()
