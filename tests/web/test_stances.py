"""The action page offers each target only the wordings for its stance; clicks keep their number."""

from __future__ import annotations

import itertools
import re
import textwrap
from pathlib import Path

import pytest

from tests.web.conftest import token_for

# Made-up people and handles.
STANCE_CAMPAIGN = """\
    id: stance
    name: {en: "A Made-up Campaign with Stances"}
    languages: [en]
    active: {start: 2026-12-01, end: 2027-01-31}
    links: {site: "https://example.org/stance"}
    targets:
      - {id: ally, name: Ally Ffug, constituency: Somewhere, stance: supportive, handles: {bluesky: ally.ffug.example}}
      - {id: foe, name: Foe Ffug, constituency: Elsewhere, stance: opposed, handles: {bluesky: foe.ffug.example}}
    ask_platforms: [bluesky]
    asks:
      - id: ask-stance
        wordings:
          en:
            - "{{ handle }}, for everyone: {{ link }}"
            - {text: "{{ handle }}, thank you: {{ link }}", stances: [supportive]}
            - {text: "{{ handle }}, please reconsider: {{ link }}", stances: [opposed]}
            - {text: "{{ handle }}, think again: {{ link }}", stances: [opposed, undecided]}
    """
PREVIEW = re.compile(r'<blockquote class="preview" lang="en"><p>(.*?)</p>')


@pytest.fixture
def project(project: Path) -> Path:
    (project / "campaigns" / "stance.yaml").write_text(
        textwrap.dedent(STANCE_CAMPAIGN), encoding="utf-8"
    )
    return project


def _previews(client, query: str, views: int) -> list[str]:
    return [
        preview
        for _ in range(views)
        for preview in PREVIEW.findall(client.get(f"/stance?q={query}").text)
    ]


def test_the_page_rotates_each_target_through_its_own_wordings(client):
    foe = _previews(client, "foe", 6)
    assert len(foe) == 6
    assert sorted(set(foe)) == [
        "@foe.ffug.example, for everyone: https://example.org/stance",
        "@foe.ffug.example, please reconsider: https://example.org/stance",
        "@foe.ffug.example, think again: https://example.org/stance",
    ]
    assert all(a != b for a, b in itertools.pairwise(foe))  # never twice in a row
    ally = _previews(client, "ally", 4)
    assert sorted(set(ally)) == [
        "@ally.ffug.example, for everyone: https://example.org/stance",
        "@ally.ffug.example, thank you: https://example.org/stance",
    ]


def test_served_links_and_their_clicks_keep_the_wordings_place_in_the_list(app, client, clicks):
    served = {
        (link.target_id, link.wording)
        for link in app.web.links.values()
        if link.campaign_id == "stance"
    }
    assert served == {("ally", 1), ("ally", 2), ("foe", 1), ("foe", 3), ("foe", 4)}
    token = token_for(app, campaign_id="stance", target_id="foe", wording=4)
    assert client.get(f"/go/{token}").status_code == 302
    (row,) = clicks()
    assert (row.target_id, row.ask_id, row.wording) == ("foe", "ask-stance", 4)
