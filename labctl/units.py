"""Physical units in the core: one pint registry, values converted between unit strings, and
quantities typed by people (``50 uA``, ``1500 mV``, ``-10 dBm``) read as numbers in a given unit.

Why pint rather than a table of prefixes: station limits and instruments speak mA, mW, dBm
(logarithmic: 0 dBm is 1 mW), ohm and kohm, T and mT; pint knows them all, tells a typo
(``mAA``) from a unit, and refuses a conversion across dimensions (mA into V) instead of silently
scaling. Building the registry means parsing pint's whole definitions file, so it is built on
first use, and values whose units are spelled the same are never sent through it.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

__all__ = ["UnitsError", "convert", "convert_step", "fmt_quantity", "parse_quantity", "same_units", "takes_prefix",
           "units_of"]

_NUMBER = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*((?:[^\W\d_]|[%°]).*?)?\s*$")


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


def parse_quantity(value: Any, units: str) -> float:
    """A number in ``units`` from what a person typed: ``"50 uA"`` or ``"50uA"`` -> ``5e-05`` for
    ``"A"``, ``"1500 mV"`` -> ``1.5`` for ``"V"``, ``"0.1 mW"`` -> ``-10`` for ``"dBm"``; a bare number
    is already in ``units``. UnitsError for an unknown unit or one of another quantity.

    The number is read with a regular expression and only the unit goes to pint, so nothing typed
    is evaluated as an expression; results are rounded to 12 significant digits so that a prefix
    change reads back as typed (``1500 mV`` is 1.5 V, not 1.5000000000000002).
    """
    if not isinstance(value, str):
        return float(value)
    match = _NUMBER.match(value)
    if match is None:
        try:  # nan, inf: numbers still, for the caller's own refusal of what is not finite
            return float(value)
        except ValueError:
            raise UnitsError(f"{value!r} is not a number with optional units") from None
    number, unit = float(match.group(1)), match.group(2)
    if not unit or unit.strip() == (units or "").strip():
        return number
    try:
        converted = convert(number, unit, units or "")
    except UnitsError as exc:
        if str(exc).startswith("unknown unit"):
            raise
        raise UnitsError(f"{value.strip()} is not in {units}" if units else
                         f"{value.strip()} is not a plain number") from None
    return float(f"{converted:.12g}") if math.isfinite(converted) else converted


#: Units written with an SI prefix in messages (``5 uA``) and on plot axes (``330 MHz``): they scale;
#: dBm, T/A or % do not read so.
_PREFIXABLE = frozenset({"A", "V", "Hz", "s", "W", "J", "ohm", "F", "T", "m"})
_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"),
             (1e-12, "p"))


def takes_prefix(units: str) -> bool:
    """Whether ``units`` read well with an SI prefix (``uA``, ``MHz``; not ``dBm`` or ``T/A``)."""
    return (units or "").strip() in _PREFIXABLE


def fmt_quantity(x: float, units: str) -> str:
    """``5e-06, "A"`` -> ``"5 uA"``; units that do not take prefixes as ``"-10 dBm"``."""
    units = (units or "").strip()
    if units not in _PREFIXABLE or x == 0 or not math.isfinite(x):
        return f"{x:g} {units}".rstrip()
    for scale, prefix in _PREFIXES:
        if abs(x) >= scale * (1 - 1e-12):
            return f"{x / scale:.6g} {prefix}{units}"
    return f"{x:g} {units}"
