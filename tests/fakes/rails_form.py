"""How Mastodon (a Rails app) reads a request, as the spec describes it: for the stand-in.

The spec names array parameters plainly (`id`, `media_ids`) and describes status bodies only as
JSON; Rails reads `id[]=1&id[]=2`, form bodies, and booleans written `1`/`0`. `normalise` turns
what a client sent into the spec's form so openapi-core validates what Rails would read. A value
Rails could not read as the spec's type is left as sent, so validation still refuses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes import mastodon_entities as render

MULTIPART_AS_JSON = "application/json"
BOOLEANS = {"1": True, "true": True, "0": False, "false": False}


@dataclass
class Normalised:
    query: dict[str, list[str]]
    body: dict[str, Any] | None  # the body's fields as the handler reads them
    spec_body: bytes | None  # what openapi-core validates
    spec_type: str
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)


def _types(schema: dict[str, Any], found: dict[str, str]) -> dict[str, str]:
    """property name -> JSON type, over every branch of the (resolved) schema."""
    schema = render._resolve(schema)
    for key in ("oneOf", "anyOf", "allOf"):
        for part in schema.get(key, []):
            _types(part, found)
    for name, prop in schema.get("properties", {}).items():
        found[name] = _first_type(prop)
    return found


def _operation(route: str) -> dict[str, Any]:
    method, template = route.split(" ", 1)
    return dict(render.spec()["paths"][template][method.lower()])


def _first_type(schema: dict[str, Any]) -> str:
    kind = render._resolve(schema).get("type", "string")
    return str(next(k for k in (kind if isinstance(kind, list) else [kind]) if k != "null"))


def _typed(kind: str, value: str) -> Any:
    if kind == "boolean":
        return BOOLEANS.get(value.lower(), value)
    if kind == "integer" and value.lstrip("-").isdigit():
        return int(value)
    return value


def normalise(
    route: str, query: list[tuple[str, str]], body: bytes, content_type: str
) -> Normalised:
    operation = _operation(route)
    kinds = {
        p["name"]: _first_type(p.get("schema", {}))
        for p in operation.get("parameters", [])
        if p.get("in") == "query"
    }
    args: dict[str, list[str]] = {}
    for key, value in query:
        name = key.removesuffix("[]")
        if kinds.get(name) == "boolean" and value.lower() in BOOLEANS:
            value = str(BOOLEANS[value.lower()]).lower()
        args.setdefault(name, []).append(value)
    media = content_type.split(";")[0].strip().lower()
    if not body:
        return Normalised(args, None, None, content_type or "application/json")
    if media == "application/json":
        return Normalised(args, dict(json.loads(body)), body, media)
    content = operation.get("requestBody", {}).get("content", {})
    schema = next(iter(content.values()), {}).get("schema", {})
    fields = _types(schema, {})
    if media == "multipart/form-data":
        values, files = _multipart(body, content_type)
        typed = {k: _typed(fields.get(k, "string"), v) for k, v in values.items()}
        # openapi-core reads every multipart part as bytes, which no 3.1 `type: string` accepts:
        # the fields are validated as JSON against the same schema (mastodon_server.openapi),
        # a file by a text naming it
        shown = values | {k: f"{f[0]} ({f[2]}, {len(f[1])} bytes)" for k, f in files.items()}
        return Normalised(args, typed, json.dumps(shown).encode(), MULTIPART_AS_JSON, files)
    form: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        name = key.removesuffix("[]")
        if key.endswith("[]"):
            form.setdefault(name, []).append(value)
        else:
            form[name] = _typed(fields.get(name, "string"), value)
    return Normalised(args, form, json.dumps(form).encode(), "application/json")


def _multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Any]]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    values: dict[str, str] = {}
    files: dict[str, tuple[str, bytes, str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[str(name)] = (str(part.get_filename()), data, part.get_content_type())
        else:
            values[str(name)] = data.decode()
    return values, files
