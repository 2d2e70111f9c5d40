"""Fuzzing the campaign loader and the length counter: garbage in, located problems out.

Whatever an organiser types, `load_yaml`, `load_campaign` and `count` must not raise, and every
problem must point into the file (file name as given, 1-based line and column, a message).
"""

from __future__ import annotations

import copy
import io
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import regex
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from bot.campaign.loader import load_campaign
from bot.campaign.yamlsource import load_yaml
from bot.compose.lengths import PLATFORMS, count
from bot.problems import Problem, display_path
from tests.conftest import MINIMAL_CAMPAIGN

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# The same campaign as load_yaml sees it: every scalar a string.
MINIMAL_DATA: dict[str, Any] = {
    "id": "demo",
    "name": {"cy": "Ymgyrch", "en": "Campaign"},
    "languages": ["cy", "en"],
    "timezone": "Europe/London",
    "active": {"start": "2026-12-01", "end": "2027-01-31"},
    "links": {"letter": "https://example.org/letter"},
    "messages": [
        {
            "id": "launch",
            "schedule": {"at": "2026-12-02 10:00"},
            "text": {"cy": "Darllenwch {{ link }}", "en": "Read {{ link }}"},
        }
    ],
}

# What ruamel's reader counts as a line break for YAML 1.2 marks (not NEL, LS or PS).
_LINE_BREAK = regex.compile(r"\r\n|[\n\r]")


def physical_lines(text: str) -> list[str]:
    """The lines as the YAML reader numbers them.

    A final line break opens one more, empty, line: "unexpected end of file" errors point there
    (line count + 1, column 1), which an editor shows as the empty last line.
    """
    return _LINE_BREAK.split(text)


def assert_located(problems: list[Problem], text: str, files: set[str]) -> None:
    """Every problem names one of `files` and a real line and column of `text`."""
    lines = physical_lines(text)
    for problem in problems:
        assert isinstance(problem, Problem)
        assert problem.file in files, problem
        assert problem.message.strip(), problem
        assert 1 <= problem.line <= len(lines), (problem, len(lines))
        assert 1 <= problem.col <= len(lines[problem.line - 1]) + 1, (
            problem,
            lines[problem.line - 1],
        )


# --- strategies: random text ------------------------------------------------------------------

# fmt: off
_YAML_TOKENS = [
    "-", "- ", ":", ": ", " ", "  ", "\n", "\r\n", "\r", "\t", "[", "]", "{", "}", ",", "&a ",
    "*a", "&b ", "*b", "!", "!!str ", "!!map ", "!!binary ", "!custom ", "|", "|-", ">", ">+", "'",
    '"', "#", "# comment", "?", "? ", "%YAML 1.2\n", "%TAG ! tag:x,2000:\n", "---", "---\n", "...",
    "<<: ", "<<: *a", "@", "`", "\ufeff", "\x85", "\u2028", "\u00a0", "\x00", "\x1b", "id: ",
    "messages:", "  - id: m", "text: ", "cy: ", "en: ", "schedule: {at: 2026-12-02}", "null", "~",
    "no", "0x1F", "1e3", ".inf", "2026-12-01", "\\", '\\"', "\\u", "中文", "ŵ",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
]
# fmt: on
yaml_ish_text = st.lists(
    st.one_of(st.sampled_from(_YAML_TOKENS), st.text(max_size=3)), max_size=60
).map("".join)
# Deep nesting. Hypothesis raises the recursion limit while it runs, so only the plain
# test_deep_nesting_is_a_problem_not_a_crash below reliably reaches the limit; here depth is
# kept moderate (deep documents are slow to compose).
deeply_nested_text = st.builds(
    lambda depth, flow: (
        "[" * depth + "]" * depth
        if flow
        else "".join(" " * (2 * i) + "-\n" for i in range(depth)) + " " * (2 * depth) + "x\n"
    ),
    st.integers(min_value=1, max_value=150),
    st.booleans(),
)
very_long_line = st.builds(
    lambda key, value, n: f"{key}: {value * n}\n",
    st.sampled_from(["id", "name", "x", "'quoted key'"]),
    st.sampled_from(["a", "é", "中", "\U0001f44d", " ", "'", "#"]),
    st.integers(min_value=1_000, max_value=6_000),
)


# --- strategies: structurally generated YAML -------------------------------------------------

# fmt: off
_WEIRD_KEYS = [
    "", " ", "id", "name", "messages", "links", "active", "target_files", "<<", "?", "-", ":", "#",
    "&a", "*a", "!!str", "key with spaces", "tab\tkey", "multi\nline", "null", "~", "true", "no",
    "1", "0o17", "-1", "é", "ŵ", "中文", "\U0001f44d", "a" * 300, "'", '"', "{", "[",
]
# fmt: on
scalar_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", "null", "~", "yes", "no", "on", "012", "1e3", "2026-12-01", "10:00"]),
    st.text(alphabet="ab \t'\"#:-", max_size=10),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "ŵ", "\U0001f468"]), st.integers(0, 3000)),
)
keys = st.one_of(st.sampled_from(_WEIRD_KEYS), st.text(max_size=12))
trees = st.recursive(
    st.one_of(st.none(), scalar_text),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(keys, children, max_size=5),
    ),
    max_leaves=25,
)

_PLAIN = regex.compile(r"[A-Za-z0-9][A-Za-z0-9 _./-]*[A-Za-z0-9]|[A-Za-z0-9]")


class Emitter:
    """A deliberately loose YAML writer: random styles, anchors, aliases, comments, tabs.

    Most of what it writes is valid YAML; some is not, which is just as useful here.
    """

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self.draw = draw
        self.anchors: list[str] = []

    def chance(self, percent: int) -> bool:
        return self.draw(st.integers(min_value=0, max_value=99)) < percent

    def scalar(self, value: str | None, *, block_indent: int | None = None) -> str:
        if value is None:
            return self.draw(st.sampled_from(["", "~", "null"]))
        style = self.draw(st.sampled_from(["plain", "single", "double", "double-ascii", "block"]))
        if style == "plain" and _PLAIN.fullmatch(value):
            return value
        if style == "single" and "\n" not in value and "\r" not in value:
            return "'" + value.replace("'", "''") + "'"
        if style == "block" and block_indent is not None and value and "\r" not in value:
            pad = " " * (block_indent + 2)
            indicator = self.draw(st.sampled_from(["|", "|-", "|+", ">", ">-"]))
            return indicator + "\n" + "\n".join(pad + line for line in value.split("\n"))
        ascii_only = style == "double-ascii"
        escaped = "".join(_double_escape(char, ascii_only=ascii_only) for char in value)
        return '"' + escaped + '"'

    def key(self, key: str) -> str:
        return self.scalar(key)

    def props(self) -> str:
        """Maybe an anchor (remembered, so later nodes can alias it) and/or a tag."""
        out = ""
        if self.chance(15):
            name = f"a{len(self.anchors)}"
            self.anchors.append(name)
            out += f"&{name} "
        if self.chance(5):
            out += self.draw(st.sampled_from(["!!str ", "!!map ", "!!seq ", "!local ", "!!set "]))
        return out

    def alias(self) -> str | None:
        if self.anchors and self.chance(10):
            return "*" + self.draw(st.sampled_from(self.anchors))
        if self.chance(1):
            return "*undefined"
        return None

    def flow(self, value: Any) -> str:
        alias = self.alias()
        if alias is not None:
            return alias
        props = self.props()
        if isinstance(value, list):
            return props + "[" + ", ".join(self.flow(item) for item in value) + "]"
        if isinstance(value, dict):
            pairs = (f"{self.key(k)}: {self.flow(v)}" for k, v in value.items())
            return props + "{" + ", ".join(pairs) + "}"
        return props + self.scalar(value)

    def block(self, value: Any, indent: int) -> str:
        """A block node, placed after 'key:' or '- '; collections start on a new line."""
        alias = self.alias()
        if alias is not None:
            return " " + alias
        if not isinstance(value, list | dict) or not value or self.chance(20):
            return (
                " " + self.flow(value)
                if not isinstance(value, str | None)
                else (" " + self.props() + self.scalar(value, block_indent=indent))
            )
        props = self.props().rstrip()
        pad = " " * indent
        lines = []
        if isinstance(value, list):
            for item in value:
                lines.append(f"{pad}-{self.block(item, indent + 2)}")
        else:
            for k, v in value.items():
                if self.chance(3):
                    lines.append(f"{pad}? {self.key(k)}\n{pad}:{self.block(v, indent + 2)}")
                else:
                    lines.append(f"{pad}{self.key(k)}:{self.block(v, indent + 2)}")
        return (" " + props if props else "") + "\n" + "\n".join(lines)

    def noise(self, text: str) -> str:
        """Sprinkle comments, tabs, stray unicode, document markers."""
        lines = text.split("\n")
        for _ in range(self.draw(st.integers(min_value=0, max_value=3))):
            where = self.draw(st.integers(min_value=0, max_value=len(lines)))
            junk = self.draw(
                st.sampled_from(
                    [
                        "# a comment",
                        "\t",
                        "\tkey: value",
                        "  # ŵ 中文",
                        "---",
                        "...",
                        "%YAML 1.2",
                        "\u00a0",
                        "\ufeff",
                        " " * 40 + "# far",
                        "&dangling",
                        "*a0",
                        "- stray",
                    ]
                )
            )
            lines.insert(where, junk)
        return "\n".join(lines)


def _double_escape(char: str, *, ascii_only: bool) -> str:
    if char in '"\\':
        return "\\" + char
    code = ord(char)
    if code < 0x20 or code == 0x7F or (ascii_only and code > 0x7E):
        return f"\\U{code:08x}" if code > 0xFFFF else f"\\u{code:04x}"
    return char


@st.composite
def emitted_yaml(draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
    emitter = Emitter(draw)
    tree = draw(trees)
    if isinstance(tree, list | dict) and tree and draw(st.booleans()):
        text = emitter.block(tree, 0).lstrip(" ").removeprefix("\n")
    else:
        text = emitter.flow(tree)
    if draw(st.booleans()):
        text = emitter.noise(text)
    return text + draw(st.sampled_from(["", "\n", "\n\n", "\r\n"]))


def _ruamel_dump(tree: Any, *, width: int, flow: bool | None) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.width = width
    yaml.default_flow_style = flow
    out = io.StringIO()
    yaml.dump(tree, out)
    return out.getvalue()


dumped_yaml = st.builds(
    _ruamel_dump,
    trees,
    width=st.sampled_from([20, 80, 1_000_000]),
    flow=st.sampled_from([None, True, False]),
)

any_yaml = st.one_of(
    st.text(),
    yaml_ish_text,
    emitted_yaml(),
    dumped_yaml,
    very_long_line,
    deeply_nested_text,
)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def write_campaign() -> Iterator[Callable[[str | bytes], Path]]:
    """Factory: write a campaign file (text or raw bytes) and return its path.

    Module-scoped, because hypothesis runs many examples per test call and a function-scoped
    tmp_path would be shared by all of them anyway; so tempfile makes the folder, and each
    example overwrites the one file in it (no example writes any other file).
    """
    with tempfile.TemporaryDirectory(prefix="kindling-fuzz-") as root:
        path = Path(root) / "campaign.yaml"

        def write(content: str | bytes) -> Path:
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", newline="")
            return path

        yield write


def _campaign_files(path: Path, text: str) -> set[str]:
    """The campaign's own display name and those of the target CSV files it names."""
    files = {display_path(path)}
    located, _ = load_yaml(text, "probe")
    if located is not None and isinstance(located.data, dict):
        target_files = located.data.get("target_files")
        if isinstance(target_files, list):
            files |= {display_path(path.parent / t) for t in target_files if isinstance(t, str)}
    return files


def _check_loaded(path: Path) -> None:
    loaded, problems = load_campaign(path)
    # load_campaign reads with universal newlines: locate against what it actually parsed.
    read_back = path.read_text(encoding="utf-8")
    files = _campaign_files(path, read_back)
    own = [p for p in problems if p.file == display_path(path)]
    assert_located(own, read_back, files)
    for problem in problems:  # problems in target CSV files: named and positive, at least
        assert problem.file in files, problem
        assert problem.line >= 1 and problem.col >= 1 and problem.message.strip(), problem
    if loaded is None:
        assert problems, "load_campaign returned neither a campaign nor a problem"
    else:
        assert loaded.file == display_path(path)


# --- tests: random and structured YAML --------------------------------------------------------


@FUZZ
@given(any_yaml)
def test_load_yaml_never_raises_and_locates_problems(text: str) -> None:
    located, problems = load_yaml(text, "fuzz.yaml")
    assert_located(problems, text, {"fuzz.yaml"})
    if located is None:
        assert problems
    else:
        assert not problems
        assert located.file == "fuzz.yaml"
        for line, col in [*located.values.values(), *located.keys.values()]:
            assert line >= 1 and col >= 1


@FUZZ
@given(any_yaml)
@example("? 0[")  # an unknown key with '[' in it
@example("x[: 1\n")
@example(MINIMAL_CAMPAIGN + "function-x: 1\n")
def test_load_campaign_never_raises_and_locates_problems(
    write_campaign: Callable[[str | bytes], Path], text: str
) -> None:
    _check_loaded(write_campaign(text))


target_file_names = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(["missing.csv", ".", "campaign.yaml", "campaign.yaml/x", "sub/dir/t.csv"]),
    st.integers(min_value=250, max_value=5000).map(lambda n: "a" * n + ".csv"),
).filter(lambda name: not name.startswith("/") and ".." not in name)  # stay in the temp folder


@FUZZ
@given(st.lists(target_file_names, min_size=1, max_size=3))
@example(["a\x00b.csv"])  # a NUL in a path
@example(["a" * 300 + ".csv"])  # a file name longer than the file system allows
def test_load_campaign_with_any_target_file_names(
    write_campaign: Callable[[str | bytes], Path], names: list[str]
) -> None:
    quoted = ", ".join(
        '"' + "".join(_double_escape(c, ascii_only=True) for c in n) + '"' for n in names
    )
    text = f"{MINIMAL_CAMPAIGN}target_files: [{quoted}]\n"
    _check_loaded(write_campaign(text))


@FUZZ
@given(st.binary(max_size=200))
def test_load_campaign_on_random_bytes(
    write_campaign: Callable[[str | bytes], Path], content: bytes
) -> None:
    path = write_campaign(content)
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        loaded, problems = load_campaign(path)
        assert loaded is None
        assert [(p.file, p.line, p.col) for p in problems] == [(display_path(path), 1, 1)]
        assert "UTF-8" in problems[0].message
        return
    _check_loaded(path)


@FUZZ
@given(any_yaml)
def test_count_never_raises_on_any_text(text: str) -> None:
    for platform in PLATFORMS:
        result = count(platform, text)
        assert result.length >= 0
        assert isinstance(result.ok, bool)


# Characters ruamel's emitter writes raw inside quotes but its reader then takes for line breaks
# (NEL, LS, PS): a ruamel round-trip quirk, not the loader's concern.
_ROUND_TRIP_TEXT = st.text(
    st.characters(exclude_characters="\x85\u2028\u2029", exclude_categories=("Cs",)), max_size=20
)
round_trip_trees = st.recursive(
    st.one_of(st.none(), _ROUND_TRIP_TEXT),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(_ROUND_TRIP_TEXT, children, max_size=5),
    ),
    max_leaves=25,
)


@FUZZ
@given(round_trip_trees)
def test_valid_yaml_loads_back_as_the_same_strings(tree: Any) -> None:
    """Scalars stay the strings written (only an empty/~/null plain scalar becomes None).

    Written by ruamel in block style without line wrapping: its flow style and its wrapping
    write YAML that its own reader reads back differently, which is ruamel's bug, not the
    loader's. E.g. {'?0': None} -> "{?0: null}" (read back as key '0': in flow context ruamel
    takes any '?' for the key indicator), {':0': None} -> "{:0: null}" (rejected), and at
    width=20 a double-quoted scalar is folded at a raw line break (a space appears in it).
    """
    text = _ruamel_dump(tree, width=1_000_000, flow=False)
    located, problems = load_yaml(text, "round.yaml")
    assert problems == []
    assert located is not None
    assert located.data == tree


# The builder recurses further per level than ruamel's composer, whose RecursionError is
# caught: between the two depths, load_yaml raises. Where that window lies moves with the stack
# depth of the caller and the recursion limit (hypothesis raises the limit while it runs, which
# moves the window past what deeply_nested_text draws), so these plain tests cover it densely.
@pytest.mark.parametrize("depth", [50, *range(200, 601, 30)])
@pytest.mark.parametrize("flow", [True, False], ids=["flow", "block"])
def test_deep_nesting_is_a_problem_not_a_crash(depth: int, flow: bool) -> None:
    if flow:
        text = "[" * depth + "]" * depth
    else:
        text = "".join(" " * (2 * i) + "-\n" for i in range(depth)) + " " * (2 * depth) + "x\n"
    located, problems = load_yaml(text, "deep.yaml")
    assert_located(problems, text, {"deep.yaml"})
    assert (located is None) == bool(problems)


# --- tests: mutations of a valid campaign -----------------------------------------------------


def test_minimal_campaign_is_valid(write_campaign: Callable[[str | bytes], Path]) -> None:
    located, problems = load_yaml(MINIMAL_CAMPAIGN, "demo.yaml")
    assert problems == []
    assert located is not None
    assert located.data == MINIMAL_DATA
    loaded, problems = load_campaign(write_campaign(MINIMAL_CAMPAIGN))
    assert problems == []
    assert loaded is not None
    assert loaded.campaign.id == "demo"
    assert [m.id for m in loaded.campaign.messages] == ["launch"]


def _paths(tree: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every path to a key of a mapping or an item of a list."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _parent(tree: Any, path: tuple[str | int, ...]) -> Any:
    for part in path[:-1]:
        tree = tree[part]
    return tree


# fmt: off
_NEAR_MISS_KEYS = [
    "ID", "Id", "nmae", "langauges", "language", "time_zone", "activ", "link", "message",
    "shedule", "at ", "txt", "cy ", "EN", "start_date", "end", "start",
]
# fmt: on
retyped_values = st.one_of(
    st.none(),
    scalar_text,
    st.sampled_from(
        [
            "2026-13-45",
            "25:99",
            "Mars/Olympus",
            "http://",
            "not a url",
            "-1",
            "cy",
            "x",
            "bluesky",
            "* * * * *",
            "2027-01-31",
            "2026-11-30",
        ]
    ),
    st.lists(st.sampled_from(["cy", "en", "x", "", "2026-12-02 10:00"]), max_size=3),
    st.dictionaries(
        st.sampled_from(["cy", "en", "at", "start", "end", "id", "zz"]),
        st.one_of(st.none(), scalar_text),
        max_size=3,
    ),
)


@st.composite
def mutated_campaigns(draw: Callable[[st.SearchStrategy[Any]], Any]) -> dict[str, Any]:
    tree = copy.deepcopy(MINIMAL_DATA)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = list(_paths(tree))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(tree, path)
        last = path[-1]
        operation = draw(st.sampled_from(["delete", "rename", "retype", "add"]))
        if operation == "delete":
            del parent[last]
        elif operation == "retype":
            parent[last] = draw(retyped_values)
        elif operation == "rename" and isinstance(parent, dict):
            new_key = draw(st.one_of(st.sampled_from(_NEAR_MISS_KEYS), keys))
            value = parent.pop(last)
            parent.setdefault(new_key, value)
        elif operation == "add" and isinstance(parent, dict):
            parent.setdefault(
                draw(st.one_of(st.sampled_from(_NEAR_MISS_KEYS), keys)), draw(retyped_values)
            )
        elif operation == "add" and isinstance(parent, list):
            parent.append(draw(retyped_values))
    return tree


@FUZZ
@given(mutated_campaigns(), st.sampled_from([None, False]))
def test_mutated_campaign_problems_are_located(
    write_campaign: Callable[[str | bytes], Path], tree: dict[str, Any], flow: bool | None
) -> None:
    text = _ruamel_dump(tree, width=1_000_000, flow=flow)
    assume(len(text) < 200_000)
    path = write_campaign(text)
    loaded, problems = load_campaign(path)
    assert_located(problems, text, {display_path(path)})
    if loaded is None:
        assert problems
    if problems:  # located within the file's line count
        lines = text.splitlines()
        assert all(1 <= p.line <= len(lines) for p in problems), (problems, len(lines))


@st.composite
def line_mutated_campaigns(draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
    """The minimal campaign's text with lines deleted, duplicated, re-indented or tab-indented."""
    lines = MINIMAL_CAMPAIGN.splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        if not lines:
            break
        index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        operation = draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "tab"]))
        if operation == "delete":
            del lines[index]
        elif operation == "duplicate":
            lines.insert(index, lines[index])
        elif operation == "indent":
            lines[index] = "  " + lines[index]
        elif operation == "dedent":
            lines[index] = lines[index].lstrip(" ")
        else:
            lines[index] = "\t" + lines[index].lstrip(" ")
    return "\n".join(lines) + "\n"


@FUZZ
@given(line_mutated_campaigns())
def test_line_mutated_campaign_problems_are_located(
    write_campaign: Callable[[str | bytes], Path], text: str
) -> None:
    path = write_campaign(text)
    loaded, problems = load_campaign(path)
    assert_located(problems, text, {display_path(path)})
    if loaded is None:
        assert problems
    lines = text.splitlines()
    assert all(1 <= p.line <= max(len(lines), 1) for p in problems), (problems, len(lines))
