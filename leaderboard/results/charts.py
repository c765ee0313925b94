"""A small progress-over-time chart drawn as inline SVG (no script, no CDN)."""

import datetime
import math

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 72, 20, 18, 34


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.ceil(lo / step) * step
    ticks, value = [], start
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _x_ticks(d0: int, d1: int, x) -> list[dict]:
    """Year ticks over a long span; months (every 1, 3 or 6) over a short one."""
    first, last = datetime.date.fromordinal(d0), datetime.date.fromordinal(d1)
    if d1 - d0 > 3 * 365:
        years = range(first.year, last.year + 2)
        step = max(1, math.ceil(len(years) / 8))  # at most ~8 labels: legible at 390 px
        dates = [datetime.date(y, 1, 1) for y in years if (y - first.year) % step == 0]
        fmt = "%Y"
    else:
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        step = next(m for m in (1, 3, 6, 12) if months / m <= 6)
        dates, year, month = [], first.year, first.month
        while (year, month) <= (last.year, last.month):
            if (month - 1) % step == 0:
                dates.append(datetime.date(year, month, 1))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        fmt = "%Y" if step == 12 else "%b %Y"
    return [
        {"x": x(d.toordinal()), "label": d.strftime(fmt)}
        for d in dates
        if d0 <= d.toordinal() <= d1
    ]


def progress_chart(
    points: list[tuple[datetime.date, float]],
    higher_is_better: bool,
    verified: list[tuple[datetime.date, float, float | None, str]] | None = None,
    percent: bool = False,
) -> dict:
    """Geometry for templates/leaderboard/_chart.html from (date, best value that day) points.

    ``dots`` mark every day's best, ``path`` is the running state of the art (a step line), and
    ``records`` the dots that set a new best. ``verified`` points (date, reproduced value, its
    95% half-width, label) are drawn apart, as diamonds with their interval as a whisker. One
    point or one date gets an axis around it (its date labelled under it, a y range of a few
    units), and a percentage axis never passes 100."""
    # A day or a verified row without a number (text values only) is no point on the chart.
    points = [(d, v) for d, v in points if d is not None and v is not None]
    verified = [p for p in verified or [] if p[0] is not None and p[1] is not None]
    if not points and not verified:
        return {"empty": True}
    days = [d.toordinal() for d, _ in points] + [d.toordinal() for d, *_ in verified]
    values = [v for _, v in points]
    for _, v, ci, _label in verified:
        values += [v - (ci or 0), v + (ci or 0)]
    d0, d1 = min(days), max(days)
    single_date = d0 == d1
    if single_date:
        d0, d1 = d0 - 30, d1 + 30
    else:
        margin = max(3, round((d1 - d0) * 0.03))
        d0, d1 = d0 - margin, d1 + margin
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or max(abs(hi) * 0.01, 0.5)
    lo, hi = lo - pad, hi + pad
    if percent:
        lo, hi = max(lo, 0.0), min(hi, 100.0)
        if hi - lo < 1:
            lo, hi = max(0.0, hi - 1), min(100.0, lo + 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: int) -> float:
        return round(LEFT + (day - d0) / (d1 - d0) * plot_w, 1)

    def y(value: float) -> float:
        return round(TOP + (hi - value) / (hi - lo) * plot_h, 1)

    dots, records, steps, marks = [], [], [], []
    best = None
    merged = [(d, v, None, None) for d, v in points] + list(verified)
    merged.sort(key=lambda p: p[0])
    for date, value, ci, label in merged:
        day = date.toordinal()
        improved = best is None or (value > best if higher_is_better else value < best)
        if label is None:  # an archive day's best
            dot = {"x": x(day), "y": y(value), "label": f"{date.isoformat()}: {_fmt(value)}"}
            dots.append(dot)
        else:
            cx, cy = x(day), y(value)
            ci_text = f" ± {_fmt(ci)}" if ci is not None else ""
            dot = {
                "x": cx,
                "y": cy,
                "low": y(value - ci) if ci is not None else cy,
                "high": y(value + ci) if ci is not None else cy,
                "cap_l": round(cx - 4, 1),
                "cap_r": round(cx + 4, 1),
                "diamond": f"M{cx},{round(cy - 6, 1)} L{round(cx + 6, 1)},{cy} "
                f"L{cx},{round(cy + 6, 1)} L{round(cx - 6, 1)},{cy} Z",
                "label": f"{label}: verified {_fmt(value)}{ci_text} ({date.isoformat()})",
            }
            marks.append(dot)
        if improved:
            best = value
            if label is None:
                records.append(dot)
            else:
                dot["record"] = True
            steps.append((x(day), y(best)))
    path = f"M{steps[0][0]},{steps[0][1]}"
    for sx, sy in steps[1:]:
        path += f" H{sx} V{sy}"
    path += f" H{x(max(days))}"
    if single_date:
        day = days[0]
        x_ticks = [{"x": x(day), "label": datetime.date.fromordinal(day).isoformat()}]
    else:
        x_ticks = _x_ticks(d0, d1, x) or [
            {"x": x(days[0]), "label": datetime.date.fromordinal(days[0]).isoformat()}
        ]
    y_ticks = [{"y": y(v), "label": _fmt(v)} for v in _nice_ticks(lo, hi)]
    return {
        "empty": False,
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "dots": dots,
        "records": records,
        "verified": marks,
        "path": path,
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "best": _fmt(best),
    }


HIST_W, HIST_H = 600, 220
HIST_LEFT, HIST_RIGHT, HIST_TOP, HIST_BOTTOM = 44, 12, 12, 34


def histogram(scores: list[float], *, bins: int = 20, lo=None, hi=None) -> dict:
    """Geometry of a histogram of per-episode scores for an SVG (classes, no inline styles).

    ``lo``/``hi`` fix the range (0 and 100 for accuracies), else the scores' own range."""
    values = [float(s) for s in scores if s is not None and math.isfinite(float(s))]
    if not values:
        return {"empty": True}
    lo = min(values) if lo is None else lo
    hi = max(values) if hi is None else hi
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int((v - lo) / width)))] += 1
    top = max(counts)
    plot_w, plot_h = HIST_W - HIST_LEFT - HIST_RIGHT, HIST_H - HIST_TOP - HIST_BOTTOM
    bar_w = plot_w / bins
    bars = []
    for i, c in enumerate(counts):
        h = plot_h * c / top
        a, b = lo + i * width, lo + (i + 1) * width
        bars.append(
            {
                "x": round(HIST_LEFT + i * bar_w + 1, 1),
                "y": round(HIST_TOP + plot_h - h, 1),
                "w": round(max(bar_w - 2, 1), 1),
                "h": round(h, 1),
                "label": f"{_fmt(a)}–{_fmt(b)}: {c} episode{'s' if c != 1 else ''}",
            }
        )
    x_ticks = [
        {"x": round(HIST_LEFT + (v - lo) / (hi - lo) * plot_w, 1), "label": _fmt(v)}
        for v in _nice_ticks(lo, hi, 5)
    ]
    y_ticks = [
        {"y": round(HIST_TOP + plot_h - plot_h * v / top, 1), "label": f"{v:g}"}
        for v in _nice_ticks(0, top, 4)
        if v == int(v)
    ]
    return {
        "empty": False,
        "width": HIST_W,
        "height": HIST_H,
        "left": HIST_LEFT,
        "right": HIST_W - HIST_RIGHT,
        "top": HIST_TOP,
        "bottom": HIST_H - HIST_BOTTOM,
        "bars": bars,
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "count": len(values),
    }
