"""pydantic validation errors -> located problems an organiser can act on."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.campaign.yamlsource import Located, Path_
from bot.problems import Problem, excerpt


def problems_from_validation(
    error: ValidationError, located: Located, prefix: Path_, model: type[BaseModel]
) -> list[Problem]:
    problems = []
    for detail in error.errors(include_url=False):
        kind = detail["type"]
        raw = tuple(detail["loc"])
        # The missing key is not in the document; every other part of the location must be.
        missing = raw[-1] if kind == "missing" and raw else None
        loc = _document_path(located, prefix, raw[:-1] if missing is not None else raw)
        path = (*prefix, *loc)
        if missing is not None:
            problems.append(located.problem(path, f"missing required key '{missing}'"))
        elif kind == "extra_forbidden" and loc:
            problems.append(
                located.problem(path, _unknown_key(str(loc[-1]), model, loc[:-1]), key=True)
            )
        else:
            problems.append(located.problem(path, _describe(detail)))
    return problems


def _document_path(located: Located, prefix: Path_, loc: tuple) -> tuple:
    """`loc` without the entries pydantic adds for unions and validators ('function-after[...]',
    'str', '[key]'): only the parts that are keys or indexes in the document are kept."""
    kept: list[str | int] = []
    for part in loc:
        candidate = (*prefix, *kept, part)
        if candidate in located.values or candidate in located.keys:
            kept.append(part)
    return tuple(kept)


def _describe(detail: Any) -> str:
    message = detail["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if detail["type"] in {"value_error", "assertion_error"}:
        return message
    given = detail.get("input")
    if isinstance(given, dict):
        shown = "a mapping"
    elif isinstance(given, list):
        shown = "a list"
    elif given is None:
        shown = "nothing"
    else:
        shown = repr(_shorten(str(given)))
    message = message[0].lower() + message[1:]
    return f"{message}, got {shown}"


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unknown_key(key: str, model: type[BaseModel], loc: tuple) -> str:
    allowed = _allowed_keys(model, loc)
    message = f"unknown key '{excerpt(key)}'"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"{message} (did you mean '{close[0]}'?)"
    if allowed:
        return f"{message} (expected one of: {', '.join(allowed)})"
    return message


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names of the model found by following `loc` down from `model`."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    current = _model_in(current)
    return list(current.model_fields) if current else []


def _step(annotation: Any, part: object) -> Any:
    model = _model_in(annotation)
    if model is not None and isinstance(part, str) and part in model.model_fields:
        return model.model_fields[part].annotation
    for candidate in _members(annotation):
        origin = typing.get_origin(candidate)
        if origin is list and isinstance(part, int):
            return typing.get_args(candidate)[0]
        if origin is dict and isinstance(part, str):
            return typing.get_args(candidate)[1]
    return None


def _members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None
