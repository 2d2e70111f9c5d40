"""The X adapter publishing against the fake X API: real tweepy, real HTTP over loopback, every
request validated against the official OpenAPI spec by the fake; every failure mapped."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import urllib3.exceptions

from bot.platforms.base import (
    Ambiguous,
    AuthFailed,
    Duplicate,
    Image,
    Platform,
    PlatformError,
    RateLimited,
    Rejected,
    Transient,
)
from bot.platforms.x import XPlatform
from bot.platforms.x_support import never_sent
from tests.fakes.x_server import XFakeServer
from tests.fakes.x_state import FakeAccount
from tests.platforms.conftest import ACCOUNT, HANG_TIMEOUT, make_platform, png, request

pytestmark = pytest.mark.xfake


def _lost(reason: Exception) -> requests.ConnectionError:
    """What requests raises when urllib3 could not connect: MaxRetryError wrapping the cause."""
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/2/tweets", reason))  # type: ignore[arg-type]


def test_it_is_a_platform(x_platform: XPlatform) -> None:
    assert isinstance(x_platform, Platform)
    assert x_platform.metrics_batch == 100


def test_check_account_and_publish_with_url(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    account = x_platform.check_account()
    assert (account.id, account.handle) == (ACCOUNT.user_id, ACCOUNT.username)
    published = x_platform.publish(
        request("Darllenwch y llythyr agored: https://example.org/llythyr")
    )
    [post] = x_fake.state.own_posts()
    assert published.remote_id == post.id
    assert published.url == f"https://x.com/{ACCOUNT.username}/status/{post.id}"
    [create] = x_fake.state.calls("POST /2/tweets")
    assert create.json == {"text": "Darllenwch y llythyr agored: https://example.org/llythyr"}
    assert create.headers["authorization"].startswith(
        "OAuth oauth_"
    )  # signature checked by the fake
    assert x_platform.rate_limits["POST /2/tweets"].remaining == 99


def test_text_is_sent_nfc(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    x_platform.publish(request("Dw i'n caru Cymru a\u0302\u0175"))  # a + combining circumflex
    assert x_fake.state.calls("POST /2/tweets")[0].json["text"] == "Dw i'n caru Cymru \u00e2\u0175"


def test_publish_thread(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    published = x_platform.publish(
        request("1/3 Yr achos", thread=("2/3 Y llythyr", "3/3 Gweithredwch"))
    )
    posts = {p.id: p for p in x_fake.state.own_posts()}
    assert len(posts) == 3 and len(published.thread_ids) == 2
    first, second = published.thread_ids
    assert posts[published.remote_id].in_reply_to is None
    assert (posts[first].in_reply_to, posts[first].text) == (published.remote_id, "2/3 Y llythyr")
    assert (posts[second].in_reply_to, posts[second].text) == (first, "3/3 Gweithredwch")
    bodies = [c.json for c in x_fake.state.calls("POST /2/tweets")]
    assert bodies[1]["reply"] == {"in_reply_to_tweet_id": published.remote_id}


def test_image_with_alt_text(x_platform: XPlatform, x_fake: XFakeServer, tmp_path: Path) -> None:
    image = Image(png(tmp_path / "banner.png", 3, 2), "Baner yr ymgyrch: testun gwyn ar goch")
    published = x_platform.publish(request("Gyda llun", images=(image,)))
    [upload] = x_fake.state.calls("POST /2/media/upload")
    assert upload.headers["content-type"].startswith("multipart/form-data")
    [media] = x_fake.state.media.values()
    assert (media.mime, media.category, media.size) == (
        "image/png",
        "tweet_image",
        image.path.stat().st_size,
    )
    assert media.alt_text == "Baner yr ymgyrch: testun gwyn ar goch"
    [metadata] = x_fake.state.calls("POST /2/media/metadata")
    assert metadata.json == {"id": media.id, "metadata": {"alt_text": {"text": image.alt}}}
    assert x_fake.state.posts[published.remote_id].media_ids == [media.id]
    order = [r.route for r in x_fake.state.requests]
    assert order == ["POST /2/media/upload", "POST /2/media/metadata", "POST /2/tweets"]


def test_unreadable_image_or_long_alt_is_rejected_before_any_call(
    x_platform: XPlatform, x_fake: XFakeServer, tmp_path: Path
) -> None:
    with pytest.raises(Rejected, match="cannot read image"):
        x_platform.publish(request("x", images=(Image(tmp_path / "missing.png", "alt"),)))
    with pytest.raises(Rejected, match="alt text"):
        x_platform.publish(request("x", images=(Image(png(tmp_path / "a.png"), "a" * 1001),)))
    assert x_fake.state.requests == []


def test_duplicate_content(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    x_platform.publish(request("Yr un geiriau"))
    with pytest.raises(Duplicate, match="duplicate content") as caught:
        x_platform.publish(request("Yr un geiriau"))
    assert isinstance(caught.value, Rejected)
    assert len(x_fake.state.own_posts()) == 1


def test_rate_limited_with_the_exact_reset(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    reset = int((datetime.now(UTC) + timedelta(minutes=7)).timestamp())
    x_fake.state.fail_next("rate_limit", route="POST /2/tweets", reset_at=reset)
    with pytest.raises(RateLimited) as caught:
        x_platform.publish(request("Rhy gynnar"))
    assert caught.value.reset_at == datetime.fromtimestamp(reset, UTC)
    assert x_fake.state.own_posts() == []


def test_rate_limited_by_the_24_hour_post_cap(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    soon, tomorrow = (int((datetime.now(UTC) + timedelta(hours=h)).timestamp()) for h in (0.1, 20))
    headers = {"x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": str(tomorrow)}
    x_fake.state.fail_next("rate_limit", route="POST /2/tweets", reset_at=soon, headers=headers)
    with pytest.raises(RateLimited) as caught:
        x_platform.publish(request("Gormod heddiw"))
    assert caught.value.reset_at == datetime.fromtimestamp(tomorrow, UTC)


def test_used_up_window_stops_before_calling(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    post_id = x_fake.state.add_post("Un")
    x_fake.state.limits["GET /2/tweets"] = 2
    x_platform.metrics([post_id])
    x_platform.metrics([post_id])
    with pytest.raises(RateLimited) as caught:
        x_platform.metrics([post_id])
    assert len(x_fake.state.calls("GET /2/tweets")) == 2  # the third never left the machine
    assert caught.value.reset_at == datetime.fromtimestamp(
        x_fake.state.windows["GET /2/tweets"][1], UTC
    )


def test_unauthorized(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    x_fake.state.fail_next("unauthorized")
    with pytest.raises(AuthFailed, match="401"):
        x_platform.publish(request("Dim hawl"))
    wrong = make_platform(
        x_fake.url, FakeAccount(access_token="1-revoked", access_token_secret="old")
    )
    with pytest.raises(AuthFailed, match="KINDLING_X_ACCESS_TOKEN"):
        wrong.check_account()


@pytest.mark.parametrize(
    ("fault", "options"),
    [("error", {"status": 500}), ("error", {"status": 503}), ("hang", {})],
)
def test_failure_after_create_is_ambiguous_and_reconciled(
    x_impatient: XPlatform, x_fake: XFakeServer, fault: str, options: dict[str, object]
) -> None:
    post = request("Neges bwysig https://example.org/a?b=1 & mwy", slot=datetime.now(UTC))
    x_fake.state.fail_next(fault, route="POST /2/tweets", after=True, **options)
    with pytest.raises(Ambiguous):
        x_impatient.publish(post)
    [made] = x_fake.state.own_posts()  # it was created
    found = x_impatient.find_published(post)
    assert found is not None and found.remote_id == made.id
    assert found.created_at == made.created_at.replace(
        microsecond=made.created_at.microsecond // 1000 * 1000
    )
    with pytest.raises(Duplicate):  # why the caller must reconcile instead of retrying
        x_impatient.publish(post)
    assert len(x_fake.state.own_posts()) == 1


def test_hang_before_create_is_ambiguous_and_nothing_is_found(
    x_impatient: XPlatform, x_fake: XFakeServer
) -> None:
    post = request("Dim ateb")
    x_fake.state.fail_next("hang", route="POST /2/tweets")
    with pytest.raises(Ambiguous, match="no answer"):
        x_impatient.publish(post)
    assert x_impatient.find_published(post) is None
    assert x_fake.state.own_posts() == []


def test_server_errors_on_reads_are_transient(x_impatient: XPlatform, x_fake: XFakeServer) -> None:
    x_fake.state.fail_next("error", status=503, route="GET /2/tweets")
    with pytest.raises(Transient, match="503"):
        x_impatient.metrics(["1"])
    x_fake.state.fail_next("hang", route="GET /2/tweets")
    with pytest.raises(Transient, match="ReadTimeout"):
        x_impatient.metrics(["1"])


def test_connection_refused_is_transient(closed_port_url: str) -> None:
    platform = make_platform(closed_port_url)
    with pytest.raises(Transient, match="cannot reach X"):
        platform.publish(request("Neb yno"))
    with pytest.raises(Transient):
        platform.metrics(["1"])


@pytest.mark.parametrize(
    ("error", "sent"),
    [
        (requests.ConnectTimeout("connect timed out"), False),
        (_lost(urllib3.exceptions.NameResolutionError("api.x.com", None, OSError("dns"))), False),  # type: ignore[arg-type]
        (requests.ReadTimeout("read timed out"), True),
        (requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.")), True),
    ],
)
def test_which_network_errors_may_have_reached_x(
    error: requests.RequestException, sent: bool
) -> None:
    """DNS failures and connect timeouts cannot have created a post; a lost answer may have."""
    assert never_sent(error) is not sent


def test_other_refusals_are_rejected(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    with pytest.raises(Rejected, match="403 Your Tweet text is too long") as caught:
        x_platform.publish(request("a" * 281))
    assert type(caught.value) is Rejected


def test_partly_published_thread_is_ambiguous(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    post = request("1/2 Dechrau", thread=("b" * 300,))
    with pytest.raises(Ambiguous, match="thread partly published"):
        x_platform.publish(post)
    found = x_platform.find_published(post)
    assert found is not None and found.thread_ids == ()  # fewer than post.thread: incomplete


def test_secrets_never_reach_logs_or_errors(
    x_fake: XFakeServer, closed_port_url: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    platform = make_platform(x_fake.url, timeout=HANG_TIMEOUT)
    errors: list[PlatformError] = []
    platform.publish(request("Cyfrinach", images=(Image(png(tmp_path / "a.png"), "alt"),)))
    platform.metrics([p.id for p in x_fake.state.own_posts()])
    for fault, route in [
        ("unauthorized", None),
        ("duplicate", "POST /2/tweets"),
        ("hang", "POST /2/tweets"),
        ("error", "/2/media/upload"),
        ("rate_limit", None),  # last: the adapter then keeps off POST /2/tweets until reset
    ]:
        x_fake.state.fail_next(fault, route=route)
        with pytest.raises(PlatformError) as caught:
            platform.publish(
                request(f"Eto {fault}", images=(Image(png(tmp_path / "b.png"), "alt"),))
            )
        errors.append(caught.value)
    with pytest.raises(PlatformError) as caught:
        make_platform(closed_port_url).publish(request("Neb"))
    errors.append(caught.value)
    assert any(r.name.startswith("tweepy") for r in caplog.records)  # DEBUG really was on
    seen = caplog.text + repr(platform) + "".join(f"{e!s}{e!r}{e.__cause__!s}" for e in errors)
    for secret in (
        ACCOUNT.consumer_key,
        ACCOUNT.consumer_secret,
        ACCOUNT.access_token,
        ACCOUNT.access_token_secret,
    ):
        assert secret not in seen
