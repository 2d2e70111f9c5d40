"""The Mastodon adapter over real HTTP (Mastodon.py, requests) against the local stand-in, which
validates every request against the Mastodon API description: no test may leave a violation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.platforms.base import (
    Ambiguous,
    AuthFailed,
    Image,
    PostRequest,
    RateLimited,
    Rejected,
    Transient,
)
from bot.platforms.mastodon import MastodonPlatform
from tests.fakes.mastodon_server import MastodonFakeServer
from tests.platforms.conftest import png

TIMEOUT = 3.0
SLOT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


@pytest.fixture(scope="module")
def server() -> Iterator[MastodonFakeServer]:
    with MastodonFakeServer() as running:
        yield running


@pytest.fixture
def fake(server: MastodonFakeServer) -> Iterator[MastodonFakeServer]:
    """A clean stand-in; at teardown, no request refused by the spec, no answer off it."""
    server.state.reset()
    yield server
    violations = list(server.state.violations)
    answers = list(server.state.response_violations)
    server.state.reset()
    assert violations == [], "requests the Mastodon API description refuses"
    assert answers == [], "answers of the stand-in that do not match the description"


def adapter(
    fake: MastodonFakeServer, *, token: str | None = None, **options: object
) -> MastodonPlatform:
    return MastodonPlatform(
        instance_url=fake.url,
        access_token=token or fake.state.token,
        timeout=float(options.pop("timeout", TIMEOUT)),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


def request(
    key: str = "k-1",
    text: str = "Save the library https://example.org/l #Llyfrgell",
    **more: object,
) -> PostRequest:
    return PostRequest(key=key, text=text, language="cy", slot=SLOT, **more)  # type: ignore[arg-type]


def test_posts_with_language_visibility_and_an_image_with_alt_text(
    fake: MastodonFakeServer, tmp_path: Path
) -> None:
    fake.state.media_polls = 2  # 202, then 206 twice, then 200
    image = Image(png(tmp_path / "poster.png"), "A poster: save Aberdyfi library")
    platform = adapter(fake, visibility="unlisted")
    published = platform.publish(request(images=(image,)))
    (status,) = fake.state.own_statuses()
    assert published.remote_id == status.id
    assert (status.language, status.visibility) == ("cy", "unlisted")
    (media,) = [fake.state.media[m] for m in status.media_ids]
    assert media.description == "A poster: save Aberdyfi library"
    assert media.polls_until_ready == 0  # attached only once processed
    assert len(fake.state.calls("GET /api/v1/media/{id}")) == 3
    create = fake.state.calls("POST /api/v1/statuses")[0]
    assert create.headers["idempotency-key"] == "k-1"


def test_a_thread_is_replies_in_order_each_with_its_own_key(fake: MastodonFakeServer) -> None:
    published = adapter(fake).publish(request(thread=("Two", "Three")))
    statuses = {s.id: s for s in fake.state.own_statuses()}
    first, second = (statuses[i] for i in published.thread_ids)
    assert first.in_reply_to_id == published.remote_id and first.text == "Two"
    assert second.in_reply_to_id == first.id and second.text == "Three"
    keys = [c.headers["idempotency-key"] for c in fake.state.calls("POST /api/v1/statuses")]
    assert keys == ["k-1", "k-1#1", "k-1#2"]


def test_a_dropped_connection_after_create_is_ambiguous_and_a_retry_makes_no_second_status(
    fake: MastodonFakeServer,
) -> None:
    platform = adapter(fake)
    fake.state.fail_next("drop", route="POST /api/v1/statuses", after=True)
    with pytest.raises(Ambiguous):
        platform.publish(request())
    assert fake.state.created == 1
    again = platform.publish(request())  # the same Idempotency-Key: Mastodon answers the first
    assert fake.state.created == 1
    assert again.remote_id == fake.state.own_statuses()[0].id


def test_reconciliation_finds_the_status_by_its_text_since_the_slot(
    fake: MastodonFakeServer,
) -> None:
    platform = adapter(fake, clock=FixedClock(SLOT + timedelta(minutes=5)))
    fake.state.add_status("Something else", created_at=SLOT + timedelta(minutes=1))
    assert platform.find_published(request()) is None
    made = fake.state.add_status(request().text, created_at=SLOT + timedelta(minutes=2))
    found = platform.find_published(request())
    assert found is not None and found.remote_id == made


def test_a_429_is_rate_limited_until_the_reset_and_then_calls_nothing(
    fake: MastodonFakeServer,
) -> None:
    platform = adapter(fake)
    fake.state.limits["POST /api/v1/statuses"] = (1, 3600)
    platform.publish(request())
    with pytest.raises(RateLimited) as limited:
        platform.publish(request(key="k-2", text="Another"))
    assert limited.value.reset_at > datetime.now(UTC) + timedelta(minutes=50)
    calls = len(fake.state.requests)
    with pytest.raises(RateLimited):  # the window is known to be used up: no call is made
        platform.publish(request(key="k-3", text="A third"))
    assert len(fake.state.requests) == calls
    assert fake.state.created == 1


def test_a_wrong_token_is_auth_failed_without_echoing_it(fake: MastodonFakeServer) -> None:
    with pytest.raises(AuthFailed) as failed:
        adapter(fake, token="wrong-token-77").publish(request())
    assert "wrong-token-77" not in str(failed.value)
    assert "KINDLING_MASTODON_ACCESS_TOKEN" in str(failed.value)


def test_5xx_on_create_is_ambiguous_and_on_a_read_transient(fake: MastodonFakeServer) -> None:
    platform = adapter(fake)
    fake.state.fail_next("error", status=503, route="POST /api/v1/statuses")
    with pytest.raises(Ambiguous):
        platform.publish(request())
    fake.state.fail_next("error", status=500, route="GET /api/v1/accounts/verify_credentials")
    with pytest.raises(Transient):
        platform.check_account()


def test_a_hang_on_create_is_ambiguous_after_the_timeout(fake: MastodonFakeServer) -> None:
    fake.state.fail_next("hang", route="POST /api/v1/statuses")
    with pytest.raises(Ambiguous):
        adapter(fake, timeout=0.5).publish(request())


def test_an_over_long_status_is_rejected(fake: MastodonFakeServer) -> None:
    with pytest.raises(Rejected):
        adapter(fake).publish(request(text="x" * 501))
    assert fake.state.created == 0


def test_check_account_and_the_instance_length_rule(fake: MastodonFakeServer) -> None:
    fake.state.max_characters = 1000
    platform = adapter(fake)
    assert platform.check_account().handle == "kindling@mastodon.example"
    assert platform.status_limits() == (1000, 23)


def test_a_configured_limit_above_the_instances_is_warned_about_once(
    fake: MastodonFakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    fake.state.max_characters = 400
    platform = adapter(fake, max_characters=500)
    with caplog.at_level("WARNING", logger="bot.platforms.mastodon"):
        platform.check_account()
    assert "max_characters is 500 but the instance allows 400" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="bot.platforms.mastodon"):
        adapter(fake, max_characters=400).check_account()
    assert caplog.text == ""


def test_metrics_in_one_batch_call_and_one_call_each_on_older_instances(
    fake: MastodonFakeServer,
) -> None:
    platform = adapter(fake)
    ids = [platform.publish(request(key=f"k-{n}", text=f"Post {n}")).remote_id for n in range(3)]
    fake.state.set_counts(ids[0], favourites=4, reblogs=2, quotes=1)
    counts = {m.remote_id: m for m in platform.metrics(ids)}
    assert (counts[ids[0]].likes, counts[ids[0]].reposts, counts[ids[0]].quotes) == (4, 2, 1)
    assert len(fake.state.calls("GET /api/v1/statuses")) == 1
    fake.state.batch_statuses = False
    assert {m.remote_id for m in platform.metrics(ids)} == set(ids)
    assert len(fake.state.calls("GET /api/v1/statuses/{id}")) == 3
    fake.state.violations.clear()  # the 404 of the missing batch endpoint is on purpose


def test_mentions_replies_and_quotes_with_a_cursor(fake: MastodonFakeServer) -> None:
    platform = adapter(fake)
    post = platform.publish(request()).remote_id
    fake.state.add_status("@kindling Da iawn!", author="ann@example.social", in_reply_to_id=post)
    first = platform.mentions()
    (reply,) = first.mentions
    assert (reply.kind, reply.author_handle, reply.in_reply_to) == (
        "reply",
        "ann@example.social",
        post,
    )
    assert reply.text == "@kindling Da iawn!"
    fake.state.add_status("Look at this", author="bob@toot.example", quote_of=post)
    later = platform.mentions(first.cursor)
    assert [(m.kind, m.in_reply_to) for m in later.mentions] == [("quote", post)]
    assert platform.mentions(later.cursor).mentions == []


def test_a_retried_post_reuses_its_uploaded_image(fake: MastodonFakeServer, tmp_path: Path) -> None:
    """Issue 16: the create fails (its answer lost), the retry attaches the image uploaded the
    first time instead of uploading it again; an upload the instance forgot is made again."""
    state = fake.state
    image = Image(png(tmp_path / "poster.png"), "A poster: save Aberdyfi library")
    platform = adapter(fake)
    state.fail_next("error", route="POST /api/v1/statuses", status=503)
    with pytest.raises(Ambiguous):
        platform.publish(request(key="k-retry", images=(image,)))
    [uploaded] = state.media
    published = platform.publish(request(key="k-retry", images=(image,)))
    (status,) = state.own_statuses()
    assert published.remote_id == status.id and status.media_ids == [uploaded]
    assert len(state.calls("POST /api/v2/media")) == 1
    assert state.media[uploaded].description == "A poster: save Aberdyfi library"

    # A retry whose upload the instance no longer has (removed, never attached) uploads again.
    state.fail_next("error", route="POST /api/v1/statuses", status=503)
    with pytest.raises(Ambiguous):
        platform.publish(request(key="k-other", text="Another", images=(image,)))
    forgotten = next(m for m in state.media if m != uploaded)
    del state.media[forgotten]
    platform.publish(request(key="k-other", text="Another", images=(image,)))
    assert len(state.calls("POST /api/v2/media")) == 3
    assert sorted(len(s.media_ids) for s in state.own_statuses()) == [1, 1]
