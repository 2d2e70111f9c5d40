"""Sandboxed Jinja2: strict names, no escaping for post text, escaping for HTML, file lookup."""

from __future__ import annotations

import pytest

from bot.compose.templates import TemplateProblem, Templates


@pytest.fixture
def templates(workdir, write):
    def _make(files: dict[str, str] | None = None) -> Templates:
        for name, text in (files or {}).items():
            write(f"templates/{name}", text)
        return Templates(workdir / "templates")

    return _make


def test_per_language_file_with_fallback(templates):
    found = templates({"quote.cy.j2": "cy", "quote.j2": "any"})
    assert found.file_for("quote", "cy").name == "quote.cy.j2"
    assert found.file_for("quote", "en").name == "quote.j2"
    assert found.file_for("missing", "en") is None


def test_post_text_is_not_html_escaped_and_is_nfc(templates):
    t = templates()
    name = t.inline("c.yaml:1:1", "{{ text }} & <b> {{ tags | tags }}")
    decomposed = "w\u0302"  # w + combining circumflex: ŵ in NFD
    assert t.render(name, {"text": f"Tom & Jerry {decomposed}", "tags": ["Cymru", "Wales"]}) == (
        "Tom & Jerry ŵ & <b> #Cymru #Wales"
    )


def test_html_templates_autoescape(templates):
    t = templates({"page.html": "<p>{{ text }}</p>"})
    assert t.render("page.html", {"text": "<script>"}) == "<p>&lt;script&gt;</p>"


def test_undefined_name_is_an_error_with_its_line(templates):
    t = templates({"m.j2": "one\ntwo {{ nope }}\n"})
    with pytest.raises(TemplateProblem) as problem:
        t.render("m.j2", {})
    assert (problem.value.line, problem.value.message) == (2, "undefined name: 'nope' is undefined")


def test_syntax_error_has_its_line(templates):
    t = templates({"m.j2": "ok\n{% if %}\n"})
    with pytest.raises(TemplateProblem) as problem:
        t.compile("m.j2")
    assert problem.value.line == 2
    assert problem.value.message.startswith("template syntax error:")


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ items.append(1) }}",
        "{{ mapping.update(a=1) }}",
    ],
)
def test_sandbox_blocks_internals_and_mutation(templates, source):
    t = templates()
    name = t.inline("c.yaml:1:1", source)
    with pytest.raises(TemplateProblem) as problem:
        t.render(name, {"items": [], "mapping": {}})
    assert problem.value.message.startswith("not allowed in a template:")


def test_local_filter_picks_the_language_then_the_primary(templates):
    class Campaign:
        languages = ("cy", "en")

    t = templates()
    name = t.inline("c.yaml:1:1", "{{ who | local }}")
    who = {"cy": "Prif Weinidog Cymru", "en": "First Minister of Wales"}
    assert (
        t.render(name, {"who": who, "language": "en", "campaign": Campaign()})
        == "First Minister of Wales"
    )
    assert (
        t.render(name, {"who": {"cy": "Prif Weinidog"}, "language": "en", "campaign": Campaign()})
        == "Prif Weinidog"
    )
    assert (
        t.render(name, {"who": "Anna Coote", "language": "cy", "campaign": Campaign()})
        == "Anna Coote"
    )
