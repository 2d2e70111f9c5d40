"""The HTML report: a Jinja2 template whose labels are the action pages' gettext catalogues."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import bot.report.html as report_html
import bot.translations
from bot.campaign.model import Campaign
from bot.report.html import render_html, report_languages
from bot.report.model import Report, TargetResponse
from tests.report.test_collect import CAMPAIGN_YAML


def campaign_in(*languages: str) -> Campaign:
    data = yaml.safe_load(CAMPAIGN_YAML)
    data["languages"] = list(languages)
    data["name"] = {languages[0]: "Ymgyrch"}
    data["messages"][0]["text"] = {language: "Darllenwch" for language in languages}
    return Campaign.model_validate(data)


def one_silent_target() -> Report:
    report = Report("demo", ["cy", "en"], None, None)
    report.responses_by_target = [
        TargetResponse("ms-a", "Aelod A", "Caerdydd", "Plaid", 0, None, None)
    ]
    return report


@pytest.fixture
def catalogues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the catalogues, read instead of the real ones."""
    copy = tmp_path / "locale"
    shutil.copytree(bot.translations.LOCALE_DIR, copy)
    monkeypatch.setattr(bot.translations, "LOCALE_DIR", copy)
    report_html._catalogue.cache_clear()
    yield copy
    report_html._catalogue.cache_clear()


def test_the_labels_are_the_catalogues_translations(catalogues: Path) -> None:
    welsh = catalogues / "cy" / "LC_MESSAGES" / "kindling.po"
    text = welsh.read_text(encoding="utf-8")
    assert 'msgstr "Yn dawel"' in text
    welsh.write_text(text.replace('msgstr "Yn dawel"', 'msgstr "Distaw"'), encoding="utf-8")
    page = render_html(one_silent_target(), campaign_in("cy", "en"))
    assert '<span class="silent">Distaw <span class="alt" lang="en">/ Silent</span></span>' in page
    assert "Yn dawel" not in page


def test_label_languages_follow_the_campaign_and_fall_back_to_english() -> None:
    assert report_languages(campaign_in("cy", "en")) == ["cy", "en"]
    assert report_languages(campaign_in("en", "cy")) == ["en", "cy"]
    assert report_languages(campaign_in("fr", "cy")) == ["cy"]
    assert report_languages(campaign_in("fr")) == ["en"]
    english = render_html(one_silent_target(), campaign_in("fr"))
    assert '<html lang="en">' in english and "<title>Report: Ymgyrch</title>" in english
    assert 'class="alt"' not in english  # one language: no second label
    both = render_html(one_silent_target(), campaign_in("en", "cy"))
    assert '<h1>Report <span class="alt" lang="cy">/ Adroddiad</span>: Ymgyrch</h1>' in both
    assert "<title>Report / Adroddiad: Ymgyrch</title>" in both


def test_an_empty_report_says_no_data_in_every_section() -> None:
    page = render_html(Report("demo", ["cy"], None, None), campaign_in("cy"))
    assert page.count("<section>") == 13
    assert page.count("<p>Dim data</p>") == 13
    assert "<table>" not in page and "<svg" not in page
