"""`/healthz`: ok or not ok for anyone, the details only for this machine (or when configured).

Publicly the answer is `{"ok": true}` (200) or `{"ok": false}` (503): campaign ids and click
counts are the operator's business. A client on a loopback address (after uvicorn has read a
trusted proxy's X-Forwarded-For, so a proxied visitor is not mistaken for the proxy), or any
client when `web.healthz_details` is set, also gets what was checked and the counters.

Ok means: campaigns are served, the click writer runs, and the database takes a write within
`DATABASE_BOUND_SECONDS`. The write is a statement that changes nothing (`UPDATE links ... WHERE
1 = 0`), run by the writer thread in its own transaction, so it needs what a click needs: a
readable schema and the write lock. A database another process holds locked, a broken file or
a dropped table make it fail or wait; past the bound the answer is 503. Requests arriving while
a probe runs wait for that probe, and a finished probe answers for `PROBE_REUSE_SECONDS`, so
calling /healthz in a loop cannot queue writes in front of the clicks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import Connection, text
from starlette.requests import Request
from starlette.responses import Response

from bot.store.tables import LinkRow
from bot.web.go import GoEndpoint
from bot.web.writer import ClickWriter

log = logging.getLogger("kindling.web")
DATABASE_BOUND_SECONDS = 2.0
PROBE_REUSE_SECONDS = 1.0
_PROBE = text(f"UPDATE {LinkRow.__tablename__} SET token = token WHERE 1 = 0")


class HealthSource(Protocol):
    """What the server shows about itself (bot.web.app.WebState)."""

    writer: ClickWriter
    go: GoEndpoint

    @property
    def campaigns(self) -> Mapping[str, Any]: ...

    @property
    def links(self) -> Mapping[str, Any]: ...


def _takes_a_write(connection: Connection) -> None:
    connection.execute(_PROBE)


def is_loopback(client: Any) -> bool:
    """Whether a request's client (host, port) is on this machine."""
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


class Health:
    def __init__(
        self,
        source: HealthSource,
        *,
        details_for_everyone: bool = False,
        bound_seconds: float = DATABASE_BOUND_SECONDS,
        reuse_seconds: float = PROBE_REUSE_SECONDS,
    ) -> None:
        self.source = source
        self.details_for_everyone = details_for_everyone
        self.bound_seconds = bound_seconds
        self.reuse_seconds = reuse_seconds
        self._probe: asyncio.Task[bool] | None = None
        self._probe_started = 0.0
        self._last_usable = True

    async def endpoint(self, request: Request) -> Response:
        """The /healthz route."""
        source = self.source
        usable = await self.database_usable()
        body: dict[str, Any] = {"ok": usable and source.writer.alive and bool(source.campaigns)}
        if self.details_for_everyone or is_loopback(request.client):
            body.update(
                database=usable,
                writer=source.writer.alive,
                campaigns=len(source.campaigns),
                campaign_ids=list(source.campaigns),
                links=len(source.links),
                clicks_recorded=source.go.recorded,
                clicks_not_recorded=source.go.unrecorded,
                commits=source.writer.batches,  # clicks_recorded / commits: group-commit size
            )
        return Response(
            json.dumps(body),
            status_code=200 if body["ok"] else 503,
            media_type="application/json",
            headers={"cache-control": "no-store"},
        )

    async def database_usable(self) -> bool:
        """Whether the writer took a write within the bound (one probe at a time)."""
        loop = asyncio.get_running_loop()
        probe = self._probe
        if probe is None or (
            probe.done() and loop.time() - self._probe_started >= self.reuse_seconds
        ):
            probe = self._probe = loop.create_task(self._probe_database())
            self._probe_started = loop.time()
        try:
            return await asyncio.wait_for(asyncio.shield(probe), self.bound_seconds)
        except TimeoutError:
            self._report(False, f"no write within {self.bound_seconds:g} s (locked?)")
            return False

    async def _probe_database(self) -> bool:
        try:
            await self.source.writer.run(_takes_a_write)
        except Exception as exc:
            self._report(False, str(exc).splitlines()[0][:200] if str(exc) else repr(exc))
            return False
        self._report(True, "")
        return True

    def _report(self, usable: bool, why: str) -> None:
        """One log line when the database becomes unusable, one when it is usable again."""
        if usable != self._last_usable:
            if usable:
                log.warning("healthz: the database takes writes again")
            else:
                log.warning("healthz: the database is not usable: %s", why)
            self._last_usable = usable
