"""Kindling's interface text in Welsh and English: one gettext catalogue per language, shared by
the action pages (bot/web/pages.py) and the HTML report (bot/report/html.py).

The catalogues are `bot/web/locale/{cy,en}/LC_MESSAGES/kindling.po` (beside the web pages, their
first user). Each is compiled in memory when loaded (Babel reads the .po and writes a .mo to a
buffer, which Python's gettext reads), so no compiled file is kept in git to drift from its
source. The msgid is the English text; tests/web/test_finder.py fails for any string the pages
or the report use without a translation in both catalogues, or a msgid neither uses.
"""

from __future__ import annotations

import io
from gettext import GNUTranslations
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "web" / "locale"
DOMAIN = "kindling"
# The languages with a catalogue, Welsh first.
CATALOG_LANGUAGES = ("cy", "en")


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_translations(language: str) -> GNUTranslations:
    """The compiled catalogue of `language` (cy or en)."""
    with catalog_path(language).open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return GNUTranslations(buffer)
