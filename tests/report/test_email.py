"""The report by email (issue 17, point 5): a real SMTP server (aiosmtpd on 127.0.0.1) receives
it; the MIME is parsed as a mail client would: a plain part, an HTML part whose images are
inline PNG parts found by Content-ID and decodable by Pillow, the full HTML report attached;
labels in Welsh and English as the campaign says. `kindling report CAMPAIGN --email` on demand,
and the daemon's weekly job on a clock the test moves (once a week, across restarts, retried)."""

from __future__ import annotations

import io
import logging
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from pydantic import SecretStr

from bot.campaign.model import Campaign
from bot.cli.main import main
from bot.config import (
    AlertEmailSettings,
    AlertsSettings,
    Config,
    PathsSettings,
    ReportSettings,
    Secrets,
    Settings,
)
from bot.daemon.weekly import WeeklyReports, last_due
from bot.store.engine import Store
from tests.alerts.conftest import MailHandler, MailServer
from tests.report import test_collect
from tests.report.test_collect import CAMPAIGN_YAML

LONDON = "Europe/London"
# test_collect's fixtures: its campaign, and a database holding the reports' data.
demo_campaign = test_collect.campaign
filled_store = test_collect.store


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kindling.sqlite3'}"


@pytest.fixture
def mail():  # type: ignore[no-untyped-def]
    with MailServer(MailHandler()) as server:
        yield server


def _smtp(port: int) -> AlertEmailSettings:
    return AlertEmailSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        from_address="kindling@example.org",
        to=["organiser@example.org"],
    )


def _subject(message: EmailMessage) -> str:
    """As a client shows it: unfolded (the stdlib's parser keeps folding's white space)."""
    return " ".join(str(message["Subject"]).split())


def _parts(message: EmailMessage) -> dict[str, object]:
    """The parts a mail client shows, checked for the structure Gmail and Outlook expect."""
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, related = alternative.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, *images = related.iter_parts()
    assert html.get_content_type() == "text/html"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_content_type() == "text/html"
    return {
        "plain": plain.get_content(),
        "html": html.get_content(),
        "images": {str(img["Content-ID"]).strip().strip("<>"): img for img in images},
        "attachment": attachment,
    }


def _check_images(html: str, images: dict[str, EmailMessage]) -> list[tuple[int, int]]:
    cids = re.findall(r'<img src="cid:([^"]+)"', html)
    assert cids and sorted(cids) == sorted(images)  # every image referenced, none left over
    sizes = []
    for cid in cids:
        part = images[cid]
        assert part.get_content_type() == "image/png"
        assert part.get_content_disposition() == "inline"
        picture = Image.open(io.BytesIO(part.get_content()))
        assert picture.format == "PNG"
        picture.load()
        assert len(set(picture.get_flattened_data())) > 2  # something is drawn: axes, lines, text
        sizes.append(picture.size)
    return sizes


def _project(workdir: Path, port: int, languages: str = "[cy, en]") -> None:
    text = CAMPAIGN_YAML.replace("languages: [cy, en]", f"languages: {languages}")
    (workdir / "campaigns" / "demo.yaml").write_text(text, encoding="utf-8")
    (workdir / "config.toml").write_text(
        f'[alerts.email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'from_address = "kindling@example.org"\nto = ["organiser@example.org"]\n'
        '[report]\nemail_to = ["team@example.org", "chair@example.org"]\n',
        encoding="utf-8",
    )


def test_report_email_on_demand_welsh_first(
    filled_store: Store, workdir: Path, mail: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(workdir, mail.port)
    monkeypatch.setenv("KINDLING_DATABASE_URL", filled_store.url)
    result = CliRunner().invoke(main, ["report", "demo", "--email"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "sent the report of 'demo' to team@example.org, chair@example.org" in result.output

    [message] = mail.handler.messages
    assert message["To"] == "team@example.org, chair@example.org"  # [report] email_to
    subject = _subject(message)
    assert subject.startswith("Adroddiad / Report: Ymgyrch <script>")
    parts = _parts(message)
    plain, html = str(parts["plain"]), str(parts["html"])
    assert "Y negeseuon a ledodd fwyaf / Top messages" in plain
    assert "Cliciau fesul targed / Clicks per target" in plain
    assert "Aelod A | Caerdydd | Plaid | 3" in plain  # a table row as text
    assert "2026-12-02: 4\r\n2026-12-05: 2\r\n" in plain  # the clicks chart as text
    assert "second x: 35 (2026-12-06)" in plain  # where each engagement line ends
    assert '<html lang="cy">' in html
    assert 'Cliciau fesul targed <span style="color:#666666;font-weight:normal" lang="en">' in html
    assert "<td>Caerdydd</td>" in html and "<script>" not in html  # escaped
    assert "<svg" not in html  # Gmail and Outlook show no SVG
    sizes = _check_images(html, parts["images"])  # type: ignore[arg-type]
    assert len(sizes) == 2 and all(width == 1200 for width, _ in sizes)  # 600 px at 2x
    attachment = parts["attachment"]
    assert isinstance(attachment, EmailMessage)
    assert attachment.get_filename() == "kindling-report-demo.html"
    full = attachment.get_content()
    assert isinstance(full, str) and '<html lang="cy">' in full and "<svg" in full


def test_report_email_in_english_only_for_an_english_campaign(
    filled_store: Store, workdir: Path, mail: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(workdir, mail.port, languages="[en]")
    (workdir / "campaigns" / "demo.yaml").write_text(
        CAMPAIGN_YAML.replace("languages: [cy, en]", "languages: [en]")
        .replace('{cy: "Ymgyrch <script>alert(\'n\')</script>", en: "Campaign"}', "{en: Campaign}")
        .replace('{cy: "Darllenwch", en: "Read"}', "{en: Read}"),
        encoding="utf-8",
    )
    monkeypatch.setenv("KINDLING_DATABASE_URL", filled_store.url)
    result = CliRunner().invoke(main, ["report", "demo", "--email", "--since", "2026-12-04"])
    assert result.exit_code == 0, result.output
    [message] = mail.handler.messages
    assert message["Subject"] == "Report: Campaign (2026-12-04 – …)"
    parts = _parts(message)
    assert "\nTop messages\r\n====" in str(parts["plain"]) and "Adroddiad" not in str(
        parts["plain"]
    )
    assert '<html lang="en">' in str(parts["html"]) and "Cliciau" not in str(parts["html"])


def test_report_email_without_an_smtp_server_says_what_to_set(
    filled_store: Store, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "campaigns" / "demo.yaml").write_text(CAMPAIGN_YAML, encoding="utf-8")
    monkeypatch.setenv("KINDLING_DATABASE_URL", filled_store.url)
    result = CliRunner().invoke(main, ["report", "demo", "--email"])
    assert result.exit_code == 1
    assert "report not sent: no SMTP server" in result.output and "Traceback" not in result.output


def test_report_email_to_a_refusing_server_fails_in_one_line(
    filled_store: Store, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MailServer(MailHandler(refuse=1)) as refusing:
        _project(workdir, refusing.port)
        monkeypatch.setenv("KINDLING_DATABASE_URL", filled_store.url)
        result = CliRunner().invoke(main, ["report", "demo", "--email"])
    assert result.exit_code == 1
    assert "report not sent: the SMTP server refused: 451" in result.output


# -- the weekly job ------------------------------------------------------------------------------


class MovedClock:
    """A clock the test sets."""

    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


def _config(tmp_path: Path, port: int) -> Config:
    settings = Settings(
        paths=PathsSettings(data=str(tmp_path / "data")),
        alerts=AlertsSettings(email=_smtp(port), retry_first_seconds=60, retry_max_seconds=600),
        report=ReportSettings(weekly_email=True, weekly_day="monday", weekly_hour=8),
    )
    return Config(settings, tmp_path, Secrets({"KINDLING_SMTP_PASSWORD": SecretStr("unused")}))


def _london(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)  # London is on UTC in December


def test_last_due_is_the_latest_weekly_moment_in_the_campaigns_time_zone() -> None:
    # 2026-12-07 is a Monday; 08:00 in London is 08:00 UTC in December, 09:00 in Paris 08:00 UTC.
    assert last_due(_london(7, 8), LONDON, "monday", 8) == _london(7, 8)
    assert last_due(_london(7, 7, 59), LONDON, "monday", 8) == _london(7, 8) - timedelta(days=7)
    assert last_due(_london(9, 12), LONDON, "monday", 8) == _london(7, 8)
    assert last_due(_london(7, 7, 30), "Europe/Paris", "monday", 8) == _london(7, 7)


def test_the_weekly_report_goes_once_a_week_across_restarts_and_is_retried(
    filled_store: Store, demo_campaign: Campaign, tmp_path: Path, mail: MailServer, caplog
) -> None:
    caplog.set_level(logging.INFO, "kindling.report")
    config = _config(tmp_path, mail.port)
    clock = MovedClock(_london(7, 7, 59))

    def weekly() -> WeeklyReports:  # one per daemon start
        return WeeklyReports(config, filled_store, lambda: [demo_campaign], clock)

    job = weekly()
    job.run()  # due: Monday 30 November, whose week (23-29 November) is before the campaign
    assert mail.handler.messages == []
    clock.at = _london(7, 8)
    job.run()
    [first] = mail.handler.messages
    assert _subject(first) == "Adroddiad / Report: Ymgyrch <script>alert('n')</script> " + (
        "(2026-11-30 – 2026-12-06)"
    )
    clock.at = _london(7, 9)
    job.run()
    weekly().run()  # a restart the same week: recorded in the database, not sent again
    clock.at = _london(13, 23)
    weekly().run()
    assert len(mail.handler.messages) == 1

    mail.handler.refuse = mail.handler.attempts + 2  # the next two deliveries are refused
    job = weekly()
    clock.at = _london(14, 8, 1)
    job.run()  # refused: logged, no traceback, tried again later
    job.run()  # not yet: waiting 60 s
    assert mail.handler.attempts - len(mail.handler.messages) == 2 - 1
    clock.at += timedelta(seconds=61)
    job.run()  # refused again: now waiting 120 s
    clock.at += timedelta(seconds=119)
    job.run()
    assert len(mail.handler.messages) == 1
    clock.at += timedelta(seconds=2)
    job.run()
    assert len(mail.handler.messages) == 2
    assert "(2026-12-07 – 2026-12-13)" in _subject(mail.handler.messages[1])
    logged = caplog.text
    assert "not sent (attempt 1): the SMTP server refused: 451; trying again in 60 s" in logged
    assert "not sent (attempt 2): the SMTP server refused: 451; trying again in 120 s" in logged
    assert "Traceback" not in logged
    assert logged.count("weekly report of 'demo' (2026-12-07 to 2026-12-13) sent by email") == 1


def test_the_daemon_sends_the_weekly_report_at_its_hour_and_not_again_after_a_restart(
    tmp_path: Path, mail: MailServer
) -> None:
    from bot.clock import AcceleratedClock
    from bot.daemon.scheduler import Daemon
    from tests.alerts.conftest import wait_for
    from tests.fakes.scripted_platform import ScriptedPlatform

    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "campaigns" / "demo.yaml").write_text(CAMPAIGN_YAML, encoding="utf-8")
    config = _config(tmp_path, mail.port)

    def daemon(start: datetime) -> Daemon:
        running = Daemon(
            config,
            dry_run=False,
            # A minute a second, from the start (the clock is held until the daemon has planned).
            clock=AcceleratedClock(start, speed=60, held=True),
            platforms={"x": ScriptedPlatform("x"), "bluesky": ScriptedPlatform("bluesky")},
        )
        running.weekly.every_seconds = 0.05
        running.start()
        return running

    first = daemon(_london(7, 7, 58))  # two minutes before Monday 08:00: two seconds
    try:
        wait_for(lambda: first.weekly.passes >= 1, 30, "the weekly job's first look")
        assert mail.handler.messages == []  # the week before the campaign; not yet this one
        wait_for(lambda: mail.handler.messages, 60, "the weekly report")
        assert first.clock.now() >= _london(7, 8)
    finally:
        first.stop()
    [message] = mail.handler.messages
    assert "(2026-11-30 – 2026-12-06)" in _subject(message)
    assert message["To"] == "organiser@example.org"  # no [report] email_to: the alert recipients

    again = daemon(_london(7, 9))  # restarted the same week
    try:
        wait_for(lambda: again.weekly.passes >= 3, 30, "the weekly job looked after the restart")
    finally:
        again.stop()
    assert len(mail.handler.messages) == 1
