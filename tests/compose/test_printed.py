"""Issue 14: a rendering that prints a mapping, a list or None, that leaves `{{`/`{%` in the text,
or that is empty, is an error at the `{{ … }}` that did it, with the fix; `check`, `preview` and
the daemon refuse it alike (one environment renders them all)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from bot.checks.registry import CampaignRegistry
from bot.cli.main import main
from bot.config import Config, PathsSettings, Secrets, Settings
from bot.publish.timeline import planned_posts
from tests.conftest import MINIMAL_CAMPAIGN

QUOTES = """\
id: demo
name: {cy: "Ymgyrch", en: "Campaign"}
languages: [cy, en]
timezone: Europe/London
platforms: [bluesky]
active: {start: 2026-12-01, end: 2027-01-31}
messages:
  - id: voices
    schedule: {daily: ["11:00"]}
    quote_pool: letter
    text:
      cy: "“{{ quote.text[language] }}” — {{ quote.who | local }}, {{ quote.role }}"
      en: >-
        “{{ quote.text[language] }}” — {{ quote.who | local }},
        {{ quote.role }}
quote_pools:
  - id: letter
    quotes:
      - {id: chair, who: Anna, role: {cy: Cadeirydd, en: Chair}, text: {cy: Un, en: One}, source: s}
"""
READ, IF = '"Read', '"{%'  # where an English text of the minimal campaign starts
NO_ROLE = QUOTES.replace("role: {cy: Cadeirydd, en: Chair}, ", "")


def _col(text: str, line: int, needle: str) -> int:
    return text.splitlines()[line - 1].index(needle) + 1


def test_a_mapping_printed_into_a_post_is_an_error_at_its_expression(problems_of):
    local = "use `| local` to print the text in the post's language (in message 'voices')"
    assert problems_of(QUOTES) == [
        f"campaigns/c.yaml:12:{_col(QUOTES, 12, '{{ quote.role')}: `{{{{ quote.role }}}}` prints "
        f"a mapping ({{'cy': 'Cadeirydd', 'en': 'Chair'}}): {local}",
        f"campaigns/c.yaml:15:9: `{{{{ quote.role }}}}` prints a mapping "
        f"({{'cy': 'Cadeirydd', 'en': 'Chair'}}): {local}",
    ]


def test_none_printed_into_a_post_is_an_error_with_the_fix(problems_of):
    [welsh, english] = problems_of(NO_ROLE)
    assert welsh.startswith(
        f"campaigns/c.yaml:12:{_col(NO_ROLE, 12, '{{ quote.role')}: `{{{{ quote.role }}}}` prints "
        "None: the value is missing here (e.g. a quote without a role): use `| local`"
    )
    assert english.startswith("campaigns/c.yaml:15:9: `{{ quote.role }}` prints None")


def test_the_fix_the_message_names_is_clean(problems_of):
    assert problems_of(QUOTES.replace("{{ quote.role }}", "{{ quote.role | local }}")) == []
    assert problems_of(NO_ROLE.replace("{{ quote.role }}", "{{ quote.role | local }}")) == []


def test_a_list_and_a_whole_object_are_errors_at_the_second_expression_of_the_line(problems_of):
    text = MINIMAL_CAMPAIGN.replace('"Read {{ link }}"', '"Read {{ link }} {{ hashtags }}"')
    text = text.replace('"Darllenwch {{ link }}"', '"Darllenwch {{ link }} {{ message }}"')
    assert problems_of(text) == [
        f"campaigns/c.yaml:10:{_col(text, 10, '{{ message')}: `{{{{ message }}}}` prints a whole "
        "message: print one of its fields (e.g. `quote.who | local`, `target.name`) (in message "
        "'launch')",
        f"campaigns/c.yaml:10:{_col(text, 10, '{{ hashtags')}: `{{{{ hashtags }}}}` prints a list: "
        "join it (`| join(' ')`), or use `| tags` for hashtags (in message 'launch')",
    ]


def test_template_code_left_in_the_text_and_an_empty_text_are_errors(problems_of):
    raw = MINIMAL_CAMPAIGN.replace('"Read {{ link }}"', '"Read {% raw %}{{ link }}{% endraw %}"')
    [problem] = problems_of(raw)
    assert problem.startswith(
        f"campaigns/c.yaml:10:{_col(raw, 10, READ)}: the rendered text still contains "
        "'{{' ('{{ link }}'), which would be posted as written"
    )
    empty = MINIMAL_CAMPAIGN.replace(
        '"Read {{ link }}"', "\"{% if language == 'cy' %}x{% endif %}\""
    )
    [problem] = problems_of(empty)
    assert problem.startswith(
        f"campaigns/c.yaml:10:{_col(empty, 10, IF)}: the text renders empty: nothing"
    )


def test_a_value_holding_template_code_is_an_error_at_the_expression_printing_it(problems_of):
    text = QUOTES.replace("text: {cy: Un, en: One}", "text: {cy: 'Un {{ link }}', en: One}")
    text = text.replace("{{ quote.role }}", "{{ quote.role | local }}")
    [problem] = problems_of(text)
    assert problem.startswith(
        f"campaigns/c.yaml:12:{_col(text, 12, '{{ quote.text')}: `{{{{ quote.text[language] }}}}` "
        "prints text containing '{{' ('Un {{ link }}'): template code inside a value is not run"
    )


def test_in_a_template_file_the_error_is_at_the_templates_line_and_column(problems_of):
    text = QUOTES.replace(
        '    text:\n      cy: "“{{ quote.text[language] }}” — {{ quote.who | local }}, {{ quote.role }}"\n'
        "      en: >-\n"
        "        “{{ quote.text[language] }}” — {{ quote.who | local }},\n"
        "        {{ quote.role }}\n",
        "    template: quote\n",
    )
    source = "“{{ quote.text[language] }}”\n— {{ quote.who | local }}, {{ quote.role }}\n"
    [problem] = problems_of(text, files={"templates/quote.j2": source})
    assert problem.startswith(
        f"templates/quote.j2:2:{_col(source, 2, '{{ quote.role')}: `{{{{ quote.role }}}}` prints "
        "a mapping"
    )
    assert problem.endswith("(used by message 'voices' at campaigns/c.yaml:8:5)")


def _config(root: Path) -> Config:
    for folder in ("campaigns", "templates", "data"):
        (root / folder).mkdir(exist_ok=True)
    return Config(Settings(paths=PathsSettings(data=str(root / "data"))), root, Secrets({}))


def test_the_daemon_refuses_the_campaign_and_never_plans_such_a_post(tmp_path):
    config = _config(tmp_path)
    (tmp_path / "campaigns" / "demo.yaml").write_text(QUOTES, encoding="utf-8")
    registry = CampaignRegistry(config)
    problems = registry.load()
    assert registry.campaigns() == []
    assert [p.message.split(" (")[0] for p in problems] == [
        "`{{ quote.role }}` prints a mapping"
    ] * 2
    # A text that prints the mapping only on Fridays: the check renders the first moment (a
    # Tuesday), so the campaign loads, and the daemon's plan refuses Friday's post.
    friday = (
        "{% if slot.weekday() == 4 %}{{ quote.role }}{% else %}{{ quote.role | local }}{% endif %}"
    )
    (tmp_path / "campaigns" / "demo.yaml").write_text(
        QUOTES.replace("{{ quote.role }}", friday), encoding="utf-8"
    )
    assert registry.reload() and registry.campaigns() != []
    [active] = registry.campaigns()
    tuesday = planned_posts(
        active,
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2026, 12, 2, tzinfo=UTC),
        config.settings,
    )
    assert [post.text for post in tuesday] == ["“Un” — Anna, Cadeirydd", "“One” — Anna, Chair"]
    try:
        planned_posts(
            active,
            datetime(2026, 12, 4, tzinfo=UTC),
            datetime(2026, 12, 5, tzinfo=UTC),
            config.settings,
        )
    except ValueError as refused:
        assert "`{{ quote.role }}` prints a mapping" in str(refused)
        assert "use `| local`" in str(refused)
    else:
        raise AssertionError("Friday's post with a mapping in it was planned")


def test_preview_refuses_it_too(workdir, write):
    write("campaigns/demo.yaml", QUOTES)
    result = CliRunner().invoke(main, ["preview", "demo"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "campaigns/demo.yaml:15:9: `{{ quote.role }}` prints a mapping" in result.output
    assert "{'cy': 'Cadeirydd', 'en': 'Chair'}" not in result.output.replace("({'cy'", "")


def test_the_amplify_quote_text_is_refused_at_its_expression(problems_of):
    text = MINIMAL_CAMPAIGN + (
        "hashtags: [CoproductionWales]\n"
        "amplify:\n"
        "  platforms: [bluesky]\n"
        "  action: quote\n"
        '  quote: {cy: "Diolch {{ author }} {{ hashtags }}", en: "Thanks {{ author }}"}\n'
    )
    assert problems_of(text) == [
        f"campaigns/c.yaml:15:{_col(text, 15, '{{ hashtags')}: `{{{{ hashtags }}}}` prints a "
        "list: join it (`| join(' ')`), or use `| tags` for hashtags"
    ]
