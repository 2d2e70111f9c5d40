"""`kindling check` notes (a warning, exit status 0) each `at:` post already past or less than a
minute away, located at the time it gives; `--now` judges them as of another moment."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner, Result

from bot.cli.main import main

ZONE = ZoneInfo("Europe/London")


def campaign(workdir: Path, *times: datetime) -> Path:
    messages = "".join(
        f'  - id: m{n}\n    schedule: {{at: "{moment.astimezone(ZONE):%Y-%m-%d %H:%M}"}}\n'
        f'    text: {{en: "Post {n}"}}\n'
        for n, moment in enumerate(times)
    )
    path = workdir / "campaigns" / "demo.yaml"
    path.write_text(
        "id: demo\nname: {en: Demo}\nlanguages: [en]\ntimezone: Europe/London\n"
        "active: {start: 2020-01-01, end: 2099-12-31}\nplatforms: [bluesky]\n"
        f"messages:\n{messages}",
        encoding="utf-8",
    )
    return path


def check(*args: str) -> Result:
    return CliRunner().invoke(main, ["check", *args], catch_exceptions=False)


def test_a_past_and_an_imminent_at_are_noted_where_they_are_written(workdir: Path) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    campaign(
        workdir,
        now - timedelta(hours=3),  # past
        now + timedelta(days=2),  # fine
    )
    result = check()
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if ": note: " in line]
    assert len(notes) == 1, result.output
    local = (now - timedelta(hours=3)).astimezone(ZONE)
    assert notes[0].startswith(
        f"campaigns/demo.yaml:9:20: note: message 'm0': 'at' {local:%Y-%m-%d %H:%M} "
        "(Europe/London) is already past (3 h 0 min ago)"
    )
    assert "max_delay_minutes (60) late is not sent but recorded as missed" in notes[0]


def test_now_judges_the_times_as_of_another_moment(workdir: Path) -> None:
    launch = datetime(2026, 12, 1, 9, 30, tzinfo=ZONE)
    campaign(workdir, launch, launch + timedelta(days=1))
    before = check("--json", "--now", "2026-12-01T09:00")
    assert json.loads(before.output)["campaigns"][0]["notes"] == []
    soon = check("--json", "--now", "2026-12-01T09:29:30")
    [note] = json.loads(soon.output)["campaigns"][0]["notes"]
    assert (note["line"], note["col"]) == (9, 20)
    assert note["message"] == (
        "message 'm0': 'at' 2026-12-01 09:30 (Europe/London) is less than a minute away (30 s): "
        "it is sent only if `kindling run` is running by then"
    )
    after = json.loads(check("--json", "--now", "2026-12-03T10:00").output)
    assert [n["message"].split(":")[0] for n in after["campaigns"][0]["notes"]] == [
        "message 'm0'",
        "message 'm1'",
    ]
    assert after["ok"] is True  # notes, not problems
