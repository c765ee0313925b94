"""The decision policy: a pure function, tested on its edges."""

import math

import pytest

from evaluator.decision import REJECTED, VERIFIED, decide


def test_it_verifies_a_claim_inside_the_interval():
    d = decide(97.0, 97.2, 0.4, True, 0.5)
    assert d.verdict == VERIFIED
    assert "97.2 ± 0.4" in d.reason


def test_it_verifies_a_claim_exactly_at_the_bound():
    # bound = 97.0 + 0.5 + 0.3 = 97.8 (not exact in binary floating point)
    assert decide(97.8, 97.0, 0.5, True, 0.3).verdict == VERIFIED


def test_it_rejects_a_claim_just_above_the_bound():
    d = decide(97.81, 97.0, 0.5, True, 0.3)
    assert d.verdict == REJECTED
    assert "not supported" in d.reason and "97.81" in d.reason


def test_it_verifies_a_modest_claim_far_below_the_reproduction():
    assert decide(60.0, 97.0, 0.5, True, 0.0).verdict == VERIFIED


def test_zero_tolerance_and_zero_interval_accept_only_the_mean_or_less():
    assert decide(90.0, 90.0, 0.0, True, 0.0).verdict == VERIFIED
    assert decide(90.0001, 90.0, 0.0, True, 0.0).verdict == REJECTED


def test_lower_is_better_verifies_a_claim_at_or_above_the_bound():
    # MSE: bound = 0.60 - 0.05 - 0.05 = 0.50
    assert decide(0.50, 0.60, 0.05, False, 0.05).verdict == VERIFIED
    assert decide(0.90, 0.60, 0.05, False, 0.05).verdict == VERIFIED


def test_lower_is_better_rejects_a_claim_below_the_bound():
    d = decide(0.49, 0.60, 0.05, False, 0.05)
    assert d.verdict == REJECTED
    assert "at least 0.5" in d.reason


@pytest.mark.parametrize(
    "args",
    [
        (math.nan, 97.0, 0.5, True, 0.5),
        (97.0, math.nan, 0.5, True, 0.5),
        (97.0, 97.0, math.nan, True, 0.5),
        (97.0, 97.0, 0.5, True, math.nan),
        (math.inf, 97.0, 0.5, False, 0.5),
        (97.0, math.inf, 0.5, True, 0.5),
        (97.0, -math.inf, 0.5, False, 0.5),
        (None, 97.0, 0.5, True, 0.5),
    ],
)
def test_it_rejects_anything_not_finite(args):
    d = decide(*args)
    assert d.verdict == REJECTED
    assert "not a finite number" in d.reason


def test_it_rejects_a_negative_interval_or_tolerance():
    assert decide(97.0, 97.0, -0.1, True, 0.5).verdict == REJECTED
    assert decide(97.0, 97.0, 0.1, True, -0.5).verdict == REJECTED


def test_a_huge_tolerance_is_still_a_bound():
    assert decide(1e6, 97.0, 0.5, True, 100.0).verdict == REJECTED
