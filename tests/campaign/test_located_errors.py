"""Each kind of campaign error, reported at its exact file:line:col."""

from __future__ import annotations

from tests.conftest import MINIMAL_CAMPAIGN

HEADER = """\
id: demo
name: {cy: "Ymgyrch", en: "Campaign"}
languages: [cy, en]
timezone: Europe/London
active: {start: 2026-12-01, end: 2027-01-31}
links: {letter: "https://example.org/letter"}
"""  # 6 lines: the next line is line 7


def test_minimal_campaign_is_clean(problems_of):
    assert problems_of(MINIMAL_CAMPAIGN) == []


def test_yaml_syntax_error(problems_of):
    text = HEADER + "messages:\n  - id: a\n    text: {cy: 'x', en: 'y'\n"
    assert problems_of(text) == [
        "campaigns/c.yaml:10:1: YAML syntax error: expected ',' or '}', but got '<stream end>'"
    ]


def test_unknown_key_suggests_the_right_one(problems_of):
    text = HEADER + (
        "messages:\n"
        "  - id: a\n"
        "    shedule: {at: '2026-12-02 10:00'}\n"
        "    text: {cy: 'x', en: 'y'}\n"
    )
    assert problems_of(text) == [
        "campaigns/c.yaml:8:5: missing required key 'schedule'",
        "campaigns/c.yaml:9:5: unknown key 'shedule' (did you mean 'schedule'?)",
    ]


def test_unknown_top_level_key(problems_of):
    assert problems_of(MINIMAL_CAMPAIGN + "hashtag: [a]\n") == [
        "campaigns/c.yaml:11:1: unknown key 'hashtag' (did you mean 'hashtags'?)"
    ]


def test_wrong_type(problems_of):
    text = MINIMAL_CAMPAIGN.replace("languages: [cy, en]", "languages: cy")
    assert problems_of(text) == ["campaigns/c.yaml:3:12: input should be a valid list, got 'cy'"]


def test_missing_required_field(problems_of):
    text = MINIMAL_CAMPAIGN.replace("id: demo\n", "")
    assert problems_of(text) == ["campaigns/c.yaml:1:1: missing required key 'id'"]


def test_duplicate_message_ids(problems_of):
    text = MINIMAL_CAMPAIGN + (
        "  - id: launch\n    schedule: {at: '2026-12-03 10:00'}\n    text: {cy: 'x', en: 'y'}\n"
    )
    assert problems_of(text) == [
        "campaigns/c.yaml:11:9: duplicate message id 'launch' (first used at campaigns/c.yaml:8)"
    ]


def test_duplicate_yaml_key(problems_of):
    text = MINIMAL_CAMPAIGN + "id: again\n"
    assert problems_of(text) == [
        "campaigns/c.yaml:11:1: duplicate key 'id' (first defined at line 1)"
    ]


def test_message_missing_a_language(problems_of):
    text = MINIMAL_CAMPAIGN.replace(
        'text: {cy: "Darllenwch {{ link }}", en: "Read {{ link }}"}', 'text: {cy: "Darllenwch"}'
    )
    assert problems_of(text) == [
        "campaigns/c.yaml:10:11: message 'launch' has no 'en' text (the campaign's languages are cy, en)"
    ]


def test_text_in_a_language_the_campaign_does_not_have(problems_of):
    text = MINIMAL_CAMPAIGN.replace('en: "Read {{ link }}"}', 'en: "Read", fr: "Lisez"}')
    assert problems_of(text) == [
        "campaigns/c.yaml:10:53: 'fr' is not one of the campaign's languages (cy, en)"
    ]


def test_unknown_template(problems_of):
    text = HEADER + (
        "messages:\n  - id: a\n    schedule: {at: '2026-12-02 10:00'}\n    template: reminder\n"
    )
    assert problems_of(text, files={"templates/remind.j2": "x"}) == [
        "campaigns/c.yaml:10:15: unknown template 'reminder' for 'cy': "
        "expected templates/reminder.cy.j2 or templates/reminder.j2"
    ]


def test_unknown_quote_pool_suggests_the_right_one(problems_of):
    text = HEADER + (
        "quote_pools:\n"
        "  - id: voices\n"
        "    quotes:\n"
        "      - {id: q1, who: 'Anna Coote', text: {cy: 'a', en: 'b'}, source: 'letter'}\n"
        "messages:\n"
        "  - id: a\n"
        "    schedule: {daily: ['10:00']}\n"
        "    quote_pool: voice\n"
        "    text: {cy: '{{ quote.text[language] }}', en: '{{ quote.text[language] }}'}\n"
    )
    assert problems_of(text) == [
        "campaigns/c.yaml:14:17: unknown quote pool 'voice' (did you mean 'voices'?)"
    ]


def test_invalid_timezone(problems_of):
    text = MINIMAL_CAMPAIGN.replace("timezone: Europe/London", "timezone: Europe/Cardiff")
    assert problems_of(text) == [
        "campaigns/c.yaml:4:11: 'Europe/Cardiff' is not an IANA time zone (e.g. Europe/London, Europe/Dublin)"
    ]


def test_one_off_outside_the_active_window(problems_of):
    text = MINIMAL_CAMPAIGN.replace("2026-12-02 10:00", "2027-02-02 10:00")
    assert problems_of(text) == [
        "campaigns/c.yaml:9:20: 2027-02-02 10:00 is outside the active window "
        "(2026-12-01 00:00 to 2027-01-31 23:59): move it inside, or widen 'active'"
    ]


def test_one_off_on_the_last_day_of_the_window_is_inside(problems_of):
    assert problems_of(MINIMAL_CAMPAIGN.replace("2026-12-02 10:00", "2027-01-31 22:00")) == []


def test_recurrence_that_never_fires_in_quiet_hours(problems_of):
    text = HEADER + (
        "quiet_hours: {start: '21:00', end: '08:00'}\n"
        "messages:\n"
        "  - id: a\n"
        "    schedule: {daily: ['22:30', '07:00']}\n"
        "    text: {cy: 'x', en: 'y'}\n"
    )
    assert problems_of(text) == [
        "campaigns/c.yaml:10:23: this schedule never fires in the active window outside quiet hours "
        "(2026-12-01 00:00 to 2027-01-31 23:59; quiet 21:00-08:00)"
    ]


def test_cron_that_can_never_match(problems_of):
    text = HEADER + (
        "messages:\n  - id: a\n    schedule: {cron: '0 10 30 2 *'}\n    text: {cy: 'x', en: 'y'}\n"
    )
    problems = problems_of(text)
    assert len(problems) == 1
    assert problems[0].startswith("campaigns/c.yaml:9:15: invalid cron expression '0 10 30 2 *'")


def test_weekly_schedule_outside_a_short_window_never_fires(problems_of):
    text = HEADER.replace("end: 2027-01-31", "end: 2026-12-02") + (
        "messages:\n"
        "  - id: a\n"
        "    schedule: {weekly: {days: [sun], times: ['10:00']}}\n"
        "    text: {cy: 'x', en: 'y'}\n"
    )
    # 2026-12-01 is a Tuesday; the window ends on Wednesday.
    assert problems_of(text) == [
        "campaigns/c.yaml:9:24: this schedule never fires in the active window "
        "(2026-12-01 00:00 to 2026-12-02 23:59)"
    ]


def test_invalid_x_and_bluesky_handles(problems_of):
    text = MINIMAL_CAMPAIGN + (
        "targets:\n"
        "  - id: t1\n"
        "    name: Placeholder Member\n"
        "    handles:\n"
        "      x: '@much_too_long_handle'\n"
        "      bluesky: not a domain\n"
    )
    assert problems_of(text) == [
        "campaigns/c.yaml:15:10: 'much_too_long_handle' is not an X handle (1-15 of A-Z, a-z, 0-9 and _)",
        "campaigns/c.yaml:16:16: 'not a domain' is not a Bluesky handle "
        "(a domain name such as name.bsky.social) or a DID",
    ]


def test_csv_target_file_with_a_bad_row(problems_of):
    csv = (
        "id,name,x,bluesky\n"
        "ms-a,Placeholder Member A,kindling_ms_a,ms-a.placeholder.example\n"
        "ms-b,Placeholder Member B,bad handle!,ms-b.placeholder.example\n"
    )
    text = MINIMAL_CAMPAIGN + "target_files: [targets.csv]\n"
    assert problems_of(text, files={"campaigns/targets.csv": csv}) == [
        "campaigns/targets.csv:3:27: 'bad handle!' is not an X handle (1-15 of A-Z, a-z, 0-9 and _)"
    ]


def test_csv_unknown_column(problems_of):
    csv = "id,name,twitter\nms-a,Placeholder Member A,kindling_ms_a\n"
    text = MINIMAL_CAMPAIGN + "target_files: [targets.csv]\n"
    assert problems_of(text, files={"campaigns/targets.csv": csv}) == [
        "campaigns/targets.csv:1:9: unknown column 'twitter' (columns: id, name, role, constituency, "
        "region, party, language, stance, x, bluesky, mastodon, threads, email, x_source, bluesky_source, "
        "mastodon_source, threads_source, email_source)"
    ]


def test_missing_csv_file(problems_of):
    text = MINIMAL_CAMPAIGN + "target_files: [nowhere.csv]\n"
    assert problems_of(text) == ["campaigns/c.yaml:11:16: target file 'nowhere.csv' not found"]


def test_template_error_names_template_line_and_campaign_entry(problems_of):
    text = HEADER + (
        "messages:\n  - id: a\n    schedule: {at: '2026-12-02 10:00'}\n    template: reminder\n"
    )
    files = {"templates/reminder.j2": "Line one {{ link }}\n{{ campaign.nme }}\n"}
    assert problems_of(text, files=files) == [
        "templates/reminder.j2:2:1: undefined name: 'bot.campaign.model.Campaign object' has no "
        "attribute 'nme' (used by message 'a' at campaigns/c.yaml:8:5)"
    ]


def test_inline_text_template_error_points_into_the_yaml(problems_of):
    text = MINIMAL_CAMPAIGN.replace("Read {{ link }}", "Read {{ lnk }}")
    assert problems_of(text) == [
        "campaigns/c.yaml:10:45: undefined name: 'lnk' is undefined (in message 'launch')"
    ]


def test_sandbox_blocks_python_internals(problems_of):
    text = MINIMAL_CAMPAIGN.replace("Read {{ link }}", "{{ link.__class__.__mro__ }}")
    problems = problems_of(text)
    assert len(problems) == 1
    assert problems[0].startswith("campaigns/c.yaml:10:45: not allowed in a template:")


def test_every_problem_in_one_pass(problems_of):
    text = (
        "id: Demo Campaign\n"
        "name: {cy: 'Ymgyrch', en: 'Campaign'}\n"
        "languages: [cy, en]\n"
        "timezone: Mars/Olympus\n"
        "active: {start: 2026-12-01, end: 2027-01-31}\n"
        "messages:\n"
        "  - id: a\n"
        "    schedule: {at: '2026-12-02 10:00'}\n"
        "    txt: {cy: 'x', en: 'y'}\n"
        "  - id: b\n"
        "    schedule: {at: '2026-12-02 10:00'}\n"
        "    text: {cy: 'x'}\n"
        "targets:\n"
        "  - {id: t1, name: T, handles: {x: 'way_too_long_for_x'}}\n"
    )
    problems = problems_of(text)
    assert problems == [
        "campaigns/c.yaml:1:5: 'Demo Campaign' is not a valid id (lower-case letters, digits, '-' and '_', "
        "starting with a letter or digit)",
        "campaigns/c.yaml:4:11: 'Mars/Olympus' is not an IANA time zone (e.g. Europe/London, Europe/Dublin)",
        "campaigns/c.yaml:9:5: unknown key 'txt' (did you mean 'text'?)",
        "campaigns/c.yaml:12:11: message 'b' has no 'en' text (the campaign's languages are cy, en)",
        "campaigns/c.yaml:14:36: 'way_too_long_for_x' is not an X handle (1-15 of A-Z, a-z, 0-9 and _)",
    ]


def test_yaml_1_2_keeps_no_on_and_leading_zeros_as_strings(problems_of, check_campaign_text):
    text = MINIMAL_CAMPAIGN + (
        "targets:\n  - id: '012'\n    name: no\n    constituency: on\n    party: 012\n"
    )
    report = check_campaign_text(text)
    assert report.problems == []
    target = report.loaded.campaign.targets[0]
    assert (target.id, target.name, target.constituency, target.party) == ("012", "no", "on", "012")


def test_alias_expansion_bomb_is_refused_quickly(problems_of):
    levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for previous, name in zip("abcdefg", "bcdefgh", strict=True):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    problems = problems_of("\n".join(levels) + "\n")
    assert problems == [
        "campaigns/c.yaml:1:40: the document expands to more than 200000 values (aliases?)"
    ]
