"""Paired comparison of two verified results over the same fixed episodes (pure, no Django).

Two verified results of a benchmark were scored on the same fixed test episodes, so they can be
compared episode by episode: the difference ``a - b`` of each episode's score, its mean, the
paired t interval at 95% and the two-sided p-value of "no difference". Episode-level noise that
both share (an easy episode is easy for both) cancels, so the interval is much narrower than the
two results' own intervals side by side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairedDifference:
    n: int  # episodes compared
    mean: float  # mean of a - b over the episodes
    low: float  # 95% interval of the mean difference
    high: float
    p_value: float  # two-sided, paired t test of a zero mean difference

    @property
    def distinguishable(self) -> bool:
        """Whether the 95% interval excludes zero."""
        return self.low > 0 or self.high < 0

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def to_dict(self) -> dict:
        return {**asdict(self), "distinguishable": self.distinguishable, "confidence": CONFIDENCE}


class NotComparable(ValueError):
    """The two score lists cannot be paired (different lengths, fewer than two episodes)."""


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (Lentz's method)."""
    tiny, eps = 1e-300, 3e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
    front = math.exp(ln + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1 - x) / b


def t_two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return _betainc(df / 2, 0.5, df / (df + t * t))


def t_critical(df: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided critical value of Student's t (bisection on the p-value)."""
    alpha = 1 - confidence
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_two_sided_p(mid, df) > alpha:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def paired_difference(a: Sequence[float], b: Sequence[float]) -> PairedDifference:
    """The mean of ``a[i] - b[i]``, its paired t 95% interval and p-value."""
    if len(a) != len(b):
        raise NotComparable(f"{len(a)} and {len(b)} episodes cannot be paired")
    n = len(a)
    if n < 2:
        raise NotComparable("a paired comparison needs at least two episodes")
    diffs = [float(x) - float(y) for x, y in zip(a, b, strict=True)]
    if not all(math.isfinite(d) for d in diffs):
        raise NotComparable("the scores are not all finite")
    mean = math.fsum(diffs) / n
    var = math.fsum((d - mean) ** 2 for d in diffs) / (n - 1)
    se = math.sqrt(var / n)
    if se == 0:
        # Every episode differs by the same amount: zero is excluded unless that amount is zero.
        return PairedDifference(n, mean, mean, mean, 1.0 if mean == 0 else 0.0)
    half = t_critical(n - 1) * se
    return PairedDifference(n, mean, mean - half, mean + half, t_two_sided_p(mean / se, n - 1))


def rank_groups(rows: Sequence, scores_of) -> list[dict]:
    """Ranks that respect the noise, for rows already ordered best first.

    Each row is compared with the row above it when both have per-episode scores of equal length:
    when the paired 95% interval includes zero the row shares the rank above ("=2"), else it
    starts a new rank at its own position. Rows without scores get their position. Returns, per
    row, ``{"rank": int, "shared": bool, "vs_above": PairedDifference | None}``.
    """
    out: list[dict] = []
    for i, row in enumerate(rows):
        rank, shared, vs = i + 1, False, None
        if i > 0:
            a, b = scores_of(rows[i - 1]), scores_of(row)
            if a and b and len(a) == len(b):
                try:
                    vs = paired_difference(a, b)
                except NotComparable:
                    vs = None
                if vs is not None and not vs.distinguishable:
                    rank, shared = out[i - 1]["rank"], True
                    out[i - 1]["shared"] = True
        out.append({"rank": rank, "shared": shared, "vs_above": vs})
    return out
