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
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bot.campaign.model import Campaign, Message
from bot.campaign.recurrence import occurrences


class Slot(NamedTuple):
    """One post due: a message in one language on one platform at one time. Tuples order
    by due time first (a planner makes hundreds of thousands: a NamedTuple is cheap)."""

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

    posts: list[_Post] = []
    for order, message in enumerate(campaign.messages):
        platforms = message.platforms or campaign.platforms
        for local, due, latest, quote in _occurrences(campaign, message, first, last, zone):
            posts += [
                _Post(due, order, platform, message.id, local, latest, quote)
                for platform in platforms
            ]
    posts.sort(key=_POST_ORDER)
    kept = _space_and_cap(campaign, posts, zone, daily_caps or {}, window_end)
    slots = [
        Slot(
            post.due,
            campaign.id,
            post.message_id,
            language,
            post.platform,
            post.local,
            post.latest,
            post.quote,
        )
        for post in kept
        if start <= post.due < end
        for language in campaign.languages
    ]
    slots.sort()
    return slots


class _Post(NamedTuple):
    """One message at one time on one platform: every language of it counts once."""

    due: datetime
    order: int
    platform: str
    message_id: str
    local: datetime
    latest: datetime
    quote: str | None


_POST_ORDER = attrgetter("due", "order")
# The same order as Slot's own (dataclass order), without its slow generated __lt__.
_SLOT_ORDER = attrgetter(
    "due", "campaign_id", "message_id", "language", "platform", "local", "latest"
)


def _occurrences(
    campaign: Campaign, message: Message, first: datetime, last: datetime, zone: ZoneInfo
) -> Iterator[tuple[datetime, datetime, datetime, str | None]]:
    """(local, due, latest, quote) for each firing of `message` in [first, last)."""
    pool = next((p for p in campaign.quote_pools if p.id == message.quote_pool), None)
    quote_ids = [q.id for q in pool.quotes] if pool else []
    delay = timedelta(minutes=message.max_delay_minutes)
    quiet = campaign.quiet_hours
    # Occurrences are counted from the start of the active window, so rotation is stable
    # whatever window is planned.
    index = -1
    for local in occurrences(message.schedule, campaign.active.start_local(), last):
        if quiet is not None and quiet.contains(local.time()):
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
        quote = _rotated_quote(campaign.id, message.id, quote_ids, index) if quote_ids else None
        yield local, due, due + delay, quote


def _rotated_quote(campaign_id: str, message_id: str, quote_ids: list[str], index: int) -> str:
    """The quote of the index-th occurrence: each cycle through the pool is a fresh shuffle,
    and a cycle never starts with the quote the previous one ended with."""
    cycle, position = divmod(index, len(quote_ids))
    return quote_ids[_cycle_order(campaign_id, message_id, len(quote_ids), cycle)[position]]


def _cycle_order(campaign_id: str, message_id: str, size: int, cycle: int) -> tuple[int, ...]:
    return _cycle_orders(campaign_id, message_id, size)[cycle]


class _CycleOrders:
    """The quote orders of one message's pool, cycle by cycle. Each cycle depends on the one
    before it, so cycles are computed once, in order, and kept; one instance is shared by every
    thread that plans (the daemon's pool), so it grows under a lock and hands out tuples only."""

    __slots__ = ("_campaign_id", "_lock", "_message_id", "_orders", "_size")

    def __init__(self, campaign_id: str, message_id: str, size: int) -> None:
        self._campaign_id, self._message_id, self._size = campaign_id, message_id, size
        self._lock = threading.Lock()
        self._orders: list[tuple[int, ...]] = []

    def __getitem__(self, cycle: int) -> tuple[int, ...]:
        with self._lock:
            while len(self._orders) <= cycle:
                self._orders.append(self._next())
            return self._orders[cycle]

    def _next(self) -> tuple[int, ...]:
        done, size = self._orders, self._size
        order = list(range(size))
        seed = _stable_int(self._campaign_id, self._message_id, str(size), str(len(done)))
        random.Random(seed).shuffle(order)
        if done and size > 1 and order[0] == done[-1][-1]:
            order[0], order[1] = order[1], order[0]
        return tuple(order)


@lru_cache(maxsize=1024)
def _cycle_orders(campaign_id: str, message_id: str, size: int) -> _CycleOrders:
    return _CycleOrders(campaign_id, message_id, size)


def _space_and_cap(
    campaign: Campaign,
    posts: list[_Post],
    zone: ZoneInfo,
    daily_caps: Mapping[str, int],
    window_end: datetime | None,
) -> list[_Post]:
    spacing = timedelta(minutes=campaign.min_spacing_minutes)
    quiet = campaign.quiet_hours
    last_due: dict[str, datetime] = {}
    per_day: dict[tuple[str, date], int] = defaultdict(int)
    kept: list[_Post] = []
    for post in posts:
        due, local = post.due, post.local
        previous = last_due.get(post.platform)
        if spacing and previous is not None and due < previous + spacing:
            due = previous + spacing
            local = due.astimezone(zone).replace(tzinfo=None)
        last_due[post.platform] = max(due, previous) if previous is not None else due
        if (
            due > post.latest
            or (quiet is not None and quiet.contains(local.time()))
            or (window_end is not None and local > window_end)
        ):
            continue
        day = (post.platform, local.date())
        cap = daily_caps.get(post.platform)
        if cap is not None and per_day[day] >= cap:
            continue
        per_day[day] += 1
        kept.append(post if due == post.due else post._replace(due=due, local=local))
    kept.sort(key=_POST_ORDER)
    return kept
