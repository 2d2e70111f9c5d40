"""Pure planning: a campaign and a time window -> the slots that are due. No I/O, no clock.

Shared by the daemon and `kindling simulate`, so what simulate shows is what the daemon does.
Rules, in order: occurrences of each message's schedule inside the active window (local wall
clock, DST-correct), minus quiet hours, plus optional jitter; one slot per language and platform;
quotes rotated without repeats until the pool is used up; the campaign's minimum spacing per
platform; and the per-platform daily cap (first slots of the local day win).
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.campaign.model import Campaign, Message
from bot.campaign.recurrence import occurrences


@dataclass(frozen=True, order=True)
class Slot:
    due: datetime  # UTC, when it should go out
    campaign_id: str
    message_id: str
    language: str
    platform: str
    local: datetime  # naive local wall-clock time of `due`
    latest: datetime  # UTC: later than this, the slot is missed
    quote_id: str | None = None

    @property
    def key(self) -> str:
        return "/".join(
            (
                self.campaign_id,
                self.message_id,
                self.language,
                self.platform,
                f"{self.due:%Y%m%dT%H%M%SZ}",
            )
        )


def _stable_int(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant. In a DST gap it moves forward with the clock;
    a time that happens twice (autumn) is the first of the two, so it is planned once."""
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def plan(
    campaign: Campaign,
    start: datetime,
    end: datetime,
    daily_caps: Mapping[str, int] | None = None,
) -> list[Slot]:
    """Every slot of `campaign` due in [start, end) (UTC instants), in order."""
    zone = ZoneInfo(campaign.timezone)
    # Whole local days, so daily caps and spacing see every slot of each day in the window.
    local_start = datetime.combine(start.astimezone(zone).date(), datetime.min.time())
    local_end = datetime.combine(
        end.astimezone(zone).date() + timedelta(days=1), datetime.min.time()
    )
    window_start = campaign.active.start_local()
    window_end = campaign.active.end_local()
    first = max(local_start, window_start)
    last = min(local_end, window_end + timedelta(microseconds=1)) if window_end else local_end
    if first >= last:
        return []

    candidates: list[Slot] = []
    for order, message in enumerate(campaign.messages):
        candidates += _message_slots(campaign, message, order, first, last, zone)
    candidates.sort(key=lambda s: (s.due, _message_order(campaign, s.message_id), s.language))
    kept = _space_and_cap(campaign, candidates, zone, daily_caps or {})
    return [slot for slot in kept if start <= slot.due < end]


def _message_order(campaign: Campaign, message_id: str) -> int:
    return next(i for i, m in enumerate(campaign.messages) if m.id == message_id)


def _message_slots(
    campaign: Campaign,
    message: Message,
    order: int,
    first: datetime,
    last: datetime,
    zone: ZoneInfo,
) -> list[Slot]:
    pool = next((p for p in campaign.quote_pools if p.id == message.quote_pool), None)
    quote_ids = [q.id for q in pool.quotes] if pool else []
    # Occurrences are counted from the start of the active window, so rotation is stable
    # whatever window is planned.
    counted_from = campaign.active.start_local()
    slots: list[Slot] = []
    index = -1
    for local in occurrences(message.schedule, counted_from, last):
        if _quiet(campaign, local):
            continue
        index += 1
        if local < first:
            continue
        if message.jitter_minutes:
            spread = 2 * message.jitter_minutes + 1
            local += timedelta(
                minutes=_stable_int(campaign.id, message.id, local.isoformat()) % spread
                - message.jitter_minutes
            )
        due = to_utc(local, zone)
        latest = due + timedelta(minutes=message.max_delay_minutes)
        quote = _rotated_quote(campaign.id, message.id, quote_ids, index) if quote_ids else None
        for platform in message.platforms or campaign.platforms:
            for language in campaign.languages:
                slots.append(
                    Slot(due, campaign.id, message.id, language, platform, local, latest, quote)
                )
    return slots


def _rotated_quote(campaign_id: str, message_id: str, quote_ids: list[str], index: int) -> str:
    """The quote of the index-th occurrence: each cycle through the pool is a fresh shuffle,
    and a cycle never starts with the quote the previous one ended with."""
    size = len(quote_ids)
    cycle, position = divmod(index, size)
    order = _cycle_order(campaign_id, message_id, size, cycle)
    return quote_ids[order[position]]


def _cycle_order(campaign_id: str, message_id: str, size: int, cycle: int) -> list[int]:
    order = list(range(size))
    random.Random(_stable_int(campaign_id, message_id, str(size), str(cycle))).shuffle(order)
    if cycle > 0 and size > 1:
        previous_last = _cycle_order(campaign_id, message_id, size, cycle - 1)[-1]
        if order[0] == previous_last:
            order[0], order[1] = order[1], order[0]
    return order


def _quiet(campaign: Campaign, local: datetime) -> bool:
    return campaign.quiet_hours is not None and campaign.quiet_hours.contains(local.time())


def _space_and_cap(
    campaign: Campaign, slots: list[Slot], zone: ZoneInfo, daily_caps: Mapping[str, int]
) -> list[Slot]:
    spacing = timedelta(minutes=campaign.min_spacing_minutes)
    # Languages of one message at one time are one "post" for spacing and caps: the campaign
    # publishes each language separately, but an organiser counts them as one.
    last_due: dict[str, datetime] = {}
    per_day: dict[tuple[str, date], set[tuple[str, datetime]]] = defaultdict(set)
    moved: dict[tuple[str, str, datetime], datetime] = {}
    kept: list[Slot] = []
    for slot in slots:
        group = (slot.platform, slot.message_id, slot.due)
        due = moved.get(group)
        if due is None:
            due = slot.due
            previous = last_due.get(slot.platform)
            if spacing and previous is not None and due < previous + spacing:
                due = previous + spacing
            moved[group] = due
            last_due[slot.platform] = max(due, last_due.get(slot.platform, due))
        local = due.astimezone(zone).replace(tzinfo=None)
        if (
            due > slot.latest
            or _quiet(campaign, local)
            or (campaign.active.end_local() is not None and local > campaign.active.end_local())
        ):
            continue
        day = (slot.platform, local.date())
        cap = daily_caps.get(slot.platform)
        post = (slot.message_id, slot.due)
        if cap is not None and post not in per_day[day] and len(per_day[day]) >= cap:
            continue
        per_day[day].add(post)
        if due != slot.due:
            slot = Slot(
                due,
                slot.campaign_id,
                slot.message_id,
                slot.language,
                slot.platform,
                local,
                slot.latest,
                slot.quote_id,
            )
        kept.append(slot)
    kept.sort()
    return kept
