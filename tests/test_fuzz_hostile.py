"""Hostile campaign files (issue 11): what a volunteer's pull request could do to the people who
run Kindling, tried as an attacker would. Each attack ends as a located problem that names the
path or the limit; none reads a file outside the campaign's folder, prints a file's content,
stalls, or ends in a traceback.

The attack strings are in the lists below; tests/checks/test_registry.py sends some of them to a
running daemon.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.checks.run import CampaignReport, check_one, check_templates
from bot.compose.templates import Templates
from bot.config import LimitsSettings
from tests.conftest import MINIMAL_CAMPAIGN

ROOT = Path(__file__).resolve().parents[1]
SECRET = "S3CRET-do-not-print-4242"
# A real 1×1 PNG: the check decodes every image it can reach (bot/checks/image_rules.py).
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc```\x00\x00\x00\x04\x00\x01\xf6\x178U\x00\x00\x00"
    b"\x00IEND\xaeB`\x82"
)
HEADER = """\
id: demo
name: {cy: "Ymgyrch", en: "Campaign"}
languages: [cy, en]
timezone: Europe/London
active: {start: 2026-12-01, end: 2027-01-31}
links: {letter: "https://example.org/letter"}
"""  # 6 lines: what follows starts on line 7


def message_with(text: str) -> str:
    """The header and one message whose Welsh text is `text` (line 10, column 16)."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return (
        HEADER + "messages:\n  - id: m\n    schedule: {at: '2026-12-02 10:00'}\n"
        f'    text: {{cy: "{quoted}", en: "x"}}\n'
    )


def check(
    workdir: Path, text: str, limits: LimitsSettings | None = None, name: str = "c.yaml"
) -> CampaignReport:
    path = workdir / "campaigns" / name
    path.write_text(text, encoding="utf-8")
    templates = Templates(workdir / "templates", limits)
    return check_one(Path("campaigns") / name, templates, "Europe/London")


def shown(report: CampaignReport) -> list[str]:
    return [str(problem) for problem in report.problems]


def assert_quiet(lines: list[str]) -> None:
    """Nothing secret, nothing unprintable, nothing long."""
    for line in lines:
        assert SECRET not in line, line
        assert "root:x:0" not in line, line
        assert line.isprintable(), line
        assert len(line) < 400, line


@pytest.fixture
def secrets_around(workdir: Path) -> Path:
    """Files outside the campaigns folder that a campaign must never read."""
    (workdir / "config.toml").write_text(f"# token = {SECRET}\n", encoding="utf-8")
    (workdir / "secret.csv").write_text(f"id,name\n{SECRET},x\n", encoding="utf-8")
    (workdir / "secret.png").write_bytes(PNG)
    (workdir / "secret.yaml").write_text(f"root:x:0:0: {SECRET}\n", encoding="utf-8")
    (workdir / "secret.j2").write_text(f"{SECRET}\n", encoding="utf-8")
    return workdir


# --- 1. Paths: every file a campaign names stays inside its folder ---------------------------

OUTSIDE_TARGET_FILES = [
    "/proc/self/environ",
    "/etc/passwd",
    "../config.toml",
    "../secret.csv",
    "sub/../../secret.csv",
    "./../secret.csv",
    "{root}/secret.csv",  # absolute
    "link.csv",  # a symbolic link inside the folder, to a file outside it
    "linked-dir/secret.csv",  # a link to the folder above
]


def _links(workdir: Path) -> None:
    (workdir / "campaigns" / "link.csv").symlink_to(workdir / "secret.csv")
    (workdir / "campaigns" / "linked-dir").symlink_to(workdir)
    (workdir / "campaigns" / "logo.png").symlink_to(workdir / "secret.png")


@pytest.mark.parametrize("name", OUTSIDE_TARGET_FILES)
def test_a_target_file_outside_the_folder_is_refused_unread(secrets_around, name):
    _links(secrets_around)
    name = name.format(root=secrets_around)
    report = check(secrets_around, MINIMAL_CAMPAIGN + f"target_files: ['{name}']\n")
    assert shown(report) == [
        f"campaigns/c.yaml:11:16: target file '{name}' is outside the campaign's folder "
        "(campaigns): only files inside it can be used"
    ]
    assert_quiet(shown(report))


_SEGMENTS = ["..", ".", "", "sub", "linked-dir", "link.csv", "secret.csv", "t.csv", "etc", "proc"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(_SEGMENTS), min_size=1, max_size=6), st.booleans())
def test_no_target_file_name_reaches_outside(secrets_around, segments, absolute):
    """Any mix of `..`, links and absolute paths: what loads comes from inside the folder."""
    if not (secrets_around / "campaigns" / "link.csv").is_symlink():
        _links(secrets_around)
        (secrets_around / "campaigns" / "sub").mkdir()
        (secrets_around / "campaigns" / "t.csv").write_text("id,name\nann,Ann\n")
        (secrets_around / "campaigns" / "sub" / "t.csv").write_text("id,name\nbob,Bob\n")
    name = "/".join(segments)
    if absolute:
        name = f"{secrets_around}/{name}"
    report = check(secrets_around, MINIMAL_CAMPAIGN + f"target_files: ['{name}']\n")
    assert_quiet(shown(report))
    if report.loaded is not None:
        assert {t.id for t in report.loaded.campaign.targets} <= {"ann", "bob"}
    if report.loaded is None or not report.loaded.campaign.targets:
        assert report.problems


def test_target_files_inside_the_folder_still_load(workdir, write):
    write("campaigns/data/t.csv", "id,name\nann,Ann\n")
    write("campaigns/data/u.csv", "id,name\nbob,Bob\n")
    (workdir / "campaigns" / "alias.csv").symlink_to(workdir / "campaigns" / "data" / "u.csv")
    text = MINIMAL_CAMPAIGN + "target_files: [data/t.csv, alias.csv]\n"
    report = check(workdir, text)
    assert shown(report) == []
    assert report.loaded is not None
    assert [t.id for t in report.loaded.campaign.targets] == ["ann", "bob"]


OUTSIDE_IMAGES = ["{root}/secret.png", "../secret.png", "../../../etc/passwd.png", "logo.png"]


@pytest.mark.parametrize("name", OUTSIDE_IMAGES)
def test_an_image_outside_the_folder_is_refused(secrets_around, name):
    _links(secrets_around)
    name = name.format(root=secrets_around)
    text = MINIMAL_CAMPAIGN + f"    image: {{path: '{name}', alt: {{cy: a, en: a}}}}\n"
    assert shown(check(secrets_around, text)) == [
        f"campaigns/c.yaml:11:19: image file '{name}' is outside the campaign's folder "
        "(campaigns): only files inside it can be used"
    ]


def test_an_image_inside_the_folder_passes(workdir):
    (workdir / "campaigns" / "img").mkdir()
    (workdir / "campaigns" / "img" / "logo.png").write_bytes(PNG)
    text = MINIMAL_CAMPAIGN + "    image: {path: img/logo.png, alt: {cy: a, en: a}}\n"
    assert shown(check(workdir, text)) == []


@pytest.mark.parametrize("name", ["../secret", "/tmp/x", "../templates/../secret"])
def test_a_template_name_that_leaves_the_templates_folder_is_refused(secrets_around, name):
    text = HEADER + (
        f"messages:\n  - id: m\n    schedule: {{at: '2026-12-02 10:00'}}\n    template: '{name}'\n"
    )
    assert shown(check(secrets_around, text)) == [
        f"campaigns/c.yaml:10:15: template '{name}' is outside the templates folder "
        "(templates): only files inside it can be used"
    ]


def test_a_template_file_that_links_outside_is_refused_unread(secrets_around):
    (secrets_around / "templates" / "evil.j2").symlink_to(secrets_around / "secret.j2")
    problems = [str(p) for p in check_templates(Templates(secrets_around / "templates"))]
    assert problems == [
        "templates/evil.j2:1:1: template 'evil.j2' is outside the templates folder "
        "(templates): only files inside it can be used"
    ]
    text = HEADER + (
        "messages:\n  - id: m\n    schedule: {at: '2026-12-02 10:00'}\n    template: evil\n"
    )
    assert_quiet(shown(check(secrets_around, text)))


@pytest.mark.parametrize("include", ["../secret.j2", "/etc/passwd", "evil.j2"])
def test_an_include_cannot_reach_outside_the_templates_folder(secrets_around, include):
    (secrets_around / "templates" / "evil.j2").symlink_to(secrets_around / "secret.j2")
    report = check(secrets_around, message_with("{% include '" + include + "' %}"))
    assert report.problems, "the include was rendered"
    assert_quiet(shown(report))
    assert all(SECRET not in r.text for r in report.renderings)


def test_a_campaign_file_that_links_outside_its_folder_is_not_read(secrets_around):
    (secrets_around / "campaigns" / "evil.yaml").symlink_to(secrets_around / "secret.yaml")
    templates = Templates(secrets_around / "templates")
    report = check_one(Path("campaigns/evil.yaml"), templates, "Europe/London")
    assert shown(report) == [
        "campaigns/evil.yaml:1:1: the campaign file is a link to a file outside its folder: "
        "it is not read"
    ]


def test_kindling_check_never_prints_the_environment(workdir):
    """The finding as reported: `target_files: [/proc/self/environ]` printed every credential."""
    (workdir / "campaigns" / "c.yaml").write_text(
        MINIMAL_CAMPAIGN + "target_files: [/proc/self/environ, ../config.toml]\n"
    )
    (workdir / "config.toml").write_text(f"# {SECRET}\n")
    env = {**os.environ, "KINDLING_X_API_KEY": SECRET, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check", "campaigns/c.yaml"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert SECRET not in result.stdout + result.stderr
    assert (
        "campaigns/c.yaml:11:16: target file '/proc/self/environ' is outside the campaign's "
        "folder (campaigns): only files inside it can be used"
    ) in result.stdout.splitlines()


# --- 2. Sizes: a file too large is refused before it is parsed --------------------------------


def test_a_campaign_file_over_the_limit_is_refused_before_parsing(workdir):
    garbage = "[" * 2_000  # would be a YAML error (or a deep recursion) if it were parsed
    report = check(workdir, garbage, LimitsSettings(campaign_file_bytes=1_000))
    assert shown(report) == [
        "campaigns/c.yaml:1:1: the file is 2,000 bytes, over the limit of 1,000 bytes "
        "(limits.campaign_file_bytes in config.toml)"
    ]


def test_a_targets_file_over_the_limit_is_refused_before_parsing(workdir, write):
    write("campaigns/t.csv", "not,a,valid,header\n" + "x" * 5_000 + "\n")
    text = MINIMAL_CAMPAIGN + "target_files: [t.csv]\n"
    report = check(workdir, text, LimitsSettings(targets_file_bytes=4_096))
    assert shown(report) == [
        "campaigns/t.csv:1:1: the file is 5,020 bytes, over the limit of 4,096 bytes "
        "(limits.targets_file_bytes in config.toml)"
    ]


def test_a_template_file_over_the_limit_is_refused(workdir, write):
    write("templates/big.j2", "{{ link }}" * 200)
    templates = Templates(workdir / "templates", LimitsSettings(campaign_file_bytes=1_000))
    assert [str(p) for p in check_templates(templates)] == [
        "templates/big.j2:1:1: the file is 2,000 bytes, over the limit of 1,000 bytes "
        "(limits.campaign_file_bytes in config.toml)"
    ]


def test_a_fifo_is_not_read(workdir):
    """Opening a FIFO for reading waits for a writer: the check would hang (so it runs in a
    thread the test waits for with a deadline)."""
    os.mkfifo(workdir / "campaigns" / "t.csv")
    os.mkfifo(workdir / "campaigns" / "pipe.yaml")
    templates = Templates(workdir / "templates")
    reports: list[CampaignReport] = []

    def run() -> None:
        reports.append(check(workdir, MINIMAL_CAMPAIGN + "target_files: [t.csv]\n"))
        reports.append(check_one(Path("campaigns/pipe.yaml"), templates, "Europe/London"))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "reading a FIFO blocked"
    assert [shown(report) for report in reports] == [
        ["campaigns/c.yaml:11:16: target file 't.csv' is not a regular file"],
        ["campaigns/pipe.yaml:1:1: cannot read campaign file: not a regular file"],
    ]


# --- 3. Work: what a template may make Kindling compute ---------------------------------------

# (template text, what the problem says). Each would run for minutes, take gigabytes or end in
# a traceback without the limits.
RENDER_ATTACKS = [
    ("{{ 'a' * 10**9 }}", "repetition makes 1,000,000,000 items, more than 1,000"),
    ("{{ [0] * 10**9 }}", "limits.repeat_chars = 1000"),
    ("{{ 10 ** (10 ** 8) }}", "a number beyond 16,384 bits"),
    ("{{ (10 ** 3000) * (10 ** 3000) }}", "a number beyond 16,384 bits"),
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "range of 100,000 numbers is larger than 10,000 (limits.loop_iterations = 10000",
    ),
    (
        "{% set r = range(10000) %}{% for a in r %}{% for b in r %}{% endfor %}{% endfor %}",
        "loops ran more than 10,000 times (limits.loop_iterations = 10000",
    ),
    ("{{ slot.strftime('%Y' * 100000) }}", "limits.repeat_chars = 1000"),
    (
        "{{ slot.strftime('" + "%Y" * 60 + "') }}",
        "date format of 120 characters is longer than 100",
    ),
    ("{{ '{:" + "%d" * 60 + "}'.format(slot) }}", "limits.strftime_chars = 100"),
    ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "limits.template_depth = 20"),
    ("{% for x in [[1]] recursive %}{{ loop([x]) }}{% endfor %}", "limits.template_depth = 20"),
    ("{{ link | truncate(-1) }}", "AssertionError: expected length >= 3, got -1"),
    ("{{ 'x' | center(10**9) }}", "width or precision 1,000,000,000 is larger than 1,000"),
    ("{{ 'x' | indent(10**9) }}", "limits.repeat_chars = 1000"),
    ("{{ 'x'.ljust(10**9) }}", "limits.repeat_chars = 1000"),
    ("{{ (1).to_bytes(10**9, 'big') }}", "limits.repeat_chars = 1000"),
    ("{{ '{:>1000000000}'.format(1) }}", "limits.repeat_chars = 1000"),
    ("{{ '{:{}}'.format(1, 10**9) }}", "limits.repeat_chars = 1000"),
    ("{{ '{:.1000000000f}'.format(1.5) }}", "limits.repeat_chars = 1000"),
    ("{{ '%01000000000d' % 1 }}", "limits.repeat_chars = 1000"),
    ("{{ '%*d' % (10**9, 1) }}", "limits.repeat_chars = 1000"),
    ("{{ '%.1000000000f' | format(1.5) }}", "limits.repeat_chars = 1000"),
    ("{{ [1] | batch(10**9, 'x') | list }}", "limits.repeat_chars = 1000"),
    ("{{ range(100) | list | tojson(10**9) }}", "limits.repeat_chars = 1000"),
    ("{{ range(10000) | batch(1) | sum(start=[]) }}", "sum starts from a number only"),
    ("{{ ('a' * 1000) | replace('', 'b' * 1000) }}", "limits.rendered_chars = 20000"),
    ("{{ ('a' * 1000).replace('', 'b' * 1000) }}", "limits.rendered_chars = 20000"),
    ("{{ ('b' * 1000).join(range(10000) | map('string')) }}", "limits.rendered_chars = 20000"),
    ("{{ range(10000) | join('b' * 1000) }}", "limits.rendered_chars = 20000"),
    ("{{ ('a' * 1000).translate({97: 'b' * 1000}) }}", "limits.rendered_chars = 20000"),
    (
        "{% macro f(s, n) %}{{ f(s ~ s, n - 1) if n else s }}{% endmacro %}{{ f('a' * 1000, 30) }}",
        "limits.rendered_chars = 20000",
    ),
    (
        "{% set ns = namespace(s='a' * 1000) %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "limits.rendered_chars = 20000",
    ),
    ("{% set x = 'a' * 1000 %}" + "{% set x = x + x %}" * 30, "limits.rendered_chars = 20000"),
    ("{% for i in range(10000) %}{{ 'a' * 1000 }}{% endfor %}", "limits.rendered_chars = 20000"),
    (
        "{% set y %}{% for i in range(10000) %}{{ 'a' * 1000 }}{% endfor %}{% endset %}{{ y }}",
        "limits.rendered_chars = 20000",
    ),
    ("{{ lipsum(1000000) }}", "undefined name: 'lipsum' is undefined"),
    (
        "{{ campaign.model_dump_json(indent=10**9) }}",
        "not allowed in a template: access to attribute 'model_dump_json' of 'Campaign' object",
    ),
    ("{{ ''.__class__.__mro__ }}", "access to attribute '__class__' of 'str' object is unsafe"),
]


@pytest.mark.parametrize(("template", "expected"), RENDER_ATTACKS)
def test_a_template_that_asks_for_too_much_work_is_a_located_problem(workdir, template, expected):
    report = check(workdir, message_with(template))
    assert report.problems, "rendered without a problem"
    first = str(report.problems[0])
    assert first.startswith("campaigns/c.yaml:10:"), first
    assert expected in first
    assert "(in message 'm')" in first
    assert_quiet(shown(report))


def test_a_template_within_the_limits_still_renders(workdir):
    template = (
        "{{ '-' * 20 }} {{ slot.strftime('%A %d %B') }} {{ '{:,}'.format(1234567) }} "
        "{% for i in range(3) %}{{ i }}{% endfor %} {{ '%5.1f' % 2.25 }}"
    )
    report = check(workdir, message_with(template))
    assert shown(report) == []
    assert report.renderings[0].text == "-" * 20 + " Tuesday 01 December 1,234,567 012   2.2"


def test_a_slow_template_stops_at_the_rendering_deadline(workdir):
    slow = "{% for i in range(10000) %}{% set x = ('a b ' * 250) | title %}{% endfor %}"
    report = check(workdir, message_with(slow), LimitsSettings(render_seconds=0.05))
    assert shown(report)[0].startswith(
        "campaigns/c.yaml:10:16: rendering took longer than 0.05 s "
        "(limits.render_seconds = 0.05 in config.toml) (in message 'm')"
    )


def test_all_renderings_of_a_campaign_share_one_deadline(workdir):
    slow = "{% for i in range(10000) %}{% set x = ('a b ' * 250) | title %}{% endfor %}"
    limits = LimitsSettings(render_seconds=30, campaign_render_seconds=0.05)
    report = check(workdir, message_with(slow), limits)
    assert "(limits.campaign_render_seconds = 0.05 in config.toml)" in shown(report)[0]


# --- Error messages quote only a short, escaped excerpt of the input they blame ---------------

LONG = "\x1b[31m" + "A" * 5_000 + "\u202e"
LONG_IN_YAML = '"\\e[31m' + "A" * 5_000 + '\\u202e"'  # the same, written with YAML escapes
LONG_KEY = '"\\e[31m' + "A" * 1_000 + '\\u202e"'  # YAML allows implicit keys of 1,024 at most


def test_excerpts_in_yaml_errors(workdir):
    texts = [
        MINIMAL_CAMPAIGN + f"{LONG_KEY}: 1\n",  # an unknown key
        MINIMAL_CAMPAIGN + f"{LONG_KEY}: 1\n{LONG_KEY}: 2\n",  # a duplicate key
        MINIMAL_CAMPAIGN.replace("timezone: Europe/London", f"timezone: {LONG_IN_YAML}"),
        MINIMAL_CAMPAIGN + "    link: 'x" + "A" * 5_000 + "'\n",  # an unknown link id
        MINIMAL_CAMPAIGN + "hashtags: *" + "a" * 5_000 + "\n",  # an undefined alias
        message_with("{{ " + "a" * 5_000 + " }}"),  # an undefined name in a template
    ]
    for text in texts:
        report = check(workdir, text)
        assert report.problems
        assert_quiet(shown(report))
        assert any("characters)" in line for line in shown(report)), shown(report)


def test_excerpts_in_csv_errors(workdir, write):
    write("campaigns/t.csv", f"id,name,{LONG}\nann,Ann,x\n")
    report = check(workdir, MINIMAL_CAMPAIGN + "target_files: [t.csv]\n")
    [problem] = shown(report)
    assert problem.startswith(
        "campaigns/t.csv:1:9: unknown column '\\x1b[31mAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    )
    assert "… (5006 characters)'" in problem
    assert_quiet([problem])
