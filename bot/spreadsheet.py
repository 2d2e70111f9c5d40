"""CSV cells a spreadsheet shows as text, never runs as a formula.

A CSV file Kindling writes (`kindling links --format csv`, `kindling report --csv`) carries text
from outside: target names from imported public data, campaign text, supporters' handles. A
spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula
(`=HYPERLINK("http://evil.example","x")`), and tab or carriage return can hide such a start.
OWASP's rule (CSV Injection): prefix those cells with a single quote, which spreadsheets show
as text. Numbers are written as they are; JSON output is never changed.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """`value` for a CSV cell: text that a spreadsheet would read as a formula gets a leading
    single quote; None is an empty cell; anything else is unchanged."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
