"""Bit-error counts as the RRAM protocols record them: the count, the bits tested, the rate and its
95 % confidence interval.

Intervals are Clopper-Pearson (exact binomial; :func:`labctl.stats.clopper_pearson_interval`), the
usual choice when a rate rests on zero or a handful of errors.  A condition with no error has the
interval [0, high]; figures draw it as an upper bound at the one-sided 95 % limit
``1 - 0.05^(1/n)`` (about 3 / n, the "rule of three"), never as a point.

Binomial intervals take the bits as independent.  On one die they are not quite: a weak device errs
on many writes of its bit, so errors cluster on devices, and a die-to-die spread adds to it; the
spread between dies is what a study over several dies (:mod:`labctl.stats` ``summarize_rate``)
reports next to the pooled interval.
"""

from __future__ import annotations

import numpy as np

from labctl.protocol import Column
from labctl.stats import clopper_pearson_interval

CONFIDENCE = 0.95
METHOD = "Clopper-Pearson"


def rate_columns(name: str, what: str) -> tuple[Column, ...]:
    """Columns ``ber_<name>``, ``ber_<name>_low``/``_high`` (95 % CI) and ``errors_<name>``."""
    ci = f"{CONFIDENCE:.0%} CI ({METHOD})"
    return (Column(f"ber_{name}", "", f"Bit-error rate, {what}"),
            Column(f"ber_{name}_low", "", f"Bit-error rate, {what}: low end of the {ci}"),
            Column(f"ber_{name}_high", "", f"Bit-error rate, {what}: high end of the {ci}"),
            Column(f"errors_{name}", "", f"Errors, {what}", dtype="i8"))


def rate_values(name: str, errors, bits) -> dict[str, float]:
    """Values of :func:`rate_columns` ``name`` for ``errors`` out of ``bits``."""
    errors, bits = int(errors), int(bits)
    low, high = interval(errors, bits)
    return {f"ber_{name}": errors / bits if bits else np.nan, f"ber_{name}_low": low,
            f"ber_{name}_high": high, f"errors_{name}": errors}


def interval(errors, bits):
    """Two-sided 95 % Clopper-Pearson interval ``(low, high)`` of ``errors / bits``."""
    return clopper_pearson_interval(errors, bits, CONFIDENCE)


def upper_bound(bits):
    """One-sided 95 % upper bound of the rate when no error was seen in ``bits``."""
    bits = np.asarray(bits, float)
    with np.errstate(divide="ignore"):
        return 1.0 - (1.0 - CONFIDENCE) ** (1.0 / bits)
