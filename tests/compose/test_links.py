"""Link builders: exact URLs for hard texts; every ask link of a campaign, as preview renders it."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from bot.campaign.model import Target
from bot.cli.main import main
from bot.compose.lengths import count
from bot.compose.links import (
    ask_links,
    intent_url,
    link_token,
    mastodon_instance,
    mastodon_share_path,
    wording_for,
)
from bot.compose.templates import Templates
from bot.problems import ProblemsFound
from tests.conftest import MINIMAL_CAMPAIGN, STANCE_CAMPAIGN

# Welsh in NFD (w + U+0302 circumflex), '#' and '&', a line break, a family emoji (a ZWJ
# sequence), '+', '=' and '%'.
HARD = "Dw\u0302r a\u0302 y\u0302d #Cymru & mwy\nAil linell 👨‍👩‍👧‍👦 1+1=2 100%"
FAMILY = "%F0%9F%91%A8%E2%80%8D%F0%9F%91%A9%E2%80%8D%F0%9F%91%A7%E2%80%8D%F0%9F%91%A6"
HARD_LINE_1 = "D%C5%B5r%20%C3%A2%20%C5%B7d%20%23Cymru%20%26%20mwy"
HARD_LINE_2 = f"Ail%20linell%20{FAMILY}%201%2B1%3D2%20100%25"


def test_x_intent_is_exact_for_welsh_nfd_hash_ampersand_newline_emoji_plus_percent():
    assert intent_url("x", HARD) == (
        "https://x.com/intent/tweet?text="
        "D%C5%B5r%20%C3%A2%20%C5%B7d%20%23Cymru%20%26%20mwy%0A"
        "Ail%20linell%20%F0%9F%91%A8%E2%80%8D%F0%9F%91%A9%E2%80%8D%F0%9F%91%A7%E2%80%8D"
        "%F0%9F%91%A6%201%2B1%3D2%20100%25"
    )


def test_every_platform_builds_its_exact_link():
    body = f"{HARD_LINE_1}%0A{HARD_LINE_2}"
    assert intent_url("bluesky", HARD) == f"https://bsky.app/intent/compose?text={body}"
    assert intent_url("threads", HARD) == f"https://www.threads.com/intent/post?text={body}"
    assert (
        intent_url("mastodon", HARD, instance="mastodon.social")
        == f"https://mastodon.social/share?text={body}"
    )
    assert mastodon_share_path(HARD) == f"/share?text={body}"
    # RFC 6068: %20 for spaces (never '+'), CRLF line breaks, the address left readable.
    assert intent_url(
        "email", HARD, email="ms-a@senedd.example", subject="Llythyr Agored & Cymru"
    ) == (
        "mailto:ms-a@senedd.example?subject=Llythyr%20Agored%20%26%20Cymru"
        f"&body={HARD_LINE_1}%0D%0A{HARD_LINE_2}"
    )


def test_line_endings_are_normalised_per_link_kind():
    assert intent_url("x", "a\r\nb\rc") == "https://x.com/intent/tweet?text=a%0Ab%0Ac"
    assert intent_url("email", "a\nb\r\nc") == "mailto:?body=a%0D%0Ab%0D%0Ac"
    # A subject is one line; a line break there becomes a space.
    assert intent_url("email", "x", email="a@b.example", subject="one\ntwo") == (
        "mailto:a@b.example?subject=one%20two&body=x"
    )


def test_the_text_cannot_break_out_of_its_parameter():
    url = intent_url("x", "a&url=https://evil.example#frag?x=1/../")
    assert url == (
        "https://x.com/intent/tweet?text="
        "a%26url%3Dhttps%3A%2F%2Fevil.example%23frag%3Fx%3D1%2F..%2F"
    )
    assert url.count("&") == 0 and url.count("#") == 0 and url.count("=") == 1
    assert "%3Cscript%3E" in intent_url("bluesky", "<script>")


@pytest.mark.parametrize(
    "bad",
    [
        "evil.example/path",
        "//x",
        "user@host",
        "user@host.example",
        "",
        "https://mastodon.social",
        "mastodon.social:443",
        "mastodon.social/",
        "mastodon.social.",
        "mastodon.social\n",
        " mastodon.social",
        "localhost",
        "127.0.0.1",
        "-bad.example",
        "a..example",
        "exa mple.org",
        "x" * 250 + ".org",
        "\\\\evil.example",
    ],
)
def test_a_mastodon_instance_must_be_a_bare_host_name(bad):
    with pytest.raises(ValueError, match="server"):
        mastodon_instance(bad)
    with pytest.raises(ValueError):
        intent_url("mastodon", "hello", instance=bad)


def test_good_mastodon_instances_are_normalised():
    assert mastodon_instance("Mastodon.Social") == "mastodon.social"
    assert mastodon_instance("toot.wales") == "toot.wales"
    assert mastodon_instance("bücher.example") == "xn--bcher-kva.example"
    assert intent_url("mastodon", "hi", instance="Social.Example.ORG") == (
        "https://social.example.org/share?text=hi"
    )
    with pytest.raises(ValueError, match="needs the supporter's server"):
        intent_url("mastodon", "hi")


@pytest.mark.parametrize(
    "bad", ["a@b@c.example", "x y@z.example", "a,b@x.example", "a@evil.example/path", "nobody"]
)
def test_a_bad_email_address_is_refused(bad):
    with pytest.raises(ValueError, match="not one email address"):
        intent_url("email", "hi", email=bad)


def test_unknown_platform():
    with pytest.raises(ValueError, match="unknown platform 'myspace'"):
        intent_url("myspace", "hi")


def test_link_tokens_are_stable_short_and_distinct():
    token = link_token("demo", "ms-a", "statement", 1, "x", "cy")
    assert token == link_token("demo", "ms-a", "statement", 1, "x", "cy")
    assert re.fullmatch(r"[a-z2-7]{16}", token)
    others = {
        link_token("demo2", "ms-a", "statement", 1, "x", "cy"),
        link_token("demo", "ms-b", "statement", 1, "x", "cy"),
        link_token("demo", "ms-a", "other", 1, "x", "cy"),
        link_token("demo", "ms-a", "statement", 2, "x", "cy"),
        link_token("demo", "ms-a", "statement", 1, "bluesky", "cy"),
        link_token("demo", "ms-a", "statement", 1, "x", "en"),
    }
    assert len(others) == 6 and token not in others


LINKS_CAMPAIGN = (
    MINIMAL_CAMPAIGN.replace(
        'name: {cy: "Ymgyrch", en: "Campaign"}', 'name: {cy: "Ymgyrch & Cymru", en: "Campaign"}'
    )
    + "ask_platforms: [x, bluesky, mastodon, threads, email]\n"
    + "targets:\n"
    + "  - {id: ms-a, name: Aelod A, constituency: Caerdydd Penarth, handles: {x: ms_a, bluesky: ms-a.example.org, mastodon: a@social.example.org, threads: ms_a, email: a@senedd.example}}\n"
    + "  - {id: ms-b, name: Aelod B, constituency: Caerdydd Penarth, handles: {x: ms_b}}\n"
    + "  - {id: fm, name: Prif Weinidog, role: First Minister}\n"
    + "asks:\n"
    + "  - id: statement\n"
    + "    wordings:\n"
    + "      cy: ['{{ handle or target.name }}, cefnogwch! #Cymru {{ link }}', \"Ail: {{ handle or target.name }}\\nŵ ŷ\"]\n"
    + "      en: ['{{ handle or target.name }}, please back it. {{ link }}']\n"
)


@pytest.fixture
def links_of(check_campaign_text, workdir):
    def _links(text: str, **kwargs):
        report = check_campaign_text(text)
        links = ask_links(report.loaded, Templates(workdir / "templates"), **kwargs)
        return report, links

    return _links


def test_ask_links_cover_every_handle_and_match_preview(links_of):
    report, links = links_of(LINKS_CAMPAIGN)
    assert report.problems == []
    preview = {
        (r.target, r.id, r.wording, r.platform, r.language, r.text)
        for r in report.renderings
        if r.kind == "ask"
    }
    assert {
        (k.target_id, k.ask_id, k.wording, k.platform, k.language, k.text) for k in links
    } == preview
    # ms-a: 5 platforms x 3 wordings; ms-b: X only; fm has no handle anywhere: no link at all.
    assert Counter(k.target_id for k in links) == {"ms-a": 15, "ms-b": 3}
    assert {k.platform for k in links if k.target_id == "ms-b"} == {"x"}
    assert len({k.token for k in links}) == len(links)


def test_ask_link_urls_are_the_builders_urls(links_of):
    _, links = links_of(LINKS_CAMPAIGN)
    by_key = {(k.target_id, k.platform, k.language, k.wording): k for k in links}
    email = by_key[("ms-a", "email", "cy", 1)]
    assert email.text == "Aelod A, cefnogwch! #Cymru https://example.org/letter"
    assert email.url == (
        "mailto:a@senedd.example?subject=Ymgyrch%20%26%20Cymru"
        "&body=Aelod%20A%2C%20cefnogwch%21%20%23Cymru%20https%3A%2F%2Fexample.org%2Fletter"
    )
    threads = by_key[("ms-a", "threads", "cy", 2)]
    assert (
        threads.url == "https://www.threads.com/intent/post?text=Ail%3A%20%40ms_a%0A%C5%B5%20%C5%B7"
    )
    assert by_key[("ms-a", "email", "en", 1)].url.startswith(
        "mailto:a@senedd.example?subject=Campaign&body=Aelod%20A%2C%20please"
    )
    mastodon = by_key[("ms-a", "mastodon", "cy", 1)]
    assert mastodon.url is None
    assert mastodon.text.startswith("@a@social.example.org, cefnogwch!")
    x = by_key[("ms-b", "x", "en", 1)]
    assert x.url == intent_url("x", x.text)
    assert x.token == link_token("demo", "ms-b", "statement", 1, "x", "en")
    assert (x.campaign_id, x.ask_id) == ("demo", "statement")


X_BOUNDARY = (
    MINIMAL_CAMPAIGN
    + "targets:\n"
    + "  - {id: short, name: S, handles: {x: ab}}\n"
    + "  - {id: longer, name: L, handles: {x: abc}}\n"
    + "asks:\n"
    + "  - id: boundary\n"
    + "    wordings:\n"
    # '@ab' + ' ' + 10 x ŵ (written in NFD: w + U+0302, still one character each) + 266 x
    # = 280 weighted characters; with '@abc' the same wording is 281.
    + '      cy: [\'{{ handle }} {{ "w\u0302" * 10 }}{{ "x" * 266 }}\']\n'
    + "      en: ['{{ handle }} ok']\n"
)


def test_an_x_text_of_280_with_its_handle_fits_exactly(links_of):
    _, links = links_of(X_BOUNDARY.replace("  - {id: longer, name: L, handles: {x: abc}}\n", ""))
    link = next(k for k in links if k.language == "cy")
    text = unquote(link.url.removeprefix("https://x.com/intent/tweet?text="))
    assert text == link.text and text.startswith("@ab ŵŵŵ")
    assert count("x", text).length == 280
    assert link.url.count("%C5%B5") == 10


def test_the_same_wording_is_281_with_a_longer_handle_and_nothing_is_exported(
    check_campaign_text, workdir
):
    report = check_campaign_text(X_BOUNDARY)
    expected = (
        "campaigns/c.yaml:17:12: ask 'boundary' wording 1 (cy) for target 'longer' on x is too "
        "long: 281 weighted characters, over the limit of 280"
    )
    assert [str(p) for p in report.problems] == [expected]
    with pytest.raises(ProblemsFound) as refused:
        ask_links(report.loaded, Templates(workdir / "templates"))
    assert [str(p) for p in refused.value.problems] == [expected]
    # And `kindling check` says the same, with exit status 1.
    result = CliRunner().invoke(main, ["check", "campaigns/c.yaml"])
    assert result.exit_code == 1
    assert expected in result.output


def test_a_template_error_in_an_ask_refuses_too(check_campaign_text, workdir):
    report = check_campaign_text(
        MINIMAL_CAMPAIGN
        + "targets: [{id: a, name: A, handles: {x: a_a}}]\n"
        + "asks: [{id: bad, wordings: {cy: ['{{ nope }}'], en: ['ok']}}]\n"
    )
    with pytest.raises(ProblemsFound) as refused:
        ask_links(report.loaded, Templates(workdir / "templates"))
    assert [str(p) for p in refused.value.problems] == [str(p) for p in report.problems]
    assert "undefined name" in str(refused.value)


def test_duplicate_target_ids_refuse(check_campaign_text, workdir):
    report = check_campaign_text(
        MINIMAL_CAMPAIGN
        + "targets: [{id: a, name: A, handles: {x: a_a}}, {id: a, name: B, handles: {x: b_b}}]\n"
        + "asks: [{id: ok, wordings: {cy: ['{{ handle }}'], en: ['{{ handle }}']}}]\n"
    )
    with pytest.raises(ProblemsFound, match="duplicate target id 'a'"):
        ask_links(report.loaded, Templates(workdir / "templates"))


def test_wordings_rotate_per_target(check_campaign_text):
    report = check_campaign_text(
        MINIMAL_CAMPAIGN + "asks: [{id: three, wordings: {cy: [un, dau, tri], en: [one]}}]\n"
    )
    ask = report.loaded.campaign.asks[0]
    ms_a = Target(id="ms-a", name="A")
    given = [wording_for(ask, "cy", ms_a, counter) for counter in range(6)]
    assert sorted(given) == [1, 1, 2, 2, 3, 3]
    assert all(a != b for a, b in itertools.pairwise(given))
    assert given == [wording_for(ask, "cy", ms_a, counter) for counter in range(6)]
    starts = {wording_for(ask, "cy", Target(id=f"target-{n}", name="T"), 0) for n in range(30)}
    assert starts == {1, 2, 3}  # targets start at different wordings
    assert {wording_for(ask, "en", ms_a, n) for n in range(4)} == {1}
    with pytest.raises(ValueError, match="no wordings in 'fr'"):
        wording_for(ask, "fr", ms_a, 0)


@pytest.mark.parametrize("rotate_from", [0, 1, 2, 7])
def test_ask_links_put_the_next_wording_first(links_of, rotate_from):
    report, links = links_of(LINKS_CAMPAIGN, rotate_from=rotate_from)
    ask = report.loaded.campaign.asks[0]
    targets = {target.id: target for target in report.loaded.campaign.targets}
    groups: dict[tuple, list[int]] = {}
    for link in links:
        groups.setdefault((link.target_id, link.platform, link.language), []).append(link.wording)
    for (target_id, _platform, language), wordings in groups.items():
        first = wording_for(ask, language, targets[target_id], rotate_from)
        n = len(ask.wordings[language])
        assert wordings == [(first - 1 + step) % n + 1 for step in range(n)]
    order = [link.target_id for link in links]
    assert order == sorted(order, key=["ms-a", "ms-b"].index)  # campaign order of targets


def test_the_founding_campaign_has_links_for_every_handle():
    root = Path(__file__).resolve().parents[2]
    from bot.campaign.loader import load_campaign

    loaded, problems = load_campaign(root / "campaigns" / "open-letter-2.yaml")
    assert problems == []
    links = ask_links(loaded, Templates(root / "templates"))
    assert len(links) > 500
    assert all(link.url is None for link in links if link.platform == "mastodon")
    assert all(
        link.url and link.url.startswith("https://")
        for link in links
        if link.platform in ("x", "bluesky")
    )
    assert {link.target_id for link in links} == {
        t.id for t in loaded.campaign.targets if any(t.handles.model_dump().values())
    }


def test_rotation_goes_round_only_the_wordings_for_the_targets_stance(check_campaign_text):
    report = check_campaign_text(STANCE_CAMPAIGN)
    ask = report.loaded.campaign.asks[0]
    foe = Target(id="foe", name="F", stance="opposed")
    given = [wording_for(ask, "en", foe, counter) for counter in range(6)]
    # The numbers are places in the whole en list (1, 3, 4), each given in turn.
    assert sorted(given) == [1, 1, 3, 3, 4, 4]
    assert all(a != b for a, b in itertools.pairwise(given))
    assert {wording_for(ask, "cy", foe, n) for n in range(4)} == {1, 3}
    assert {wording_for(ask, "en", Target(id="x", name="X"), n) for n in range(4)} == {1}
    starts = {
        wording_for(ask, "en", Target(id=f"t-{n}", name="T", stance="supportive"), 0)
        for n in range(30)
    }
    assert starts == {1, 2, 4}
    with pytest.raises(ValueError, match="for target 'x' \\(stance 'neutral'\\)"):
        wording_for(
            ask.model_copy(update={"wordings": {"en": ask.wordings["en"][1:]}}),
            "en",
            Target(id="x", name="X", stance="neutral"),
            0,
        )


@pytest.mark.parametrize("rotate_from", [0, 1, 2])
def test_stance_links_keep_their_wording_numbers_and_put_the_next_first(links_of, rotate_from):
    report, links = links_of(STANCE_CAMPAIGN, rotate_from=rotate_from)
    targets = {target.id: target for target in report.loaded.campaign.targets}
    ask = report.loaded.campaign.asks[0]
    foe_en_x = [k for k in links if (k.target_id, k.language, k.platform) == ("foe", "en", "x")]
    first = wording_for(ask, "en", targets["foe"], rotate_from)
    applicable = [1, 3, 4]
    start = applicable.index(first)
    assert [k.wording for k in foe_en_x] == applicable[start:] + applicable[:start]
    third = next(k for k in foe_en_x if k.wording == 3)
    assert third.text == "@foe_ms, please think again."
    assert third.token == link_token("demo", "foe", "statement", 3, "x", "en")
    assert Counter((k.target_id, k.language) for k in links) == {
        ("ally", "cy"): 2,
        ("ally", "en"): 3,
        ("foe", "cy"): 2 * 2,  # x and email
        ("foe", "en"): 3 * 2,
        ("unsure", "cy"): 1,
        ("unsure", "en"): 1,
    }


def test_a_wording_newly_given_to_a_stance_leaves_the_other_numbers_and_tokens_alone(links_of):
    _, before = links_of(STANCE_CAMPAIGN)
    # Wording 2 (both languages) now goes to opposed targets instead of supportive ones.
    _, after = links_of(STANCE_CAMPAIGN.replace("stances: [supportive]}", "stances: [opposed]}"))

    def foe(links: list) -> dict[tuple, str]:
        return {(k.language, k.platform, k.wording): k.token for k in links if k.target_id == "foe"}

    assert sorted(key for key in foe(after) if key[2] == 2) == [
        ("cy", "email", 2),
        ("cy", "x", 2),
        ("en", "email", 2),
        ("en", "x", 2),
    ]
    assert {key: token for key, token in foe(after).items() if key[2] != 2} == foe(before)


def test_the_founding_campaign_thanks_only_its_supportive_targets():
    root = Path(__file__).resolve().parents[2]
    from bot.campaign.loader import load_campaign

    loaded, problems = load_campaign(root / "campaigns" / "open-letter-2.yaml")
    assert problems == []
    links = ask_links(loaded, Templates(root / "templates"))
    thanked = {
        (k.target_id, k.language) for k in links if (k.ask_id, k.wording) == ("ask-network", 3)
    }
    assert thanked == {
        (target, language)
        for target in ("ms-caerdydd-penarth-a", "ms-gwynedd-maldwyn-h")
        for language in ("cy", "en")
    }
    text = next(
        k.text
        for k in links
        if (k.target_id, k.ask_id, k.wording, k.platform, k.language)
        == ("ms-gwynedd-maldwyn-h", "ask-network", 3, "email", "cy")
    )
    assert text.startswith(
        "Placeholder Member H (Gwynedd Maldwyn), diolch am gefnogi cydgynhyrchu."
    )
