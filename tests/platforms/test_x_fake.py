"""The fake X API itself: its validation is real (invalid requests are refused and recorded),
its answers match the spec, and it runs standalone for the daemon's crash tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from bot.platforms.base import Ambiguous, Image, PlatformError
from bot.platforms.x import XPlatform
from tests.fakes.x_server import XFakeServer, openapi
from tests.fakes.x_state import FakeAccount, Received
from tests.platforms.conftest import ACCOUNT, make_platform, oauth, png, request

pytestmark = pytest.mark.xfake
REPO = Path(__file__).resolve().parents[2]


def test_the_fake_rejects_invalid_requests(x_fake: XFakeServer) -> None:
    """Requests the spec refuses get X's 400 (or 401) and are recorded as violations."""
    url, auth = x_fake.url, oauth()

    def post(path: str, body: dict[str, Any]) -> requests.Response:
        return requests.post(f"{url}{path}", json=body, auth=auth, timeout=5)

    def get(path: str, params: dict[str, str], **kwargs: Any) -> requests.Response:
        return requests.get(f"{url}{path}", params=params, timeout=5, **{"auth": auth} | kwargs)

    invalid = [
        get("/2/tweets", {"ids": ",".join(str(n) for n in range(1, 102))}),  # 101 ids
        post("/2/tweets", {"text": "hi", "colour": "red"}),  # unknown body key
        post("/2/tweets", {"text": "hi", "reply": {"in_reply_to_tweet_id": "abc"}}),
        post("/2/media/metadata", {"id": "1", "metadata": {"alt_text": {"text": "a" * 1001}}}),
        get("/2/users/1/mentions", {"max_results": "101"}),
        get("/2/tweets", {"ids": "1", "tweet.fields": "retweet_count"}),  # not a live field
    ]
    refused = [
        get("/2/tweets", {"ids": "1"}, auth=None, headers={"Authorization": "Bearer None"}),
        get("/2/users/me", {}, auth=oauth(FakeAccount(consumer_secret="forged"))),  # signature
        get("/2/users/me", {}, auth=None),  # no Authorization at all
    ]
    for response in invalid:
        assert response.status_code == 400
        problem = response.json()
        assert problem["title"] == "Invalid Request" and problem["errors"][0]["message"]
        assert problem["type"] == "https://api.x.com/2/problems/invalid-request"
    assert [r.status_code for r in refused] == [401, 401, 401]
    violations = x_fake.state.violations
    assert len(violations) == len(invalid) + len(refused)
    assert "too long" in violations[0] and "'colour' was unexpected" in violations[1]
    assert "signature does not match" in violations[7]
    assert x_fake.state.posts == {}
    violations.clear()


def test_wrong_keys_are_an_answer_not_a_violation(x_fake: XFakeServer) -> None:
    revoked = FakeAccount(access_token="1-revoked", access_token_secret="old")
    response = requests.get(f"{x_fake.url}/2/users/me", auth=oauth(revoked), timeout=5)
    assert response.status_code == 401 and response.json()["title"] == "Unauthorized"
    assert x_fake.state.violations == []


def test_the_fake_enforces_its_rate_limit_windows(x_fake: XFakeServer) -> None:
    x_fake.state.limits["GET /2/users/me"] = 1
    first, second = (
        requests.get(f"{x_fake.url}/2/users/me", auth=oauth(), timeout=5) for _ in range(2)
    )
    assert (first.status_code, first.headers["x-rate-limit-remaining"]) == (200, "0")
    assert (second.status_code, second.headers["x-rate-limit-remaining"]) == (429, "0")
    reset = int(second.headers["x-rate-limit-reset"])
    assert reset == x_fake.state.windows["GET /2/users/me"][1] and reset > time.time() + 800


def test_every_answer_matches_the_spec(
    x_platform: XPlatform, x_fake: XFakeServer, tmp_path: Path
) -> None:
    """Replay everything the fake answered through openapi-core's response validation."""
    image = Image(png(tmp_path / "a.png"), "alt")
    ours = x_platform.publish(request("Popeth", images=(image,), thread=("Ail",))).remote_id
    x_fake.state.add_post(f"@{ACCOUNT.username} helo #hwyl", author="cefnogwr", in_reply_to=ours)
    x_platform.metrics([ours, "1"])
    x_platform.mentions()
    x_platform.find_published(request("Popeth"))
    search = requests.get(
        f"{x_fake.url}/2/tweets/search/recent",
        params={"query": '(#hwyl OR url:"example.org") from:cefnogwr -is:retweet'},
        auth=oauth(),
        timeout=5,
    )
    assert search.json()["meta"]["result_count"] == 1
    x_platform.delete(ours)
    for fault in ("unauthorized", "duplicate", "error", "rate_limit"):  # rate_limit blocks: last
        x_fake.state.fail_next(fault, route="POST /2/tweets")
        with pytest.raises(PlatformError):
            x_platform.publish(request(f"Eto {fault}"))
    assert x_fake.state.faults == []

    checked = {(e.route, e.status) for e in x_fake.state.requests if _validate(e)}
    assert {route for route, _ in checked} == {
        "POST /2/tweets",
        "POST /2/media/upload",
        "POST /2/media/metadata",
        "GET /2/tweets",
        "GET /2/users/me",
        "GET /2/users/{id}/tweets",
        "GET /2/users/{id}/mentions",
        "GET /2/tweets/search/recent",
        "DELETE /2/tweets/{id}",
    }
    assert {status for _, status in checked} >= {200, 201, 401, 403, 429, 500}


def _validate(entry: Received) -> bool:
    """openapi-core's response validation of one recorded exchange; raises on a mismatch."""

    class Exchange:
        pass

    req, resp = Exchange(), Exchange()
    req.host_url, req.path, req.method = "https://api.x.com", entry.path, entry.method.lower()  # type: ignore[attr-defined]
    req.body, req.content_type = entry.body, entry.headers.get("content-type", "")  # type: ignore[attr-defined]
    req.parameters = RequestParameters(  # type: ignore[attr-defined]
        query=ImmutableMultiDict(entry.query), header=Headers(entry.headers)
    )
    resp.data, resp.status_code, resp.headers = entry.response, entry.status, Headers({})  # type: ignore[attr-defined]
    resp.content_type = entry.content_type  # type: ignore[attr-defined]
    openapi().validate_response(req, resp)
    return True


def test_response_validation_is_real(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    """Live X's `retweet_count` is not the spec's `repost_count` (required): the fake notices."""
    post_id = x_fake.state.add_post("Un")
    x_fake.state.metric_name = "retweet_count"
    [metrics] = x_platform.metrics([post_id])
    assert metrics.reposts == 0
    [violation] = x_fake.state.response_violations
    assert (
        "GET /2/tweets -> 200" in violation and "'repost_count' is a required property" in violation
    )
    [entry] = x_fake.state.calls("GET /2/tweets")
    with pytest.raises(Exception, match="'repost_count' is a required property"):
        _validate(entry)
    x_fake.state.response_violations.clear()


def test_hanging_requests_are_released_by_reset(
    x_impatient: XPlatform, x_fake: XFakeServer
) -> None:
    x_fake.state.fail_next("hang", route="GET /2/users/me", seconds=60)
    with pytest.raises(PlatformError):
        x_impatient.check_account()
    [hanging] = x_fake.state.requests
    assert hanging.status == 0  # still hanging in the server
    x_fake.state.reset()
    deadline = time.monotonic() + 2
    while hanging.status == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert hanging.status == 503  # released at once, not after 60 s
    assert x_impatient.check_account().handle == ACCOUNT.username


def test_standalone_server(tmp_path: Path) -> None:
    """`python -m tests.fakes.x_server`: the lead's daemon crash tests run it as a process."""
    port_file = tmp_path / "port"
    env = os.environ | {"KINDLING_X_API_KEY": "standalone-key"}
    command = [sys.executable, "-m", "tests.fakes.x_server", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--port-file", str(port_file), "--metric-name", "retweet_count"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text():
            assert process.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        platform = make_platform(url, FakeAccount(consumer_key="standalone-key"))
        first = platform.publish(request("Cyntaf")).remote_id
        fault = {"kind": "error", "route": "POST /2/tweets", "after": True}
        requests.post(f"{url}/_fake/fault", json=fault, timeout=5).raise_for_status()
        with pytest.raises(Ambiguous):
            platform.publish(request("Ail"))
        requests.post(
            f"{url}/_fake/post", json={"text": "@kindling_test hi", "author": "a"}, timeout=5
        )
        state = requests.get(f"{url}/_fake/state", timeout=5).json()
        assert [p["text"] for p in state["posts"]] == ["Cyntaf", "Ail", "@kindling_test hi"]
        assert state["posts"][0]["id"] == first and state["violations"] == []
        assert [r["status"] for r in state["requests"]] == [201, 500]
        assert [m.kind for m in platform.mentions().mentions] == ["mention"]
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "fake X API listening on http://127.0.0.1:" in output
