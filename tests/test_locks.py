"""requirements.lock pins exactly what Kindling needs to run (pyproject.toml's dependencies and
theirs); requirements-dev.lock adds the test tools. Both pin what is installed, so README's first
command installs a runtime that works and no test tool."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def pins(name: str) -> dict[str, str]:
    """{canonical name: version} of the lock's `NAME==VERSION` lines (comments and -r aside)."""
    found = {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith(("#", "-r ")):
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", line.strip())
        assert match, f"{name}: not NAME==VERSION: {line!r}"
        found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def closure(requirements: list[str]) -> set[str]:
    """The installed distributions these requirements bring, with their dependencies', each
    marker evaluated on this machine for the extras asked."""
    wanted: dict[str, set[str]] = {}
    pending = [Requirement(line) for line in requirements]
    while pending:
        requirement = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name in wanted and extras <= wanted[name]:
            continue
        wanted[name] = wanted.get(name, set()) | extras
        for line in metadata.distribution(name).requires or []:
            needed = Requirement(line)
            asked = wanted[name] or {""}
            if needed.marker and not any(needed.marker.evaluate({"extra": e}) for e in asked):
                continue
            needed.marker = None
            pending.append(needed)
    return set(wanted)


def test_the_runtime_lock_is_exactly_what_kindling_needs_to_run() -> None:
    runtime = pins("requirements.lock")
    assert set(runtime) == closure(PROJECT["dependencies"])
    assert not {"pytest", "hypothesis", "ruff", "mypy", "playwright"} & set(runtime)


def test_the_dev_lock_adds_the_test_tools_on_the_runtime_lock() -> None:
    text = (ROOT / "requirements-dev.lock").read_text(encoding="utf-8")
    assert "-r requirements.lock" in text.splitlines()
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert not set(runtime) & set(dev)  # each pin in one place
    everything = closure(PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"])
    assert set(runtime) | set(dev) == everything


def test_every_pin_is_the_installed_version() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        for name, version in pins(lock).items():
            assert metadata.version(name) == version, f"{lock}: {name}"
