"""Protocol parameters: pymeasure's ``Parameter`` classes, values typed with units, lists of numbers,
and what a refused value is told.

A value may come as a number or as text a person typed, with units (``"50 uA"``, ``"1500 mV"``,
``"-10 dBm"``, ``"0.1 mW"`` for a power in dBm): pint reads it into the parameter's own units
(:mod:`labctl.units`). A bad value is refused when it is set, in one line saying what the parameter
takes (``must be a number in [5 uA, 500 uA]``), so that it stops a run before anything is connected.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pymeasure.experiment import (
    BooleanParameter,
    FloatParameter,
    IntegerParameter,
    ListParameter,
    Parameter,
)

from labctl.units import UnitsError, fmt_quantity, parse_quantity, takes_prefix

__all__ = ["BooleanParameter", "FloatListParameter", "FloatParameter", "IntegerParameter", "ListParameter",
           "Parameter", "ParameterError", "assign", "bounds_text", "fmt_number"]


class ParameterError(ValueError):
    """A parameter name or value the protocol does not accept (message says what and how)."""


def assign(spec: Parameter, name: str, value: Any) -> Any:
    """Set ``spec`` (parameter ``name``) from ``value``, a value or text with units, and return the
    value it now holds; ParameterError saying what it takes, with the old value kept, if refused."""
    before = spec._value
    try:
        spec.value = in_parameter_units(spec, value)
    except UnitsError as exc:
        raise ParameterError(f"parameter {name}={value!r}: {exc}; {describe(spec, None)}") from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise ParameterError(f"parameter {name}={value!r}: {describe(spec, exc)}") from None
    if isinstance(spec.value, (float, np.floating)) and not math.isfinite(spec.value):
        spec._value = before  # nothing of the refused value stays behind
        raise ParameterError(f"parameter {name}={value!r}: {describe(spec, None)} (a finite one)")
    return spec.value


def in_parameter_units(spec: Parameter, value: Any) -> Any:
    """A quantity typed with units (``"50 uA"``, ``"1500 mV"``, ``"-10 dBm"``, ``"0.1 mW"`` for a power
    in dBm) as a number in the parameter's units (pint, :mod:`labctl.units`); anything else as given.
    List parameters read each item the same way (:class:`FloatListParameter`)."""
    if not isinstance(value, str) or isinstance(spec, FloatListParameter):
        return value
    if isinstance(spec, IntegerParameter):
        text = value.strip()
        if not text or not text.lstrip("+-")[:1].isdigit() or text.replace(".", "", 1).lstrip("+-").isdigit():
            return value  # no units: pymeasure's own reading (and its refusal of 2.5)
        number = parse_quantity(text, spec.units or "")
        if not float(number).is_integer():
            raise UnitsError(f"{value} is {number:g} {spec.units or ''}, not a whole number")
        return int(number)
    if isinstance(spec, FloatParameter):
        return parse_quantity(value, spec.units or "")
    return value


def describe(spec: Parameter, exc: Exception | None) -> str:
    lo, hi = getattr(spec, "minimum", None), getattr(spec, "maximum", None)
    units = getattr(spec, "units", None) or ""
    if isinstance(spec, ListParameter):
        return f"must be one of {list(spec.choices)}"
    if isinstance(spec, FloatListParameter):
        kind = "whole numbers" if spec.integer else "numbers"
        return (f"must be comma-separated {kind} in {bounds_text(lo, hi, units)}"
                + (f" ({exc})" if exc is not None and str(exc) else ""))
    if lo is not None and hi is not None:
        kind = "an integer" if isinstance(spec, IntegerParameter) else "a number"
        return f"must be {kind} in {bounds_text(lo, hi, units)}"
    if isinstance(spec, BooleanParameter):
        return "must be true or false"
    return str(exc)


class FloatListParameter(Parameter):
    """Comma-separated numbers (``"20e-6, 50e-6"``, or a list), each finite, in [``minimum``,
    ``maximum``] and, with ``integer``, whole: refused when set, like any other parameter, so that a
    bad list stops the run before anything is connected or written. The value stays text (how the
    run file and pymeasure record it), written the same way whatever the input."""

    def __init__(self, name, units=None, minimum=-1e9, maximum=1e9, integer=False, allow_empty=False,
                 **kwargs):
        self.units, self.minimum, self.maximum = units, minimum, maximum
        self.integer, self.allow_empty = integer, allow_empty
        super().__init__(name, **kwargs)

    def convert(self, value):
        if isinstance(value, (list, tuple, np.ndarray)):
            items = [str(v) for v in np.ravel(value)]
        else:
            items = str(value).replace(";", ",").split(",")
        numbers = []
        for item in (i.strip() for i in items):
            if not item:
                continue
            x = parse_quantity(item, self.units or "")  # "20 uA" as well as 2e-05; UnitsError is a ValueError
            if not (math.isfinite(x) and self.minimum <= x <= self.maximum):
                raise ValueError(f"{item} is outside")
            if self.integer and not x.is_integer():
                raise ValueError(f"{item} is not whole")
            numbers.append(x)
        if not numbers and not self.allow_empty:
            raise ValueError("at least one value needed")
        return ", ".join(str(int(x)) if self.integer else repr(x) for x in numbers)


def bounds_text(lo: float, hi: float, units: str) -> str:
    """``[5 uA, 500 uA]`` (prefixed where the units take prefixes), ``[-135, 25] dBm`` otherwise."""
    if takes_prefix(units):
        return f"[{fmt_quantity(lo, units)}, {fmt_quantity(hi, units)}]"
    return f"[{fmt_number(lo)}, {fmt_number(hi)}] {units}".rstrip()


def fmt_number(x: float) -> str:
    """``1000000`` not ``1e+06`` for whole numbers; ``%g`` otherwise."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"
