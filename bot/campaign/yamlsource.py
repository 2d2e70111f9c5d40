"""YAML 1.2 documents -> plain data plus the line and column of every key and value.

Scalars stay strings: the schema, not the YAML resolver, decides what a value is. So `no`, `on`
and `012` stay the text the organiser wrote wherever a string is meant, while pydantic still turns
`"3"` into 3 where a number is meant. Only an empty value, `~` and `null` become None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.campaign.yamlhints import hint_above, hint_at
from bot.problems import Problem, excerpt

Path_ = tuple[str | int, ...]
_NULLS = {"", "~", "null", "Null", "NULL"}
MAX_VALUES = 200_000  # far beyond any campaign; stops alias "billion laughs" expansions


class _TooLarge(Exception):
    def __init__(self, node: Node) -> None:
        self.node = node


@dataclass
class Located:
    """The loaded data and a map from each path in it to (line, col), both 1-based."""

    data: Any
    file: str
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    text: str = ""  # the document as written, to find a piece of a value in it

    def find(self, start: tuple[int, int], needle: str, skip: int = 0) -> tuple[int, int] | None:
        """(line, col) of the `skip`+1-th `needle` written in the value that starts at `start`
        (before the next value of the document starts), or None."""
        lines = self.text.splitlines(keepends=True)
        if not needle or not 1 <= start[0] <= len(lines):
            return None
        later = [where for where in self.values.values() if where > start]
        end_line, end_col = min(later) if later else (len(lines) + 1, 1)
        offset = sum(len(line) for line in lines[: start[0] - 1]) + start[1] - 1
        end = sum(len(line) for line in lines[: end_line - 1]) + end_col - 1
        for _ in range(skip + 1):
            found = self.text.find(needle, offset, end)
            if found < 0:
                return None
            offset = found + 1
        line = self.text.count("\n", 0, found) + 1
        return line, found - (self.text.rfind("\n", 0, found) + 1) + 1

    def where(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while True:
            if key and path in self.keys:
                return self.keys[path]
            if path in self.values:
                return self.values[path]
            if not path:
                return (1, 1)
            path = path[:-1]

    def problem(self, path: Path_, message: str, *, key: bool = False) -> Problem:
        line, col = self.where(path, key=key)
        return Problem(self.file, line, col, message)


def _mark(node: Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, located: Located) -> None:
        self.located = located
        self.problems: list[Problem] = []
        self._open: set[int] = set()  # nodes being built: an alias back into one is a cycle
        self._budget = MAX_VALUES  # aliases can multiply a small file into a huge one

    def build(self, node: Node, path: Path_) -> Any:
        self._budget -= 1
        if self._budget < 0:
            raise _TooLarge(node)
        self.located.values[path] = _mark(node)
        if id(node) in self._open:
            line, col = _mark(node)
            self.problems.append(
                Problem(self.located.file, line, col, "an alias refers to itself (a cycle)")
            )
            return None
        if not isinstance(node, ScalarNode):
            self._open.add(id(node))
            try:
                return self._build_collection(node, path)
            finally:
                self._open.discard(id(node))
        if node.style is None and node.value in _NULLS:
            return None
        if node.style == ">":
            # ruamel marks where a folded scalar was folded with \a; its own constructor drops it.
            return node.value.replace("\a", "")
        return node.value

    def _not_a_name(self, key_node: Node) -> Problem:
        line, col = _mark(key_node)
        hint = hint_at(self.located.text, line)
        if hint is not None:  # `cy: {{ link }}` is a mapping whose key is a mapping
            return Problem(self.located.file, line, hint[0], hint[1])
        return Problem(self.located.file, line, col, "a key must be a plain name")

    def _build_collection(self, node: Node, path: Path_) -> Any:
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    self.problems.append(self._not_a_name(key_node))
                    continue
                key = key_node.value
                if key in result:
                    line, col = _mark(key_node)
                    first = self.located.keys[(*path, key)]
                    self.problems.append(
                        Problem(
                            self.located.file,
                            line,
                            col,
                            f"duplicate key '{excerpt(key)}' (first defined at line {first[0]})",
                        )
                    )
                    continue
                self.located.keys[(*path, key)] = _mark(key_node)
                result[key] = self.build(value_node, (*path, key))
            return result
        raise TypeError(f"unexpected YAML node {type(node).__name__}")  # pragma: no cover


def _syntax_problem(exc: MarkedYAMLError, text: str, file: str) -> Problem:
    """Where the parser gave up, or where the mistake that made it give up was written."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    reason = f"YAML syntax error: {excerpt(exc.problem or exc.context or 'invalid YAML', 120)}"
    hint = hint_above(text, line)
    if hint is None:
        return Problem(file, line, col, reason)
    hint_line, hint_col, message = hint
    return Problem(file, hint_line, hint_col, f"{message} ({reason} at line {line})")


def load_yaml(text: str, file: str) -> tuple[Located | None, list[Problem]]:
    """Parse one YAML document. Returns (located data, []) or (None, problems)."""
    yaml = YAML(typ="rt")
    yaml.version = (1, 2)
    located = Located(data=None, file=file, text=text)
    try:
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        return None, [_syntax_problem(exc, text, file)]
    except YAMLError as exc:
        return None, [Problem(file, 1, 1, f"YAML error: {excerpt(exc, 120)}")]
    except RecursionError:
        return None, [Problem(file, 1, 1, "YAML error: the document nests too deeply")]
    if node is None:
        return None, [Problem(file, 1, 1, "the file is empty: expected a campaign mapping")]
    builder = _Builder(located)
    try:
        located.data = builder.build(node, ())
    except RecursionError:
        return None, [Problem(file, 1, 1, "YAML error: the document nests too deeply")]
    except _TooLarge as exc:
        line, col = _mark(exc.node)
        return None, [
            Problem(
                file, line, col, f"the document expands to more than {MAX_VALUES} values (aliases?)"
            )
        ]
    if builder.problems:
        return None, builder.problems
    return located, []
