"""The verdict on a claim: a pure function of the claim, the reproduced interval and a tolerance.

Verified when the claim lies within the reproduced 95% interval widened by the tolerance on the
side the claim may overstate it:

- higher is better (accuracy): ``claimed <= reproduced_mean + ci95 + tolerance``
- lower is better (MSE):        ``claimed >= reproduced_mean - ci95 - tolerance``

Exactly at the bound is verified. A claim more modest than the reproduction is verified (the
published figure never overstates what was reproduced). Anything not a finite number (NaN, inf),
a negative interval or a negative tolerance is rejected with the reason: a verdict is never
"verified" by accident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

VERIFIED = "verified"
REJECTED = "rejected"

# Float sums such as 97.0 + 0.5 + 0.3 are not exact: a claim equal to the bound as written must
# not be refused for the last bit of a double.
_EPS = 1e-9


@dataclass(frozen=True)
class Decision:
    verdict: str
    reason: str

    @property
    def verified(self) -> bool:
        return self.verdict == VERIFIED


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def decide(
    claimed: float,
    reproduced_mean: float,
    ci95: float,
    higher_is_better: bool,
    tolerance: float,
) -> Decision:
    values = {
        "claimed value": claimed,
        "reproduced value": reproduced_mean,
        "95% interval": ci95,
        "tolerance": tolerance,
    }
    for name, value in values.items():
        if value is None or not isinstance(value, int | float) or not math.isfinite(value):
            return Decision(REJECTED, f"The {name} is not a finite number ({value!r}).")
    if ci95 < 0:
        return Decision(REJECTED, f"The 95% interval half-width is negative ({ci95!r}).")
    if tolerance < 0:
        return Decision(REJECTED, f"The tolerance is negative ({tolerance!r}).")

    interval = f"{_fmt(reproduced_mean)} ± {_fmt(ci95)}"
    if higher_is_better:
        bound = reproduced_mean + ci95 + tolerance
        ok = claimed <= bound + _EPS * max(1.0, abs(bound))
        relation = "at most"
    else:
        bound = reproduced_mean - ci95 - tolerance
        ok = claimed >= bound - _EPS * max(1.0, abs(bound))
        relation = "at least"
    rule = f"a claim must be {relation} {_fmt(bound)} (interval, tolerance {_fmt(tolerance)})"
    if ok:
        return Decision(
            VERIFIED, f"Claimed {_fmt(claimed)}; reproduced {interval}: supported ({rule})."
        )
    return Decision(
        REJECTED, f"Claimed {_fmt(claimed)}; reproduced {interval}: not supported ({rule})."
    )
