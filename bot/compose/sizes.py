"""The budget of one rendering, and the size checks the template sandbox runs before and after
each operation that could make a value large (bot/compose/sandbox.py applies them).

A budget holds a deadline, a count of loop iterations and a depth of nested calls; it lives in a
context variable, so each thread rendering has its own. Sizes are checked *before* whatever
multiplies them (repetition, padding, format widths and precisions, replace, join, powers) and
every string is checked after, so no value grows past a small multiple of `rendered_chars`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sized
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import date
from datetime import time as clock_time
from functools import wraps
from typing import Any

from jinja2.exceptions import TemplateRuntimeError

from bot.config import LimitsSettings

# Integers a template computes stay below this many bits (about 4,900 digits, more than Python
# will print): `10 ** 10 ** 8` would otherwise hold the interpreter lock for minutes.
MAX_INT_BITS = 16_384
# Widths and precisions in printf-style text (`%-10.3f`, `%*d`), and numbers in a format spec.
_PRINTF_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_SPEC_NUMBERS = re.compile(r"\d+")


class LimitExceeded(TemplateRuntimeError):
    """A template asked for more work than a limit allows; `setting` names the limit."""

    def __init__(self, message: str, setting: str | None = None, value: object = None) -> None:
        where = f" (limits.{setting} = {value} in config.toml)" if setting else ""
        super().__init__(message + where)
        self.setting = setting


@dataclass
class Budget:
    """The limits of one rendering in progress."""

    limits: LimitsSettings
    deadline: float
    deadline_setting: str = "render_seconds"
    iterations: int = 0
    depth: int = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            seconds = getattr(self.limits, self.deadline_setting)
            raise LimitExceeded(
                f"rendering took longer than {seconds} s", self.deadline_setting, seconds
            )


_BUDGET: ContextVar[Budget | None] = ContextVar("kindling_render_budget", default=None)


def current_budget() -> Budget | None:
    return _BUDGET.get()


def set_budget(budget: Budget | None) -> Token[Budget | None]:
    return _BUDGET.set(budget)


def reset_budget(token: Token[Budget | None]) -> None:
    _BUDGET.reset(token)


def tick() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()


class SizeChecks:
    """The checks on sizes, for one set of limits."""

    def __init__(self, limits: LimitsSettings) -> None:
        self.limits = limits

    def widths(self, numbers: list[int]) -> None:
        limit = self.limits.repeat_chars
        for number in numbers:
            if number > limit:
                raise LimitExceeded(
                    f"width or precision {number:,} is larger than {limit:,}", "repeat_chars", limit
                )

    def spec(self, value: Any, spec: str) -> None:
        """A format spec: a date's strftime format, or widths and precisions."""
        if isinstance(value, date | clock_time):
            self.strftime(spec)
        else:
            self.widths([int(number) for number in _SPEC_NUMBERS.findall(spec)])

    def strftime(self, pattern: object) -> None:
        limit = self.limits.strftime_chars
        if isinstance(pattern, str) and len(pattern) > limit:
            raise LimitExceeded(
                f"date format of {len(pattern):,} characters is longer than {limit}",
                "strftime_chars",
                limit,
            )

    def printf(self, text: str | bytes, values: Any) -> None:
        pattern = text.decode("latin-1") if isinstance(text, bytes) else text
        numbers = []
        for width, precision in _PRINTF_FIELD.findall(pattern):
            numbers += [int(part) for part in (width, precision) if part.isdigit()]
        if "*" in pattern:
            starred = values if isinstance(values, tuple) else (values,)
            numbers += [value for value in starred if isinstance(value, int)]
        self.widths(numbers)

    def repeat(self, left: Any, right: Any) -> None:
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise LimitExceeded(f"a number beyond {MAX_INT_BITS:,} bits")
            return
        sequence, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(sequence, Sized) and isinstance(times, int):
            size = len(sequence) * times
            limit = self.limits.repeat_chars
            if size > limit:
                raise LimitExceeded(
                    f"repetition makes {size:,} items, more than {limit:,}", "repeat_chars", limit
                )

    def estimate(self, size: int) -> None:
        if size > self.limits.rendered_chars:
            self.too_long(size)

    def result(self, value: Any) -> Any:
        """`value`, once its size is known to be within the limits."""
        if isinstance(value, str | bytes | list | tuple | dict):
            if len(value) > self.limits.rendered_chars:
                self.too_long(len(value))
        elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise LimitExceeded(f"a number beyond {MAX_INT_BITS:,} bits")
        return value

    def too_long(self, size: int) -> None:
        limit = self.limits.rendered_chars
        raise LimitExceeded(
            f"text of {size:,} characters is longer than {limit:,}", "rendered_chars", limit
        )


def check_power(base: Any, exponent: Any) -> None:
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and exponent * base.bit_length() > MAX_INT_BITS
    ):
        raise LimitExceeded(f"a number beyond {MAX_INT_BITS:,} bits")


def replaced_size(text: str | bytes, old: Any, new: Any) -> int:
    if not isinstance(old, str | bytes) or not isinstance(new, str | bytes):
        return len(text)
    occurrences = len(text) + 1 if not old else text.count(old)  # type: ignore[arg-type]
    return len(text) + occurrences * max(0, len(new) - len(old))


def joined_size(separator: str | bytes, items: Any) -> int:
    if not isinstance(items, Sized):
        return 0  # an iterator: the joined result is checked when it is made
    return len(separator) * max(0, len(items) - 1)


# -- Jinja's built-in filters, guarded ------------------------------------------------------


def guarded_filter(sizes: SizeChecks, name: str, function: Callable[..., Any]) -> Any:
    """`function` with the budget ticked, the arguments that set a size checked first, and the
    result's size checked after. Keeps Jinja's pass_context/pass_environment marks."""
    check = _FILTER_CHECKS.get(name)

    @wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        tick()
        if check is not None:
            own = args[1:] if hasattr(function, "jinja_pass_arg") else args  # without the context
            check(sizes, own, kwargs)
        return sizes.result(function(*args, **kwargs))

    return guarded


FilterCheck = Callable[[SizeChecks, tuple[Any, ...], dict[str, Any]], None]


def _width_args(sizes: SizeChecks, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    numbers = [a for a in (*args[1:], *kwargs.values()) if isinstance(a, int)]
    sizes.widths([n for n in numbers if not isinstance(n, bool)])


def _format(sizes: SizeChecks, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if args and isinstance(args[0], str):
        sizes.printf(args[0], tuple(args[1:]))


def _replace(sizes: SizeChecks, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if len(args) >= 3:
        sizes.estimate(replaced_size(str(args[0]), args[1], args[2]))


def _join(sizes: SizeChecks, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    separator = args[1] if len(args) > 1 else kwargs.get("d", "")
    if args and isinstance(separator, str):
        sizes.estimate(joined_size(separator, args[0]))


def _sum(sizes: SizeChecks, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # Summing lists or strings copies the growing total at every step.
    start = args[2] if len(args) > 2 else kwargs.get("start", 0)
    if not isinstance(start, int | float) or isinstance(start, bool):
        raise LimitExceeded("sum starts from a number only (start=0)")


_FILTER_CHECKS: dict[str, FilterCheck] = {
    "center": _width_args,
    "indent": _width_args,
    "batch": _width_args,
    "slice": _width_args,
    "tojson": _width_args,
    "format": _format,
    "replace": _replace,
    "join": _join,
    "sum": _sum,
}
