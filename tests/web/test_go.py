"""`/go/{token}`: one committed click per redirect, only to links Kindling generated, privately."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from bot.compose.links import intent_url
from bot.store.tables import ClickRow, LinkRow
from bot.web import WebOptions
from bot.web.go import ClientHasher, RateLimiter, clean_instance
from tests.web.conftest import raw_get, token_for

SAME_ORIGIN = {"sec-fetch-site": "same-origin"}


def test_a_click_is_recorded_once_and_redirects_to_the_stored_url(app, client, clicks):
    token = token_for(app, campaign_id="demo", target_id="sian", platform="bluesky", language="cy")
    link = app.web.links[token]
    before = datetime.now(UTC)
    answer = client.get(f"/go/{token}")
    assert answer.status_code == 302
    assert answer.headers["location"] == link.location.decode()
    assert answer.headers["location"].startswith("https://bsky.app/intent/compose?text=")
    assert "set-cookie" not in answer.headers
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    rows = clicks()
    assert len(rows) == 1
    row = rows[0]
    assert (row.token, row.campaign_id, row.target_id, row.ask_id, row.platform, row.language) == (
        token,
        "demo",
        "sian",
        link.ask_id,
        "bluesky",
        "cy",
    )
    assert row.wording == link.wording
    assert before - timedelta(seconds=1) <= row.at <= datetime.now(UTC) + timedelta(seconds=1)
    assert row.client_hash and len(row.client_hash) == 32
    assert "testclient" not in row.client_hash


def test_every_request_is_one_row(app, client, clicks):
    tokens = [t for t, link in app.web.links.items() if link.platform in ("x", "bluesky", "email")]
    for token in tokens[:12]:
        assert raw_get(client, f"/go/{token}")["status"] == 302
    assert [row.token for row in clicks()] == tokens[:12]


def test_email_links_redirect_to_mailto(app, client, clicks):
    token = token_for(app, target_id="sian", platform="email", language="en")
    answer = raw_get(client, f"/go/{token}")
    assert answer["status"] == 302
    assert answer["headers"]["location"].startswith("mailto:sian@senedd.ffug.example?subject=")
    assert "+" not in answer["headers"]["location"]
    assert [row.platform for row in clicks()] == ["email"]


def test_the_links_table_holds_every_served_token(app, client):
    with app.web.store.read() as session:
        stored = dict(session.execute(select(LinkRow.token, LinkRow.url)).all())
    assert set(app.web.links) <= set(stored)
    mastodon = token_for(app, platform="mastodon", language="cy")
    assert stored[mastodon] == app.web.links[mastodon].text  # the text only: the host is theirs


# Paths that must never redirect anywhere Kindling did not generate (TOKEN: a demo link's token,
# OTHER: the other campaign's); also sent to the real server in test_go_protocol.py.
HOSTILE_PATHS = [
    "/go/",
    "/go/nope",
    "/go/https://evil.example",
    "/go/https:%2F%2Fevil.example",
    "/go///evil.example",
    "/go/%2F%2Fevil.example",
    "/go/%2f%2fevil.example%2f",
    "/go/..%2F..%2Fhealthz",
    "/go/\\\\evil.example",
    "/go/%0d%0aLocation:%20https://evil.example",
    "/go/TOKEN/extra",
    "/go/TOKEN%2F",
    "/go/TOKEN?url=https://evil.example&next=//evil.example&redirect=https://evil.example",
    "/other/go/TOKEN",
    "/demo/go/OTHER",
    "/go/TOKEN@evil.example",
    "/go/TOKEN%00",
    "/go/" + "a" * 5000,
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_paths_never_redirect_anywhere_else(app, client, clicks, path):
    token = token_for(app, campaign_id="demo", platform="x")
    other = token_for(app, campaign_id="other")
    answer = client.get(path.replace("TOKEN", token).replace("OTHER", other))
    location = answer.headers.get("location")
    generated = {link.location.decode() for link in app.web.links.values() if link.location}
    if answer.status_code == 302:  # only the query string was hostile: the stored URL, ignored
        assert location == app.web.links[token].location.decode()
    else:
        assert answer.status_code == 404
        assert location is None
        assert "set-cookie" not in answer.headers
    assert location is None or location in generated
    assert len(clicks()) == (1 if answer.status_code == 302 else 0)


def test_unknown_token_is_a_bilingual_404_page(client, clicks):
    answer = client.get("/go/aaaaaaaaaaaaaaaa")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "Heb ddod o hyd i’r dudalen" in answer.text and "Page not found" in answer.text
    assert clicks() == []


def test_another_campaigns_token_goes_to_its_own_link_only(app, client, clicks):
    other = token_for(app, campaign_id="other")
    assert client.get(f"/demo/go/{other}").status_code == 404
    answer = client.get(f"/go/{other}")
    assert answer.headers["location"] == app.web.links[other].location.decode()
    assert [row.campaign_id for row in clicks()] == ["other"]


def test_head_post_and_prefetch_are_not_clicks(app, client, clicks):
    token = token_for(app, platform="x")
    assert client.head(f"/go/{token}").status_code == 302
    assert client.post(f"/go/{token}").status_code == 405
    prefetch = client.get(f"/go/{token}", headers={"sec-purpose": "prefetch"})
    assert prefetch.status_code == 503 and "location" not in prefetch.headers
    assert clicks() == []


@pytest.mark.parametrize("header", [{"dnt": "1"}, {"sec-gpc": "1"}, {"DNT": " 1 "}])
def test_do_not_track_stores_no_hash(app, client, clicks, header):
    token = token_for(app, platform="x")
    assert client.get(f"/go/{token}", headers=header).status_code == 302
    assert client.get(f"/go/{token}", headers={"dnt": "0"}).status_code == 302
    first, second = clicks()
    assert first.client_hash is None
    assert second.client_hash is not None


def test_rate_limit_stops_counting_but_still_redirects(project, clicks):
    from tests.web.conftest import TestClient, create_app, make_config

    config = make_config(project, healthz_details=True)  # TestClient is no loopback client
    app = create_app(config, WebOptions(rate_limit=3, reload_seconds=0))
    token = token_for_app = None
    with TestClient(app, follow_redirects=False) as client:
        token_for_app = token_for(app, platform="x")
        token = token_for_app
        answers = [client.get(f"/go/{token}", headers={"dnt": "1"}) for _ in range(6)]
        health = client.get("/healthz").json()
    assert [a.status_code for a in answers] == [302] * 6
    assert len({a.headers["location"] for a in answers}) == 1
    assert len(clicks()) == 3
    assert health["clicks_recorded"] == 3 and health["clicks_not_recorded"] == 3


def test_rate_limiter_window_slides():
    now = [1200.0]  # the start of a window
    limiter = RateLimiter(2, 600, clock=lambda: now[0])
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b")
    now[0] += 600  # the next window: the previous one still weighs fully at its start
    assert not limiter.allow("a")
    now[0] += 599
    assert limiter.allow("a")
    assert RateLimiter(0, 600).allow("anyone")


def test_client_hash_is_salted_and_rotates_daily():
    day = [86400.0 * 20000]
    hasher = ClientHasher(clock=lambda: day[0])
    first = hasher("203.0.113.9")
    assert first == hasher("203.0.113.9") and first != hasher("203.0.113.10")
    assert "203.0.113.9" not in first
    assert ClientHasher(clock=lambda: day[0])("203.0.113.9") != first  # another process's salt
    day[0] += 86400
    assert hasher("203.0.113.9") != first


def test_mastodon_asks_for_the_server_then_redirects(app, client, clicks):
    token = token_for(app, platform="mastodon", language="cy")
    text = app.web.links[token].text
    form = client.get(f"/go/{token}")
    assert form.status_code == 200 and 'name="instance"' in form.text
    assert f'action="/go/{token}"' in form.text and 'lang="cy"' in form.text
    assert "mastodon.js" in form.text
    answer = client.get(f"/go/{token}?instance=Social.Example.org", headers=SAME_ORIGIN)
    assert answer.status_code == 302
    assert answer.headers["location"] == intent_url("mastodon", text, instance="social.example.org")
    assert answer.headers["location"].startswith("https://social.example.org/share?text=")
    assert len(clicks()) == 1


def test_mastodon_from_elsewhere_must_confirm_the_server(app, client, clicks):
    token = token_for(app, platform="mastodon", language="en")
    answer = client.get(
        f"/go/{token}?instance=evil.example", headers={"sec-fetch-site": "cross-site"}
    )
    assert answer.status_code == 200 and "location" not in answer.headers
    assert "evil.example" in answer.text and 'value="evil.example"' in answer.text
    assert clicks() == []


@pytest.mark.parametrize(
    "instance",
    [
        "evil.example/path",
        "//evil.example",
        "evil.example:8443",
        "evil.example?x=1",
        "evil.example#frag",
        "127.0.0.1",
        "localhost",
        "javascript:alert(1)",
        "<script>alert(1)</script>",
        "evil.example\r\nSet-Cookie: a=b",
        "evil .example",
        "",
    ],
)
def test_mastodon_refuses_anything_but_a_host(app, client, clicks, instance):
    token = token_for(app, platform="mastodon", language="en")
    answer = client.get(f"/go/{token}?instance={quote(instance, safe='')}", headers=SAME_ORIGIN)
    assert answer.status_code in (200, 400)
    assert "location" not in answer.headers and "set-cookie" not in answer.headers
    assert "<script>alert(1)</script>" not in answer.text
    assert clicks() == []


@pytest.mark.parametrize(
    ("typed", "host"),
    [
        ("mastodon.social", "mastodon.social"),
        (" https://Mastodon.Social/ ", "mastodon.social"),
        ("@someone@toot.example.org", "toot.example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_clean_instance(typed, host):
    assert clean_instance(typed) == host


def test_a_failed_commit_answers_503_and_does_not_redirect(app, client, clicks):
    token = token_for(app, platform="x")
    with app.web.store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE clicks")
    answer = client.get(f"/go/{token}")
    assert answer.status_code == 503
    assert "location" not in answer.headers
    assert "Please try again" in answer.text


def test_clicks_after_the_writer_stopped_are_refused(app, client):
    token = token_for(app, platform="x")
    app.web.writer.stop()
    answer = client.get(f"/go/{token}")
    assert answer.status_code == 503 and "location" not in answer.headers


def test_click_count_matches_rows(app, client):
    for _ in range(5):
        client.get(f"/go/{token_for(app, platform='bluesky')}")
    with app.web.store.read() as session:
        assert session.scalar(select(func.count()).select_from(ClickRow)) == 5
