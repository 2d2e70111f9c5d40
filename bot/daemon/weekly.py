"""The report by email: on demand (`kindling report CAMPAIGN --email`) and once a week from the
daemon (`[report] weekly_email`).

The email is built by bot/report/mail.py and sent through the SMTP server of `[alerts.email]`
(bot/alerts/channels.py), to `[report] email_to` or else the alert recipients. A week's report
is recorded in `report_emails_sent` only once delivered, so it is sent once per week across
restarts; a failed delivery is logged (never with a traceback) and tried again after a doubling
wait, in the scheduler's own job, never in the way of posting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from bot.alerts.channels import SMTP_PASSWORD, ChannelFailed, send_email
from bot.campaign.model import Campaign
from bot.clock import Clock
from bot.config import WEEKDAYS, Config
from bot.store.engine import Store
from bot.store.errors import StoreError
from bot.store.tables import ReportEmailSentRow

log = logging.getLogger("kindling.report")

WEEK = timedelta(days=7)


class NoMailServer(ValueError):
    """`[alerts.email]` names no SMTP server, sender or recipient."""


def recipients(config: Config) -> list[str]:
    settings = config.settings
    return list(settings.report.email_to or settings.alerts.email.to)


def email_report(
    config: Config, store: Store, campaign: Campaign, since: date | None, until: date | None
) -> list[str]:
    """Collect the report, build the email and send it; returns the recipients. Raises
    NoMailServer before anything is collected, ChannelFailed if the delivery failed."""
    from bot.report.collect import collect
    from bot.report.mail import report_email

    smtp = config.settings.alerts.email
    to = recipients(config)
    if not smtp.host or not smtp.from_address or not to:
        raise NoMailServer(
            "no SMTP server to send the report through: set host, from_address and to in "
            "[alerts.email] (or [report] email_to) in config.toml"
        )
    report = collect(store, campaign, since, until, series=True)
    message = report_email(report, campaign, sender=smtp.from_address, to=to)
    send_email(smtp, config.secrets.get(SMTP_PASSWORD), message)
    return to


def last_due(now: datetime, timezone: str, weekday: str, hour: int) -> datetime:
    """The latest weekly moment (`weekday` at `hour`:00 in `timezone`) at or before `now`."""
    local = now.astimezone(ZoneInfo(timezone))
    days_back = (local.weekday() - WEEKDAYS.index(weekday)) % 7
    due = datetime.combine(
        local.date() - timedelta(days=days_back), datetime.min.time(), ZoneInfo(timezone)
    ).replace(hour=hour)
    return due if due <= local else due - WEEK


def _sent(store: Store, campaign_id: str, week: str) -> bool:
    with store.read() as session:
        return session.get(ReportEmailSentRow, (campaign_id, week)) is not None


def _record(store: Store, campaign_id: str, week: str, now: datetime) -> None:
    with store.write() as session:
        session.merge(ReportEmailSentRow(campaign_id=campaign_id, week=week, sent_at=now))


class WeeklyReports:
    """The daemon's job `weekly-report`: each loaded campaign's report once a week."""

    def __init__(
        self,
        config: Config,
        store: Store,
        campaigns: Callable[[], list[Campaign]],
        clock: Clock,
        send: Callable[[Config, Store, Campaign, date | None, date | None], object] = (
            email_report
        ),
    ) -> None:
        self.config, self.store, self.campaigns, self.clock = config, store, campaigns, clock
        self.send = send
        alerts = config.settings.alerts
        self.first_wait, self.most_wait = alerts.retry_first_seconds, alerts.retry_max_seconds
        self._failures: dict[tuple[str, str], tuple[int, datetime]] = {}
        self.every_seconds = 60.0  # how often the job looks (tests shorten it)
        self.passes = 0  # tests: how many times the job has looked

    def run(self) -> None:
        now = self.clock.now()
        settings = self.config.settings.report
        for campaign in self.campaigns():
            due = last_due(now, campaign.timezone, settings.weekly_day, settings.weekly_hour)
            since, until = due.date() - WEEK, due.date() - timedelta(days=1)
            if not _covers(campaign, since, until):
                continue
            try:
                self._one(campaign, due.date().isoformat(), since, until, now)
            except (SQLAlchemyError, StoreError) as exc:
                log.warning("weekly report of '%s': database: %s", campaign.id, type(exc).__name__)
        self.passes += 1

    def _one(self, campaign: Campaign, week: str, since: date, until: date, now: datetime) -> None:
        key = (campaign.id, week)
        failures, retry_at = self._failures.get(key, (0, now))
        if now < retry_at or _sent(self.store, *key):
            return
        try:
            self.send(self.config, self.store, campaign, since, until)
        except (ChannelFailed, NoMailServer) as exc:
            failure = str(exc)
        except Exception as exc:  # a bug must not end the job; its text may hold anything
            failure = f"unexpected {type(exc).__name__}"
        else:
            _record(self.store, campaign.id, week, now)
            self._failures.pop(key, None)
            log.info("weekly report of '%s' (%s to %s) sent by email", campaign.id, since, until)
            return
        wait = min(self.first_wait * 2**failures, self.most_wait)
        self._failures[key] = (failures + 1, now + timedelta(seconds=wait))
        log.warning(
            "weekly report of '%s' not sent (attempt %d): %s; trying again in %.3g s",
            campaign.id,
            failures + 1,
            failure,
            wait,
        )


def _covers(campaign: Campaign, since: date, until: date) -> bool:
    """The campaign was active during some of the week."""
    end = campaign.active.end_local()
    return campaign.active.start_local().date() <= until and (end is None or end.date() >= since)
