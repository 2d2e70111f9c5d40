"""X handles looked up for `kindling check --online --x`: priced first, refused when the month's
X budget cannot pay for them, then asked in batches and charged through the one spend path
(`Budget.record`), so the budget and `kindling status` see what the check cost.

X bills each account a user lookup returns (`[x.prices] user_read`), not the usernames no
account has: the price shown before the lookups is a ceiling. A batch X does not answer (an
outage, a 401, a 429) leaves its handles and the later ones not known, never missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.config import XPrices
from bot.platforms.base import AuthFailed, PlatformError, RateLimited, Transient
from bot.platforms.lookup import Lookup
from bot.publish.budget import Budget, Cost, Spend
from bot.store.engine import Store

KIND = "user_read"  # the ledger's kind for these charges


class UserDirectory(Protocol):
    users_batch: int

    def existing_users(self, usernames: Sequence[str]) -> set[str]: ...


@dataclass(frozen=True)
class XLookupPlan:
    handles: tuple[str, ...]  # lower case, each once
    most_usd: float  # if every handle is an account

    def line(self, prices: XPrices) -> str:
        count = len(self.handles)
        return (
            f"X: {count} handle{'s' if count != 1 else ''} to look up, at most "
            f"${self.most_usd:.3f} ([x.prices] user_read ${prices.user_read:.3f} for each "
            "account found)"
        )


def plan(handles: Sequence[str], prices: XPrices) -> XLookupPlan:
    unique = tuple(sorted({h.lower() for h in handles}))
    return XLookupPlan(unique, len(unique) * prices.user_read)


def refusal(budget: Budget, lookup: XLookupPlan, now: datetime) -> str | None:
    """Why the lookups may not be made now: they could pass what the month's X budget has left
    for reads (after the planned posts reserved), or None."""
    if not lookup.handles:
        return None
    return budget.read_refusal(lookup.most_usd, now, optional=False)


@dataclass
class XAnswers:
    """The X answers of a run, by lower-case handle: a `Resolver` for platform x."""

    answers: dict[str, Lookup] = field(default_factory=dict)
    usd: float = 0.0  # what was charged

    def look_up(self, platform: str, handle: str) -> Lookup:
        return self.answers.get(handle.lower(), Lookup("unknown", "not looked up"))


def look_up(
    directory: UserDirectory,
    store: Store,
    lookup: XLookupPlan,
    prices: XPrices,
    now: datetime,
) -> XAnswers:
    """Each batch asked, and its accounts found charged in their own transaction."""
    result = XAnswers()
    handles = list(lookup.handles)
    size = directory.users_batch
    for start in range(0, len(handles), size):
        batch = handles[start : start + size]
        try:
            found = directory.existing_users(batch)
        except PlatformError as exc:
            for handle in handles[start:]:
                result.answers[handle] = Lookup("unknown", _failure(exc))
            break
        usd = len(found) * prices.user_read
        with store.write() as session:
            Budget.record(session, [Spend("x", None, Cost(KIND, usd), now)] if found else [])
        result.usd += usd
        for handle in batch:
            result.answers[handle] = Lookup("found" if handle in found else "missing")
    return result


def _failure(exc: PlatformError) -> str:
    """What went wrong, in the organiser's words: not the handle's fault."""
    if isinstance(exc, RateLimited):
        what = "X's rate limit is used up"
    elif isinstance(exc, AuthFailed):
        what = "X refused the credentials"
    elif isinstance(exc, Transient):
        what = "X is unavailable (an outage or no connection)"
    else:
        what = "X refused the lookup"
    return f"{what}: {exc.message}"
