"""Issue 14: the YAML mistakes organisers make are reported at the line where they were made,
with the fix, not where the parser gave up."""

from __future__ import annotations

HEADER = """\
id: demo
name: {cy: "Ymgyrch", en: "Campaign"}
languages: [cy, en]
active: {start: 2026-12-01, end: 2027-01-31}
links: {letter: "https://example.org/letter"}
"""  # 5 lines: the next line is line 6
MESSAGES = """\
messages:
  - id: launch
    schedule: {at: "2026-12-02 10:00"}
    text:
      cy: "Darllenwch: {{ link }}"
      en: "Read: {{ link }}"
"""


def test_a_hashtag_in_a_flow_list_is_blamed_on_its_own_line(problems_of):
    # Before: "c.yaml:8:3: YAML syntax error: expected the node content, but found '-'".
    assert problems_of(HEADER + "hashtags: [#ParciauCymru]\n" + MESSAGES) == [
        "campaigns/c.yaml:6:12: '#' starts a comment in YAML, so the rest of this line is "
        "ignored and the list is left open: write 'ParciauCymru' without the '#' (hashtags are "
        'written without it), or quote it: "#ParciauCymru" (YAML syntax error: expected the '
        "node content, but found '-' at line 8)"
    ]


def test_a_hashtag_after_others_in_the_list_is_found_too(problems_of):
    [problem] = problems_of(HEADER + "hashtags: [CoproductionWales, #ParciauCymru]\n" + MESSAGES)
    assert problem.startswith("campaigns/c.yaml:6:31: '#' starts a comment in YAML")


def test_the_hinted_fixes_are_clean(problems_of):
    assert problems_of(HEADER + "hashtags: [ParciauCymru]  # our tag\n" + MESSAGES) == []
    assert problems_of(HEADER + 'hashtags: ["#ParciauCymru"]\n' + MESSAGES) == []
    fixed = MESSAGES.replace('"Darllenwch: {{ link }}"', '"{{ link }}, darllenwch"')
    assert problems_of(HEADER + fixed) == []


def test_an_unquoted_value_starting_with_braces_before_a_comma(problems_of):
    # Before: "c.yaml:10:21: YAML syntax error: expected <block end>, but found ','".
    text = HEADER + MESSAGES.replace('"Darllenwch: {{ link }}"', "{{ link }}, darllenwch")
    assert problems_of(text) == [
        "campaigns/c.yaml:10:11: a value that starts with '{{' must be quoted, or YAML reads the "
        "'{' as the start of a mapping: write \"{{ link }}, darllenwch\" in double quotes, or the "
        "text on the lines below a '>-' (YAML syntax error: expected <block end>, but found ',' "
        "at line 10)"
    ]


def test_an_unquoted_value_that_is_only_braces(problems_of):
    # Before: "c.yaml:10:12: a key must be a plain name" (YAML reads a mapping of a mapping).
    text = HEADER + MESSAGES.replace('"Darllenwch: {{ link }}"', "{{ link }}")
    assert problems_of(text) == [
        "campaigns/c.yaml:10:11: a value that starts with '{{' must be quoted, or YAML reads the "
        "'{' as the start of a mapping: write \"{{ link }}\" in double quotes, or the text on the "
        "lines below a '>-'"
    ]


def test_unquoted_braces_in_a_flow_mapping_and_in_a_list(problems_of):
    flow = HEADER + MESSAGES.replace(
        '    text:\n      cy: "Darllenwch: {{ link }}"\n      en: "Read: {{ link }}"\n',
        '    text: {cy: {{ link }}, en: "Read"}\n',
    )
    [problem] = problems_of(flow)
    assert problem.startswith(
        "campaigns/c.yaml:9:16: a value that starts with '{{' must be quoted, or YAML reads the "
        "'{' as the start of a mapping: write \"{{ link }}\" in double quotes"
    )
    ask = "asks:\n  - id: a\n    wordings:\n      cy:\n        - {{ handle }}, help\n"
    [problem] = problems_of(HEADER + MESSAGES + ask + "      en: [x]\n")
    assert problem.startswith("campaigns/c.yaml:16:11: a value that starts with '{{' must be")


def test_braces_inside_a_block_text_and_other_syntax_errors_get_no_such_hint(problems_of):
    block = MESSAGES.replace('"Darllenwch: {{ link }}"', ">-\n        {{ link }} darllenwch")
    assert problems_of(HEADER + block) == []
    broken = HEADER + block + "    thread:\n      - {cy: a, en: b\n"
    assert problems_of(broken) == [
        "campaigns/c.yaml:15:1: YAML syntax error: expected ',' or '}', but got '<stream end>'"
    ]
