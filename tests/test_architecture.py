"""The size rules of ARCHITECTURE.md: no function in bot/ over 60 lines and no module over 400,
except those the "Exceptions" table there names with a reason (migrations are exempt)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bot"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400
# `| bot/path.py | reason |` exempts the module's length; `| bot/path.py:function | reason |`
# one function.
EXCEPTION_ROW = re.compile(r"^\|\s*`?(bot/[\w/]+\.py(?::[\w.]+)?)`?\s*\|\s*(\S.*?)\s*\|\s*$")


def _parse_exceptions(text: str) -> dict[str, str]:
    section = text.split("## Exceptions", 1)[1].split("\n## ", 1)[0]
    return {m[1]: m[2] for line in section.splitlines() if (m := EXCEPTION_ROW.match(line))}


def _exceptions() -> dict[str, str]:
    return _parse_exceptions((ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"))


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _oversized() -> set[str]:
    found = set()
    for path in _sources():
        relative = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            found.add(relative)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    found.add(f"{relative}:{node.name}")
    return found


def test_every_oversized_module_or_function_is_a_named_exception() -> None:
    unexplained = _oversized() - set(_exceptions())
    assert not unexplained, (
        f"over {MAX_FUNCTION_LINES} lines (functions) or {MAX_MODULE_LINES} (modules), "
        f"and not in ARCHITECTURE.md's Exceptions: {sorted(unexplained)}"
    )


def test_every_named_exception_is_still_needed() -> None:
    stale = set(_exceptions()) - _oversized()
    assert not stale, f"ARCHITECTURE.md names exceptions that are now within the limits: {stale}"


def test_the_exceptions_table_is_parsed_as_written() -> None:
    sample = (
        "## Layers\n| `bot/a.py` | not this section |\n## Exceptions\n| what | why |\n| --- | --- |\n"
        "| `bot/x/y.py` | one concept |\n| bot/z.py:run | a table of steps |\n## Next\n"
    )
    assert _parse_exceptions(sample) == {
        "bot/x/y.py": "one concept",
        "bot/z.py:run": "a table of steps",
    }
