"""`check`'s note for recurring X posts whose text never changes (X refuses duplicates)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.checks.run import check_one
from bot.compose.templates import Templates

HEAD = """\
id: demo
name: {en: Demo}
languages: [en]
active: {start: 2026-12-01, end: 2027-01-31}
platforms: [PLATFORMS]
quote_pools:
  - id: one
    quotes: [{id: q1, who: A, text: {en: "Hi"}, source: S}]
  - id: two
    quotes:
      - {id: q3, who: A, text: {en: "Hi"}, source: S}
      - {id: q2, who: B, text: {en: "Ho"}, source: S}
messages:
"""


def notes(write, messages: str, platforms: str = "x, bluesky") -> list[str]:
    path: Path = write("campaigns/demo.yaml", HEAD.replace("PLATFORMS", platforms) + messages)
    report = check_one(path, Templates(path.parent.parent / "templates"), "Europe/London")
    assert report.problems == []
    return [f"{n.line}:{n.col}: {n.message}" for n in report.notes]


def test_a_daily_post_with_fixed_text_gets_a_note_at_its_schedule(write) -> None:
    messages = "  - id: daily\n    schedule: {daily: ['10:00']}\n    text: {en: 'Same words'}\n"
    assert notes(write, messages) == [
        "15:15: message 'daily' posts the same text every time: X refuses a post identical to a "
        "recent one of the account, so repeats would fail there; vary it (a quote_pool, or "
        "{{ slot }} in the text)"
    ]


@pytest.mark.parametrize(
    "messages",
    [
        "  - id: dated\n    schedule: {daily: ['10:00']}\n    text: {en: 'On {{ slot.day }}'}\n",
        "  - id: rotating\n    schedule: {daily: ['10:00']}\n    quote_pool: two\n"
        "    text: {en: '{{ quote.text | local }}'}\n",
        "  - id: once\n    schedule: {at: '2026-12-02 10:00'}\n    text: {en: 'Same words'}\n",
    ],
)
def test_no_note_when_the_text_varies_or_is_posted_once(write, messages: str) -> None:
    assert notes(write, messages) == []


def test_no_note_for_a_single_quote_pool_on_bluesky_only(write) -> None:
    one_quote = (
        "  - id: rotating\n    schedule: {daily: ['10:00']}\n    quote_pool: one\n"
        "    text: {en: '{{ quote.text | local }}'}\n"
    )
    assert len(notes(write, one_quote)) == 1  # one quote: no rotation on X
    assert notes(write, one_quote, platforms="bluesky") == []
