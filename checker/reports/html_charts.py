"""Inline SVG charts of the HTML report: horizontal bars, and records over time by outcome.

Every chart is drawn in a fixed coordinate system (`viewBox`) and scaled to its panel's width
(`width="100%"`), so it fits whatever the number of bars or the span of dates. The time chart
groups records by month, by quarter or by year, whichever keeps it at most `MAX_BUCKETS`
columns, and fills the periods without records between the first and the last. Every piece of
text is escaped.
"""

from __future__ import annotations

import re
from collections import Counter
from html import escape

from checker.reports.labels import OUTCOME, OUTCOME_ORDER

COLOURS = {"violation": "#c0392b", "review": "#d68910", "tolerated": "#148f77",
           "compliant": "#1e8449", "unlisted": "#7f8c8d", "invalid": "#7d3c98"}
MAX_BUCKETS = 48  # columns of the time chart at most (months, else quarters, else years)
VIEW_W, VIEW_H = 640, 280  # the time chart's coordinate system
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})\Z")

UNIT = {"zh": {"month": "月", "quarter": "季度", "year": "年"},
        "en": {"month": "month", "quarter": "quarter", "year": "year"}}


def e(value: object) -> str:
    return escape(str(value), quote=True)


def hbar_svg(items: list[tuple[str, int]], colour: str | dict, empty: str, other: str = "") -> str:
    """Horizontal bars with labels and values; a last item named `other` (the sum of the
    items left out) is written under the chart instead of drawn."""
    if not items:
        return f'<p class="k">{e(empty)}</p>'
    width, label_w, bar_h, gap = 640, 230, 20, 6
    rest = None
    if items and items[-1][0] == other:  # "other" is a sum, not a bar on the same scale
        rest = items[-1]
        items = items[:-1]
    top = max((v for _, v in items), default=1) or 1
    height = len(items) * (bar_h + gap) + gap
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" '
            f'viewBox="0 0 {width} {height}" role="img" font-size="12">')]
    for i, (label, value) in enumerate(items):
        y = gap + i * (bar_h + gap)
        w = round((width - label_w - 70) * value / top, 1)
        c = colour.get(label, "#5d6d7e") if isinstance(colour, dict) else colour
        short = label if len(label) <= 28 else label[:27] + "…"
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{e(short)}</text>'
                   f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="{c}">'
                   f'<title>{e(label)}: {value}</title></rect>'
                   f'<text x="{label_w + w + 5}" y="{y + 14}">{value}</text>')
    out.append("</svg>")
    if rest is not None:
        out.append(f'<p class="k">{e(rest[0])}: {rest[1]}</p>')
    return "".join(out)


# ---- records over time ----------------------------------------------------------------------
def _index(month: str) -> int:
    m = _MONTH.match(month)
    assert m is not None
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def _label(i: int, unit: str) -> str:
    year, month = divmod(i, 12)
    if unit == "month":
        return f"{year:04d}-{month + 1:02d}"
    if unit == "quarter":
        return f"{year:04d}Q{month // 3 + 1}"
    return f"{year:04d}"


def buckets(by_month: dict[str, Counter]) -> tuple[str, list[tuple[str, Counter]]]:
    """The time chart's unit ("month", "quarter" or "year") and its columns in date order:
    every period from the first dated record to the last (empty ones included), then the
    undated records (keys that are not YYYY-MM) under their own key."""
    dated = [m for m in by_month if _MONTH.match(m)]
    undated = sorted(m for m in by_month if not _MONTH.match(m))
    out: list[tuple[str, Counter]] = []
    unit = "month"
    if dated:
        first, last = min(map(_index, dated)), max(map(_index, dated))
        for unit, size in (("month", 1), ("quarter", 3), ("year", 12)):
            if last // size - first // size + 1 <= MAX_BUCKETS or unit == "year":
                break
        cols: dict[int, Counter] = {k: Counter() for k in range(first // size, last // size + 1)}
        for m in dated:
            cols[_index(m) // size].update(by_month[m])
        out = [(_label(k * size, unit), c) for k, c in cols.items()]
    out.extend((m, by_month[m]) for m in undated)
    return unit, out


def _nice_step(top: int, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 × 10ⁿ) for about `ticks` gridlines up to `top`."""
    raw = max(top / ticks, 1)
    magnitude = 10 ** (len(str(int(raw))) - 1)
    for m in (1, 2, 5, 10):
        if m * magnitude >= raw:
            return m * magnitude
    return 10 * magnitude


def time_svg(by_month: dict[str, Counter], lang: str, empty: str) -> tuple[str, str]:
    """Stacked columns per period, one colour per outcome, a y axis with round gridlines and a
    legend; scaled to the panel's width. Returns the unit ("month", "quarter", "year") and the
    SVG."""
    if not by_month:
        return "month", f'<p class="k">{e(empty)}</p>'
    unit, cols = buckets(by_month)
    left, right, top_pad, bottom = 46, 8, 30, 56
    plot_w, plot_h = VIEW_W - left - right, VIEW_H - top_pad - bottom
    base = top_pad + plot_h
    peak = max((sum(c.values()) for _, c in cols), default=0) or 1
    step = _nice_step(peak)
    scale_top = -(-peak // step) * step  # the axis ends on a gridline at or above the peak
    slot = plot_w / len(cols)
    bar = max(round(slot * 0.78, 2), 0.5)
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {VIEW_W} {VIEW_H}" '
            f'role="img" font-size="11" class="time">')]
    for v in range(0, scale_top + 1, step):  # y axis: gridlines and their values
        y = round(base - plot_h * v / scale_top, 1)
        out.append(f'<line x1="{left}" y1="{y}" x2="{VIEW_W - right}" y2="{y}" stroke="#d5d8dc"/>'
                   f'<text x="{left - 4}" y="{y + 4}" text-anchor="end">{v}</text>')
    every = max(1, -(-len(cols) // 12))  # at most about 12 labels under the axis
    for i, (name, counts) in enumerate(cols):
        x = round(left + i * slot + (slot - bar) / 2, 2)
        y = float(base)
        total = sum(counts.values())
        for o in OUTCOME_ORDER:
            n = counts.get(o, 0)
            if not n:
                continue
            h = round(plot_h * n / scale_top, 2)
            y = round(y - h, 2)
            out.append(f'<rect x="{x}" y="{y}" width="{bar}" height="{h}" fill="{COLOURS[o]}">'
                       f'<title>{e(name)} {e(OUTCOME[lang][o])}: {n}</title></rect>')
        if i % every == 0 or not _MONTH.match(name) and not name[:4].isdigit():
            cx = round(left + i * slot + slot / 2, 2)
            out.append(f'<text x="{cx}" y="{base + 12}" text-anchor="end" '
                       f'transform="rotate(-45 {cx} {base + 12})">{e(name)}'
                       f'<title>{e(name)}: {total}</title></text>')
    out.append(f'<line x1="{left}" y1="{base}" x2="{VIEW_W - right}" y2="{base}" stroke="#999"/>')
    lx = left
    for o in OUTCOME_ORDER:  # legend: zh labels are about 11 units a character, en about 6
        label = OUTCOME[lang][o]
        out.append(f'<rect x="{lx}" y="8" width="10" height="10" fill="{COLOURS[o]}"/>'
                   f'<text x="{lx + 13}" y="17">{e(label)}</text>')
        lx += 13 + (11 * len(label) if lang == "zh" else 6 * len(label)) + 10
    out.append("</svg>")
    return unit, "".join(out)


__all__ = ["COLOURS", "UNIT", "buckets", "hbar_svg", "time_svg"]
