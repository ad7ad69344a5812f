"""Physical units in the core: one pint registry, values converted between unit strings.

Why pint rather than a table of prefixes: station limits and instruments speak mA, mW, dBm
(logarithmic: 0 dBm is 1 mW), ohm and kohm, T and mT; pint knows them all, tells a typo
(``mAA``) from a unit, and refuses a conversion across dimensions (mA into V) instead of silently
scaling. The registry costs about 0.3 s to build, so it is built on first use, and values whose
units are spelled the same are never sent through it.
"""

from __future__ import annotations

import functools
import math
from typing import Any

__all__ = ["UnitsError", "convert", "convert_step", "same_units", "units_of"]


class UnitsError(ValueError):
    """A unit pint does not know, or a conversion between unlike quantities."""


@functools.cache
def _registry():
    import pint

    return pint.UnitRegistry()


def units_of(text: str) -> Any:
    """The pint unit ``text`` names (UnitsError if none does). ``""`` is dimensionless."""
    import pint

    try:
        return _registry().Unit(text.strip() or "dimensionless")
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, ValueError, TypeError,
            AttributeError):
        raise UnitsError(f"unknown unit {text!r}") from None


def same_units(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are one unit (``"mA"`` and ``"milliampere"``; not ``"mA"`` and ``"A"``)."""
    return a.strip() == b.strip() or units_of(a) == units_of(b)


def convert(value: float, from_units: str, to_units: str) -> float:
    """``value`` in ``from_units`` expressed in ``to_units`` (dBm to mW included)."""
    if from_units.strip() == to_units.strip():
        return float(value)
    import pint

    try:
        return float(_registry().Quantity(float(value), units_of(from_units)).to(units_of(to_units)).magnitude)
    except pint.errors.DimensionalityError:
        raise UnitsError(f"{from_units} cannot be expressed in {to_units}") from None


def convert_step(value: float, from_units: str, to_units: str) -> float:
    """A difference of ``value`` in ``from_units`` expressed in ``to_units``: a plain scale factor,
    so only between units that scale (a step in mW says nothing about one in dBm; one of 1 degC
    would need a temperature difference)."""
    if from_units.strip() == to_units.strip():
        return float(value)
    import numpy as np

    with np.errstate(divide="ignore"):  # 0 mW is -inf dBm: not a scale, said below
        zero, one, two = (convert(x, from_units, to_units) for x in (0.0, 1.0, 2.0))
    if zero != 0.0 or not math.isclose(two, 2.0 * one):
        raise UnitsError(f"a step in {from_units} cannot be expressed in {to_units} (not a plain scale)")
    return float(value) * one
