"""The fake X's endpoints: each takes the state, the path and query parameters as openapi-core
read them, the requested (fields, expansions) and the body, and answers (status, JSON) or raises
`Answer` with an error response. They run under the state's lock."""

from __future__ import annotations

import base64
import re
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse, Response
from twitter_text import parse_tweet

from tests.fakes.x_state import WINDOW, FakeMedia, Fault, XFakeState

PROBLEMS = "https://api.x.com/2/problems/"
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
# live X's tweet.fields (the spec calls the parameter post.fields, with other names)
LIVE_TWEET_FIELDS = frozenset(
    {"attachments", "author_id", "card_uri", "context_annotations", "conversation_id"}
    | {"created_at", "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id"}
    | {"in_reply_to_user_id", "lang", "non_public_metrics", "note_tweet", "organic_metrics"}
    | {"possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets"}
    | {"reply_settings", "source", "text", "withheld"}
)


class Answer(Exception):
    """Raised by a handler to answer with `response` (an error) instead of its result."""

    def __init__(self, response: Response) -> None:
        self.response = response


def problem(
    status: int, title: str, detail: str, kind: str | None = None, **extra: Any
) -> Response:
    """A spec problem (application/problem+json, `kind` names its type), or X's own
    `about:blank` problem, which no spec problem matches: sent as application/json with the
    spec's `Error` fields (`code`, `message`) besides X's (`title`, `detail`, `type`, `status`)."""
    if kind:
        body = {"title": title, "detail": detail, "type": PROBLEMS + kind, "status": status}
        return JSONResponse({**body, **extra}, status, media_type="application/problem+json")
    body = {"title": title, "detail": detail, "type": "about:blank", "status": status}
    return JSONResponse({**body, "code": status, "message": detail, **extra}, status)


def invalid(message: str, parameters: dict[str, Any] | None = None) -> Response:
    """X's 400 for an invalid request."""
    return problem(
        400,
        "Invalid Request",
        "One or more parameters to your request was invalid.",
        "invalid-request",
        errors=[{"parameters": parameters or {}, "message": message}],
    )


def fault_answer(fault: Fault) -> Response:
    """What an injected fault answers (a hang ends in 503, when the client has long gone)."""
    if fault.kind == "rate_limit":
        response = problem(429, "Too Many Requests", "Too Many Requests")
        response.headers["x-rate-limit-remaining"] = "0"
        response.headers["x-rate-limit-reset"] = str(fault.reset_at or int(time.time()) + WINDOW)
    elif fault.kind == "unauthorized":
        response = problem(401, "Unauthorized", "Unauthorized")
    elif fault.kind == "duplicate":
        response = problem(403, "Forbidden", DUPLICATE)
    elif fault.kind in ("error", "hang"):
        status = 503 if fault.kind == "hang" else fault.status
        title = HTTPStatus(status).phrase
        detail = fault.detail or title
        response = problem(status, title, detail, "internal-error" if status >= 500 else None)
    else:
        raise ValueError(f"unknown fault kind {fault.kind!r}")
    response.headers.update(fault.headers)
    return response


Handler = Callable[
    [XFakeState, dict[str, Any], dict[str, Any], tuple[set[str], set[str]], Any], tuple[int, Any]
]


def _create_post(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    text = unicodedata.normalize("NFC", body.get("text", ""))
    media_ids = list(body.get("media", {}).get("media_ids", []))
    reply_to = body.get("reply", {}).get("in_reply_to_tweet_id")
    if not text.strip() and not media_ids:
        raise Answer(invalid("Post text is empty and there is no media", {"text": [text]}))
    if parse_tweet(text).weightedLength > 280:
        raise Answer(problem(403, "Forbidden", "Your Tweet text is too long."))
    if any(m not in s.media for m in media_ids):
        raise Answer(invalid("Your media IDs are invalid.", {"media.media_ids": media_ids}))
    if reply_to and reply_to not in s.posts:
        detail = "You attempted to reply to a Tweet that is deleted or not visible to you."
        raise Answer(problem(403, "Forbidden", detail))
    quoted = body.get("quote_tweet_id")
    if quoted and quoted not in s.posts:
        detail = "You attempted to quote a Tweet that is deleted or not visible to you."
        raise Answer(problem(403, "Forbidden", detail))
    mine = [p for p in s.posts.values() if p.author_id == s.account.user_id and not p.retweet_of]
    window = s.duplicate_window
    recent = [p for p in mine if window is None or p.created_at > s.now() - window]
    if any(p.sent_text == text for p in recent):
        raise Answer(problem(403, "Forbidden", DUPLICATE))
    post = s.store(text, s.account.user_id, media_ids, reply_to, quoted)
    return 201, {"data": s.render(post, set(), set())}


def _lookup(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    out: dict[str, Any] = {}
    found = [s.posts[i] for i in query["ids"] if i in s.posts]
    if found:
        out["data"] = [s.render(p, *fields) for p in found]
    missing = [i for i in query["ids"] if i not in s.posts]
    if missing:
        out["errors"] = [
            {"value": i, "detail": f"Could not find tweet with ids: [{i}].", "parameter": "ids"}
            | {"title": "Not Found Error", "resource_type": "tweet", "resource_id": i}
            | {"type": PROBLEMS + "resource-not-found"}
            for i in missing
        ]
    return 200, out


def _delete(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    post = s.posts.get(path["id"])
    if post and post.author_id != s.account.user_id:
        raise Answer(problem(403, "Forbidden", "You are not allowed to delete this Tweet."))
    if post:
        s.deleted[post.id] = s.posts.pop(post.id)
    return 200, {"data": {"deleted": post is not None}}


def _me(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    return 200, {"data": s.user(s.account.user_id)}


def _users_by(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    """Users by their usernames (any case), as the spec answers: the accounts found in `data`,
    each username no account has a resource-not-found problem in `errors`."""
    known = {name.lower(): uid for uid, name in s.users.items()}
    out: dict[str, Any] = {}
    found = [known[n.lower()] for n in query["usernames"] if n.lower() in known]
    if found:
        out["data"] = [s.user(uid) for uid in dict.fromkeys(found)]
    missing = [n for n in query["usernames"] if n.lower() not in known]
    if missing:
        out["errors"] = [
            {
                "value": n,
                "detail": f"Could not find user with usernames: [{n}].",
                "parameter": "usernames",
            }
            | {"title": "Not Found Error", "resource_type": "user", "resource_id": n}
            | {"type": PROBLEMS + "resource-not-found"}
            for n in missing
        ]
    return 200, out


def _timeline(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    exclude = set(query.get("exclude", []))
    posts = [
        p
        for p in s.posts.values()
        if p.author_id == path["id"]
        and not ("replies" in exclude and p.in_reply_to)
        and not ("retweets" in exclude and p.retweet_of)
    ]
    return 200, s.page(posts, query, *fields)


def _mentions(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    handle = re.compile(rf"@{re.escape(s.users.get(path['id'], '?'))}\b", re.IGNORECASE)
    posts = [p for p in s.posts.values() if p.author_id != path["id"] and handle.search(p.text)]
    return 200, s.page(posts, query, *fields)


_MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}


def _upload(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    media = body["media"]
    data = media if isinstance(media, bytes) else base64.b64decode(media)  # multipart or JSON
    mime = next((m for magic, m in _MAGIC.items() if data.startswith(magic)), None)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None or len(data) > 5 * 1024 * 1024:
        raise Answer(invalid("media type unrecognized or too large", {"media": [len(data)]}))
    item = FakeMedia(s.next_id(datetime.now(UTC)), len(data), mime, body["media_category"])
    s.media[item.id] = item
    image: dict[str, Any] = {"image_type": mime}
    if mime == "image/png" and len(data) >= 24:
        image |= {"w": int.from_bytes(data[16:20], "big"), "h": int.from_bytes(data[20:24], "big")}
    data_out = {"id": item.id, "media_key": f"3_{item.id}", "size": item.size, "image": image}
    return 200, {"data": data_out | {"expires_after_secs": 86400}}


def _metadata(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    if body["id"] not in s.media:
        raise Answer(invalid(f"media id {body['id']} not found", {"id": [body["id"]]}))
    metadata = body.get("metadata", {})
    s.media[body["id"]].alt_text = metadata.get("alt_text", {}).get("text")
    return 200, {"data": {"id": body["id"], "associated_metadata": metadata}}


HANDLERS: dict[str, Handler] = {
    "POST /2/tweets": _create_post,
    "GET /2/tweets": _lookup,
    "DELETE /2/tweets/{id}": _delete,
    "GET /2/users/me": _me,
    "GET /2/users/by": _users_by,
    "GET /2/users/{id}/tweets": _timeline,
    "GET /2/users/{id}/mentions": _mentions,
    "POST /2/media/upload": _upload,
    "POST /2/media/metadata": _metadata,
}
