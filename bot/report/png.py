"""The report's charts as PNG images, for email: Gmail and Outlook show no SVG.

The geometry is the HTML report's (`line_chart`, `bar_chart` in bot/report/html.py), drawn with
Pillow at twice the size (sharp on high-density screens; the email shows it at the chart's
width). Pillow is imported here, when a chart is drawn, never by an idle daemon.
"""

from __future__ import annotations

import io
from functools import cache
from typing import TYPE_CHECKING

from bot.report.html import BarChart, LineChart

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

SCALE = 2
AXIS = "#888888"
TEXT = "#222222"
BAR = "#2471a3"


@cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    return ImageFont.load_default(size=11 * SCALE)


def _canvas(width: int, height: int) -> tuple[object, ImageDraw.ImageDraw]:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width * SCALE, height * SCALE), "white")
    return image, ImageDraw.Draw(image)


def _png(image: object) -> bytes:
    from PIL import Image

    assert isinstance(image, Image.Image)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _xy(x: float, y: float) -> tuple[float, float]:
    return x * SCALE, y * SCALE


def _text(draw: ImageDraw.ImageDraw, x: float, y: float, text: str, anchor: str) -> None:
    draw.text(_xy(x, y), text, fill=TEXT, font=_font(), anchor=anchor)


def _ticks(draw: ImageDraw.ImageDraw, chart: LineChart | BarChart) -> None:
    bottom = chart.top + chart.plot_h
    for x, day in chart.ticks:
        _text(draw, x, bottom + 12, day, "mm")
    _text(draw, chart.left - 4, chart.top + 4, str(chart.peak), "rs")


def line_chart_png(chart: LineChart) -> bytes:
    image, draw = _canvas(chart.width, chart.height)
    bottom, right = chart.top + chart.plot_h, chart.left + chart.plot_w
    draw.line([_xy(chart.left, bottom), _xy(right, bottom)], fill=AXIS, width=SCALE)
    draw.line([_xy(chart.left, chart.top), _xy(chart.left, bottom)], fill=AXIS, width=SCALE)
    _text(draw, chart.left - 4, bottom, "0", "rs")
    _ticks(draw, chart)
    for line in chart.lines:
        points = [_xy(x, y) for x, y in line.points]
        if len(points) == 1:
            (x, y), r = points[0], 3 * SCALE
            draw.ellipse([x - r, y - r, x + r, y + r], fill=line.colour)
        else:
            draw.line(points, fill=line.colour, width=2 * SCALE, joint="curve")
        box = [*_xy(right + 10, line.legend_y - 9), *_xy(right + 20, line.legend_y + 1)]
        draw.rectangle(box, fill=line.colour)
        _text(draw, right + 24, line.legend_y, line.name, "ls")
    return _png(image)


def bar_chart_png(chart: BarChart) -> bytes:
    image, draw = _canvas(chart.width, chart.height)
    bottom = chart.top + chart.plot_h
    right = chart.left + chart.plot_w
    draw.line([_xy(chart.left, bottom), _xy(right, bottom)], fill=AXIS, width=SCALE)
    for bar in chart.bars:
        if bar.height > 0:
            box = [*_xy(bar.x, bar.y), *_xy(bar.x + bar.width, bar.y + bar.height)]
            draw.rectangle(box, fill=BAR)
    _ticks(draw, chart)
    return _png(image)
