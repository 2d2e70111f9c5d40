"""The JSON the Mastodon stand-in answers, built from the spec's own schemas: `skeleton(name)`
walks a schema's required properties and fills each with an empty value of its type (a nullable
one with null), then the renderers below set what the stand-in knows. Every answer is also
validated against the spec by the server, so a renderer that strays from it shows up in
`state.response_violations`."""

from __future__ import annotations

import copy
import html
import json
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from tests.fakes.mastodon_state import (
    FakeAccount,
    FakeMedia,
    FakeNotification,
    FakeStatus,
    MastodonFakeState,
)

SPEC = Path(__file__).resolve().parents[1] / "specs" / "mastodon-openapi.json"
EPOCH = "2026-01-01T00:00:00.000Z"


@cache
def spec() -> dict[str, Any]:
    return dict(json.loads(SPEC.read_text()))


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _empty(schema: dict[str, Any], depth: int) -> Any:
    schema = _resolve(schema)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return _empty(schema[key][0], depth)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_empty(part, depth) or {})
        return merged
    kinds = schema.get("type", "object")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "null" in kinds:
        return None
    kind = kinds[0]
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        if depth > 6:
            return {}
        props = schema.get("properties", {})
        return {name: _empty(props[name], depth + 1) for name in schema.get("required", [])}
    if kind == "string":
        if schema.get("format") == "date-time":
            return EPOCH
        formats = {"uri": "https://mastodon.example/", "email": "admin@mastodon.example"}
        return formats.get(schema.get("format", ""), "")
    return {"array": [], "integer": 0, "number": 0, "boolean": False}.get(kind)


@cache
def _skeleton(name: str) -> str:
    return json.dumps(_empty({"$ref": f"#/components/schemas/{name}"}, 0))


def skeleton(name: str) -> dict[str, Any]:
    """A minimal valid instance of the spec's schema `name`."""
    return dict(json.loads(_skeleton(name)))


def iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def account(
    state: MastodonFakeState, who: FakeAccount, *, credential: bool = False
) -> dict[str, Any]:
    out = skeleton("CredentialAccount" if credential else "Account")
    host = who.domain or state.domain
    url = f"https://{host}/@{who.username}"
    out |= {"id": who.id, "username": who.username, "acct": who.acct, "url": url, "uri": url}
    out |= {"display_name": who.username.title(), "created_at": EPOCH, "bot": who == state.me}
    out |= {"avatar": f"{url}/avatar.png", "avatar_static": f"{url}/avatar.png"}
    out |= {"header": f"{url}/header.png", "header_static": f"{url}/header.png"}
    return out


def media(state: MastodonFakeState, item: FakeMedia) -> dict[str, Any]:
    out = skeleton("MediaAttachment")
    ready = item.polls_until_ready <= 0
    file_url = f"https://{state.domain}/media/{item.id}.png"
    out |= {"id": item.id, "type": "image" if item.mime.startswith("image/") else "unknown"}
    out |= {"url": file_url if ready else None, "preview_url": file_url}
    out |= {"description": item.description, "blurhash": None, "meta": {}}
    return out


def content(text: str) -> str:
    """Mastodon's HTML for a plain-text status: paragraphs, line breaks, links."""
    escaped = html.escape(text, quote=False)
    linked = re.sub(r"https?://[^\s<]+", lambda m: f'<a href="{m[0]}">{m[0]}</a>', escaped)
    paragraphs = [p.replace("\n", "<br />") for p in linked.split("\n\n")]
    return "".join(f"<p>{p}</p>" for p in paragraphs)


def hashtags(text: str) -> list[str]:
    """The hashtags of a status text, as written (Mastodon's: a letter among word characters)."""
    return re.findall(r"(?<![\w/])#(\w*[^\W\d_]\w*)", text)


def status(state: MastodonFakeState, item: FakeStatus, depth: int = 0) -> dict[str, Any]:
    out = skeleton("Status")
    author = state.accounts[item.account_id]
    url = f"https://{author.domain or state.domain}/@{author.username}/{item.id}"
    parent = state.statuses.get(item.in_reply_to_id or "")
    out |= {"id": item.id, "uri": url, "url": url, "created_at": iso(item.created_at)}
    out |= {"account": account(state, author), "content": content(item.text)}
    out |= {"visibility": item.visibility, "language": item.language, "text": None}
    out |= {"in_reply_to_id": item.in_reply_to_id, "in_reply_to_account_id": None}
    if parent:
        out["in_reply_to_account_id"] = parent.account_id
    out["media_attachments"] = [media(state, state.media[m]) for m in item.media_ids]
    counts = item.counts
    out |= {"favourites_count": counts.get("favourites", 0), "replies_count": 0}
    out |= {"reblogs_count": counts.get("reblogs", 0), "quotes_count": counts.get("quotes", 0)}
    out["replies_count"] = counts.get("replies", 0)
    quoted = state.statuses.get(item.quote_of or "")
    if quoted and depth == 0:
        out["quote"] = {"state": "accepted", "quoted_status": status(state, quoted, 1)}
    out["tags"] = [
        {"name": name, "url": f"https://{state.domain}/tags/{name.lower()}"}
        for name in dict.fromkeys(hashtags(item.text))
    ]
    out["reblogged"] = state.reblog_by_me(item.id) is not None
    out["favourited"] = item.id in state.favourites
    reblogged = state.statuses.get(item.reblog_of or "")
    out["reblog"] = status(state, reblogged, 1) if reblogged and depth == 0 else None
    out["mentions"] = [
        {
            "id": a.id,
            "username": a.username,
            "acct": a.acct,
            "url": f"https://{state.domain}/@{a.acct}",
        }
        for a in state.accounts.values()
        if f"@{a.acct}" in item.text
    ]
    return out


def notification(state: MastodonFakeState, item: FakeNotification) -> dict[str, Any]:
    out = skeleton("Notification")
    out |= {"id": item.id, "type": item.type, "created_at": iso(item.created_at)}
    out |= {"group_key": f"ungrouped-{item.id}"}
    out["account"] = account(state, state.accounts[item.account_id])
    if item.status_id and item.status_id in state.statuses:
        out["status"] = status(state, state.statuses[item.status_id])
    return out


def instance(state: MastodonFakeState) -> dict[str, Any]:
    out = skeleton("Instance")
    out |= {"domain": state.domain, "title": "Mastodon stand-in", "version": "4.5.0"}
    out["api_versions"] = {"mastodon": state.api_version}
    config = copy.deepcopy(out["configuration"])
    config["statuses"] |= {
        "max_characters": state.max_characters,
        "characters_reserved_per_url": state.characters_reserved_per_url,
        "max_media_attachments": 4,
    }
    config["media_attachments"]["supported_mime_types"] = ["image/png", "image/jpeg", "image/gif"]
    config["media_attachments"]["description_limit"] = 1500
    out["configuration"] = config
    return out


def v1_instance(state: MastodonFakeState) -> dict[str, Any]:
    out = skeleton("V1Instance")
    return out | {"uri": state.domain, "title": "Mastodon stand-in", "version": "4.5.0"}


def error(message: str) -> dict[str, Any]:
    return skeleton("Error") | {"error": message}
