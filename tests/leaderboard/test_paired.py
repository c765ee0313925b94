"""leaderboard.results.paired: the paired difference over shared episodes (pure functions)."""

import math
import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaderboard.results.paired import (
    NotComparable,
    paired_difference,
    rank_groups,
    t_critical,
    t_two_sided_p,
)

scores = st.lists(
    st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False),
    min_size=2,
    max_size=60,
)


def test_the_t_distribution_matches_its_tables():
    assert t_critical(9) == pytest.approx(2.2622, abs=1e-4)
    assert t_critical(599) == pytest.approx(1.9639, abs=1e-4)
    assert t_two_sided_p(2.2622, 9) == pytest.approx(0.05, abs=1e-4)
    assert t_two_sided_p(0.0, 30) == pytest.approx(1.0)


def test_a_known_difference_gives_the_paired_t_interval():
    rng = random.Random(3)
    a = [rng.uniform(40, 60) for _ in range(600)]
    b = [x - 1.0 + rng.gauss(0, 2) for x in a]
    vs = paired_difference(a, b)
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    half = t_critical(599) * statistics.stdev(diffs) / math.sqrt(600)
    assert vs.mean == pytest.approx(statistics.fmean(diffs))
    assert (vs.low, vs.high) == pytest.approx((vs.mean - half, vs.mean + half))
    assert vs.distinguishable and vs.p_value < 1e-6


@settings(max_examples=200, deadline=None)
@given(scores)
def test_a_result_compared_with_itself_is_a_zero_difference(a):
    vs = paired_difference(a, a)
    assert vs.mean == 0 and vs.low == 0 and vs.high == 0
    assert not vs.distinguishable
    assert vs.p_value == 1.0


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_swapping_a_and_b_flips_the_sign(data):
    a = data.draw(scores)
    b = data.draw(st.lists(st.floats(0, 100), min_size=len(a), max_size=len(a)))
    ab, ba = paired_difference(a, b), paired_difference(b, a)
    assert ba.mean == pytest.approx(-ab.mean, abs=1e-9)
    assert ba.low == pytest.approx(-ab.high, abs=1e-9)
    assert ba.high == pytest.approx(-ab.low, abs=1e-9)
    assert ba.p_value == pytest.approx(ab.p_value, abs=1e-9)
    assert ba.distinguishable == ab.distinguishable


def test_it_refuses_what_cannot_be_paired():
    with pytest.raises(NotComparable):
        paired_difference([1, 2, 3], [1, 2])
    with pytest.raises(NotComparable):
        paired_difference([1], [1])


def test_rank_groups_share_a_rank_only_within_the_noise():
    rng = random.Random(5)
    base = [rng.choice([60.0, 80.0, 100.0]) for _ in range(200)]
    noisy = [x + rng.choice([-20.0, 0.0, 20.0]) * (rng.random() < 0.1) for x in base]
    worse = [x - 20.0 * (rng.random() < 0.5) for x in base]
    groups = rank_groups([base, noisy, worse], lambda s: s)
    assert [g["rank"] for g in groups] == [1, 1, 3]
    assert groups[0]["shared"] and groups[1]["shared"] and not groups[2]["shared"]
