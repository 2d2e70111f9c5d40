"""Text laid out in a box: wrapped at word boundaries and sized down until it fits, never cut.

Pure measuring with the font's metrics, no pixels: `kindling check` uses it to find a quote too
long for its card without drawing one.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.cards import fonts

LINE_SPACING = 1.2  # line height as a multiple of the font's ascent + descent


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Block:
    """Lines of one font file at one size, and the height they take."""

    font_file: str
    size: int
    lines: tuple[str, ...]
    line_height: int
    height: int

    def widths(self) -> list[float]:
        font = fonts.load(self.font_file, self.size)
        return [font.getlength(line) for line in self.lines]


def wrap(words: list[str], font_file: str, size: int, width: int) -> list[str] | None:
    """Words joined into lines no wider than `width` (greedy, at spaces); None when one word
    alone is wider: a word is never cut."""
    font = fonts.load(font_file, size)
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if font.getlength(word) > width:
            return None
        lines.append(current)
        current = word
    if current:
        lines.append(current)
    return lines


def block_height(font_file: str, size: int, count: int) -> tuple[int, int]:
    """The line height, and the height of `count` lines: the last line ends at its descent."""
    ascent, descent = fonts.load(font_file, size).getmetrics()
    line_height = round((ascent + descent) * LINE_SPACING)
    return line_height, line_height * (count - 1) + ascent + descent


def fit(
    text: str, font_file: str, box: Box, largest: int, smallest: int, max_lines: int = 99
) -> Block | None:
    """The largest size from `largest` down to `smallest` at which `text` fits the box, wrapped
    at word boundaries in at most `max_lines` lines; None if it fits at none. Found by halving
    the range: a text that fits at one size fits at every smaller one (the few exceptions,
    where a smaller size wraps worse, only cost a point of size)."""
    words = text.split()
    best: Block | None = None
    low, high = smallest, largest
    while low <= high:
        size = (low + high) // 2
        block = _block(words, font_file, size, box, max_lines)
        if block is None:
            high = size - 1
        else:
            best, low = block, size + 1
    return best


def _block(words: list[str], font_file: str, size: int, box: Box, max_lines: int) -> Block | None:
    lines = wrap(words, font_file, size, box.width)
    if lines is None or len(lines) > max_lines:
        return None
    line_height, height = block_height(font_file, size, len(lines))
    if height > box.height:
        return None
    return Block(font_file, size, tuple(lines), line_height, height)
