"""Benchmark the length counter on adversarial texts: time against size must grow linearly.

    .venv/bin/python benchmarks/bench_lengths.py [--sizes 12500,25000,50000,100000,200000]
                                                 [--runs 3] [--old]

For each family of texts below and each size, `bot.compose.lengths.count` is timed on every
platform (x, bluesky, mastodon, threads, email) with its caches cleared first, best of `--runs`.
The table shows seconds, microseconds per character and the growth from the previous size: a
linear counter doubles when the size doubles (growth ~2), a quadratic one quadruples (~4).

Families (each text is `size` characters; tokens vary so no cache can hide the work):

- `run+dotted`: one long run without white space, then ` x.y` (issue 11: 26 s at 100,000
  before the tokenizer was fixed);
- `dotted-run`: one token of `size` characters with a single dot near its end;
- `chains<=16`: tokens of 16 dot-separated labels that end in no top-level domain, each
  different (no top-level domain: the URL scan is skipped);
- `chains+tld`: the same with `.co` second, so twitter-text's URL pattern must scan each: the
  most work it is still given per character;
- `chain>16`: one token `a.a.a....` (twitter-text alone takes 9 s on 800 labels);
- `prose`: Welsh and English sentences with a link, hashtags and emoji (the ordinary case);
- `emoji`, `mentions`: emoji runs, and `@user@server` mentions for Mastodon's counting.

`--old` also times the tokenizer pattern the counter used before, `\\S*\\.\\S*`, on the
`run+dotted` family (up to 50,000 characters: it is quadratic). The last line of output is one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import regex

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.compose import lengths

PROSE = (
    "Darllenwch y llythyr {n}: https://copronet.example/open-letter-{n} "
    "#CydgynhyrchuCymru \U0001f44d Read letter {n}’s ask, please. "
)


def _tokens(size: int, make: Callable[[int], str]) -> str:
    parts: list[str] = []
    total = 0
    number = 0
    while total < size:
        part = make(number)
        parts.append(part)
        total += len(part)
        number += 1
    return "".join(parts)[:size]


FAMILIES: dict[str, Callable[[int], str]] = {
    "run+dotted": lambda size: "a" * (size - 4) + " x.y",
    "dotted-run": lambda size: "a" * (size - 2) + ".y",
    "chains<=16": lambda size: _tokens(size, lambda n: f"{n:x}" + ".a" * 15 + "- "),
    "chains+tld": lambda size: _tokens(size, lambda n: f"{n:x}.co" + ".a" * 14 + "- "),
    "chain>16": lambda size: ("a." * size)[:size],
    "prose": lambda size: _tokens(size, lambda n: PROSE.format(n=n)),
    "emoji": lambda size: _tokens(size, lambda n: f"\U0001f44d\U0001f3fd{n} "),
    "mentions": lambda size: _tokens(size, lambda n: f"@u{n}@social.example "),
}


def time_count(text: str, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        lengths.count.cache_clear()
        lengths._token_urls.cache_clear()
        started = time.perf_counter()
        for name in lengths.PLATFORMS:
            lengths.count(name, text)
        best = min(best, time.perf_counter() - started)
    return best


def time_old_tokenizer(text: str, runs: int) -> float:
    old = regex.compile(r"\S*\.\S*")
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        list(old.finditer(text))
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="12500,25000,50000,100000,200000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--old", action="store_true", help="also time the old tokenizer")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    results: dict[str, list[dict[str, float]]] = {}
    print(f"{'family':12} {'chars':>8} {'seconds':>9} {'µs/char':>8} {'growth':>7}")
    for family, make in FAMILIES.items():
        results[family] = _series(family, make, sizes, args.runs, time_count)
    if args.old:
        old_sizes = [size for size in sizes if size <= 50_000]
        make = FAMILIES["run+dotted"]
        results["old tokenizer"] = _series("old tokenizer", make, old_sizes, 1, time_old_tokenizer)
    print(
        json.dumps(
            {
                "python": platform.python_version(),
                "runs": args.runs,
                "results": results,
            }
        )
    )
    return 0


def _series(
    family: str,
    make: Callable[[int], str],
    sizes: list[int],
    runs: int,
    timer: Callable[[str, int], float],
) -> list[dict[str, float]]:
    rows: list[dict[str, float]] = []
    previous: float | None = None
    for size in sizes:
        text = make(size)
        assert len(text) == size, (family, len(text), size)
        seconds = timer(text, runs)
        growth = seconds / previous if previous else 0.0
        previous = seconds
        rows.append({"chars": size, "seconds": round(seconds, 5), "growth": round(growth, 2)})
        print(
            f"{family:12} {size:8,} {seconds:9.4f} {seconds / size * 1e6:8.2f} "
            f"{f'{growth:.2f}' if growth else '':>7}"
        )
    return rows


if __name__ == "__main__":
    sys.exit(main())
