"""A Jinja sandbox with limits on work: what a volunteer's template may make Kindling compute.

Jinja's ImmutableSandboxedEnvironment stops templates reaching Python's internals, not work:
`'a' * 10**9`, nested `range` loops, `slot.strftime('%Y' * 100000)` or a macro calling itself
would stall `kindling check` or the daemon (a single C call holds the interpreter lock, so one
big allocation stalls every thread). Each rendering here runs under a budget
(bot/compose/sizes.py, limits from bot.config.LimitsSettings): a deadline checked at every
call, filter, loop iteration and output join; a count of loop iterations; a depth of nested
calls; the size of everything a template builds. An exceeded limit raises LimitExceeded, which
names its setting.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from datetime import time as clock_time
from functools import update_wrapper
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from markupsafe import EscapeFormatter, Markup
from pydantic import BaseModel

from bot.compose.printed import check_printed
from bot.compose.sizes import (
    Budget,
    LimitExceeded,
    SizeChecks,
    check_power,
    current_budget,
    guarded_filter,
    joined_size,
    replaced_size,
    tick,
)
from bot.config import LimitsSettings

# Methods of str, bytes and int whose first argument is the size of the result.
_SIZE_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "to_bytes"})


class GuardedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with every loop iterable, every `~` result and every printed
    value passed through the environment's guards (no other hook sees them: they are plain
    Python in compiled code)."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        # Jinja folds a constant `{{ none }}` into text at compile time: every printed value
        # is checked when it is printed instead.
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_pre(node, frame, finalize)
        if not isinstance(node, nodes.TemplateData):
            self.write("environment.guard_printed(")

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if not isinstance(node, nodes.TemplateData):
            # Which `{{ … }}` of its line this is (Jinja keeps lines, not columns), so an
            # error can point at the expression itself.
            printed = self.__dict__.setdefault("_printed_on_line", {})
            ordinal = printed.get(node.lineno, 0)
            printed[node.lineno] = ordinal + 1
            self.write(f", {self.name!r}, {node.lineno}, {ordinal})")
        super()._output_child_post(node, frame, finalize)

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
        self.sizes = SizeChecks(limits)
        self.globals["range"] = self.limited_range
        self.globals.pop("lipsum", None)  # n paragraphs of filler: nothing a post needs
        for name, function in list(self.filters.items()):
            self.filters[name] = guarded_filter(self.sizes, name, function)

    # -- hooks the compiled template calls ----------------------------------------------------

    def concat(self, pieces: Iterable[str]) -> str:  # type: ignore[override]
        """Every output join (a template's text, a macro's, a `{% set %}` block's), counted
        piece by piece so that it stops before the text is built. (Loops and calls making the
        pieces tick the deadline themselves.)"""
        parts: list[str] = []
        total = 0
        limit = self.limits.rendered_chars
        for piece in pieces:
            total += len(piece)
            if total > limit:
                self.sizes.too_long(total)
            parts.append(piece)
        tick()
        return "".join(parts)

    def guard_printed(self, value: Any, template: str | None, line: int, ordinal: int) -> Any:
        return check_printed(value, template or "", line, ordinal)

    def guard_size(self, value: Any) -> Any:
        return self.sizes.result(value)

    def guard_loop(self, iterable: Iterable[Any]) -> Iterator[Any]:
        budget = current_budget()
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
        budget = current_budget()
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
        return __self.sizes.result(result)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        tick()
        if operator == "*":
            self.sizes.repeat(left, right)
        elif operator == "**":
            check_power(left, right)
        elif operator == "%" and isinstance(left, str | bytes):
            self.sizes.printf(left, right)
        return self.sizes.result(self.binop_table[operator](left, right))

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

    def _check_call(self, obj: Any, args: tuple[Any, ...]) -> None:
        name = getattr(obj, "__name__", "")
        owner = getattr(obj, "__self__", None)
        if name == "strftime" and isinstance(owner, date | clock_time) and args:
            self.sizes.strftime(args[0])
        elif not isinstance(owner, str | bytes | int) or isinstance(owner, bool):
            return
        elif name in _SIZE_METHODS and args and isinstance(args[0], int):
            self.sizes.widths([args[0]])
        elif isinstance(owner, str | bytes) and name == "replace" and len(args) >= 2:
            self.sizes.estimate(replaced_size(owner, args[0], args[1]))
        elif isinstance(owner, str | bytes) and name == "join" and args:
            self.sizes.estimate(joined_size(owner, args[0]))


def _counted(iterable: Iterable[Any], budget: Budget) -> Iterator[Any]:
    limit = budget.limits.loop_iterations
    for item in iterable:
        budget.iterations += 1
        if budget.iterations > limit:
            raise LimitExceeded(f"loops ran more than {limit:,} times", "loop_iterations", limit)
        budget.tick()
        yield item


class _LimitedFormatter(SandboxedFormatter):
    def __init__(self, env: LimitedEnvironment, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._sizes = env.sizes

    def format_field(self, value: Any, format_spec: str) -> Any:
        self._sizes.spec(value, format_spec)
        return super().format_field(value, format_spec)


class _LimitedEscapeFormatter(_LimitedFormatter, EscapeFormatter):
    pass
