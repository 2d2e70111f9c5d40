"""A Jinja sandbox with limits on work: what a volunteer's template may make Kindling compute.

Jinja's ImmutableSandboxedEnvironment stops templates reaching Python's internals, not work:
`'a' * 10**9`, nested `range` loops, `slot.strftime('%Y' * 100000)` or a macro calling itself
would stall `kindling check` or the daemon (a single C call holds the interpreter lock, so one
big allocation stalls every thread). Each rendering here runs under a budget
(bot.config.LimitsSettings): a deadline checked at every call, filter, loop iteration and
output join; a count of loop iterations; a depth of nested calls. Sizes are checked *before* the
operations that multiply them (repetition, padding, format widths, replace, join, powers), and
every string a template builds is checked after, so no value grows past a small multiple of
`rendered_chars`. An exceeded limit raises LimitExceeded, which names its setting.
"""

from __future__ import annotations

import re
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from datetime import time as clock_time
from functools import update_wrapper, wraps
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import TemplateRuntimeError
from jinja2.runtime import Context, LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from markupsafe import EscapeFormatter, Markup
from pydantic import BaseModel

from bot.config import LimitsSettings

# Integers a template computes stay below this many bits (about 4,900 digits: more than Python
# will print): `10 ** 10 ** 8` would otherwise hold the interpreter for minutes.
MAX_INT_BITS = 16_384
# Methods of str, bytes and int whose first argument is the size of the result.
_SIZE_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "to_bytes"})
# Widths and precisions in printf-style (`%-10.3f`, `%*d`) and format-spec (`{:>10.3}`) text.
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
    """The limits of one rendering in progress (one per thread, through a context variable)."""

    limits: LimitsSettings
    deadline: float
    deadline_setting: str = "render_seconds"
    iterations: int = 0
    depth: int = 0
    started: float = field(default_factory=time.monotonic)

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            seconds = getattr(self.limits, self.deadline_setting)
            raise LimitExceeded(
                f"rendering took longer than {seconds} s", self.deadline_setting, seconds
            )


_BUDGET: ContextVar[Budget | None] = ContextVar("kindling_render_budget", default=None)


def current_budget() -> Budget | None:
    return _BUDGET.get()


def set_budget(budget: Budget | None) -> object:
    return _BUDGET.set(budget)


def reset_budget(token: object) -> None:
    _BUDGET.reset(token)  # type: ignore[arg-type]


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()


class GuardedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with every loop iterable and every `~` result passed through the
    environment's guards (no other hook sees them: both are plain Python in compiled code)."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        # Jinja allows no custom node types: the guard is a call of an environment attribute.
        original = node.iter
        guard = nodes.EnvironmentAttribute("guard_loop", lineno=original.lineno)
        node.iter = nodes.Call(guard, [original], [], None, None, lineno=original.lineno)
        try:
            super().visit_For(node, frame)
        finally:
            node.iter = original

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.guard_size(")
        super().visit_Concat(node, frame)
        self.write(")")


class LimitedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox every campaign text and template renders in."""

    code_generator_class = GuardedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, limits: LimitsSettings, **options: Any) -> None:
        super().__init__(**options)
        self.limits = limits
        self.globals["range"] = self.limited_range
        self.globals.pop("lipsum", None)  # n paragraphs of filler: nothing a post needs
        for name, function in list(self.filters.items()):
            self.filters[name] = _guarded_filter(self, name, function)

    # -- hooks the compiled template calls ----------------------------------------------------

    def concat(self, pieces: Iterable[str]) -> str:  # type: ignore[override]
        """Every output join (a template's text, a macro's, a `{% set %}` block's)."""
        parts: list[str] = []
        total = 0
        budget = _BUDGET.get()
        for piece in pieces:
            total += len(piece)
            if total > self.limits.rendered_chars:
                self._too_long(total)
            parts.append(piece)
            if budget is not None:
                budget.tick()
        return "".join(parts)

    def guard_size(self, value: Any) -> Any:
        if isinstance(value, str | bytes) and len(value) > self.limits.rendered_chars:
            self._too_long(len(value))
        return value

    def guard_loop(self, iterable: Iterable[Any]) -> Iterator[Any]:
        budget = _BUDGET.get()
        if budget is None:
            return iter(iterable)
        return _counted(iterable, budget)

    def limited_range(self, *args: int) -> range:
        numbers = range(*args)
        limit = self.limits.loop_iterations
        if len(numbers) > limit:
            raise LimitExceeded(
                f"range of {len(numbers):,} numbers is larger than {limit:,}",
                "loop_iterations",
                limit,
            )
        return numbers

    # -- the sandbox's own hooks -------------------------------------------------------------

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # pydantic's model_dump_json(indent=...) and friends are not for templates.
        if isinstance(obj, BaseModel) and attr.startswith("model_"):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.tick()
            budget.depth += 1
        try:
            if budget is not None and budget.depth > __self.limits.template_depth:
                raise LimitExceeded(
                    "calls nest too deeply (does a macro call itself?)",
                    "template_depth",
                    __self.limits.template_depth,
                )
            if isinstance(__obj, LoopContext) and args:  # loop(children) in a recursive loop
                args = (__self.guard_loop(args[0]), *args[1:])
            elif not isinstance(__obj, Macro):
                __self._check_call(__obj, args)
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            if budget is not None:
                budget.depth -= 1
        return __self._checked_result(result)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            self._check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str | bytes):
            self._check_printf(left, right)
        return self._checked_result(self.binop_table[operator](left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """str.format and format_map, with every width, precision and date format checked."""
        if not isinstance(value, types.MethodType | types.BuiltinMethodType) or (
            value.__name__ not in ("format", "format_map")
        ):
            return None
        f_self = value.__self__
        if not isinstance(f_self, str):
            return None
        formatter: SandboxedFormatter = (
            _LimitedEscapeFormatter(self, escape=f_self.escape)
            if isinstance(f_self, Markup)
            else _LimitedFormatter(self)
        )
        is_format_map = value.__name__ == "format_map"

        def format_checked(*args: Any, **kwargs: Any) -> str:
            positional: tuple[Any, ...] = args
            named: Mapping[str, Any] = kwargs
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                positional, named = (), args[0]
            return type(f_self)(formatter.vformat(f_self, positional, named))

        return update_wrapper(format_checked, value)

    # -- checks -------------------------------------------------------------------------------

    def check_spec(self, value: Any, spec: str) -> None:
        """A format spec: a date's strftime format, or widths and precisions."""
        if isinstance(value, date | clock_time):
            self.check_strftime(spec)
            return
        self._check_widths([int(number) for number in _SPEC_NUMBERS.findall(spec)])

    def check_strftime(self, pattern: object) -> None:
        limit = self.limits.strftime_chars
        if isinstance(pattern, str) and len(pattern) > limit:
            raise LimitExceeded(
                f"date format of {len(pattern):,} characters is longer than {limit}",
                "strftime_chars",
                limit,
            )

    def _check_call(self, obj: Any, args: tuple[Any, ...]) -> None:
        name = getattr(obj, "__name__", "")
        owner = getattr(obj, "__self__", None)
        if name == "strftime" and isinstance(owner, date | clock_time) and args:
            self.check_strftime(args[0])
        elif not isinstance(owner, str | bytes | int) or isinstance(owner, bool):
            return
        elif name in _SIZE_METHODS and args and isinstance(args[0], int):
            self._check_widths([args[0]])
        elif isinstance(owner, str | bytes) and name == "replace" and len(args) >= 2:
            self._check_estimate(_replaced_size(owner, args[0], args[1]))
        elif isinstance(owner, str | bytes) and name == "join" and args:
            self._check_estimate(_joined_size(owner, args[0]))

    def _check_repeat(self, left: Any, right: Any) -> None:
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise LimitExceeded(f"a number beyond {MAX_INT_BITS:,} bits")
            return
        sequence, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(sequence, Sized) and isinstance(times, int):
            size = len(sequence) * times
            if size > self.limits.repeat_chars:
                raise LimitExceeded(
                    f"repetition makes {size:,} items, more than {self.limits.repeat_chars:,}",
                    "repeat_chars",
                    self.limits.repeat_chars,
                )

    def _check_printf(self, text: str | bytes, values: Any) -> None:
        pattern = text.decode("latin-1") if isinstance(text, bytes) else text
        numbers = []
        for width, precision in _PRINTF_FIELD.findall(pattern):
            numbers += [int(part) for part in (width, precision) if part.isdigit()]
        starred = values if isinstance(values, tuple) else (values,)
        if "*" in pattern:
            numbers += [value for value in starred if isinstance(value, int)]
        self._check_widths(numbers)

    def _check_widths(self, numbers: list[int]) -> None:
        limit = self.limits.repeat_chars
        for number in numbers:
            if number > limit:
                raise LimitExceeded(
                    f"width or precision {number:,} is larger than {limit:,}",
                    "repeat_chars",
                    limit,
                )

    def _check_estimate(self, size: int) -> None:
        if size > self.limits.rendered_chars:
            self._too_long(size)

    def _checked_result(self, result: Any) -> Any:
        if isinstance(result, str | bytes | list | tuple | dict):
            if len(result) > self.limits.rendered_chars:
                self._too_long(len(result))
        elif isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
            raise LimitExceeded(f"a number beyond {MAX_INT_BITS:,} bits")
        return result

    def _too_long(self, size: int) -> None:
        limit = self.limits.rendered_chars
        raise LimitExceeded(
            f"text of {size:,} characters is longer than {limit:,}", "rendered_chars", limit
        )


def _counted(iterable: Iterable[Any], budget: Budget) -> Iterator[Any]:
    limit = budget.limits.loop_iterations
    for item in iterable:
        budget.iterations += 1
        if budget.iterations > limit:
            raise LimitExceeded(f"loops ran more than {limit:,} times", "loop_iterations", limit)
        budget.tick()
        yield item


def _check_power(base: Any, exponent: Any) -> None:
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and exponent * base.bit_length() > MAX_INT_BITS
    ):
        raise LimitExceeded(f"a number beyond {MAX_INT_BITS:,} bits")


def _replaced_size(text: str | bytes, old: Any, new: Any) -> int:
    if not isinstance(old, str | bytes) or not isinstance(new, str | bytes):
        return len(text)
    occurrences = len(text) + 1 if not old else text.count(old)  # type: ignore[arg-type]
    return len(text) + occurrences * max(0, len(new) - len(old))


def _joined_size(separator: str | bytes, items: Any) -> int:
    if not isinstance(items, Sized):
        return 0  # an iterator: the joined result is checked when it is made
    return len(separator) * max(0, len(items) - 1)


class _LimitedFormatter(SandboxedFormatter):
    def __init__(self, env: LimitedEnvironment, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._limited = env

    def format_field(self, value: Any, format_spec: str) -> Any:
        self._limited.check_spec(value, format_spec)
        return super().format_field(value, format_spec)


class _LimitedEscapeFormatter(_LimitedFormatter, EscapeFormatter):
    pass


def _guarded_filter(env: LimitedEnvironment, name: str, function: Callable[..., Any]) -> Any:
    """`function` with the budget ticked, the arguments that set a size checked first, and the
    result's size checked after. Keeps Jinja's pass_context/pass_environment marks."""
    check = _FILTER_CHECKS.get(name)

    @wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        if check is not None:
            check(env, _without_passed(function, args), kwargs)
        return env._checked_result(function(*args, **kwargs))

    return guarded


def _without_passed(function: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The filter's own arguments (value first), without a context Jinja passes in front."""
    return args[1:] if hasattr(function, "jinja_pass_arg") else args


def _check_width_args(env: LimitedEnvironment, args: tuple[Any, ...], kwargs: dict) -> None:
    numbers = [a for a in (*args[1:], *kwargs.values()) if isinstance(a, int)]
    env._check_widths([n for n in numbers if not isinstance(n, bool)])


def _check_format_filter(env: LimitedEnvironment, args: tuple[Any, ...], kwargs: dict) -> None:
    if args and isinstance(args[0], str):
        env._check_printf(args[0], tuple(args[1:]))


def _check_replace_filter(env: LimitedEnvironment, args: tuple[Any, ...], kwargs: dict) -> None:
    if len(args) >= 3:
        env._check_estimate(_replaced_size(str(args[0]), args[1], args[2]))


def _check_join_filter(env: LimitedEnvironment, args: tuple[Any, ...], kwargs: dict) -> None:
    separator = args[1] if len(args) > 1 else kwargs.get("d", "")
    if args and isinstance(separator, str):
        env._check_estimate(_joined_size(separator, args[0]))


def _check_sum_filter(env: LimitedEnvironment, args: tuple[Any, ...], kwargs: dict) -> None:
    start = args[2] if len(args) > 2 else kwargs.get("start", 0)
    if not isinstance(start, int | float) or isinstance(start, bool):
        raise LimitExceeded("sum starts from a number only (start=0)")


_FILTER_CHECKS: dict[str, Callable[[LimitedEnvironment, tuple[Any, ...], dict], None]] = {
    "center": _check_width_args,
    "indent": _check_width_args,
    "batch": _check_width_args,
    "slice": _check_width_args,
    "tojson": _check_width_args,
    "format": _check_format_filter,
    "replace": _check_replace_filter,
    "join": _check_join_filter,
    "sum": _check_sum_filter,
}
