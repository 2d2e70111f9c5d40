"""Hints for the YAML mistakes organisers make, at the line where they made them.

The parser reports where it gave up, which is often not where the mistake is:
`hashtags: [#ParciauCymru]` makes the rest of the line a comment, and the parser complains
about the list left open lines below; `cy: {{ link }}, darllenwch` is read as a mapping and the
parser stops at the comma. These functions look at the lines as written for those mistakes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.problems import excerpt

# How far above the parser's complaint a mistake is looked for.
LINES_ABOVE = 10
_BLOCK_SCALAR = re.compile(r"(^|[\s:-])[|>][-+0-9]*\s*(#.*)?$")
# What may come before a value in block style: list dashes, then a key and its colon.
_BLOCK_VALUE_START = re.compile(r"\s*(-\s+)*([^\s#'\"\[{][^:#]*:\s+)?")
_HASHTAG = re.compile(r"#[^\s,\]}]*")


def _outside_block_scalars(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(number from 1, line) of the lines that are YAML structure, not a `|` or `>` text."""
    block_indent: int | None = None
    for number, line in enumerate(lines, start=1):
        indent = len(line) - len(line.lstrip(" "))
        if block_indent is not None:
            if not line.strip() or indent > block_indent:
                continue
            block_indent = None
        if _BLOCK_SCALAR.search(line.rstrip()):
            block_indent = indent
        yield number, line


def _unquoted(line: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, flow depth) of each character of `line` outside quoted scalars, up
    to a comment outside any flow collection."""
    depth = 0
    quote: str | None = None
    previous = " "
    for index, char in enumerate(line):
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "\"'" and previous in " \t[{,:":
            quote = char
        else:
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth = max(0, depth - 1)
            elif char == "#" and previous in " \t" and depth == 0:
                return
            yield index, char, depth
        previous = char


def _comment_in_flow(line: str) -> tuple[int, str] | None:
    for index, char, depth in _unquoted(line):
        if char == "#" and depth > 0 and line[index - 1] in " \t[{,":
            word = _HASHTAG.match(line, index)
            tag = word.group(0) if word else "#"
            return index, (
                f"'#' starts a comment in YAML, so the rest of this line is ignored and the "
                f"list is left open: write '{excerpt(tag[1:], 40)}' without the '#' (hashtags are "
                f'written without it), or quote it: "{excerpt(tag, 40)}"'
            )
    return None


def _unquoted_template(line: str) -> tuple[int, str] | None:
    for index, char, depth in _unquoted(line):
        if char != "{" or not line.startswith("{{", index):
            continue
        before = line[:index]
        in_flow = depth > 1 and before.rstrip().endswith(("[", "{", ",", ":"))
        if not (in_flow or _BLOCK_VALUE_START.fullmatch(before)):
            continue
        value = line[index:].strip()
        if in_flow and "}}" in value:  # the rest of the line holds the flow's other values
            value = value[: value.index("}}") + 2]
        return index, (
            "a value that starts with '{{' must be quoted, or YAML reads the '{' as the start "
            f'of a mapping: write "{excerpt(value, 40)}" in double quotes, or the text on the '
            "lines below a '>-'"
        )
    return None


def hint_at(text: str, line: int) -> tuple[int, str] | None:
    """(column from 1, hint) for a mistake written on `line` of `text`, or None."""
    for number, written in _outside_block_scalars(text.splitlines()):
        if number == line:
            found = _unquoted_template(written) or _comment_in_flow(written)
            return (found[0] + 1, found[1]) if found else None
    return None


def hint_above(text: str, line: int) -> tuple[int, int, str] | None:
    """(line, column, hint) of the nearest mistake at or above `line` (within LINES_ABOVE)."""
    lines = text.splitlines()
    nearest = None
    for number, written in _outside_block_scalars(lines[:line]):
        if number < line - LINES_ABOVE:
            continue
        found = _unquoted_template(written) or _comment_in_flow(written)
        if found is not None:
            nearest = (number, found[0] + 1, found[1])
    return nearest
