"""Sandboxed Jinja2 rendering of post texts, templates and asks.

Inline texts from the campaign YAML and template files share one environment: inline texts are
registered under a name that says where they came from, so a template error in either is reported
with its origin. Post text is never HTML-escaped; only `.html` templates autoescape.

Templates come from volunteers like campaigns do: they are read only from inside the templates
folder (links followed), up to a size limit, and render under the limits of bot/compose/sandbox.py.
Whatever a template does ends as a TemplateProblem, never as a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    pass_context,
    select_autoescape,
)
from jinja2.loaders import split_template_path
from jinja2.runtime import Context
from jinja2.sandbox import SecurityError

from bot.campaign.confine import Refused, TooLarge, inside, is_file, read_limited
from bot.compose.printed import Unprintable, expression_at, occurrence, text_problem
from bot.compose.sandbox import LimitedEnvironment
from bot.compose.sizes import Budget, LimitExceeded, current_budget, reset_budget, set_budget
from bot.config import LimitsSettings
from bot.problems import PATH_CHARS, excerpt

INLINE_PREFIX = "inline:"


class TemplateProblem(Exception):
    """A template failed to compile or render; `template` and `line` say where. For a value a
    `{{ … }}` may not print, `col` and `expression` say which one, and `occurrence` how many
    times the same expression is written before it in the template."""

    def __init__(
        self,
        message: str,
        template: str,
        line: int | None,
        *,
        col: int | None = None,
        expression: str | None = None,
        occurrence: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.template = template
        self.line = line
        self.col = col
        self.expression = expression
        self.occurrence = occurrence


def hashtags_filter(tags: Iterable[str]) -> str:
    return " ".join(f"#{tag}" for tag in tags)


@pass_context
def local_filter(context: Context, value: str | Mapping[str, str] | None) -> str:
    """A name or role in the rendering's language: one text for all, or one per language."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    language = context.get("language")
    if language in value:
        return value[language]
    campaign = context.get("campaign")
    primary = campaign.languages[0] if campaign is not None else None
    found = value.get(primary) if isinstance(primary, str) else None
    return found or next(iter(value.values()), "")


class _InlineLoader(BaseLoader):
    def __init__(self) -> None:
        self.sources: dict[str, str] = {}

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Any]:
        if template not in self.sources:
            raise TemplateNotFound(template)
        return self.sources[template], template, lambda: True


class TemplateRefused(TemplateError):
    """A template name that leads outside the templates folder, or a file too large to read.
    Not a TemplateNotFound: a ChoiceLoader would take that for "try the next loader" and lose
    the reason."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class _FolderLoader(BaseLoader):
    """Template files from one folder: names resolve inside it (links followed), and a file is
    read only up to `max_bytes`."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)  # TemplateNotFound for '..'
        try:
            path = inside(self.directory, "/".join(pieces), "the templates folder")
        except Refused as refused:
            message = f"template '{excerpt(template, PATH_CHARS)}' {refused.message}"
            raise TemplateRefused(template, message) from None
        if not is_file(path):
            raise TemplateNotFound(template)
        try:
            source = read_limited(path, self.max_bytes)
            modified = path.stat().st_mtime_ns
        except TooLarge as too_large:
            message = f"{too_large.message} (limits.campaign_file_bytes in config.toml)"
            raise TemplateRefused(template, message) from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.reason if isinstance(exc, UnicodeDecodeError) else exc.strerror
            raise TemplateRefused(template, f"cannot read template: {reason}") from None
        filename = os.path.normpath(self.directory.joinpath(*pieces))
        return source, filename, lambda: _unchanged(path, modified)


def _unchanged(path: Path, modified: int) -> bool:
    try:
        return path.stat().st_mtime_ns == modified
    except OSError:
        return False


@dataclass(frozen=True)
class TemplateFile:
    name: str
    path: Path


class Templates:
    """Finds, compiles (once) and renders templates for one templates directory."""

    def __init__(self, directory: Path, limits: LimitsSettings | None = None) -> None:
        self.directory = directory
        self.limits = limits or LimitsSettings()
        self._inline = _InlineLoader()
        self.env = LimitedEnvironment(
            self.limits,
            loader=ChoiceLoader(
                [self._inline, _FolderLoader(directory, self.limits.campaign_file_bytes)]
            ),
            undefined=StrictUndefined,
            autoescape=select_autoescape(
                enabled_extensions=("html", "htm"), default_for_string=False, default=False
            ),
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["tags"] = hashtags_filter
        self.env.filters["local"] = local_filter
        self._compiled: dict[str, Template] = {}

    def file_for(self, name: str, language: str) -> TemplateFile | None:
        """`{name}.{language}.j2`, falling back to `{name}.j2`; only files inside the folder."""
        for candidate in (f"{name}.{language}.j2", f"{name}.j2"):
            try:
                resolved = inside(self.directory, candidate, "the templates folder")
            except Refused:
                return None
            if is_file(resolved):
                return TemplateFile(candidate, self.directory / candidate)
        return None

    def refusal(self, name: str) -> str | None:
        """Why the template name `name` (from a campaign) is not looked up at all, or None."""
        try:
            inside(self.directory, f"{name}.j2", "the templates folder")
        except Refused as refused:
            return refused.message
        return None

    @contextlib.contextmanager
    def campaign_budget(self) -> Iterator[None]:
        """All renderings inside share one deadline: limits.campaign_render_seconds."""
        deadline = time.monotonic() + self.limits.campaign_render_seconds
        token = _CAMPAIGN_DEADLINE.set(deadline)
        try:
            yield
        finally:
            _CAMPAIGN_DEADLINE.reset(token)

    def inline(self, origin: str, source: str) -> str:
        """Register an inline text under a name that records its origin; returns the name."""
        name = f"{INLINE_PREFIX}{origin}"
        self._inline.sources[name] = source
        return name

    def compile(self, name: str) -> Template:
        template = self._compiled.get(name)
        if template is None:
            try:
                template = self.env.get_template(name)
            except TemplateSyntaxError as exc:
                raise TemplateProblem(
                    f"template syntax error: {excerpt(exc.message, 120)}", name, exc.lineno
                ) from None
            except TemplateRefused as exc:
                raise TemplateProblem(str(exc.message), name, None) from None
            except TemplateNotFound:
                raise TemplateProblem("template not found", name, None) from None
            except RecursionError:
                raise TemplateProblem("the template nests too deeply", name, None) from None
            except Exception as exc:  # whatever else an untrusted template makes the compiler do
                raise TemplateProblem(_unexpected(exc), name, None) from None
            self._compiled[name] = template
        return template

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        template = self.compile(name)
        token = set_budget(self._budget())
        try:
            text = template.render(context)
        except Unprintable as exc:
            raise self._unprintable(exc) from None
        except Exception as exc:
            line = _template_line(template.filename or name)
            raise TemplateProblem(_render_failure(exc), name, line) from None
        finally:
            reset_budget(token)
        problem = text_problem(text)
        if problem is not None:
            raise TemplateProblem(problem, name, None)
        return unicodedata.normalize("NFC", text.strip())

    def _unprintable(self, exc: Unprintable) -> TemplateProblem:
        """The problem at the `{{ … }}` that printed the value, quoting it with the fix."""
        try:
            source = self.env.loader.get_source(self.env, exc.template)[0]  # type: ignore[union-attr]
        except Exception:  # the file changed or went since it was compiled: its line only
            source = ""
        found = expression_at(source, exc.line, exc.ordinal)
        if found is None:
            return TemplateProblem(f"a `{{{{ … }}}}` {exc}", exc.template, exc.line)
        col, expression = found
        return TemplateProblem(
            f"`{excerpt(expression)}` {exc}",
            exc.template,
            exc.line,
            col=col,
            expression=expression,
            occurrence=occurrence(source, exc.line, col, expression),
        )

    def _budget(self) -> Budget:
        now = time.monotonic()
        deadline, setting = now + self.limits.render_seconds, "render_seconds"
        shared = _CAMPAIGN_DEADLINE.get()
        outer = current_budget()
        if shared is not None and shared < deadline:
            deadline, setting = shared, "campaign_render_seconds"
        if outer is not None and outer.deadline < deadline:  # a rendering inside a rendering
            deadline, setting = outer.deadline, outer.deadline_setting
        return Budget(self.limits, deadline, setting)


_CAMPAIGN_DEADLINE: ContextVar[float | None] = ContextVar(
    "kindling_campaign_deadline", default=None
)


def _render_failure(exc: Exception) -> str:
    if isinstance(exc, LimitExceeded):
        return str(exc)
    if isinstance(exc, TemplateRefused):
        return str(exc.message)
    if isinstance(exc, TemplateNotFound):  # {% include %} of a file that is not there
        return f"template '{excerpt(exc.name)}' not found"
    if isinstance(exc, SecurityError):
        return f"not allowed in a template: {excerpt(exc, 120)}"
    if isinstance(exc, TemplateError):
        return _describe(exc)
    if isinstance(exc, RecursionError):
        return "calls or includes nest too deeply (does a template include itself?)"
    if isinstance(exc, MemoryError):
        return "the template needs more memory than there is"
    return _unexpected(exc)


def _unexpected(exc: Exception) -> str:
    return f"{type(exc).__name__}: {excerpt(exc, 120)}"


def _describe(exc: TemplateError) -> str:
    message = excerpt(exc.message or str(exc), 120)
    if type(exc).__name__ == "UndefinedError":
        return f"undefined name: {message}"
    return message


def _template_line(filename: str) -> int | None:
    """The template line of the innermost traceback frame Jinja attributed to `filename`."""
    tb = sys.exc_info()[2]
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
