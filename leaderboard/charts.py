"""A small progress-over-time chart drawn as inline SVG (no script, no CDN)."""

import datetime
import math

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 18, 34


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


def progress_chart(points: list[tuple[datetime.date, float]], higher_is_better: bool) -> dict:
    """Geometry for templates/leaderboard/_chart.html from (date, best value that day) points.

    ``dots`` mark every day's best, ``path`` is the running state of the art (a step line), and
    ``records`` the dots that set a new best."""
    if not points:
        return {"empty": True}
    days = [d.toordinal() for d, _ in points]
    values = [v for _, v in points]
    d0, d1 = min(days), max(days)
    if d0 == d1:
        d0, d1 = d0 - 180, d1 + 180
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.05 or 1.0
    lo, hi = lo - pad, hi + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: int) -> float:
        return round(LEFT + (day - d0) / (d1 - d0) * plot_w, 1)

    def y(value: float) -> float:
        return round(TOP + (hi - value) / (hi - lo) * plot_h, 1)

    dots, records, steps = [], [], []
    best = None
    for (date, value), day in zip(points, days, strict=True):
        improved = best is None or (value > best if higher_is_better else value < best)
        dot = {"x": x(day), "y": y(value), "label": f"{date.isoformat()}: {_fmt(value)}"}
        dots.append(dot)
        if improved:
            best = value
            records.append(dot)
            steps.append((x(day), y(best)))
    path = f"M{steps[0][0]},{steps[0][1]}"
    for sx, sy in steps[1:]:
        path += f" H{sx} V{sy}"
    path += f" H{x(max(days))}"
    years = range(datetime.date.fromordinal(d0).year, datetime.date.fromordinal(d1).year + 2)
    x_ticks = [
        {"x": x(datetime.date(year, 1, 1).toordinal()), "label": str(year)}
        for year in years
        if d0 <= datetime.date(year, 1, 1).toordinal() <= d1
    ]
    if not x_ticks:
        x_ticks = [{"x": x(days[0]), "label": points[0][0].isoformat()}]
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
