"""Postcodes, the Senedd 2026 pairings file, and the interface catalogs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.problems import ProblemsFound
from bot.web.finder import (
    DEFAULT_PAIRINGS,
    fold,
    load_pairings,
    load_postcode_table,
    normalise_postcode,
)
from bot.web.pages import UI_LANGUAGES, catalog_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("cf101aa", "CF10 1AA"),
        (" CF10   1AA ", "CF10 1AA"),
        ("sw1a1aa", "SW1A 1AA"),
        ("ll57 2", "LL57 2"),
        ("SA1", "SA1"),
        ("hello", None),
        ("CF10 1AAA", None),
        ("<script>", None),
        ("", None),
    ],
)
def test_normalise_postcode(typed, key):
    assert normalise_postcode(typed) == key


def test_lookup_whole_then_sector_then_district(tmp_path):
    table = tmp_path / "p.csv"
    table.write_text(
        "postcode,constituency\nCF10 1AA,Alpha\nCF10 1,Beta\nCF10,Gamma\nSA1,Delta\nSA1,Epsilon\n",
        encoding="utf-8",
    )
    loaded = load_postcode_table(table)
    assert loaded.lookup("CF10 1AA") == ("Alpha",)
    assert loaded.lookup("CF10 1ZZ") == ("Beta",)
    assert loaded.lookup("CF10 2AB") == ("Gamma",)
    assert loaded.lookup("SA1 1AA") == ("Delta", "Epsilon")  # a district split between two
    assert loaded.lookup("LL11 1AA") == ()


def test_a_bad_table_is_refused_with_line_numbers(tmp_path):
    table = tmp_path / "p.csv"
    table.write_text("postcode,westminster\nCF10 1AA,Nowhere\nnot a code,Cardiff West\n")
    with pytest.raises(ProblemsFound) as found:
        load_postcode_table(table)
    messages = [f"{p.line}: {p.message}" for p in found.value.problems]
    assert messages == [
        "2: 'Nowhere' is not in the pairings file",
        "3: 'not a code' is not a postcode, sector or district",
    ]
    table.write_text("code,area\n")
    with pytest.raises(ProblemsFound, match="missing column"):
        load_postcode_table(table)


def test_the_senedd_2026_pairings_pair_32_seats_into_16():
    pairings = load_pairings(DEFAULT_PAIRINGS)
    assert len(pairings) == 32
    senedd = {}
    for westminster, constituency in pairings.items():
        senedd.setdefault(constituency, []).append(westminster)
    assert len(senedd) == 16 and all(len(seats) == 2 for seats in senedd.values())
    assert sorted(senedd["Caerdydd Penarth"]) == ["cardiff south and penarth", "cardiff west"]
    with DEFAULT_PAIRINGS.open(encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == ["westminster", "senedd"]


def test_fold():
    assert fold("Siân ŴYN") == "sian wyn"


def _interface_messages() -> set[str]:
    found = set()
    for directory, method in (
        ("templates/web", "jinja2"),
        ("bot/report/templates", "jinja2"),  # the HTML report shares the catalogues
        ("bot/web", "python"),
    ):
        options = {"**.html": {"extensions": "jinja2.ext.i18n"}} if method == "jinja2" else {}
        pattern = "**.html" if method == "jinja2" else "**.py"
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / directory,
            method_map=[(pattern, method)],
            options_map=options,
            keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None},
        ):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


@pytest.mark.parametrize("language", UI_LANGUAGES)
def test_every_interface_string_is_translated(language):
    with catalog_path(language).open("rb") as source:
        catalog = read_po(source, locale=language)
    used = _interface_messages()
    assert len(used) > 40
    translated = {}
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        translated[key] = strings
    missing = sorted(used - set(translated))
    assert missing == [], f"not in {language}/kindling.po: {missing}"
    empty = sorted(key for key, strings in translated.items() if key in used and not all(strings))
    assert empty == [], f"untranslated in {language}: {empty}"
    stale = sorted(set(translated) - used)
    assert stale == [], f"no longer used, remove from {language}/kindling.po: {stale}"
    if language == "cy":
        plural = [strings for key, strings in translated.items() if len(strings) > 1]
        assert plural and all(len(strings) == 6 for strings in plural)
