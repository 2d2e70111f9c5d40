"""Listening to the targets: their own public posts, read on a cadence, checked for responses.

For every target with a handle on a platform (of the campaigns that listen there: Bluesky and
Mastodon always, X only with `listen: {x: true}`, as X bills every post read), the feed of that
handle is read newest first (`Amplifier.author_posts`) down to the persisted cursor, one
`PollCursorRow` per platform and handle ("listen:PLATFORM:HANDLE"), and each post is checked
by bot/engagement/recognise.py. Each page is written in one transaction: its responses (once:
`ResponseRow` is unique on platform and remote id), the cursor's progress and, on X, the
charge for the posts read (`Budget.record`). So a stop at any point resumes where it was, and
no X post is paid for twice.

The cursor is JSON: `newest` (the watermark of the newest post read), and while a backlog is
being read over several passes (`pages_per_pass`), `page`, `until` and `pending`: the page
to continue from, the watermark it reads down to and the newest seen, which becomes `newest`
when the backlog is done. Bluesky sorts a feed by the earlier of createdAt and indexedAt, so a
post indexed late sorts below posts read before it: Bluesky feeds are read `LATE_INDEXING`
below the watermark (free there; what was stored is not stored again).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.campaign.model import Campaign
from bot.engagement.recognise import Context, Marks, Recognised, first_recognised
from bot.engagement.telling import stored_events, tell
from bot.events import NewResponse
from bot.platforms.base import Amplifier, FoundPage, FoundPost, Platform, Rejected
from bot.platforms.bluesky_support import LATE_INDEXING, parse_time
from bot.publish.budget import Budget, Cost, Spend
from bot.store.engine import Store
from bot.store.tables import CandidateRow, OutboxRow, PollCursorRow, ResponseRow, table

log = logging.getLogger("kindling.engagement")

CURSOR_PREFIX = "listen"
NAME_LENGTH = 64  # PollCursorRow.name
X_PAGE = 10  # the fewest posts an X search page holds: each is billed
X_READS = f"{CURSOR_PREFIX}:x:reads-today"  # {"day": YYYY-MM-DD, "reads": n}


class Listened(NamedTuple):
    """One target of one campaign behind a handle: what its posts are checked against."""

    campaign_id: str
    target_id: str
    marks: Marks
    launch: datetime  # posts from before the campaign began answer nothing of it


@dataclass
class ListenReport:
    platform: str
    feeds: int = 0  # handles read
    pages: int = 0
    posts: int = 0  # posts read
    new: list[NewResponse] = field(default_factory=list)
    usd: float = 0.0
    stopped: str | None = None  # why the pass stopped early
    refused: dict[str, str] = field(default_factory=dict)  # handle -> why its feed was refused


def launch_of(campaign: Campaign) -> datetime:
    zone = ZoneInfo(campaign.timezone)
    return campaign.active.start_local().replace(tzinfo=zone).astimezone(UTC)


def listened(campaigns: Iterable[Campaign], platform: str) -> dict[str, list[Listened]]:
    """Handle on `platform` (lower case, no '@'; a DID as written) -> its targets, in campaign
    order, for the campaigns that listen on that platform."""
    found: dict[str, list[Listened]] = {}
    for campaign in campaigns:
        if not campaign.listen.enabled or (platform == "x" and not campaign.listen.x):
            continue
        marks, launch = Marks.of(campaign), launch_of(campaign)
        for target in campaign.targets:
            handle = getattr(target.handles, platform, None)
            if handle:
                key = handle.removeprefix("@")
                key = key if key.startswith("did:") else key.lower()
                found.setdefault(key, []).append(Listened(campaign.id, target.id, marks, launch))
    return found


def cursor_name(platform: str, handle: str) -> str:
    name = f"{CURSOR_PREFIX}:{platform}:{handle}"
    if len(name) <= NAME_LENGTH:
        return name
    return f"{CURSOR_PREFIX}:{platform}:#{hashlib.sha256(handle.encode()).hexdigest()[:40]}"


def read_cursor(store: Store, name: str) -> dict[str, Any]:
    with store.read() as session:
        row = session.get(PollCursorRow, name)
    return json.loads(row.cursor) if row is not None and row.cursor else {}


def _later(platform: str, a: str | None, b: str | None) -> str | None:
    """The newer of two watermarks. X post ids and Mastodon status ids are numeric strings whose
    digit count grows, so two all-digit watermarks are compared as numbers ("100" is newer than
    "99"); anything else (Bluesky's fixed-width times, an instance's non-numeric ids) as text."""
    if a is None or b is None:
        return a or b
    if _numeric(a) and _numeric(b):
        return a if int(a) >= int(b) else b
    return max(a, b)


def _numeric(watermark: str) -> bool:
    return watermark.isascii() and watermark.isdigit()


def _read_down_to(platform: str, newest: str | None, launch: datetime) -> str | None:
    """The watermark a new read goes down to: the newest read (on Bluesky, `LATE_INDEXING`
    below it); on a first read, the launch on Bluesky, the latest page on X."""
    if platform == "bluesky":
        moment = parse_time(newest) if newest else None
        moment = moment - LATE_INDEXING if moment is not None else launch
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return newest


class Listener:
    """One listening pass over every target handle on every platform that can read feeds."""

    def __init__(
        self,
        store: Store,
        budget: Budget,
        read_price: float,
        *,
        pages_per_pass: int = 3,
        x_reads_per_day: int = 100,
    ) -> None:
        self.store = store
        self.budget = budget
        self.read_price = read_price
        self.pages_per_pass = pages_per_pass
        self.x_reads_per_day = x_reads_per_day
        self._bot_ids: dict[str, frozenset[str]] = {}

    def listen(
        self, platform: Platform, campaigns: Sequence[Campaign], now: datetime
    ) -> ListenReport:
        """Read every listened handle's new posts on `platform`; adapter errors propagate
        (what was read before them is kept)."""
        report = ListenReport(platform.name)
        if not isinstance(platform, Amplifier):
            return report
        handles = listened(campaigns, platform.name)
        if handles and platform.name not in self._bot_ids:
            account = platform.check_account()
            self._bot_ids[platform.name] = frozenset({account.id, account.handle.lower()})
        for handle in _least_recently_read(self.store, platform.name, handles):
            targets = handles[handle]
            if report.stopped:
                break
            report.feeds += 1
            try:
                self._read_feed(platform, handle, targets, now, report)
            except Rejected as exc:  # this handle only (gone, renamed, mistyped): the rest go on
                report.refused[handle] = exc.message
                log.warning("%s: cannot read @%s's posts: %s", platform.name, handle, exc.message)
        return report

    def _read_feed(
        self,
        platform: Any,
        handle: str,
        targets: Sequence[Listened],
        now: datetime,
        report: ListenReport,
    ) -> None:
        name = cursor_name(platform.name, handle)
        state = read_cursor(self.store, name)
        launch = min(t.launch for t in targets)
        until = state.get("until") if state.get("page") else None
        until = until or _read_down_to(platform.name, state.get("newest"), launch)
        page, pending = state.get("page"), state.get("pending")
        is_x = platform.name == "x"
        # X's first read of a handle is its latest page: every older post read would be billed
        first_x_read = is_x and not state
        for _ in range(pages_to_read(platform.name, bool(state), self.pages_per_pass)):
            if is_x and not self._affordable(now, report):
                return
            found: FoundPage = platform.author_posts(
                handle, newer_than=until, page=page, limit=X_PAGE if is_x else 100
            )
            pending = _later(platform.name, pending, found.newest)
            page = None if first_x_read else found.next_page
            if page:
                new_state = {"newest": state.get("newest"), "page": page, "until": until}
                new_state["pending"] = pending
            else:
                new_state = {"newest": _later(platform.name, state.get("newest"), pending)}
            report.pages += 1
            report.posts += len(found.posts)
            self._write_page(platform.name, found.posts, targets, name, new_state, now, report)
            if not page:
                return

    def _affordable(self, now: datetime, report: ListenReport) -> bool:
        """Whether a page of X posts fits today's read allowance and this month's X budget;
        else say why the pass stops."""
        read = x_reads_today(self.store, now)
        if not x_page_fits(read, self.x_reads_per_day):
            report.stopped = (
                f"x listening reads for today reached: {read} of {self.x_reads_per_day} "
                f"([engagement] listen_x_reads_per_day; a page holds up to {X_PAGE})"
            )
            return False
        # An optional read: only from what the month's planned posts and metrics leave.
        refusal = self.budget.read_refusal(self.read_price * X_PAGE, now, optional=True)
        if refusal is None:
            return True
        report.stopped = (
            f"{refusal}; a page of {X_PAGE} posts costs ${self.read_price * X_PAGE:.3f}"
        )
        return False

    def _write_page(
        self,
        platform: str,
        posts: Sequence[FoundPost],
        targets: Sequence[Listened],
        name: str,
        state: dict[str, Any],
        now: datetime,
        report: ListenReport,
    ) -> None:
        """One transaction: the page's new responses, the cursor, the charge for X reads."""
        with self.store.write() as session:
            ours = _our_posts(session, platform, posts)
            bot_ids = self._bot_ids.get(platform, frozenset())
            context = Context(bot_ids, frozenset(ours), _marked(session, platform, posts))
            known = _known(session, platform, [p.remote_id for p in posts])
            rows = []
            for post in posts:
                if post.remote_id in known:
                    continue
                match = _match(post, targets, context)
                if match is not None:
                    known.add(post.remote_id)
                    rows.append(_row(platform, post, *match, ours, now))
            if rows:
                session.execute(insert(table(ResponseRow)), rows)
            cursor = session.get(PollCursorRow, name)
            if cursor is None:
                cursor = PollCursorRow(name=name)
                session.add(cursor)
            cursor.cursor, cursor.updated_at = json.dumps(state, sort_keys=True), now
            if platform == "x" and posts and self.read_price:
                usd = self.read_price * len(posts)
                campaign = targets[0].campaign_id if len(targets) == 1 else None
                Budget.record(session, [Spend(platform, campaign, Cost("read", usd), now)])
                _count_x_reads(session, len(posts), now)
                report.usd += usd
            new = stored_events(session, platform, rows)
        for event in new:
            tell(event)
        report.new += new


def _least_recently_read(store: Store, platform: str, handles: Iterable[str]) -> list[str]:
    """The handles, never-read first, then the longest unread: a pass stopped by the X budget
    or the day's allowance starts next time with the feeds it did not reach."""
    names = {cursor_name(platform, handle): handle for handle in handles}
    with store.read() as session:
        query = select(PollCursorRow.name, PollCursorRow.updated_at).where(
            PollCursorRow.name.in_(sorted(names))
        )
        read_at = {names[name]: at for name, at in session.execute(query)}
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(names.values(), key=lambda handle: (read_at.get(handle, never), handle))


def pages_to_read(platform: str, read_before: bool, pages_per_pass: int) -> int:
    """The most pages one pass reads of one feed: X's first read of a handle is its latest page
    only (every older post would be billed); otherwise `pages_per_pass`."""
    return 1 if platform == "x" and not read_before else pages_per_pass


def x_page_fits(read_today: int, reads_per_day: int) -> bool:
    """Whether listening may ask X for one more page today: X bills each post a page returns,
    and a page may return `X_PAGE`, so a page is asked for only if a full one fits."""
    return read_today + X_PAGE <= reads_per_day


def x_reads_today(store: Store, now: datetime) -> int:
    """X posts listening read today (UTC day)."""
    with store.read() as session:
        row = session.get(PollCursorRow, X_READS)
    counted = json.loads(row.cursor) if row is not None and row.cursor else {}
    return int(counted.get("reads", 0)) if counted.get("day") == now.date().isoformat() else 0


def _count_x_reads(session: Session, reads: int, now: datetime) -> None:
    row = session.get(PollCursorRow, X_READS)
    if row is None:
        row = PollCursorRow(name=X_READS)
        session.add(row)
    counted = json.loads(row.cursor) if row.cursor else {}
    today = now.date().isoformat()
    before = int(counted.get("reads", 0)) if counted.get("day") == today else 0
    row.cursor, row.updated_at = json.dumps({"day": today, "reads": before + reads}), now


def _match(
    post: FoundPost, targets: Sequence[Listened], context: Context
) -> tuple[Listened, Recognised] | None:
    """The first target (of a handle listened for several campaigns) the post answers."""
    made = post.created_at
    current = [t for t in targets if made is None or made >= t.launch]
    found = first_recognised(post, [t.marks for t in current], context)
    if found is None:
        return None
    marks, recognised = found
    return next(t for t in current if t.marks is marks), recognised


def _our_posts(session: Session, platform: str, posts: Sequence[FoundPost]) -> dict[str, int]:
    """The bot's live posts among those `posts` reply to or quote: remote id -> outbox id."""
    referenced = {ref for p in posts for ref in (p.reply_to_id, p.quoted_id) if ref}
    if not referenced:
        return {}
    query = select(OutboxRow.remote_id, OutboxRow.id).where(
        OutboxRow.platform == platform,
        OutboxRow.mode == "live",
        OutboxRow.remote_id.in_(sorted(referenced)),
    )
    return {remote: row_id for remote, row_id in session.execute(query) if remote}


def _marked(
    session: Session, platform: str, posts: Sequence[FoundPost]
) -> dict[tuple[str, str], str]:
    """Supporters' posts found by amplify discovery (so carrying a campaign's marks) among
    those `posts` reply to or quote: (campaign id, remote id) -> URL."""
    referenced = {ref for p in posts for ref in (p.reply_to_id, p.quoted_id) if ref}
    if not referenced:
        return {}
    query = select(CandidateRow.campaign_id, CandidateRow.remote_id, CandidateRow.url).where(
        CandidateRow.platform == platform, CandidateRow.remote_id.in_(sorted(referenced))
    )
    return {(campaign, remote): url for campaign, remote, url in session.execute(query)}


def _known(session: Session, platform: str, remote_ids: list[str]) -> set[str]:
    if not remote_ids:
        return set()
    query = select(ResponseRow.remote_id).where(
        ResponseRow.platform == platform, ResponseRow.remote_id.in_(remote_ids)
    )
    return set(session.scalars(query))


def _row(
    platform: str,
    post: FoundPost,
    target: Listened,
    recognised: Recognised,
    ours: Mapping[str, int],
    now: datetime,
) -> dict[str, object]:
    answered = recognised.answered_id
    return {
        "platform": platform,
        "remote_id": post.remote_id,
        "kind": recognised.kind,
        "campaign_id": target.campaign_id,
        "target_id": target.target_id,
        "outbox_id": ours.get(answered) if answered and recognised.ours else None,
        "author_id": post.author_id,
        "author_handle": post.author_handle,
        "text": post.text,
        "url": post.url,
        "created_at": post.created_at,
        "seen_at": now,
        "answered_id": None if recognised.ours else answered,
        "answered_url": None if recognised.ours else recognised.answered_url,
        "dismissed": False,
    }
