"""Quote cards: every card of a 200-quote, two-language campaign drawn in both sizes (800
cards), and `kindling check` of the founding campaign against a checkout of main.

    .venv/bin/python benchmarks/bench_cards.py [--quotes N] [--runs R] [--main DIR]

`--main DIR`: a checkout of main with its own .venv (default /work/main if it has one); its
`kindling check` of the same campaign file is timed interleaved with this tree's, so machine
load hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bot.campaign.model import Campaign
from bot.cards.build import campaign_cards, card_png
from bot.checks.image_rules import card_problems

ROOT = Path(__file__).resolve().parents[1]
FOUNDING = ROOT / "campaigns" / "open-letter-2.yaml"
WORDS_CY = [
    "adfer",
    "dynoliaeth",
    "gynnes",
    "ŵyr",
    "ŷd",
    "gwasanaethau",
    "cyhoeddus",
    "tân",
    "cydgynhyrchu",
]
WORDS_EN = ["restore", "warm", "humanity", "public", "services", "fire", "co-production", "network"]


def campaign(quotes: int) -> Campaign:
    """`quotes` quotes of 4 to 30 words (deterministic), each with a Welsh and English text."""
    entries = []
    for number in range(quotes):
        length = 4 + (number * 7) % 27
        entries.append(
            {
                "id": f"q{number:04d}",
                "who": f"Person {number}",
                "role": {"cy": "Cyfarwyddwr", "en": "Director"},
                "organisation": "Co-production Wales",
                "text": {
                    "cy": " ".join(WORDS_CY[(number + i) % len(WORDS_CY)] for i in range(length)),
                    "en": " ".join(WORDS_EN[(number + i) % len(WORDS_EN)] for i in range(length)),
                },
                "source": "generated",
            }
        )
    return Campaign.model_validate(
        {
            "id": "bench",
            "name": {"cy": "Mainc", "en": "Bench"},
            "languages": ["cy", "en"],
            "active": {"start": "2026-12-01"},
            "links": {"letter": "https://copronet.example/open-letter-2"},
            "hashtags": ["CydgynhyrchuCymru"],
            "quote_pools": [{"id": "pool", "quotes": entries}],
        }
    )


def render_all(quotes: int) -> None:
    built = campaign(quotes)
    cards = campaign_cards(built)
    times = []
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        for card in cards:
            before = time.perf_counter()
            card_png(card, built.cards, None, None, Path(cache))
            times.append(time.perf_counter() - before)
        total = time.perf_counter() - started
        cached_started = time.perf_counter()
        for card in cards:
            card_png(card, built.cards, None, None, Path(cache))
        cached = time.perf_counter() - cached_started
    print(f"cards drawn: {len(cards)} ({quotes} quotes × 2 languages × 2 sizes)")
    print(
        f"  per card: median {statistics.median(times) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms; all: {total:.2f} s"
    )
    print(f"  again from the cache: {cached:.3f} s ({cached / len(cards) * 1000:.2f} ms a card)")


def layout_check(quotes: int) -> None:
    """What `kindling check` adds per campaign: every card laid out, no pixels drawn."""
    from bot.campaign.loader import LoadedCampaign

    built = campaign(quotes)
    loaded = LoadedCampaign(built, ROOT / "bench.yaml", _located())
    started = time.perf_counter()
    problems = card_problems(loaded)
    took = time.perf_counter() - started
    print(f"check's card layout of the same campaign: {took:.2f} s, problems: {len(problems)}")


def _located():  # type: ignore[no-untyped-def]
    from bot.campaign.yamlsource import load_yaml

    located, _ = load_yaml("id: bench\n", "bench.yaml")
    return located


def time_check(kindling: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [str(kindling), "check", str(FOUNDING), "--json"],
            cwd=kindling.parents[2],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - started)
    return times


def compare_check(main_dir: Path | None, runs: int) -> None:
    here = ROOT / ".venv" / "bin" / "kindling"
    trees = [("this tree", here)]
    if main_dir is not None and (main_dir / ".venv" / "bin" / "kindling").is_file():
        trees.append(("main", main_dir / ".venv" / "bin" / "kindling"))
    for _, kindling in trees:
        time_check(kindling, 1)  # warm-up
    results: dict[str, list[float]] = {name: [] for name, _ in trees}
    for _ in range(runs):  # interleaved
        for name, kindling in trees:
            results[name] += time_check(kindling, 1)
    for name, times in results.items():
        print(
            f"kindling check open-letter-2 ({name}): median {statistics.median(times):.3f} s, "
            f"min {min(times):.3f} s, max {max(times):.3f} s ({runs} runs)"
        )
    if "main" in results:
        ratio = statistics.median(results["this tree"]) / statistics.median(results["main"])
        print(f"  this tree / main: {ratio:.2f} (target: at most 1.20)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--main", type=Path, default=Path("/work/main"))
    args = parser.parse_args()
    render_all(args.quotes)
    layout_check(args.quotes)
    compare_check(args.main, args.runs)


if __name__ == "__main__":
    main()
