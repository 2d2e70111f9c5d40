"""What a `{{ … }}` may print into a post, and what a finished post may not contain.

A public post reading "— {'cy': 'Cadeirydd', 'en': 'Chair'}" or "— None" harms a campaign more
than no post. Jinja prints any value with `str()`, so the sandbox (bot/compose/sandbox.py) passes
every printed value through `check_printed` at render time, and `check_text` looks at the
finished text. `kindling check`, `preview` and the daemon all render through the same
environment, so what the check accepts is exactly what the daemon may post.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from jinja2 import Undefined
from pydantic import BaseModel

from bot.problems import excerpt

TEMPLATE_CODE = ("{{", "{%")
_SHOWN_CHARS = 40


class Unprintable(Exception):
    """A `{{ … }}` whose value has no place in a post: `template`, `line` and `ordinal` (the
    how-manieth `{{` of that line, from 0) say which expression printed it."""

    def __init__(self, what: str, hint: str, template: str, line: int, ordinal: int) -> None:
        super().__init__(f"prints {what}: {hint}")
        self.what = what
        self.hint = hint
        self.template = template
        self.line = line
        self.ordinal = ordinal


def check_printed(value: Any, template: str, line: int, ordinal: int) -> Any:
    """`value` unchanged if it reads as text in a post; otherwise raises Unprintable."""
    if isinstance(value, Undefined):
        return value  # printing it raises the undefined name's own error
    if isinstance(value, str):
        found = next((code for code in TEMPLATE_CODE if code in value), None)
        if found is None:
            return value
        what = f"text containing '{found}' ('{excerpt(value, _SHOWN_CHARS)}')"
        hint = (
            "template code inside a value is not run, so it would be posted as written: "
            "write the `{{ … }}` in the text or template itself"
        )
    elif value is None:
        what = "None"
        hint = (
            "the value is missing here (e.g. a quote without a role): use `| local`, which "
            "prints nothing for a missing value, or put it inside `{% if … %}`"
        )
    elif isinstance(value, BaseModel):
        what = f"a whole {type(value).__name__.lower()}"
        hint = "print one of its fields (e.g. `quote.who | local`, `target.name`)"
    elif isinstance(value, Mapping):
        what = f"a mapping ({excerpt(_mapping_text(value), _SHOWN_CHARS)})"
        hint = (
            "use `| local` to print the text in the post's language"
            if all(isinstance(text, str) for text in value.values())
            else "print one of its values (e.g. `links.letter`)"
        )
    elif isinstance(value, Iterable) and not isinstance(value, bytes):
        what = "a list"
        hint = "join it (`| join(' ')`), or use `| tags` for hashtags"
    else:
        return value
    raise Unprintable(what, hint, template, line, ordinal)


def _mapping_text(value: Mapping[Any, Any]) -> str:
    try:
        return str(dict(value))
    except Exception:  # a mapping that cannot be listed: say only what it is
        return "…"


def text_problem(text: str) -> str | None:
    """Why a finished post text cannot be posted (empty, or template code left in it), or None."""
    if not text.strip():
        return (
            "the text renders empty: nothing would be posted (does an `{% if … %}` leave "
            "nothing for this language, quote or target?)"
        )
    found = next((code for code in TEMPLATE_CODE if code in text), None)
    if found is not None:
        start = text.index(found)
        return (
            f"the rendered text still contains '{found}' "
            f"('{excerpt(text[start:], _SHOWN_CHARS)}'), which would be posted as written: "
            "is a `{% raw %}` block or a quoted '{{' left in it?"
        )
    return None


_EXPRESSION = re.compile(r"\{\{.*?(\}\}|$)")


def expression_at(source: str, line: int, ordinal: int) -> tuple[int, str] | None:
    """(column from 1, source text) of the `ordinal`-th `{{ … }}` on `line` of `source`."""
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return None
    found = list(_EXPRESSION.finditer(lines[line - 1]))
    if ordinal >= len(found):
        return None
    match = found[ordinal]
    return match.start() + 1, match.group(0)


def occurrence(source: str, line: int, col: int, expression: str) -> int:
    """How many times `expression` is written in `source` before (line, col)."""
    lines = source.splitlines(keepends=True)
    before = "".join(lines[: line - 1]) + lines[line - 1][: col - 1]
    return before.count(expression)
