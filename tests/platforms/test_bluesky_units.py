"""The Bluesky adapter's pure parts, without any network: TIDs, facets, lengths, the error
mapping, the rate-limit gate, configuration. (The network tests are in test_bluesky.py.)"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from atproto_client import exceptions as sdk
from atproto_client.models.common import XrpcError
from atproto_client.request import Response
from pydantic import SecretStr

from bot.config import BlueskySettings, Config, PathsSettings, Secrets, Settings
from bot.platforms.base import (
    Ambiguous,
    AuthFailed,
    PostRequest,
    RateLimited,
    Rejected,
    Transient,
)
from bot.platforms.bluesky import BlueskyPlatform
from bot.platforms.bluesky_richtext import (
    TID_ALPHABET,
    TID_PATTERN,
    created_at,
    decode_tid,
    detect_facets,
    encode_tid,
    length_problem,
    record_key,
)
from bot.platforms.bluesky_support import RateLimitGate, TokenRejected, collect_mentions

SLOT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


# --- TIDs ----------------------------------------------------------------------------------------


def test_tid_is_13_chars_of_the_sortable_alphabet():
    for index in range(5):
        tid = record_key("demo:launch:cy:bluesky:2026-12-02T10:00", SLOT, index)
        assert len(tid) == 13 and set(tid) <= set(TID_ALPHABET) and TID_PATTERN.match(tid)


def test_tid_is_deterministic_and_distinct_per_key_and_position():
    assert record_key("a", SLOT) == record_key("a", SLOT)
    keys = {record_key(f"key-{i}", SLOT) for i in range(5000)}
    assert len(keys) == 5000
    assert len({record_key("a", SLOT, i) for i in range(10)}) == 10


def test_tid_encodes_the_slot_and_sorts_by_slot():
    timestamp, clock_id = decode_tid(record_key("a", SLOT))
    assert SLOT.timestamp() * 1e6 <= timestamp < (SLOT.timestamp() + 1) * 1e6
    assert 0 <= clock_id < 1024
    later = [record_key(f"k{i}", SLOT + timedelta(seconds=i)) for i in range(1, 200)]
    assert later == sorted(later)
    assert record_key("zzz", SLOT) < min(later)


def test_tid_round_trip_and_known_value():
    assert decode_tid(encode_tid(1_700_000_000_000_000, 5)) == (1_700_000_000_000_000, 5)
    assert encode_tid(0, 0) == "2222222222222"
    with pytest.raises(ValueError):
        record_key("a", datetime(2026, 1, 1))  # naive: which time zone?


def test_created_at_is_the_slot():
    assert created_at(SLOT) == "2026-12-02T10:00:00.000Z"
    assert created_at(SLOT, 2) == "2026-12-02T10:00:00.002Z"


# --- facets and lengths --------------------------------------------------------------------------


def spans(text: str) -> list[tuple[str, str, str]]:
    encoded = text.encode("utf-8")
    return [
        (f.kind, f.value, encoded[f.byte_start : f.byte_end].decode("utf-8"))
        for f in detect_facets(text)
    ]


def test_facet_byte_offsets_with_welsh_and_emoji():
    text = "Ŵyr 🏴󠁧󠁢󠁷󠁬󠁳󠁿 👩‍👩‍👧: https://llyw.cymru/ŵ?a=1. #DŵrGlân 🌊 @bob.test's @Senedd.Cymru."
    assert spans(text) == [
        ("link", "https://llyw.cymru/ŵ?a=1", "https://llyw.cymru/ŵ?a=1"),
        ("tag", "DŵrGlân", "#DŵrGlân"),
        ("mention", "bob.test", "@bob.test"),
        ("mention", "Senedd.Cymru", "@Senedd.Cymru"),
    ]


def test_facet_edges():
    assert spans("(https://example.org/a)") == [
        ("link", "https://example.org/a", "https://example.org/a")
    ]
    assert spans("https://en.wikipedia.org/wiki/Cymru_(gwlad)") == [
        ("link", "https://en.wikipedia.org/wiki/Cymru_(gwlad)", "https://en.wikipedia.org/wiki/Cymru_(gwlad)")
    ]  # fmt: skip
    assert spans("#123 #1af #tag!!! a#b") == [("tag", "1af", "#1af"), ("tag", "tag", "#tag")]
    assert spans("email a@b.org, @nodot, @-bad.test") == []
    assert spans("@bob.testŵ") == [("mention", "bob.test", "@bob.test")]  # ASCII \b, as the app


def test_length_limits_are_graphemes_then_bytes():
    assert length_problem("ŵ" * 299 + "🏴󠁧󠁢󠁷󠁬󠁳󠁿") is None  # 300 graphemes, 626 bytes
    assert "301 graphemes" in (length_problem("ŵ" * 301) or "")
    family = "👨‍👩‍👧‍👦"  # 1 grapheme, 25 bytes
    assert "3025 UTF-8 bytes" in (length_problem(family * 121) or "")


# --- configuration, the error mapping, the gate ----------------------------------------------------


def config(tmp_path: Path, handle: str = "bot.test", password: str | None = "pw") -> Config:
    settings = Settings(
        paths=PathsSettings(data=str(tmp_path)),
        bluesky=BlueskySettings(service_url=f"http://127.0.0.1:{closed_port()}", handle=handle),
    )
    secrets = {"KINDLING_BLUESKY_APP_PASSWORD": SecretStr(password)} if password else {}
    return Config(settings, tmp_path, Secrets(secrets))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_missing_credentials_name_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("KINDLING_BLUESKY_HANDLE", raising=False)
    with pytest.raises(AuthFailed, match="KINDLING_BLUESKY_APP_PASSWORD"):
        BlueskyPlatform.from_config(config(tmp_path, password=None))
    with pytest.raises(AuthFailed, match="KINDLING_BLUESKY_HANDLE"):
        BlueskyPlatform.from_config(config(tmp_path, handle=""))


def test_connection_refused_is_transient_and_long_text_is_rejected_first(tmp_path, monkeypatch):
    monkeypatch.delenv("KINDLING_BLUESKY_HANDLE", raising=False)
    adapter = BlueskyPlatform.from_config(config(tmp_path))
    assert "pw" not in repr(adapter)
    long = PostRequest(key="k", text="ŵ" * 301, language="cy", slot=SLOT)
    with pytest.raises(Rejected, match="301 graphemes"):
        adapter.publish(long)  # no server is listening: a network call would be Transient
    with pytest.raises(Transient, match="ConnectError"):
        adapter.check_account()
    with pytest.raises(Transient):
        adapter.publish(PostRequest(key="k", text="hi", language="cy", slot=SLOT))


def error(
    status: int, name: str = "", headers: dict[str, str] | None = None
) -> sdk.RequestErrorBase:
    content = XrpcError(error=name, message="because") if name else b""
    response = Response(False, status, content, headers or {})
    kind = {400: sdk.BadRequestError, 401: sdk.UnauthorizedError, 429: sdk.RateLimitExceededError}
    return kind.get(status, sdk.RequestException)(response)


def transport(cause: Exception, timeout: bool = False) -> sdk.NetworkError:
    try:
        raise cause
    except Exception as exc:
        wrapped = sdk.InvokeTimeoutError() if timeout else sdk.NetworkError()
        wrapped.__cause__ = exc
        return wrapped


@pytest.mark.parametrize(
    ("exc", "create", "expected"),
    [
        (error(400, "InvalidRequest"), True, Rejected),
        (error(401, "AuthenticationRequired"), False, TokenRejected),
        (error(400, "AccountTakedown"), False, AuthFailed),
        (error(400, "ExpiredToken"), False, TokenRejected),
        (error(401, "InvalidToken"), True, TokenRejected),
        (error(500, "InternalServerError"), True, Ambiguous),
        (error(500, "InternalServerError"), False, Transient),
        (error(503), True, Ambiguous),
        (transport(httpx.ConnectError("refused")), True, Transient),
        (transport(httpx.ReadTimeout("slow"), timeout=True), True, Ambiguous),
        (transport(httpx.ReadTimeout("slow"), timeout=True), False, Transient),
        (transport(httpx.ConnectTimeout("slow"), timeout=True), True, Transient),
        (transport(httpx.RemoteProtocolError("cut")), True, Ambiguous),
    ],
)
def test_error_mapping(tmp_path, exc, create, expected):
    adapter = BlueskyPlatform.from_config(config(tmp_path))
    mapped = adapter._map(exc, "doing it", create)
    assert type(mapped) is expected
    assert mapped.platform == "bluesky"


def test_429_maps_to_rate_limited_with_the_reset_header(tmp_path):
    adapter = BlueskyPlatform.from_config(config(tmp_path))
    reset = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp())
    mapped = adapter._map(
        error(429, "RateLimitExceeded", {"ratelimit-reset": str(reset)}), "x", True
    )
    assert isinstance(mapped, RateLimited)
    assert mapped.reset_at == datetime(2030, 1, 1, tzinfo=UTC)


def test_rate_limit_gate_blocks_a_spent_method_until_its_reset():
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    clock = [now]
    gate = RateLimitGate(clock=lambda: clock[0])
    url = "http://pds.test/xrpc/com.atproto.repo.createRecord"
    reset = str(int((now + timedelta(minutes=5)).timestamp()))
    answer = httpx.Response(
        200,
        headers={"ratelimit-remaining": "0", "ratelimit-reset": reset},
        request=httpx.Request("POST", url),
    )
    gate.after(answer)
    with pytest.raises(RateLimited) as caught:
        gate.before(httpx.Request("POST", url))
    assert caught.value.reset_at == now + timedelta(minutes=5)
    gate.before(httpx.Request("GET", "http://pds.test/xrpc/app.bsky.feed.getPosts"))  # others go
    clock[0] = now + timedelta(minutes=6)
    gate.before(httpx.Request("POST", url))  # the budget is back


@pytest.mark.parametrize(
    "text",
    [
        "Darllenwch https://llyw.cymru/ŵ?a=1. #DŵrGlân 🌊 @bob.test's @senedd.cymru.",
        "🏴󠁧󠁢󠁷󠁬󠁳󠁿 👩‍👩‍👧 (https://example.org/a) #tag!!! #123 #1af\n@alice.test\t#ŵyl",
        "https://en.wikipedia.org/wiki/Cymru_(gwlad) a@b.org @nodot #\ufe0fx ＃llawn",
    ],
)
def test_facets_agree_with_the_sdk_detection(text):
    """The SDK's own (offline) detection is an independent oracle for links, tags, mentions.
    (It skips mentions whose top-level domain is not in its list, case-sensitively, so
    `@Senedd.Cymru` is plain text there; ours resolves every well-formed handle, and an
    unresolvable one is refused loudly.)"""
    from atproto_client.utils import facet_detection

    theirs = []
    for facet in facet_detection.detect_facets(text):
        feature = facet.features[0]
        value = getattr(feature, "uri", None) or feature.tag
        kind = "link" if hasattr(feature, "uri") else "tag"
        theirs.append((kind, value, facet.index.byte_start, facet.index.byte_end))
    for mention in facet_detection.detect_mentions(text):
        theirs.append(("mention", mention.handle, mention.byte_start, mention.byte_end))
    ours = [(f.kind, f.value, f.byte_start, f.byte_end) for f in detect_facets(text)]
    assert sorted(ours, key=lambda f: f[2]) == sorted(theirs, key=lambda f: f[2])


# --- notifications -------------------------------------------------------------------------------


def notification(uri: str, created: datetime, indexed: datetime, reason: str = "reply") -> object:
    record = {"text": uri, "createdAt": created.isoformat()}
    author = SimpleNamespace(did=f"did:plc:{uri}", handle=f"{uri}.test")
    return SimpleNamespace(
        uri=f"at://did:plc:{uri}/app.bsky.feed.post/{uri}",
        reason=reason,
        record=record,
        author=author,
        indexed_at=indexed.isoformat(),
    )


def listing(*items: Any, page_size: int = 2) -> Callable[[str | None], object]:
    """listNotifications as the AppView answers it: newest sortAt first, paged."""
    ordered = sorted(items, key=lambda n: min(n.indexed_at, n.record["createdAt"]), reverse=True)

    def fetch(cursor: str | None) -> object:
        start = int(cursor or 0)
        rest = ordered[start + page_size :]
        return SimpleNamespace(
            notifications=ordered[start : start + page_size],
            cursor=str(start + page_size) if rest else None,
        )

    return fetch


def test_a_notification_indexed_late_is_found_below_ones_already_read():
    # The quote was created before the target's reply but indexed after the first poll, so it
    # sorts below the reply (sortAt is the earlier of createdAt and indexedAt).
    t = SLOT
    early_reply = notification("supporter", t, t + timedelta(seconds=1))
    target_reply = notification("target", t + timedelta(seconds=4), t + timedelta(seconds=5))
    first = collect_mentions(listing(target_reply, early_reply), None, "did:plc:bot")
    assert [m.author_handle for m in first.mentions] == ["target.test", "supporter.test"]
    late_quote = notification("quoter", t + timedelta(seconds=2), t + timedelta(seconds=9), "quote")
    old = notification("old", t - timedelta(hours=2), t - timedelta(hours=2))
    second = collect_mentions(
        listing(target_reply, late_quote, early_reply, old), first.cursor, "did:plc:bot"
    )
    assert "quoter.test" in [m.author_handle for m in second.mentions]
    assert "old.test" not in [m.author_handle for m in second.mentions]  # read down to a bound
    assert second.cursor == late_quote.indexed_at


def test_the_bots_own_notifications_and_likes_are_left_out():
    t = SLOT
    own = notification("bot", t, t)
    own.author.did = "did:plc:bot"
    like = notification("liker", t, t, reason="like")
    page = collect_mentions(listing(own, like), None, "did:plc:bot")
    assert page.mentions == [] and page.cursor == t.isoformat()
