"""The Mastodon stand-in's endpoints. Each takes the state and a `Call` (path parameters, query
and body as the spec names them, after validation) and returns (status, JSON, headers) or raises
`Refusal`. They run under the state's lock."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from tests.fakes import mastodon_entities as render
from tests.fakes.mastodon_state import (
    IDEMPOTENCY_TTL,
    FakeMedia,
    FakeNotification,
    FakeStatus,
    MastodonFakeState,
)

Result = tuple[int, Any, dict[str, str]]
T = TypeVar("T", FakeStatus, FakeNotification)
_URL = re.compile(r"https?://[^\s]+")
_REMOTE_MENTION = re.compile(r"(@\w+)@[\w.-]+\w")


@dataclass
class Call:
    path: dict[str, str]
    query: dict[str, Any]
    body: dict[str, Any]
    headers: dict[str, str]
    base_url: str
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)


class Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def status_length(text: str, reserved_per_url: int) -> int:
    """Mastodon's count: every URL as `reserved_per_url`, a remote mention by its local part."""
    text = _URL.sub("x" * reserved_per_url, text)
    return len(_REMOTE_MENTION.sub(r"\1", text))


def verify_credentials(state: MastodonFakeState, call: Call) -> Result:
    return 200, render.account(state, state.me, credential=True), {}


def instance_v2(state: MastodonFakeState, call: Call) -> Result:
    return 200, render.instance(state), {}


def instance_v1(state: MastodonFakeState, call: Call) -> Result:
    return 200, render.v1_instance(state), {}


def create_status(state: MastodonFakeState, call: Call) -> Result:
    key = call.headers.get("idempotency-key")
    now = datetime.now(UTC)
    if key and key in state.idempotency:
        status_id, made = state.idempotency[key]
        if now - made < IDEMPOTENCY_TTL and status_id in state.statuses:
            return 200, render.status(state, state.statuses[status_id]), {}
    body = call.body
    text = str(body.get("status") or "")
    media_ids = [str(m) for m in body.get("media_ids") or []]
    if not text and not media_ids:
        raise Refusal(422, "Validation failed: Text can't be blank")
    if status_length(text, state.characters_reserved_per_url) > state.max_characters:
        raise Refusal(
            422, f"Validation failed: Text character limit of {state.max_characters} exceeded"
        )
    for media_id in media_ids:
        item = state.media.get(media_id)
        if item is None or item.status_id is not None:
            raise Refusal(422, "Validation failed: media not found or already attached")
        if item.polls_until_ready > 0:
            raise Refusal(
                422, "Cannot attach files that have not finished processing. Try again in a moment!"
            )
    reply_to = body.get("in_reply_to_id")
    if reply_to and reply_to not in state.statuses:
        raise Refusal(404, "Record not found")
    made = state.store(
        text,
        state.me.id,
        language=body.get("language"),
        visibility=str(body.get("visibility") or "public"),
    )
    made.in_reply_to_id, made.media_ids = reply_to, media_ids
    quoted = body.get("quoted_status_id") if state.api_version >= 7 else None
    if quoted and quoted not in state.statuses:
        raise Refusal(404, "Record not found")
    made.quote_of = quoted
    if quoted:
        counts = state.statuses[quoted].counts
        counts["quotes"] = counts.get("quotes", 0) + 1
    for media_id in media_ids:
        state.media[media_id].status_id = made.id
    if reply_to:
        parent = state.statuses[reply_to]
        parent.counts["replies"] = parent.counts.get("replies", 0) + 1
    state.created += 1
    if key:
        state.idempotency[key] = (made.id, now)
    return 200, render.status(state, made), {}


def get_status(state: MastodonFakeState, call: Call) -> Result:
    item = state.statuses.get(call.path["id"])
    if item is None:
        raise Refusal(404, "Record not found")
    return 200, render.status(state, item), {}


def delete_status(state: MastodonFakeState, call: Call) -> Result:
    item = state.statuses.get(call.path["id"])
    if item is None or item.account_id != state.me.id:
        raise Refusal(404, "Record not found")
    del state.statuses[item.id]
    return 200, render.status(state, item) | {"text": item.text}, {}


def get_statuses(state: MastodonFakeState, call: Call) -> Result:
    if not state.batch_statuses:
        raise Refusal(404, "Not found")  # an instance older than 4.3
    ids = list(dict.fromkeys(str(i) for i in call.query.get("id") or []))[:20]
    return 200, [render.status(state, state.statuses[i]) for i in ids if i in state.statuses], {}


def account_statuses(state: MastodonFakeState, call: Call) -> Result:
    if call.path["id"] not in state.accounts:
        raise Refusal(404, "Record not found")
    query = call.query
    kept = [
        s
        for s in state.statuses.values()
        if s.account_id == call.path["id"]
        and not (query.get("exclude_replies") and s.in_reply_to_id)
        and not (query.get("exclude_reblogs") and s.reblog_of)
    ]
    page, links = page_of(kept, query, 20, 40, call.base_url)
    return 200, [render.status(state, s) for s in page], links


def notifications(state: MastodonFakeState, call: Call) -> Result:
    query = call.query
    types, excluded = set(query.get("types") or []), set(query.get("exclude_types") or [])
    kept = [
        n
        for n in state.notifications.values()
        if (not types or n.type in types) and n.type not in excluded
    ]
    page, links = page_of(kept, query, 40, 80, call.base_url)
    return 200, [render.notification(state, n) for n in page], links


def upload_media(state: MastodonFakeState, call: Call) -> Result:
    upload = call.files.get("file")
    if upload is None or not upload[1]:
        raise Refusal(422, "Validation failed: File can't be blank")
    name, data, mime = upload
    if not mime.startswith("image/"):
        raise Refusal(
            422,
            f"Validation failed: File has contents that are not what they are reported to be ({name})",
        )
    description = call.body.get("description")
    item = FakeMedia(
        state.next_id(datetime.now(UTC)), mime, len(data), description, state.media_polls
    )
    state.media[item.id] = item
    return (202 if item.polls_until_ready > 0 else 200), render.media(state, item), {}


def get_media(state: MastodonFakeState, call: Call) -> Result:
    item = state.media.get(call.path["id"])
    if item is None:
        raise Refusal(404, "Record not found")
    if item.polls_until_ready > 0:
        answer = render.media(state, item)  # still processing: no url yet
        item.polls_until_ready -= 1
        return 206, answer, {}
    return 200, render.media(state, item), {}


def page_of(
    items: Sequence[T], query: dict[str, Any], default: int, most: int, base_url: str
) -> tuple[list[T], dict[str, str]]:
    """Mastodon's paging: newest first; max_id (older than), since_id (newer than, the newest
    page), min_id (newer than, the page right above it); a Link header for next and prev."""
    limit = min(int(query.get("limit") or default), most)
    ordered = sorted(items, key=lambda i: -int(i.id))
    if query.get("max_id"):
        ordered = [i for i in ordered if int(i.id) < int(query["max_id"])]
    if query.get("since_id"):
        ordered = [i for i in ordered if int(i.id) > int(query["since_id"])]
    if query.get("min_id"):
        above = [i for i in ordered if int(i.id) > int(query["min_id"])]
        page = above[-limit:]
    else:
        page = ordered[:limit]
    if not page:
        return page, {}
    kept_names = ("limit", "types", "exclude_replies", "exclude_reblogs")
    keep = {k: v for k, v in query.items() if k in kept_names}
    keep = {k: v for k, v in keep.items() if v not in (None, False, [])}

    def link(**bound: str) -> str:
        pairs = [(f"{k}[]" if isinstance(v, list) else k, v) for k, v in (keep | bound).items()]
        flat = [
            (k, str(x).lower() if isinstance(x, bool) else x)
            for k, v in pairs
            for x in (v if isinstance(v, list) else [v])
        ]
        return f"{base_url}?{urlencode(flat)}"

    header = f'<{link(max_id=page[-1].id)}>; rel="next", <{link(min_id=page[0].id)}>; rel="prev"'
    return page, {"link": header}


HANDLERS: dict[str, Callable[[MastodonFakeState, Call], Result]] = {
    "GET /api/v1/accounts/verify_credentials": verify_credentials,
    "GET /api/v2/instance": instance_v2,
    "GET /api/v1/instance": instance_v1,
    "POST /api/v1/statuses": create_status,
    "GET /api/v1/statuses": get_statuses,
    "GET /api/v1/statuses/{id}": get_status,
    "DELETE /api/v1/statuses/{id}": delete_status,
    "GET /api/v1/accounts/{id}/statuses": account_statuses,
    "GET /api/v1/notifications": notifications,
    "POST /api/v2/media": upload_media,
    "GET /api/v1/media/{id}": get_media,
}
