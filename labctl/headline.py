"""Headline scalars: the few numbers a protocol says one run is summarized by.

A campaign (:mod:`labctl.campaign`) tabulates them for every run and summarizes them over chips. A
protocol declares them, then computes them from a finished run's file, so that the numbers in a study
always come from what was recorded::

    HEADLINES = (Headline("ber_2t2r", "", "Bit-error rate, 2T2R", rate=True),
                 Headline("energy_per_bit", "J", "Programming energy per bit"))

    @classmethod
    def headline(cls, run):
        return {"ber_2t2r": Rate(run["errors_2t2r"].values.sum(), run["bits"].values.sum()),
                "energy_per_bit": float(run["energy_per_bit"].values.mean())}

A rate is given with its counts (:class:`Rate`): its confidence interval comes from them (Wilson or
Clopper-Pearson, :mod:`labctl.stats`), not from the spread of a handful of fractions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Headline", "Rate", "checked_headline"]


@dataclass(frozen=True)
class Headline:
    """One number summarizing a run: ``rate=True`` when it is a fraction of counts (a :class:`Rate`)."""

    name: str
    units: str = ""
    long_name: str = ""
    rate: bool = False

    def __post_init__(self):
        if not (isinstance(self.name, str) and self.name.isidentifier()):
            raise ValueError(f"headline name {self.name!r} must be a Python identifier")

    @property
    def label(self) -> str:
        text = self.long_name or self.name
        return f"{text} ({self.units})" if self.units else text


@dataclass(frozen=True)
class Rate:
    """``successes`` out of ``trials`` (errors out of bits read, correct out of presented)."""

    successes: float
    trials: float

    def __post_init__(self):
        if not 0 <= self.successes <= self.trials:
            raise ValueError(f"a rate needs 0 <= successes <= trials, got {self.successes}/{self.trials}")

    @property
    def value(self) -> float:
        return self.successes / self.trials if self.trials else math.nan


def checked_headline(declared: Sequence[Headline], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as floats and :class:`Rate`, checked against ``declared`` (each present, right kind)."""
    out: dict[str, Any] = {}
    for h in declared:
        if h.name not in values:
            raise KeyError(f"headline {h.name!r} declared but not computed")
        v = values[h.name]
        if h.rate:
            if not isinstance(v, Rate):
                raise TypeError(f"headline {h.name!r} is a rate: give Rate(successes, trials), not {v!r}")
            out[h.name] = Rate(float(v.successes), float(v.trials))
        else:
            out[h.name] = float(v)
    extra = set(values) - {h.name for h in declared}
    if extra:
        raise KeyError(f"headline value(s) {sorted(extra)} not declared in HEADLINES")
    return out
