"""The Mastodon stand-in's state (no HTTP here: see mastodon_server.py; the endpoints are in
mastodon_endpoints.py; the JSON it answers is built in mastodon_entities.py).

Tests read and change `MastodonFakeState` directly: statuses, media, notifications, the request
log, the spec violations, the faults to inject and the rate-limit windows. Every handler runs
under the state's lock. `created` counts the statuses the bot's account made through the API
(an Idempotency-Key replay does not count): what exactly-once proofs compare against.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.rejections import Rejections

IDEMPOTENCY_TTL = timedelta(hours=1)  # how long Mastodon keeps an Idempotency-Key
# (calls, seconds) per rate-limit bucket: Mastodon's defaults. Every authenticated call counts
# in "*"; media uploads and status creations also count in a bucket of their own.
RATE_LIMITS = {
    "*": (300, 300),
    "POST /api/v2/media": (30, 1800),
    "POST /api/v1/statuses": (300, 10800),
}


@dataclass(frozen=True)
class FakeAccount:
    id: str
    username: str
    domain: str = ""  # "" for an account of this instance

    @property
    def acct(self) -> str:
        return f"{self.username}@{self.domain}" if self.domain else self.username


@dataclass
class FakeStatus:
    id: str
    text: str
    account_id: str
    created_at: datetime
    visibility: str = "public"
    language: str | None = None
    in_reply_to_id: str | None = None
    media_ids: list[str] = field(default_factory=list)
    quote_of: str | None = None
    reblog_of: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # favourites, reblogs, replies, quotes


@dataclass
class FakeMedia:
    id: str
    mime: str
    size: int
    description: str | None
    polls_until_ready: int  # GET /api/v1/media/:id answers 206 this many times, then 200
    status_id: str | None = None


@dataclass
class FakeNotification:
    id: str
    type: str
    account_id: str
    status_id: str | None
    created_at: datetime


@dataclass
class Received:
    """One request as the stand-in received it, and what it answered."""

    method: str
    path: str
    route: str | None  # "GET /api/v1/accounts/{id}/statuses", or None for an unknown path
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    faulted: bool = False  # answered by an injected fault

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)


@dataclass
class Fault:
    """`kind`: "error" (5xx), "hang" (answers 503 after `seconds`, or when released), "drop"
    (the connection is closed without an answer), "rate_limit" (429), "unauthorized" (401).
    `after`: let the call take effect first (the ambiguous case: created, then dropped)."""

    kind: str
    count: int = 1
    route: str | None = None  # "POST /api/v1/statuses" or a concrete path; None: any
    after: bool = False
    status: int = 503
    seconds: float = 30.0
    skip: int = 0  # let this many matching calls pass first

    def matches(self, route: str, path: str) -> bool:
        return self.route is None or self.route in (route, path)


class MastodonFakeState:
    """Everything the stand-in holds. `max_characters` and `characters_reserved_per_url` are
    what /api/v2/instance reports and what status creation enforces; `media_polls` is how many
    times a new upload answers 206 before it is processed."""

    def __init__(
        self,
        token: str = "fake-mastodon-token-4b1e",
        *,
        username: str = "kindling",
        domain: str = "mastodon.example",
        max_characters: int = 500,
    ) -> None:
        self.token = token
        self.domain = domain
        self.me = FakeAccount("109000000000000001", username)
        self._max_characters = max_characters
        self.lock = threading.RLock()
        self.release = threading.Event()
        self._seq = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.release.set()
            self.release = threading.Event()
            self.accounts: dict[str, FakeAccount] = {self.me.id: self.me}
            self.statuses: dict[str, FakeStatus] = {}
            self.media: dict[str, FakeMedia] = {}
            self.notifications: dict[str, FakeNotification] = {}
            self.idempotency: dict[str, tuple[str, datetime]] = {}  # key -> (status id, when)
            self.requests: list[Received] = []
            self.violations = Rejections("mastodon")  # each also recorded for the run
            self.response_violations: list[str] = []
            self.faults: list[Fault] = []
            self.limits = dict(RATE_LIMITS)
            self.windows: dict[str, tuple[int, datetime]] = {}  # bucket -> (used, reset at)
            self.max_characters = self._max_characters
            self.characters_reserved_per_url = 23
            self.media_polls = 1
            self.created = 0
            self.batch_statuses = True  # False: an older instance without GET /api/v1/statuses
            # Mastodon's API version (/api/v2/instance api_versions): quotes came with 7 (4.5);
            # below that `quoted_status_id` is ignored, as Rails ignores unknown parameters.
            self.api_version = 7
            self.favourites: set[str] = set()  # the statuses the bot's account favourited

    def fail_next(self, kind: str, count: int = 1, **options: Any) -> Fault:
        fault = Fault(kind, count, **options)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self.release.set()
            self.release = threading.Event()

    def next_id(self, when: datetime) -> str:
        """Mastodon's ids: milliseconds since the epoch, shifted, and a sequence."""
        self._seq += 1
        return str((int(when.timestamp() * 1000) << 16) | (self._seq & 0xFFFF))

    def account(self, acct: str) -> FakeAccount:
        """The account `user@domain` (a remote one) or `user` (local), made on first use."""
        with self.lock:
            username, _, domain = acct.removeprefix("@").partition("@")
            for account in self.accounts.values():
                if (account.username, account.domain) == (username, domain):
                    return account
            account = FakeAccount(
                str(110_000_000_000_000_000 + len(self.accounts)), username, domain
            )
            self.accounts[account.id] = account
            return account

    def add_status(
        self,
        text: str,
        *,
        author: str | None = None,
        in_reply_to_id: str | None = None,
        quote_of: str | None = None,
        created_at: datetime | None = None,
        language: str | None = "en",
    ) -> str:
        """A status made outside the API client: by `author` ("user@instance") or the bot's
        account. A reply to, quote of, or mention of the bot's account notifies it."""
        with self.lock:
            account = self.account(author) if author else self.me
            status = self.store(text, account.id, created_at=created_at, language=language)
            status.in_reply_to_id, status.quote_of = in_reply_to_id, quote_of
            parent = self.statuses.get(in_reply_to_id or "")
            if parent:
                parent.counts["replies"] = parent.counts.get("replies", 0) + 1
            quoted = self.statuses.get(quote_of or "")
            if quoted:
                quoted.counts["quotes"] = quoted.counts.get("quotes", 0) + 1
            kind = "quote" if quoted and quoted.account_id == self.me.id else "mention"
            to_me = (parent and parent.account_id == self.me.id) or f"@{self.me.username}" in text
            if account.id != self.me.id and (to_me or kind == "quote"):
                self.notify(kind, account.id, status.id, status.created_at)
            return status.id

    def notify(self, kind: str, account_id: str, status_id: str | None, when: datetime) -> str:
        with self.lock:
            note = FakeNotification(self.next_id(when), kind, account_id, status_id, when)
            self.notifications[note.id] = note
            return note.id

    def set_counts(self, status_id: str, **counts: int) -> None:
        with self.lock:
            self.statuses[status_id].counts.update(counts)

    def store(
        self,
        text: str,
        account_id: str,
        *,
        created_at: datetime | None = None,
        language: str | None = None,
        visibility: str = "public",
    ) -> FakeStatus:
        when = created_at or datetime.now(UTC)
        status = FakeStatus(self.next_id(when), text, account_id, when, visibility, language)
        self.statuses[status.id] = status
        return status

    def reblog_by_me(self, status_id: str) -> FakeStatus | None:
        """The bot's boost of `status_id`, if it has one."""
        with self.lock:
            return next(
                (
                    s
                    for s in self.statuses.values()
                    if s.reblog_of == status_id and s.account_id == self.me.id
                ),
                None,
            )

    def own_statuses(self) -> list[FakeStatus]:
        with self.lock:
            return [s for s in self.statuses.values() if s.account_id == self.me.id]

    def calls(self, route: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.route == route]

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            statuses = [
                asdict(s) | {"created_at": s.created_at.isoformat()} for s in self.statuses.values()
            ]
            return json.loads(
                json.dumps(
                    {
                        "statuses": statuses,
                        "media": [asdict(m) for m in self.media.values()],
                        "created": self.created,
                        "violations": self.violations,
                        "response_violations": self.response_violations,
                        "requests": [
                            {"method": r.method, "path": r.path, "status": r.status}
                            for r in self.requests
                        ],
                    },
                    default=str,
                )
            )
