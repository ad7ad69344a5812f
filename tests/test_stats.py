"""Confidence intervals against published values and against their definitions."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labctl.stats import (
    bootstrap_interval,
    clopper_pearson_interval,
    rate_interval,
    summarize,
    summarize_rate,
    t_interval,
    wilson_interval,
)

# R. G. Newcombe, Stat. Med. 17, 857 (1998), Table I: 95 % intervals, methods 3 (Wilson score) and 5
# (Clopper-Pearson "exact"), to four decimals.
NEWCOMBE = [
    # k, n, Wilson, Clopper-Pearson
    (81, 263, (0.2553, 0.3662), (0.2527, 0.3676)),
    (15, 148, (0.0624, 0.1605), (0.0578, 0.1617)),
    (0, 20, (0.0, 0.1611), (0.0, 0.1684)),
    (1, 29, (0.0061, 0.1718), (0.0009, 0.1776)),
]


@pytest.mark.parametrize(("k", "n", "wilson", "exact"), NEWCOMBE)
def test_rate_intervals_match_newcombe_table(k, n, wilson, exact):
    assert np.round(wilson_interval(k, n), 4) == pytest.approx(wilson, abs=1e-9)
    assert np.round(clopper_pearson_interval(k, n), 4) == pytest.approx(exact, abs=1e-9)


def test_rate_intervals_are_vectorized_and_keep_shape():
    k = np.array([[81, 15], [0, 1]])
    n = np.array([[263, 148], [20, 29]])
    for interval, col in ((wilson_interval, 2), (clopper_pearson_interval, 3)):
        low, high = interval(k, n)
        assert low.shape == high.shape == (2, 2)
        expected = np.array([row[col] for row in NEWCOMBE]).reshape(2, 2, 2)
        assert np.round(low, 4) == pytest.approx(expected[..., 0])
        assert np.round(high, 4) == pytest.approx(expected[..., 1])
    low, high = wilson_interval([1, 2, 3], 10)  # trials broadcast
    assert low.shape == (3,) and np.all(np.diff(low) > 0)


def _binomial_tail(k, n, p, upper):
    """P(X >= k) (upper) or P(X <= k), X ~ Binomial(n, p), by direct summation."""
    terms = range(k, n + 1) if upper else range(0, k + 1)
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in terms)


@pytest.mark.parametrize(("k", "n"), [(3, 40), (7, 12), (1, 1000), (20, 20)])
def test_clopper_pearson_bounds_solve_their_binomial_tail_equations(k, n):
    low, high = clopper_pearson_interval(k, n, confidence=0.9)
    if k > 0:
        assert _binomial_tail(k, n, low, upper=True) == pytest.approx(0.05, rel=1e-6)
    if k < n:
        assert _binomial_tail(k, n, high, upper=False) == pytest.approx(0.05, rel=1e-6)


def test_empty_counts_give_nan_and_bad_counts_are_refused():
    low, high = wilson_interval([0, 3], [0, 10])
    assert np.isnan(low[0]) and np.isnan(high[0]) and not np.isnan(low[1])
    assert all(np.isnan(clopper_pearson_interval(0, 0)))
    with pytest.raises(ValueError, match="successes <= trials"):
        wilson_interval(5, 4)
    with pytest.raises(ValueError, match="unknown rate interval"):
        rate_interval(1, 2, method="wald")
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, confidence=95)


@given(st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from([0.5, 0.9, 0.95, 0.999]))
def test_rate_intervals_hold_the_rate_and_stay_in_unit_interval(counts, confidence):
    k, n = counts
    for method in ("wilson", "clopper-pearson"):
        low, high = rate_interval(k, n, confidence, method)
        assert 0.0 <= low <= k / n <= high <= 1.0


def test_t_interval_matches_a_hand_computation():
    # mean 5, sd sqrt(32/7), n 8; t(0.975, 7) = 2.364624 (tables)
    mean, low, high = t_interval([2, 4, 4, 4, 5, 5, 7, 9])
    half = 2.364624 * math.sqrt(32 / 7) / math.sqrt(8)
    assert mean == 5.0
    assert (low, high) == pytest.approx((5 - half, 5 + half), abs=1e-6)


def test_t_interval_leaves_nan_out_and_needs_two_values():
    mean, low, high = t_interval([[1.0, 2.0, 3.0, np.nan], [4.0, np.nan, np.nan, np.nan],
                                  [np.nan] * 4])
    assert mean[0] == 2.0 and mean[1] == 4.0 and np.isnan(mean[2])
    assert low[0] < 2.0 < high[0]
    assert np.isnan(low[1]) and np.isnan(high[2])


def test_t_interval_over_a_chosen_axis():
    x = np.arange(12.0).reshape(3, 4)
    mean, low, high = t_interval(x, axis=0)
    assert mean == pytest.approx([4, 5, 6, 7])
    assert high - low == pytest.approx(np.full(4, high[0] - low[0]))


def test_bootstrap_is_seeded_and_close_to_t_for_a_normal_sample():
    x = np.random.default_rng(1).normal(10.0, 2.0, 400)
    first = bootstrap_interval(x, seed=3)
    assert bootstrap_interval(x, seed=3) == first
    _, t_low, t_high = t_interval(x)
    assert first[0] == pytest.approx(x.mean())
    assert first[1] == pytest.approx(t_low, abs=0.05) and first[2] == pytest.approx(t_high, abs=0.05)
    est, low, high = bootstrap_interval(x, statistic=np.median)
    assert low < est < high


def test_bootstrap_per_slice_with_nan():
    x = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, np.nan, np.nan, np.nan]])
    est, low, high = bootstrap_interval(x, resamples=500)
    assert est.shape == (2,) and est[1] == 5.0 and np.isnan(low[1])
    assert 1.0 <= low[0] <= est[0] <= high[0] <= 4.0


def test_summarize_gives_count_mean_sd_and_interval():
    s = summarize([[1.0, 2.0, 3.0], [2.0, np.nan, 2.0]])
    assert list(s.n) == [3, 2]
    assert s.mean == pytest.approx([2.0, 2.0])
    assert s.sd == pytest.approx([1.0, 0.0])
    assert s.low[1] == s.high[1] == 2.0
    b = summarize([1.0, 2.0, 3.0, 4.0], method="bootstrap", resamples=200)
    assert b.method == "bootstrap" and b.low < 2.5 < b.high


def test_summarize_rate_pools_counts_and_reports_the_spread_between_runs():
    s = summarize_rate([[1, 3, np.nan], [0, 0, 0]], [[100, 100, 100], [50, 50, 0]])
    assert list(s.n) == [2, 2]  # the NaN run and the run with no trials are left out
    assert s.successes == pytest.approx([4, 0]) and s.trials == pytest.approx([200, 100])
    assert s.rate == pytest.approx([0.02, 0.0])
    assert (s.low[0], s.high[0]) == pytest.approx(wilson_interval(4, 200))
    assert s.mean == pytest.approx([0.02, 0.0]) and s.sd[0] == pytest.approx(np.std([0.01, 0.03], ddof=1))
    exact = summarize_rate([1, 3], [100, 100], method="clopper-pearson")
    assert (exact.low, exact.high) == pytest.approx(clopper_pearson_interval(4, 200))


def test_rate_ratio_interval_is_katz_and_bounded_by_wilson_where_one_side_saw_nothing():
    from labctl.stats import rate_ratio_interval, wilson_interval

    ratio, low, high = rate_ratio_interval(10, 100, 5, 100)
    assert ratio == pytest.approx(2.0)
    assert (low, high) == pytest.approx((0.7092, 5.640), rel=1e-3)  # 2 exp(+-1.96 sqrt(0.28))
    ratio, low, high = rate_ratio_interval(30, 1000, 0, 40960)  # no error on the second side
    assert np.isinf(ratio) and np.isinf(high) and low == pytest.approx(0.03 / wilson_interval(0, 40960)[1])
    r = rate_ratio_interval(np.array([10, 20]), 100, np.array([5, 10]), 100)[0]
    assert r == pytest.approx([2.0, 2.0])
