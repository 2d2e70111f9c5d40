"""Issue 14: docs/campaigns.md documents exactly the keys a campaign file may use.

Every pydantic model a campaign is made of (walked from `Campaign`) must have a key table in the
docs (a table whose first column is headed "key") listing exactly its fields; every key table
must be one model's fields; and every model refuses any other key, as the docs say.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.campaign.model import Campaign

DOCS = Path(__file__).resolve().parents[2] / "docs" / "campaigns.md"
ORGANISERS_ORDER = [
    "check",
    "preview",
    "simulate",
    "run --dry-run",
    "run",
    "serve",
    "report",
]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def campaign_models() -> dict[str, type[BaseModel]]:
    """Every model reachable from Campaign, by where it is first met ('messages.schedule')."""
    found: dict[str, type[BaseModel]] = {}
    pending: list[tuple[str, type[BaseModel]]] = [("campaign", Campaign)]
    while pending:
        where, model = pending.pop(0)
        if model in found.values():
            continue
        found[where] = model
        for name, field in model.model_fields.items():
            pending += [(f"{where}.{name}", inner) for inner in _models_in(field.annotation)]
    return found


def key_tables(markdown: str) -> list[tuple[int, set[str]]]:
    """(line, keys) of every table whose first column is headed 'key'."""
    tables: list[tuple[int, set[str]]] = []
    current: set[str] | None = None
    for number, line in enumerate(markdown.splitlines(), start=1):
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            current = None
        elif current is None and cells[0].startswith("key"):
            current = set()
            tables.append((number, current))
        elif current is not None and not set(cells[0]) <= {"-", " ", ":"}:
            key = re.fullmatch(r"`([a-z_]+)`", cells[0])
            assert key, f"docs/campaigns.md:{number}: a key table's row names no `key`"
            current.add(key.group(1))
    return tables


def test_every_model_refuses_unknown_keys_as_the_docs_say():
    assert "Any other key is an error" in DOCS.read_text(encoding="utf-8")
    for where, model in campaign_models().items():
        assert model.model_config.get("extra") == "forbid", where


def test_every_key_the_campaign_accepts_is_documented_and_no_other():
    tables = key_tables(DOCS.read_text(encoding="utf-8"))
    models = campaign_models()
    wrong = []
    for where, model in models.items():
        fields = set(model.model_fields)
        if not any(keys == fields for _, keys in tables):
            line, keys = max(tables, key=lambda table: len(table[1] & fields))
            if not keys & fields:
                wrong.append(f"{where} ({model.__name__}): no key table for {sorted(fields)}")
                continue
            wrong.append(
                f"{where} ({model.__name__}): nearest key table at docs/campaigns.md:{line} "
                f"lacks {sorted(fields - keys)}, has {sorted(keys - fields)} the model refuses"
            )
    field_sets = [set(model.model_fields) for model in models.values()]
    for line, keys in tables:
        if keys not in field_sets:
            wrong.append(f"docs/campaigns.md:{line}: a key table no model accepts: {sorted(keys)}")
    assert wrong == []


def test_the_commands_are_walked_in_the_organisers_order():
    text = DOCS.read_text(encoding="utf-8")
    commands = text[text.index("## Commands") :]
    listed = re.findall(r"^\| `kindling ([a-z-]+(?: --dry-run)?)", commands, re.MULTILINE)
    assert [c for c in listed if c in ORGANISERS_ORDER] == ORGANISERS_ORDER


def test_the_walk_finds_the_nested_models():
    # The walk itself: a model only reachable through a dict of lists is found.
    names = {model.__name__ for model in campaign_models().values()}
    assert {"Wording", "Weekly", "Image", "PerPlatform", "Handles", "Quote"} <= names
    assert _models_in(types.NoneType) == []
