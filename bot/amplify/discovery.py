"""One discovery pass: read each watched search and feed from where the last pass stopped,
store every post found once, judge it, and plan the qualifying ones into the outbox.

Cursors: each (campaign, platform, source) keeps in `poll_cursors` the watermark of the newest
post of its last complete pass and, while a pass is under way, the page it reached. A pass that
stops early (a rate limit, the page allowance, the X read budget) resumes from that page next
time with the same watermark, so nothing is skipped; posts already stored are never stored or
judged again (unique on platform + remote id)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.amplify.decisions import CandidateState
from bot.amplify.planning import QuoteWriter, plan_approved, withdraw_blocked
from bot.amplify.rules import judge
from bot.campaign.amplify_sources import Sources, sources_for
from bot.campaign.model import Campaign
from bot.config import AmplifySettings, XPrices
from bot.platforms.base import Amplifier, FoundPage, FoundPost, PlatformError, RateLimited
from bot.publish.budget import Budget, Cost, Spend
from bot.store.engine import Store
from bot.store.tables import CandidateRow, PollCursorRow

log = logging.getLogger("kindling.amplify")

X_MIN_PAGE = 10  # X's smallest max_results


@dataclass
class PassReport:
    found: int = 0  # posts the networks returned
    new: int = 0  # of which not seen before
    queued: int = 0
    approved: int = 0
    skipped: int = 0
    planned: int = 0
    x_reads: int = 0
    stopped: list[str] = field(default_factory=list)  # why sources stopped early

    def add(self, other: PassReport) -> None:
        for name in ("found", "new", "queued", "approved", "skipped", "planned", "x_reads"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.stopped += other.stopped


@dataclass(frozen=True)
class _Source:
    """A search for `terms`, or the feed of `author`, on `platform`."""

    label: str  # "search #tag", "feed handle"
    platform: Amplifier
    terms: tuple[str, ...] = ()
    author: str | None = None

    def fetch(self, newer: str | None, page: str | None, limit: int) -> FoundPage:
        if self.author is not None:
            return self.platform.author_posts(self.author, newer_than=newer, page=page, limit=limit)
        return self.platform.search(self.terms, newer_than=newer, page=page, limit=limit)


class Discovery:
    def __init__(
        self,
        store: Store,
        mode: str,
        settings: AmplifySettings,
        budget: Budget,
        prices: XPrices,
    ) -> None:
        self.store, self.mode, self.settings = store, mode, settings
        self.budget, self.prices = budget, prices

    def run(
        self,
        campaign: Campaign,
        platform: Amplifier,
        name: str,
        own_ids: frozenset[str],
        now: datetime,
        write_quote: QuoteWriter | None = None,
    ) -> PassReport:
        """One pass for `campaign` on the platform called `name`."""
        report = PassReport()
        sources = sources_for(campaign, name)
        if sources is None:
            return report
        for source in self._sources(platform, sources):
            try:
                self._read(source, sources, own_ids, now, report)
            except RateLimited as exc:
                report.stopped.append(f"{source.label}: rate limited until {exc.reset_at:%H:%M}Z")
                log.warning("%s: discovery paused: %s", name, exc.message)
                break  # the platform's window is shared: the other sources wait too
            except PlatformError as exc:
                report.stopped.append(f"{source.label}: {exc.message}")
                log.warning("%s: discovery of %s failed: %s", name, source.label, exc.message)
        self.withdraw_blocked(campaign, name, now)
        report.planned = plan_approved(self.store, self.mode, campaign, name, now, write_quote)
        return report

    def withdraw_blocked(self, campaign: Campaign, name: str, now: datetime) -> int:
        """Cancel planned amplifications on `name` whose authors are now on the blocklist."""
        sources = sources_for(campaign, name)
        if sources is None:
            return 0
        return withdraw_blocked(self.store, self.mode, campaign, name, sources.blocklist, now)

    # -- sources -------------------------------------------------------------------------------

    def _sources(self, platform: Amplifier, sources: Sources) -> list[_Source]:
        terms = sources.terms
        found: list[_Source] = []
        groups = [terms] if platform.combines_terms else [[term] for term in terms]
        for group in groups:
            if group:
                found.append(_Source("search " + " OR ".join(group), platform, tuple(group)))
        for author in sources.feeds:
            found.append(_Source(f"feed {author}", platform, author=author))
        return found

    def _read(
        self,
        source: _Source,
        sources: Sources,
        own_ids: frozenset[str],
        now: datetime,
        report: PassReport,
    ) -> None:
        name = _cursor_name(self.mode, sources, source.label)
        state = self._load(name)
        for _ in range(self.settings.pages_per_pass):
            limit = 100
            if sources.platform == "x":
                limit = self._x_allowance(sources, now)
                if limit < X_MIN_PAGE:
                    report.stopped.append(f"{source.label}: the X read budget for today is used")
                    return
            page = source.fetch(state.get("newest"), state.get("page"), limit)
            if sources.platform == "x":
                self._charge_x_reads(sources.campaign_id, len(page.posts), now)
                report.x_reads += len(page.posts)
            if state.get("page") is None:
                state["pass_newest"] = page.newest
            self._store(page.posts, source.label, sources, own_ids, now, report)
            if page.next_page:
                state["page"] = page.next_page
                self._save(name, source.label, state, now)
            else:
                state = {"newest": state.get("pass_newest") or state.get("newest")}
                self._save(name, source.label, state, now)
                return
        report.stopped.append(
            f"{source.label}: {self.settings.pages_per_pass} pages read; more next pass"
        )

    # -- storing and judging -------------------------------------------------------------------

    def _store(
        self,
        posts: Sequence[FoundPost],
        found_by: str,
        sources: Sources,
        own_ids: frozenset[str],
        now: datetime,
        report: PassReport,
    ) -> None:
        report.found += len(posts)
        if not posts:
            return
        try:
            states = self._insert_new(posts, found_by, sources, own_ids, now)
        except IntegrityError:
            # Another process (`kindling amplify discover` beside the daemon) stored one of
            # these posts in between: read what is stored now and insert the rest.
            states = self._insert_new(posts, found_by, sources, own_ids, now)
        for state in states:
            setattr(report, state, getattr(report, state) + 1)
        report.new += len(states)

    def _insert_new(
        self,
        posts: Sequence[FoundPost],
        found_by: str,
        sources: Sources,
        own_ids: frozenset[str],
        now: datetime,
    ) -> list[CandidateState]:
        """Store and judge the posts not stored yet, in one transaction; their states."""
        amplify = sources.settings
        states: list[CandidateState] = []
        with self.store.write() as session:
            ids = list({post.remote_id for post in posts})
            seen = set(
                session.scalars(
                    select(CandidateRow.remote_id).where(
                        CandidateRow.platform == sources.platform,
                        CandidateRow.mode == self.mode,
                        CandidateRow.remote_id.in_(ids),
                    )
                )
            )
            for post in posts:
                if post.remote_id in seen:
                    continue
                seen.add(post.remote_id)
                verdict = judge(post, sources, own_ids, now)
                if verdict.refusal is not None:
                    state = CandidateState.SKIPPED
                elif amplify.approval:
                    state = CandidateState.QUEUED
                else:
                    state = CandidateState.APPROVED
                states.append(state)
                session.add(
                    CandidateRow(
                        platform=sources.platform,
                        remote_id=post.remote_id,
                        cid=post.cid,
                        url=post.url,
                        campaign_id=sources.campaign_id,
                        mode=self.mode,
                        author_id=post.author_id,
                        author_handle=post.author_handle,
                        text=post.text,
                        languages=",".join(post.languages) or None,
                        created_at=post.created_at,
                        found_at=now,
                        found_by=found_by[:400],
                        matched=verdict.matched or "-",
                        state=state,
                        reason=verdict.refusal,
                        action=amplify.action,
                        decided_at=None if state == CandidateState.QUEUED else now,
                        decided_by=None if state == CandidateState.QUEUED else "rules",
                    )
                )
        return states

    # -- cursors and the X read budget ---------------------------------------------------------

    def _load(self, name: str) -> dict[str, str | None]:
        with self.store.read() as session:
            row = session.get(PollCursorRow, name)
            return json.loads(row.cursor) if row is not None and row.cursor else {}

    def _save(self, name: str, label: str, state: dict[str, str | None], now: datetime) -> None:
        with self.store.write() as session:
            row = session.get(PollCursorRow, name) or PollCursorRow(name=name)
            row.cursor = json.dumps({**state, "source": label}, ensure_ascii=False)
            row.updated_at = now
            session.add(row)

    def _x_allowance(self, sources: Sources, now: datetime) -> int:
        """How many posts the next X page may return within today's reads and the budget."""
        left = self.settings.x_reads_per_day - x_reads_today(self.store, now)
        limit = max(0, min(100, left))
        # An optional read: only from what the month's planned posts and metrics leave.
        if (
            limit
            and self.prices.read
            and self.budget.read_refusal(limit * self.prices.read, now, optional=True)
        ):
            return 0
        return limit

    def _charge_x_reads(self, campaign_id: str, reads: int, now: datetime) -> None:
        day = now.date().isoformat()
        with self.store.write() as session:
            row = session.get(PollCursorRow, X_READS) or PollCursorRow(name=X_READS)
            counted = json.loads(row.cursor) if row.cursor else {}
            total = counted.get("reads", 0) if counted.get("day") == day else 0
            row.cursor = json.dumps({"day": day, "reads": total + reads})
            row.updated_at = now
            session.add(row)
            if reads and self.mode == "live":
                read = Cost("read", reads * self.prices.read)
                Budget.record(session, [Spend("x", campaign_id, read, now)])


X_READS = "amplify-reads:x"


def x_reads_today(store: Store, now: datetime) -> int:
    """X posts discovery read today (UTC day)."""
    with store.read() as session:
        row = session.get(PollCursorRow, X_READS)
    counted = json.loads(row.cursor) if row is not None and row.cursor else {}
    return int(counted.get("reads", 0)) if counted.get("day") == now.date().isoformat() else 0


def _cursor_name(mode: str, sources: Sources, label: str) -> str:
    key = f"{mode}|{sources.campaign_id}|{sources.platform}|{label}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"amplify:{digest[:48]}"
