"""Every post and ask rendered and counted; over-long ones named with what, where and how long."""

from __future__ import annotations

from tests.conftest import MINIMAL_CAMPAIGN, STANCE_CAMPAIGN

ASKS = """\
targets:
  - {id: ms-a, name: Aelod A, handles: {x: ms_a, bluesky: ms-a.example.org, email: a@senedd.example}}
  - {id: ms-b, name: "Aelod B gydag enw hir iawn iawn iawn iawn iawn iawn iawn iawn iawn", handles: {x: ms_b}}
asks:
  - id: statement
    wordings:
      cy: ['{{ handle }} Cefnogwch gydgynhyrchu! {{ link }}']
      en: ['{{ handle }} Back co-production, {{ target.name }}! {{ "x" * 220 }}']
"""


def test_posts_rotate_every_quote_in_every_language_and_platform(check_campaign_text):
    text = MINIMAL_CAMPAIGN + (
        "  - id: daily-quote\n"
        "    schedule: {daily: ['11:00']}\n"
        "    quote_pool: voices\n"
        "    text: {cy: '“{{ quote.text[language] }}” — {{ quote.who | local }}', en: '“{{ quote.text[language] }}” — {{ quote.who | local }}'}\n"
        "quote_pools:\n"
        "  - id: voices\n"
        "    quotes:\n"
        "      - {id: q1, who: Anna Coote, text: {cy: 'Un', en: 'One'}, source: letter}\n"
        "      - {id: q2, who: {cy: Prif Weinidog, en: First Minister}, text: {cy: 'Dau', en: 'Two'}, source: letter}\n"
    )
    report = check_campaign_text(text)
    assert report.problems == []
    quoted = {
        (r.quote, r.language, r.platform): r.text
        for r in report.renderings
        if r.id == "daily-quote"
    }
    assert len(quoted) == 2 * 2 * 2
    assert quoted[("q2", "cy", "bluesky")] == "“Dau” — Prif Weinidog"
    assert quoted[("q2", "en", "x")] == "“Two” — First Minister"
    assert quoted[("q1", "cy", "x")] == "“Un” — Anna Coote"


def test_asks_render_per_target_platform_and_skip_missing_handles(check_campaign_text):
    report = check_campaign_text(MINIMAL_CAMPAIGN + ASKS.replace('{{ "x" * 220 }}', ""))
    asks = [
        (r.target, r.platform, r.language, r.text) for r in report.renderings if r.kind == "ask"
    ]
    assert ("ms-a", "x", "cy", "@ms_a Cefnogwch gydgynhyrchu! https://example.org/letter") in asks
    assert (
        "ms-a",
        "bluesky",
        "cy",
        "@ms-a.example.org Cefnogwch gydgynhyrchu! https://example.org/letter",
    ) in asks
    assert ("ms-a", "email", "cy", "Cefnogwch gydgynhyrchu! https://example.org/letter") in asks
    # ms-b has only an X handle: no Bluesky, Mastodon or email renderings for it.
    assert {p for t, p, _, _ in asks if t == "ms-b"} == {"x"}
    summary = report.summary()
    assert {"target": "ms-b", "platform": "bluesky"} in summary["gaps"]
    assert {"target": "ms-a", "platform": "mastodon"} in summary["gaps"]


def test_over_long_ask_is_named_with_target_language_platform_and_length(check_campaign_text):
    report = check_campaign_text(MINIMAL_CAMPAIGN + ASKS)
    # The en wording (line 18, col 12) fits for ms-a (255) but not with ms-b's long name (314).
    assert [str(p) for p in report.problems] == [
        "campaigns/c.yaml:18:12: ask 'statement' wording 1 (en) for target 'ms-b' on x is too long: "
        "314 weighted characters, over the limit of 280"
    ]
    ms_a = next(
        r for r in report.renderings if (r.target, r.platform, r.language) == ("ms-a", "x", "en")
    )
    assert (ms_a.count.length, ms_a.ok) == (255, True)


def test_bluesky_byte_limit_is_reported(check_campaign_text):
    # One grapheme of 22 UTF-8 bytes after NFC (e + U+0301 composes to é, then 10 more marks).
    heavy = "e" + "\u0301" * 11
    text = MINIMAL_CAMPAIGN.replace("Read {{ link }}", heavy * 140).replace(
        "links:", "platforms: [bluesky]\nlinks:"
    )
    report = check_campaign_text(text)
    (problem,) = report.problems
    assert str(problem).endswith(
        "post 'launch' (en) on bluesky is too long: 3080 UTF-8 bytes, over 3000"
    )


def test_each_target_gets_only_the_wordings_for_its_stance_numbered_as_written(
    check_campaign_text,
):
    report = check_campaign_text(STANCE_CAMPAIGN)
    assert report.problems == []
    on_x = {
        (r.target, r.language, r.wording, r.text)
        for r in report.renderings
        if r.kind == "ask" and r.platform == "x"
    }
    assert on_x == {
        ("ally", "cy", 1, "@ally_ms, cefnogwch gydgynhyrchu."),
        ("ally", "cy", 2, "@ally_ms, diolch am eich cefnogaeth."),
        ("ally", "en", 1, "@ally_ms, please back co-production."),
        ("ally", "en", 2, "@ally_ms, thank you for your support."),
        ("ally", "en", 4, "@ally_ms, hear us out."),
        ("foe", "cy", 1, "@foe_ms, cefnogwch gydgynhyrchu."),
        ("foe", "cy", 3, "@foe_ms, ailystyriwch os gwelwch yn dda."),
        ("foe", "en", 1, "@foe_ms, please back co-production."),
        ("foe", "en", 3, "@foe_ms, please think again."),
        ("foe", "en", 4, "@foe_ms, hear us out."),
        ("unsure", "cy", 1, "@unsure_ms, cefnogwch gydgynhyrchu."),
        ("unsure", "en", 1, "@unsure_ms, please back co-production."),
    }
    email = {
        (r.wording, r.text)
        for r in report.renderings
        if r.kind == "ask" and r.platform == "email" and r.language == "en"
    }
    assert email == {
        (1, "Aelod Gwrthwynebus, please back co-production."),
        (3, "Aelod Gwrthwynebus, please think again."),
        (4, "Aelod Gwrthwynebus, hear us out."),
    }


def test_an_over_long_stance_wording_points_at_its_text(check_campaign_text):
    report = check_campaign_text(
        STANCE_CAMPAIGN.replace("please think again.", 'please think again. {{ "x" * 270 }}')
    )
    # Line 25 of the campaign; the text value of the mapping starts at column 18.
    assert [str(p) for p in report.problems] == [
        "campaigns/c.yaml:25:18: ask 'statement' wording 3 (en) for target 'foe' on x is too "
        "long: 299 weighted characters, over the limit of 280"
    ]
