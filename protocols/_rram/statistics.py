"""Bit-error counts as the RRAM protocols record them: the count, the bits tested, and the rate
declared as a rate of that count, so that the run file stores its 95 % interval beside it
(``<rate>_ci_low``/``_ci_high``, Wilson score interval, :mod:`labctl.channels`).

Figures draw the same interval (:func:`interval`) as error bars, and a condition with no error as
an upper bound at the interval's high end (about 3.8 / n for n bits), never as a point.

Binomial intervals take the bits as independent.  On one die they are not quite: a weak device errs
on many writes of its bit, so errors cluster on devices, and a die-to-die spread adds to it; the
spread between dies is what a study over several dies (:func:`labctl.stats.summarize_rate`)
reports next to the pooled interval.
"""

from __future__ import annotations

from labctl.protocol import Column
from labctl.stats import wilson_interval

CONFIDENCE = 0.95


def rate_columns(name: str, what: str, trials: str = "bits") -> tuple[Column, ...]:
    """Columns ``ber_<name>`` (a rate of ``errors_<name>`` out of ``trials``) and ``errors_<name>``."""
    return (Column(f"ber_{name}", "", f"Bit-error rate, {what}", count=f"errors_{name}",
                   trials=trials),
            Column(f"errors_{name}", "", f"Errors, {what}", dtype="i8"))


def rate_values(name: str, errors, bits) -> dict[str, float]:
    """Values of :func:`rate_columns` ``name`` for ``errors`` out of ``bits``."""
    errors, bits = int(errors), int(bits)
    return {f"ber_{name}": errors / bits if bits else float("nan"), f"errors_{name}": errors}


def interval(errors, bits):
    """The 95 % interval ``(low, high)`` of ``errors / bits`` that the run file records."""
    return wilson_interval(errors, bits, CONFIDENCE)
