"""Approved candidates become outbox rows, at times the campaign's rules allow: at least
`min_spacing_minutes` apart on a platform, at most `daily_cap` a (local) day, never in quiet
hours, never after the active window, and never once a post is older than `max_age_hours`."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.amplify.decisions import CandidateState
from bot.campaign.model import Campaign
from bot.publish.amplifications import PlannedAmplification, plan_amplification, withdraw
from bot.publish.states import OutboxState
from bot.store.engine import Store
from bot.store.tables import CandidateRow, OutboxRow, PollCursorRow
from bot.store.upsert import upsert

log = logging.getLogger("kindling.amplify")

# An amplification may go out this late after its time (the daemon was down) before it is missed.
MAX_DELAY = timedelta(hours=6)
# Renders the quote for (language, platform, author handle); only called for `action: quote`.
QuoteWriter = Callable[[str, str, str], str]


def plan_approved(
    store: Store,
    mode: str,
    campaign: Campaign,
    platform: str,
    now: datetime,
    write_quote: QuoteWriter | None = None,
) -> int:
    """Give each approved candidate of `campaign` on `platform` an outbox row, oldest first.

    Returns how many were planned. A candidate that would be older than `max_age_hours` by its
    turn, or whose turn falls after the active window, is skipped with the reason."""
    amplify = campaign.amplify
    if amplify is None:
        return 0
    zone = ZoneInfo(campaign.timezone)
    spacing = timedelta(minutes=amplify.min_spacing_minutes)
    planned = 0
    with store.write() as session:
        _take_planning_lock(session, mode, campaign.id, platform, now)
        candidates = list(
            session.scalars(
                select(CandidateRow)
                .where(
                    CandidateRow.campaign_id == campaign.id,
                    CandidateRow.platform == platform,
                    CandidateRow.mode == mode,
                    CandidateRow.state == CandidateState.APPROVED,
                )
                .order_by(CandidateRow.id)
            )
        )
        if not candidates:
            return 0
        taken = _Calendar(session, mode, campaign.id, platform, zone)
        for candidate in candidates:
            slot = _first_free(
                campaign, taken, max(now, taken.last + spacing), zone, amplify.daily_cap
            )
            refusal = _too_late(campaign, candidate, slot)
            if refusal is not None:
                _decide(candidate, CandidateState.SKIPPED, refusal, now)
                continue
            planned_row = _amplification(mode, campaign, platform, candidate, slot, write_quote)
            candidate.outbox_id = plan_amplification(session, planned_row, now)
            _decide(candidate, CandidateState.PLANNED, None, now, keep_decider=True)
            taken.add(slot)
            planned += 1
    return planned


def _too_late(campaign: Campaign, candidate: CandidateRow, slot: datetime) -> str | None:
    """Why `candidate` cannot go out at `slot`, or None if it can."""
    assert campaign.amplify is not None
    end = campaign.active.end_local()
    if end is not None and slot.astimezone(ZoneInfo(campaign.timezone)).replace(tzinfo=None) > end:
        return "the campaign's active window is over"
    max_age = timedelta(hours=campaign.amplify.max_age_hours)
    if candidate.created_at is not None and slot - candidate.created_at > max_age:
        return (
            f"the daily cap and spacing leave no room before it is "
            f"{campaign.amplify.max_age_hours} hours old"
        )
    return None


def _amplification(
    mode: str,
    campaign: Campaign,
    platform: str,
    candidate: CandidateRow,
    slot: datetime,
    write_quote: QuoteWriter | None,
) -> PlannedAmplification:
    """The outbox row `candidate` gets at `slot`: missed once too late or too old."""
    assert campaign.amplify is not None
    language = _language(candidate, campaign)
    text = ""
    if candidate.action == "quote":
        assert write_quote is not None
        text = write_quote(language, platform, candidate.author_handle)
    max_age = timedelta(hours=campaign.amplify.max_age_hours)
    return PlannedAmplification(
        mode=mode,
        campaign_id=campaign.id,
        platform=platform,
        language=language,
        action=candidate.action,
        subject_id=candidate.remote_id,
        subject_cid=candidate.cid,
        subject_url=candidate.url,
        slot_at=slot,
        latest_at=min(slot + MAX_DELAY, (candidate.created_at or slot) + max_age),
        text=text,
    )


def _take_planning_lock(
    session: Session, mode: str, campaign_id: str, platform: str, now: datetime
) -> None:
    """Serialise planners of one (mode, campaign, platform) across processes: `kindling approve`
    and the daemon's amplify job can plan at the same moment, and two planners reading the same
    approved candidates and the same calendar would plan a candidate twice (the second insert
    fails on the outbox key) or fill a day past `daily_cap`. The first statement of the
    transaction writes a row of its own, so SQLite gives it the write lock (and the newest
    snapshot) and PostgreSQL a row lock, both held until the transaction ends; the other planner
    waits (busy timeout / lock wait), then reads what this one planned."""
    name = (
        "amplify-plan:"
        + hashlib.sha256(f"{mode}|{campaign_id}|{platform}".encode()).hexdigest()[:40]
    )
    statement = upsert(session, PollCursorRow).values(name=name, cursor=None, updated_at=now)
    session.execute(
        statement.on_conflict_do_update(index_elements=["name"], set_={"updated_at": now})
    )


# Amplifications in these states leave their slot free for another.
_FREED = (OutboxState.CANCELLED, OutboxState.UNDONE, OutboxState.MISSED)


class _Calendar:
    """The amplification slots already taken on one platform: the latest, and counts per day."""

    def __init__(
        self, session: Session, mode: str, campaign_id: str, platform: str, zone: ZoneInfo
    ) -> None:
        rows = session.execute(
            select(OutboxRow.slot_at).where(
                OutboxRow.mode == mode,
                OutboxRow.campaign_id == campaign_id,
                OutboxRow.platform == platform,
                OutboxRow.action != "post",
                OutboxRow.state.not_in(_FREED),
            )
        ).scalars()
        self.zone = zone
        self.per_day: dict[object, int] = {}
        self.last = datetime.min.replace(tzinfo=ZoneInfo("UTC"))
        for slot in rows:
            self.add(slot)

    def add(self, slot: datetime) -> None:
        day = slot.astimezone(self.zone).date()
        self.per_day[day] = self.per_day.get(day, 0) + 1
        self.last = max(self.last, slot)

    def count(self, moment: datetime) -> int:
        return self.per_day.get(moment.astimezone(self.zone).date(), 0)


def _first_free(
    campaign: Campaign, taken: _Calendar, moment: datetime, zone: ZoneInfo, cap: int
) -> datetime:
    """The first moment from `moment` outside quiet hours on a day with room under the cap."""
    for _ in range(400):  # a year of full days is the most this can skip
        local = moment.astimezone(zone)
        quiet = campaign.quiet_hours
        if quiet is not None and quiet.contains(local.time().replace(tzinfo=None)):
            end = datetime.combine(local.date(), quiet.end, tzinfo=zone)
            if end <= local:
                end += timedelta(days=1)
            moment = end.astimezone(moment.tzinfo)
            continue
        start = campaign.active.start_local()
        if local.replace(tzinfo=None) < start:
            moment = start.replace(tzinfo=zone).astimezone(moment.tzinfo)
            continue
        if taken.count(moment) >= cap:
            tomorrow = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
            moment = tomorrow.astimezone(moment.tzinfo)
            continue
        return moment
    return moment


def _language(candidate: CandidateRow, campaign: Campaign) -> str:
    for language in (candidate.languages or "").split(","):
        if language.split("-")[0] in campaign.languages:
            return language.split("-")[0]
    return campaign.primary_language


def _decide(
    candidate: CandidateRow,
    state: CandidateState,
    reason: str | None,
    now: datetime,
    keep_decider: bool = False,
) -> None:
    candidate.state, candidate.reason = state, reason
    if not keep_decider:
        candidate.decided_at, candidate.decided_by = now, "rules"


BLOCKED = "the author is on the blocklist"


def withdraw_blocked(
    store: Store,
    mode: str,
    campaign: Campaign,
    platform: str,
    blocked: frozenset[str],
    now: datetime,
) -> int:
    """Cancel planned amplifications of authors now on the blocklist: it always wins, also over
    what was planned before the organiser added them. Returns how many were withdrawn."""
    if not blocked:
        return 0
    withdrawn = 0
    with store.write() as session:
        rows = session.execute(
            select(CandidateRow, OutboxRow.id)
            .join(OutboxRow, OutboxRow.id == CandidateRow.outbox_id)
            .where(
                CandidateRow.campaign_id == campaign.id,
                CandidateRow.platform == platform,
                CandidateRow.mode == mode,
                CandidateRow.state == CandidateState.PLANNED,
                OutboxRow.state == OutboxState.PLANNED,
            )
        ).all()
        for candidate, row_id in rows:
            authors = {candidate.author_handle.lower(), candidate.author_id.lower()}
            # A row a sender claimed meanwhile is the sender's: it is not withdrawn.
            if authors & blocked and withdraw(session, row_id, BLOCKED, now):
                _decide(candidate, CandidateState.SKIPPED, BLOCKED, now)
                withdrawn += 1
    if withdrawn:
        log.info(
            "%s: withdrew %d planned amplification(s) of blocklisted authors", platform, withdrawn
        )
    return withdrawn
