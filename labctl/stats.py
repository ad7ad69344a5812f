"""Confidence intervals for what experiments report: rates from counts, and continuous values.

Every function is vectorized: counts and values broadcast like numpy arrays, and results keep their
shape. Empty input gives NaN, never an exception: a grid point where every run failed still has a
(NaN) summary.

* Rates (bit-error rates, recognition rates) come with their counts, ``successes`` out of ``trials``.
  :func:`wilson_interval` (Wilson 1927) is the default: close to nominal coverage at every rate and
  never outside [0, 1]. :func:`clopper_pearson_interval` (Clopper & Pearson 1934) is exact, hence
  conservative, and the usual choice when a rate is quoted from zero or a handful of errors. Both are
  compared in R. G. Newcombe, Stat. Med. 17, 857 (1998), whose Table I the tests reproduce.
* Continuous values (a median resistance, a frequency): :func:`t_interval` on the mean (Student),
  or :func:`bootstrap_interval` (percentile bootstrap, Efron & Tibshirani 1993) for any statistic
  when normality of the mean is in doubt. NaN values are left out (a failed run has no value).

A rate pooled from several chips' counts measures binomial uncertainty only; chip-to-chip spread shows
in the standard deviation of the per-chip rates (:func:`summarize` of them), which a study reports too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy import stats as _sp

__all__ = [
    "RATE_METHODS", "RateSummary", "Summary", "bootstrap_interval", "clopper_pearson_interval",
    "rate_interval", "rate_ratio_interval", "summarize", "summarize_rate", "t_interval", "wilson_interval",
]


def _counts(successes, trials) -> tuple[np.ndarray, np.ndarray]:
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    k, n = np.broadcast_arrays(k, n)
    bad = (k < 0) | (k > n) | (n < 0)
    if np.any(bad):
        raise ValueError(f"counts need 0 <= successes <= trials; got successes={k[bad][0]:g}, "
                         f"trials={n[bad][0]:g}")
    return k, n


def _check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return confidence


def _out(x: np.ndarray):
    """0-d arrays as Python floats, so that scalar input gives scalar output."""
    return float(x) if np.ndim(x) == 0 else x


def wilson_interval(successes, trials, confidence: float = 0.95):
    """Wilson score interval ``(low, high)`` of the rate ``successes / trials``.

    ``low = (k + z^2/2 - z sqrt(k (n - k)/n + z^2/4)) / (n + z^2)``, ``high`` with ``+``; NaN where
    ``trials == 0``.
    """
    k, n = _counts(successes, trials)
    z = _sp.norm.ppf(0.5 + _check_confidence(confidence) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = (k + z * z / 2) / (n + z * z)
        half = z * np.sqrt(np.maximum(k * (n - k) / n, 0) + z * z / 4) / (n + z * z)
        low = np.where(k == 0, 0.0, centre - half)
        high = np.where(k == n, 1.0, centre + half)
    empty = n == 0
    return _out(np.where(empty, np.nan, low)), _out(np.where(empty, np.nan, high))


def clopper_pearson_interval(successes, trials, confidence: float = 0.95):
    """Exact (Clopper-Pearson) interval ``(low, high)`` from beta quantiles; NaN where ``trials == 0``."""
    k, n = _counts(successes, trials)
    alpha = 1 - _check_confidence(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k == 0, 0.0, _sp.beta.ppf(alpha / 2, k, n - k + 1))
        high = np.where(k == n, 1.0, _sp.beta.ppf(1 - alpha / 2, k + 1, n - k))
    empty = n == 0
    return _out(np.where(empty, np.nan, low)), _out(np.where(empty, np.nan, high))


RATE_METHODS: dict[str, Callable] = {"wilson": wilson_interval, "clopper-pearson": clopper_pearson_interval}


def rate_interval(successes, trials, confidence: float = 0.95, method: str = "wilson"):
    """``(low, high)`` of a rate by ``method``: ``"wilson"`` or ``"clopper-pearson"``."""
    try:
        interval = RATE_METHODS[method]
    except KeyError:
        raise ValueError(f"unknown rate interval {method!r}; use one of {sorted(RATE_METHODS)}") from None
    return interval(successes, trials, confidence)


def rate_ratio_interval(successes_1, trials_1, successes_2, trials_2, confidence: float = 0.95):
    """Ratio of two independent rates ``(k1/n1) / (k2/n2)`` with its interval ``(ratio, low, high)``.

    Katz log interval (D. Katz et al., Biometrics 34, 469 (1978)): ``ln r +- z sqrt(1/k1 - 1/n1 + 1/k2 -
    1/n2)``. With no event on one side the ratio is unbounded there: the other bound comes from that
    side's Wilson bound (e.g. no 2T2R error: 1T1R rate / 2T2R upper bound is the least the ratio can be).
    """
    k1, n1 = _counts(successes_1, trials_1)
    k2, n2 = _counts(successes_2, trials_2)
    z = _sp.norm.ppf(0.5 + _check_confidence(confidence) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        r1, r2 = k1 / n1, k2 / n2
        ratio = r1 / r2
        spread = z * np.sqrt(1 / k1 - 1 / n1 + 1 / k2 - 1 / n2)
        low, high = ratio * np.exp(-spread), ratio * np.exp(spread)
        up1, up2 = wilson_interval(k1, n1, confidence)[1], wilson_interval(k2, n2, confidence)[1]
        low = np.where(k1 == 0, 0.0, np.where(k2 == 0, r1 / up2, low))
        high = np.where(k2 == 0, np.inf, np.where(k1 == 0, up1 / r2, high))
    empty = (n1 == 0) | (n2 == 0) | ((k1 == 0) & (k2 == 0))
    return tuple(_out(np.where(empty, np.nan, x)) for x in (ratio, low, high))


def _finite_count(values: np.ndarray, axis: int) -> np.ndarray:
    return np.sum(~np.isnan(values), axis=axis)


def t_interval(values, confidence: float = 0.95, axis: int = -1):
    """Student-t interval of the mean over ``axis``: ``(mean, low, high)``, NaN values left out.

    Needs two values or more (NaN interval otherwise; the mean of one value is still given).
    """
    x = np.asarray(values, dtype=float)
    n = _finite_count(x, axis)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet_nan_warnings():
        mean = np.nanmean(x, axis=axis)
        sd = np.nanstd(x, axis=axis, ddof=1)
        half = _sp.t.ppf(0.5 + _check_confidence(confidence) / 2, n - 1) * sd / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    mean = np.where(n >= 1, mean, np.nan)
    return _out(mean), _out(mean - half), _out(mean + half)


def bootstrap_interval(
    values,
    statistic: Callable[..., np.ndarray] = np.mean,
    confidence: float = 0.95,
    resamples: int = 4000,
    seed: int = 0,
    axis: int = -1,
):
    """Percentile-bootstrap interval of ``statistic`` over ``axis``: ``(estimate, low, high)``.

    ``statistic(x, axis=-1)`` must reduce the last axis. Resampling is seeded (same input, same
    interval). NaN values are left out per slice; fewer than two values give a NaN interval.
    """
    alpha = 1 - _check_confidence(confidence)
    x = np.moveaxis(np.asarray(values, dtype=float), axis, -1)
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    est, low, high = (np.full(flat.shape[0], np.nan) for _ in range(3))
    rng = np.random.default_rng(seed)
    for i, row in enumerate(flat):
        row = row[~np.isnan(row)]
        if row.size == 0:
            continue
        est[i] = statistic(row, axis=-1)
        if row.size < 2:
            continue
        draws = row[rng.integers(0, row.size, size=(resamples, row.size))]
        boot = statistic(draws, axis=-1)
        low[i], high[i] = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return tuple(_out(a.reshape(lead)) for a in (est, low, high))


@dataclass(frozen=True)
class Summary:
    """A continuous value over a population: count, mean, sample sd, interval of the mean."""

    n: np.ndarray | int
    mean: np.ndarray | float
    sd: np.ndarray | float
    low: np.ndarray | float
    high: np.ndarray | float
    confidence: float = 0.95
    method: str = "t"


def summarize(values, confidence: float = 0.95, axis: int = -1, method: str = "t", **bootstrap) -> Summary:
    """Count, mean, sample standard deviation and ``confidence`` interval over ``axis``.

    ``method``: ``"t"`` (Student, the default) or ``"bootstrap"`` (``bootstrap`` options passed on).
    """
    x = np.asarray(values, dtype=float)
    n = _finite_count(x, axis)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet_nan_warnings():
        sd = np.where(n >= 2, np.nanstd(x, axis=axis, ddof=1), np.nan)
    if method == "t":
        mean, low, high = t_interval(x, confidence, axis)
    elif method == "bootstrap":
        mean, low, high = bootstrap_interval(x, confidence=confidence, axis=axis, **bootstrap)
    else:
        raise ValueError(f"unknown interval method {method!r}; use 't' or 'bootstrap'")
    n = int(n) if np.ndim(n) == 0 else n
    return Summary(n, mean, _out(sd), low, high, confidence, method)


@dataclass(frozen=True)
class RateSummary:
    """A rate over a population of runs, each with its counts.

    ``rate`` pools the counts (``successes / trials``) and ``low``/``high`` is its interval;
    ``mean`` and ``sd`` are over the runs' own rates (spread between chips), ``n`` runs.
    """

    n: np.ndarray | int
    successes: np.ndarray | float
    trials: np.ndarray | float
    rate: np.ndarray | float
    low: np.ndarray | float
    high: np.ndarray | float
    mean: np.ndarray | float
    sd: np.ndarray | float
    confidence: float = 0.95
    method: str = "wilson"


def summarize_rate(successes, trials, confidence: float = 0.95, axis: int = -1,
                   method: str = "wilson") -> RateSummary:
    """Pooled rate with its ``method`` interval, and mean/sd of the per-run rates, over ``axis``.

    Runs with ``trials == 0`` or NaN counts (failed runs) are left out.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    k, n = np.broadcast_arrays(k, n)
    valid = ~(np.isnan(k) | np.isnan(n)) & (n > 0)
    k_total = np.sum(np.where(valid, k, 0), axis=axis)
    n_total = np.sum(np.where(valid, n, 0), axis=axis)
    low, high = rate_interval(k_total, n_total, confidence, method)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_run = np.where(valid, k / np.where(valid, n, 1), np.nan)
        rate = np.where(n_total > 0, k_total / np.where(n_total > 0, n_total, 1), np.nan)
    spread = summarize(per_run, confidence, axis)
    return RateSummary(spread.n, _out(k_total), _out(n_total), _out(rate), low, high, spread.mean, spread.sd,
                       confidence, method)


@contextmanager
def _quiet_nan_warnings():
    """Silence numpy's 'mean of empty slice' and 'degrees of freedom' warnings: NaN is the answer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
