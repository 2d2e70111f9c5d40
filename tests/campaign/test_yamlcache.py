"""The parsed-YAML cache (bot/campaign/yamlcache.py): a hit is exactly what parsing gives, any
change of text parses again, and a cache that cannot be used only costs time."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.campaign import yamlcache
from bot.campaign.loader import load_campaign
from bot.campaign.yamlsource import load_yaml

TEXT = """\
id: demo
name: {cy: "Ymgyrch", en: Campaign}
languages: [cy, en]
active: {start: 2026-12-01, end: 2027-01-31}
messages:
  - id: launch
    schedule: {at: "2026-12-02 10:00"}
    text:
      cy: >
        Darllenwch
        y llythyr
      en: Read
targets:
  - {id: ms-a, name: Aelod A, constituency: Caerdydd, party: Plaid, handles: {x: ms_a}}
"""


def parsed(located):
    return (located.data, located.file, located.values, located.keys)


def test_a_hit_is_what_parsing_gives_and_does_not_parse(tmp_path, monkeypatch):
    path, cache = tmp_path / "demo.yaml", tmp_path / "cache"
    path.write_text(TEXT, encoding="utf-8")
    fresh, problems = load_yaml(TEXT, "demo.yaml")
    assert fresh is not None and not problems
    first, _ = yamlcache.load_yaml_cached(TEXT, "demo.yaml", path, cache)
    assert len(list(cache.iterdir())) == 1

    def no_parse(*_args):
        raise AssertionError("parsed although cached")

    monkeypatch.setattr(yamlcache, "load_yaml", no_parse)
    again, problems = yamlcache.load_yaml_cached(TEXT, "shown/as.yaml", path, cache)
    assert again is not None and not problems
    assert parsed(first) == parsed(fresh)
    assert parsed(again) == (fresh.data, "shown/as.yaml", fresh.values, fresh.keys)
    assert again.where(("messages", 0, "text", "cy")) == fresh.where(("messages", 0, "text", "cy"))


def test_a_changed_text_is_parsed_again_and_replaces_the_entry(tmp_path):
    path, cache = tmp_path / "demo.yaml", tmp_path / "cache"
    yamlcache.load_yaml_cached(TEXT, "demo.yaml", path, cache)
    changed = TEXT.replace("Aelod A", "Aelod B")
    located, _ = yamlcache.load_yaml_cached(changed, "demo.yaml", path, cache)
    assert located is not None and located.data["targets"][0]["name"] == "Aelod B"
    assert len(list(cache.iterdir())) == 1  # one entry per campaign file
    again, _ = yamlcache.load_yaml_cached(changed, "demo.yaml", path, cache)
    assert parsed(again) == parsed(located)


def test_problems_are_never_cached(tmp_path):
    path, cache = tmp_path / "demo.yaml", tmp_path / "cache"
    located, problems = yamlcache.load_yaml_cached("a: [1\n", "demo.yaml", path, cache)
    assert located is None and problems == load_yaml("a: [1\n", "demo.yaml")[1]
    assert not cache.exists() or not list(cache.iterdir())


@pytest.mark.parametrize("damage", ["garbage", "truncated", "not a directory"])
def test_a_cache_that_cannot_be_used_gives_the_parsed_result(tmp_path, damage):
    path, cache = tmp_path / "demo.yaml", tmp_path / "cache"
    fresh, _ = load_yaml(TEXT, "demo.yaml")
    if damage == "not a directory":
        cache.write_text("a file where the cache directory would be")
    else:
        yamlcache.load_yaml_cached(TEXT, "demo.yaml", path, cache)
        (entry,) = cache.iterdir()
        data = entry.read_bytes()
        entry.write_bytes(b"\x00\xff junk" if damage == "garbage" else data[: len(data) // 2])
    for _ in range(2):
        located, problems = yamlcache.load_yaml_cached(TEXT, "demo.yaml", path, cache)
        assert located is not None and not problems
        assert parsed(located) == parsed(fresh)


def test_load_campaign_with_the_cache_loads_the_same_campaign(tmp_path: Path):
    path = tmp_path / "demo.yaml"
    path.write_text(TEXT, encoding="utf-8")
    plain, problems = load_campaign(path)
    assert plain is not None and not problems
    for _ in range(2):  # a miss, then a hit
        cached, problems = load_campaign(path, yaml_cache=tmp_path / "cache")
        assert cached is not None and not problems
        assert cached.campaign == plain.campaign
        assert parsed(cached.located) == parsed(plain.located)
