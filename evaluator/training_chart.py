"""What a run's page shows of a training: the figures of ``Run.training`` in words and the
validation curve as server-drawn SVG geometry (templates/evaluator/_training.html; no script, so
the site's strict Content-Security-Policy holds, and the page's poller swaps in the new HTML)."""

from __future__ import annotations

import math

from leaderboard.results.charts import _nice_ticks

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 34


def duration(seconds: float | None) -> str:
    """A duration for a reader: "2 h 05 min", "3 min 20 s", "40 s"."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    s = max(0, round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def curve(points: list[list[float]], total: int, metric: str) -> dict | None:
    """Geometry of the validation curve: x from 0 to the run's last iteration (so the line
    grows across the chart as the run goes), y around the values measured (accuracy within
    0-100). None without a point."""
    pts = [(float(i), float(v)) for i, v in points if v is not None and math.isfinite(v)]
    if not pts:
        return None
    x_hi = max(float(total), max(i for i, _ in pts), 1.0)
    values = [v for _, v in pts]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or max(abs(hi) * 0.05, 0.5)
    lo, hi = lo - pad, hi + pad
    if metric == "accuracy":
        lo, hi = max(0.0, lo), min(100.0, hi)
    else:
        lo = max(0.0, lo)  # an MSE is never negative
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: float) -> float:
        return round(LEFT + plot_w * i / x_hi, 1)

    def y(v: float) -> float:
        return round(TOP + plot_h * (1 - (v - lo) / (hi - lo)), 1)

    coords = [(x(i), y(v)) for i, v in pts]
    last_i, last_v = pts[-1]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "points": " ".join(f"{a},{b}" for a, b in coords),
        "dots": [
            {"x": a, "y": b, "label": f"iteration {int(i)}: {_fmt(v)}"}
            for (a, b), (i, v) in zip(coords, pts, strict=True)
        ],
        "y_ticks": [{"y": y(t), "label": _fmt(t)} for t in _nice_ticks(lo, hi, 4) if lo <= t <= hi],
        "x_ticks": [{"x": x(t), "label": f"{int(t):,}"} for t in _nice_ticks(0, x_hi, 5)],
        "last": {"iteration": int(last_i), "value": _fmt(last_v)},
        "count": len(pts),
    }


def training_summary(training: dict, metric: str) -> dict | None:
    """The template's view of ``Run.training`` (None before the first report)."""
    if not training or not training.get("total"):
        return None
    unit = "%" if metric == "accuracy" else ""
    return {
        "iteration": training.get("iteration", 0),
        "total": training["total"],
        "meta_loss": training.get("meta_loss"),
        "query_accuracy": training.get("query_accuracy"),
        "per_100": duration(training.get("seconds_per_100")),
        "left": duration(training.get("seconds_left")),
        "resumed_from": training.get("resumed_from") or 0,
        "saved_at": training.get("saved_at"),
        "metric": "accuracy" if metric == "accuracy" else "MSE",
        "unit": unit,
        "curve": curve(training.get("validation") or [], training["total"], metric),
    }
