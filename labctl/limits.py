"""Safety limits: declared bounds on instrument settings, enforced around the driver.

A limit names a property (``source_voltage``), a channel's property (``ch_1.voltage``) or a method
argument (``apply_voltage.compliance_current``). :func:`guard` gives each driver instance a subclass
whose limited property setters (and every method with an argument of a limited name) check the value
first, so a refused request sends nothing to the instrument. Protocols never see limits.

A limit's ``units`` are converted to the control's own (pint, :mod:`labctl.units`; the control's
units come from :mod:`labctl.driver_facts`), and a station whose limit units cannot be, or whose
control's units nobody declared, is refused. A limit on one control of a group that sets the same
quantity (a SET compliance in A and the word-line voltage that sets it) must come with limits on
all of them: :func:`guard` refuses to leave a door open.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from labctl.driver_facts import control_units, limit_groups
from labctl.errors import LimitError, StationError
from labctl.units import UnitsError, convert, convert_step

__all__ = ["Limit", "LimitError", "guard"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """Bounds on one property or method argument: ``|v| <= abs``, ``min <= v <= max``, and at most
    ``step`` change per set (a ramp limit for hardware that jumps)."""

    name: str
    abs: float | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    units: str = ""
    declared: str = ""  # the station's words, when the bounds were converted to the control's units

    @classmethod
    def parse(cls, name: str, spec: Any, where: str) -> Limit:
        if isinstance(spec, bool) or not isinstance(spec, (int, float, Mapping)):
            raise StationError(f"{where}: limit {name!r} must be a number or a mapping")
        if not isinstance(spec, Mapping):
            return cls(name, abs=float(spec))
        unknown = set(spec) - {"abs", "min", "max", "step", "units"}
        if unknown:
            raise StationError(
                f"{where}: limit {name!r} has unknown key(s) {sorted(unknown)}; "
                "use abs, min, max, step, units"
            )
        try:
            nums = {k: float(spec[k]) for k in ("abs", "min", "max", "step") if k in spec}
        except (TypeError, ValueError):
            raise StationError(f"{where}: limit {name!r}: bounds must be numbers") from None
        if not nums:
            raise StationError(f"{where}: limit {name!r} declares no bound")
        return cls(name, units=str(spec.get("units", "")), **nums)

    def expressed_in(self, units: str) -> Limit:
        """The same limit with its bounds in ``units`` (UnitsError when they cannot be)."""
        if not self.units or self.units.strip() == units.strip():
            return self
        bounds = {k: convert(getattr(self, k), self.units, units)
                  for k in ("abs", "min", "max") if getattr(self, k) is not None}
        if self.step is not None:
            bounds["step"] = convert_step(self.step, self.units, units)
        return replace(self, units=units, declared=self.describe(), **bounds)

    def describe(self) -> str:
        return self._bounds() + (f" (the station's {self.declared})" if self.declared else "")

    def _bounds(self) -> str:
        u = f" {self.units}" if self.units else ""
        parts = []
        if self.abs is not None:
            parts.append(f"|{self.name}| <= {self.abs:g}{u}")
        if self.min is not None:
            parts.append(f"{self.name} >= {self.min:g}{u}")
        if self.max is not None:
            parts.append(f"{self.name} <= {self.max:g}{u}")
        if self.step is not None:
            parts.append(f"steps of {self.name} <= {self.step:g}{u}")
        return ", ".join(parts)

    def check(self, value: Any, where: str, previous: Any = None) -> None:
        """Refuse ``value`` (a number, or every number of an array: one reference per column)."""
        v = _numbers(value)
        if v is None:
            return  # non-numeric settings (modes, names) are not what limits are about
        bad = bool(
            (self.abs is not None and not np.all(np.abs(v) <= self.abs))
            or (self.min is not None and not np.all(v >= self.min))
            or (self.max is not None and not np.all(v <= self.max))
        )
        p = _numbers(previous) if self.step is not None and previous is not None else None
        if not bad and p is not None:
            try:
                bad = not np.all(np.abs(v - p) <= self.step)
            except ValueError:  # shapes that do not match: no step to measure
                pass
        if bad:
            message = f"{where} refused: station limit {self.describe()}"
            log.warning(message)
            raise LimitError(message)

    def record(self) -> dict[str, Any]:
        return {
            k: (getattr(self, k), self.units)
            for k in ("abs", "min", "max", "step")
            if getattr(self, k) is not None
        }


def _numbers(value: Any) -> np.ndarray | None:
    if isinstance(value, (str, bytes)):
        return None
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def _show(value: Any) -> str:
    """``2.125`` rather than ``np.float64(2.125)`` in messages."""
    item = getattr(value, "item", None)
    return repr(item() if callable(item) and getattr(value, "ndim", 1) == 0 else value)


def _guarded_property(base: property, limit: Limit, label: str) -> property:
    def fget(obj):
        return base.__get__(obj, type(obj))

    def fset(obj, value):
        last = obj.__dict__.setdefault("_labctl_last", {})
        where = f"{label} = {_show(value)}"
        limit.check(value, where)
        if limit.step is not None and limit.name not in last and base.fget is not None:
            # first set through the guard: the step is measured from what the instrument holds now
            try:
                last[limit.name] = base.__get__(obj, type(obj))
            except Exception:  # an unreadable setting: nothing to measure the step from
                pass
        limit.check(value, where, last.get(limit.name))
        base.__set__(obj, value)
        last[limit.name] = value

    return property(fget if base.fget is not None else None, fset, doc=base.__doc__)


def _guarded_method(func, limits: dict[str, Limit], label: str):
    sig = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(obj, *args, **kwargs):
        bound = sig.bind(obj, *args, **kwargs)
        bound.apply_defaults()
        for arg, limit in limits.items():
            value = bound.arguments.get(arg)
            limit.check(value, f"{label}({arg}={_show(value)})")
        return func(obj, *args, **kwargs)

    return wrapper


def guard(instrument: Any, limits: Iterable[Limit], label: str = "") -> Any:
    """Make ``instrument`` refuse values beyond ``limits`` before any command is sent.

    A limit name is a property (``source_voltage``), a path to a channel's property
    (``ch_1.voltage``), or a method argument (``apply_voltage.compliance_current``). A property
    limit also covers every method argument of the same name. The instance's class is swapped for
    a subclass of the same name, so the driver's own methods (ramps) are checked as well.

    StationError, before anything is guarded: a limit whose units are not the control's and cannot
    be converted to them (or on a control of undeclared units), or a limit on one control of a
    group that sets the same quantity while another is left free (:mod:`labctl.driver_facts`).
    """
    limits = list(limits)
    _check_groups(type(instrument), limits, label)
    by_owner: dict[str, list[tuple[str, Limit]]] = {}
    for limit in limits:
        owner, _, attr = limit.name.rpartition(".")
        by_owner.setdefault(owner, []).append((attr, limit))
    plan = []
    for owner_path, items in by_owner.items():
        obj = instrument
        for part in owner_path.split(".") if owner_path else ():
            method = getattr(type(obj), part, None)
            if inspect.isfunction(method):
                obj = None
                break
            obj = getattr(obj, part, None)
            if obj is None:
                raise StationError(f"{label}: no attribute {part!r} (limit {items[0][1].name!r})")
        if obj is None:  # method-argument limits: "method.arg", in the units of that argument
            items = [(arg, _in_control_units(lim, type(instrument), f"{owner_path}.{arg}", label))
                     for arg, lim in items]
        else:
            items = [(attr, _in_control_units(lim, type(obj), attr, label)) for attr, lim in items]
        plan.append((owner_path, obj, items))
    for owner_path, obj, items in plan:
        if obj is None:
            _guard_method_args(instrument, owner_path, items, label)
        else:
            _guard_object(obj, items, f"{label}.{owner_path}" if owner_path else label)
    return instrument


def _in_control_units(limit: Limit, cls: type, name: str, label: str) -> Limit:
    """``limit`` with its bounds in the units of control ``name`` of ``cls`` (a bound without units
    is taken to be in them already)."""
    if not limit.units:
        return limit
    units = control_units(cls, name)
    if units is None:
        raise StationError(
            f"{label}: limit {limit.name!r} is given in {limit.units}, but nobody declared the units of "
            f"{cls.__name__}.{name} (labctl.driver_facts): give the bound without 'units:', in the "
            "control's own units, or declare them")
    try:
        return limit.expressed_in(units)
    except UnitsError as exc:
        raise StationError(f"{label}: limit {limit.name!r}: {exc} ({cls.__name__}.{name} is set in "
                           f"{units})") from None


def _check_groups(cls: type, limits: list[Limit], label: str) -> None:
    """Refuse a limit that guards one control of a quantity while another control of it is free."""
    names = {lim.name for lim in limits}
    properties = {n for n in names if "." not in n}

    def covered(control: str) -> bool:  # a property limit also covers method arguments of its name
        return control in names or ("." in control and control.rpartition(".")[2] in properties)

    for quantity, controls in limit_groups(cls).items():
        free = [c for c in controls if not covered(c)]
        if free and len(free) < len(controls):
            held = [c for c in controls if covered(c)]
            raise StationError(
                f"{label}: the limit on {', '.join(held)} leaves {', '.join(free)} unguarded, which "
                f"{'sets' if len(free) == 1 else 'set'} the same {quantity} ({cls.__name__}): "
                f"limit {'it' if len(free) == 1 else 'them'} too")


def _guard_method_args(inst, method_name: str, items, label: str) -> None:
    func = getattr(type(inst), method_name)
    params = inspect.signature(func).parameters
    for arg, limit in items:
        if arg not in params:
            raise StationError(f"{label}: {method_name}() has no argument {arg!r}")
        if limit.step is not None:
            raise StationError(f"{label}: limit {limit.name!r}: 'step' bounds changes of a property between "
                               "sets; a method argument has no previous value (use abs/min/max)")
    limits = {arg: limit for arg, limit in items}
    _swap_class(inst, {method_name: _guarded_method(func, limits, f"{label}.{method_name}")})


def _guard_object(obj, items, label: str) -> None:
    cls = type(obj)
    namespace: dict[str, Any] = {}
    matched = set()
    for attr, limit in items:
        base = inspect.getattr_static(cls, attr, None)
        if isinstance(base, property):
            namespace[attr] = _guarded_property(base, limit, f"{label}.{attr}")
            matched.add(attr)
    by_arg = {attr: limit for attr, limit in items}
    for name, func in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_") or name in namespace:
            continue
        params = inspect.signature(func).parameters
        hits = {a: by_arg[a] for a in params if a in by_arg}
        if hits:
            namespace[name] = _guarded_method(func, hits, f"{label}.{name}")
            matched.update(hits)
    unmatched = [a for a, _ in items if a not in matched]
    if unmatched:
        raise StationError(
            f"{label}: {cls.__name__} has no property or method argument named "
            f"{', '.join(map(repr, unmatched))} to limit"
        )
    _swap_class(obj, namespace)


def _swap_class(obj, namespace: dict[str, Any]) -> None:
    cls = type(obj)
    guarded = type(cls.__name__, (cls,), {
        **namespace, "__module__": cls.__module__, "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
    })
    obj.__class__ = guarded
