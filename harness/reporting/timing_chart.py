"""Timing charts for report.html: the declared window as a band, the observed time(s) as marks.

A timing item of report.json (``scenarios[].evidence.timings[]``) is one of two shapes:

- a single timer: ``{"name", "declared", "lower", "upper", "observed": number | null, "verdict"}``
  (an idle close, a token expiry, the longest ping interval);
- a schedule: ``"observed"`` and ``"expected"`` are lists (e.g. the gaps between retries), and
  ``"lower"``/``"upper"`` are either lists (one window per gap) or numbers (the same window for
  every gap). Each gap becomes one row: band, expected tick, observed mark.

Anything missing or not a number is drawn as missing, never guessed. Only numbers computed here
reach the SVG; every label is text that the template escapes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

WIDTH = 560          # the SVG's user units; CSS scales it down on narrow screens
LABEL_W = 64         # left column for the row label ("gap 3")
PLOT_W = 440         # the time axis
ROW_H = 22
AXIS_H = 20


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None (booleans and strings are not times)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def seconds(value: float | None, missing: str = "never") -> str:
    """A time in seconds, three significant digits at most, no exponent: 0.0123 s, 1.5 s, 905 s."""
    if value is None:
        return missing
    if value == 0:
        return "0 s"
    digits = min(max(0, 2 - math.floor(math.log10(abs(value)))), 4)
    text = f"{value:.{digits}f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + " s"


@dataclass
class ChartRow:
    label: str
    lower: float | None
    upper: float | None
    expected: float | None
    observed: float | None
    within: bool
    y: float = 0.0
    band_x: float = 0.0
    band_w: float = 0.0
    expected_x: float | None = None
    observed_x: float | None = None


@dataclass
class Tick:
    x: float
    label: str


@dataclass
class TimingChart:
    name: str
    verdict: str
    declared: str
    failed: bool
    rows: list[ChartRow]
    ticks: list[Tick] = field(default_factory=list)
    height: float = 0.0
    summary: str = ""

    @property
    def width(self) -> int:
        return WIDTH

    @property
    def plot_left(self) -> int:
        return LABEL_W

    @property
    def plot_right(self) -> int:
        return LABEL_W + PLOT_W


def _at(values: Any, i: int) -> float | None:
    if isinstance(values, list):
        return number(values[i]) if i < len(values) else None
    return number(values)


def _rows(item: dict[str, Any]) -> list[ChartRow]:
    observed, expected = item.get("observed"), item.get("expected")
    lower, upper = item.get("lower"), item.get("upper")
    lists = [v for v in (observed, expected, lower, upper) if isinstance(v, list)]
    if not lists:
        exp = number(expected) if expected is not None else number(item.get("declared"))
        rows = [ChartRow("", number(lower), number(upper), exp, number(observed), False)]
    else:
        count = max(len(v) for v in lists)
        rows = [ChartRow(f"gap {i + 1}", _at(lower, i), _at(upper, i), _at(expected, i),
                         _at(observed, i), False) for i in range(count)]
    for row in rows:
        row.within = (row.observed is not None
                      and (row.lower is None or row.observed >= row.lower)
                      and (row.upper is None or row.observed <= row.upper))
    return rows


def _nice_step(span: float) -> float:
    raw = span / 4
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def chart(item: dict[str, Any]) -> TimingChart:
    """The chart of one timing item, laid out in SVG user units."""
    rows = _rows(item)
    values = [v for r in rows for v in (r.lower, r.upper, r.expected, r.observed) if v is not None]
    top = max(values, default=1.0) * 1.1 or 1.0
    step = _nice_step(top)
    top = step * math.ceil(top / step)

    def x(t: float) -> float:
        return round(LABEL_W + PLOT_W * min(max(t, 0.0), top) / top, 1)

    for i, row in enumerate(rows):
        row.y = AXIS_H + i * ROW_H
        lo = row.lower if row.lower is not None else 0.0
        hi = row.upper if row.upper is not None else top
        row.band_x, row.band_w = x(lo), max(round(x(hi) - x(lo), 1), 1.0)
        row.expected_x = x(row.expected) if row.expected is not None else None
        row.observed_x = x(row.observed) if row.observed is not None else None
    ticks = [Tick(x(k * step), seconds(k * step)) for k in range(int(round(top / step)) + 1)]
    verdict = str(item.get("verdict", ""))
    failed = verdict.lower() not in ("on-time", "pass", "ok", "") or not all(r.within for r in rows)
    declared = number(item.get("declared"))
    out = TimingChart(name=str(item.get("name", "timing")), verdict=verdict,
                      declared=seconds(declared) if declared is not None else "",
                      failed=failed, rows=rows, ticks=ticks,
                      height=AXIS_H + len(rows) * ROW_H + 6)
    out.summary = "; ".join(
        f"{(r.label + ': ') if r.label else ''}observed {seconds(r.observed)}, "
        f"window [{seconds(r.lower, '0 s')}, {seconds(r.upper, 'unbounded')}]" for r in rows)
    return out
