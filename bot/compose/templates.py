"""Sandboxed Jinja2 rendering of post texts, templates and asks.

Inline texts from the campaign YAML and template files share one environment: inline texts are
registered under a name that says where they came from, so a template error in either is reported
with its origin. Post text is never HTML-escaped; only `.html` templates autoescape.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

INLINE_PREFIX = "inline:"


class TemplateProblem(Exception):
    """A template failed to compile or render; `template` and `line` say where."""

    def __init__(self, message: str, template: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.template = template
        self.line = line


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
    return value.get(primary) or next(iter(value.values()), "")


class _InlineLoader(BaseLoader):
    def __init__(self) -> None:
        self.sources: dict[str, str] = {}

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Any]:
        if template not in self.sources:
            raise TemplateNotFound(template)
        return self.sources[template], template, lambda: True


@dataclass(frozen=True)
class TemplateFile:
    name: str
    path: Path


class Templates:
    """Finds, compiles (once) and renders templates for one templates directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._inline = _InlineLoader()
        self.env = ImmutableSandboxedEnvironment(
            loader=ChoiceLoader([self._inline, FileSystemLoader(str(directory))]),
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
        """`{name}.{language}.j2`, falling back to `{name}.j2`."""
        for candidate in (f"{name}.{language}.j2", f"{name}.j2"):
            path = self.directory / candidate
            if path.is_file():
                return TemplateFile(candidate, path)
        return None

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
                    f"template syntax error: {exc.message}", name, exc.lineno
                ) from None
            except TemplateNotFound:
                raise TemplateProblem("template not found", name, None) from None
            self._compiled[name] = template
        return template

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        template = self.compile(name)
        try:
            text = template.render(context)
        except SecurityError as exc:
            raise TemplateProblem(
                f"not allowed in a template: {exc}", name, _template_line(template.filename or name)
            ) from None
        except TemplateError as exc:
            raise TemplateProblem(
                _describe(exc), name, _template_line(template.filename or name)
            ) from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise TemplateProblem(
                f"{type(exc).__name__}: {exc}", name, _template_line(template.filename or name)
            ) from None
        return unicodedata.normalize("NFC", text.strip())


def _describe(exc: TemplateError) -> str:
    message = exc.message or str(exc)
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
