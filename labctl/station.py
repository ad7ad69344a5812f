"""Station files: which driver, on which VISA resource and library, fills each role; safety limits.

A station is the only place that says where instruments are. Pointing a protocol at real hardware
means editing resources here; nothing in the protocol changes. Example (``labctl/stations/demo.yaml``)::

    name: demo
    description: Keithley 2400 on the demo bench's diode
    visa_library: "@py"                      # optional default for every role
    roles:
      smu:
        driver: pymeasure.instruments.keithley.Keithley2400
        resource: "GPIB0::24::INSTR"
        visa_library: "demo.yaml@labsim"     # a bench file: next to this file, or shipped
        kwargs: {}                           # extra driver keyword arguments
        snapshot: [source_voltage]           # properties recorded in the run file
        limits:
          source_voltage: 5                  # |value| <= 5
          compliance_current: {abs: 0.01, units: A}
          power: {min: -130, max: 10, units: dBm}
          field: {abs: 2000, step: 50, units: Oe}   # and at most 50 per set

Limits are enforced here, not in protocols: :func:`guard` gives each driver instance a subclass
whose limited property setters (and every method with an argument of a limited name) check the
value first, so a refused request sends nothing to the instrument.
"""

from __future__ import annotations

import functools
import importlib
import importlib.resources
import inspect
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labctl.clock import Clock, WallClock, clock_of

SHIPPED_BENCHES = "labctl.sim_backends.benches"


class StationError(ValueError):
    """A station file that cannot be read or used (message says what and where)."""


class LimitError(ValueError):
    """A request beyond a declared safety limit; raised before anything is sent."""


# -- limits -------------------------------------------------------------------------------------
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

    def describe(self) -> str:
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
        try:
            v = float(value)
        except (TypeError, ValueError):
            return  # non-numeric settings (modes, names) are not what limits are about
        bad = (
            (self.abs is not None and not abs(v) <= self.abs)
            or (self.min is not None and not v >= self.min)
            or (self.max is not None and not v <= self.max)
        )
        if not bad and self.step is not None and previous is not None:
            try:
                bad = not abs(v - float(previous)) <= self.step
            except (TypeError, ValueError):
                pass
        if bad:
            raise LimitError(f"{where} refused: station limit {self.describe()}")

    def record(self) -> dict[str, Any]:
        return {
            k: (getattr(self, k), self.units)
            for k in ("abs", "min", "max", "step")
            if getattr(self, k) is not None
        }


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
    """
    by_owner: dict[str, list[tuple[str, Limit]]] = {}
    for limit in limits:
        owner, _, attr = limit.name.rpartition(".")
        by_owner.setdefault(owner, []).append((attr, limit))
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
        if obj is None:  # method-argument limits: "method.arg"
            _guard_method_args(instrument, owner_path, items, label)
        else:
            _guard_object(obj, items, f"{label}.{owner_path}" if owner_path else label)
    return instrument


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


# -- station files ------------------------------------------------------------------------------
def _import_class(path: str, where: str):
    module, sep, name = path.partition(":")
    if not sep:
        module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise StationError(f"{where}: cannot import driver {path!r} ({exc})") from None


@dataclass
class RoleSpec:
    role: str
    driver: str
    resource: str
    visa_library: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    limits: list[Limit] = field(default_factory=list)
    snapshot: list[str] = field(default_factory=list)


def _resolve_library(spec: str, station: Path, where: str) -> str:
    """``demo.yaml@labsim`` -> absolute bench path: next to the station file, else shipped."""
    path, at, backend = spec.rpartition("@")
    if not at or not path or Path(path).is_absolute():
        return spec
    local = station.parent / path
    if local.is_file() and local.resolve() != station.resolve():
        return f"{local.resolve()}@{backend}"
    shipped = importlib.resources.files(SHIPPED_BENCHES).joinpath(path)
    if shipped.is_file():
        return f"{Path(str(shipped))}@{backend}"
    raise StationError(f"{where}: bench file {path!r} not found next to the station nor shipped")


def shipped_stations() -> list[Path]:
    root = importlib.resources.files("labctl").joinpath("stations")
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith((".yaml", ".yml")))


def resolve_station(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    names = ", ".join(s.stem for s in shipped_stations())
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise StationError(
                f"station file {str(p)!r} not found: give an existing YAML file or a shipped "
                f"station name ({names})"
            )
        return p
    for shipped in shipped_stations():
        if shipped.stem == str(name_or_path):
            return shipped
    raise StationError(f"no station {str(name_or_path)!r}: give a YAML path or one of: {names}")


@dataclass
class Station:
    """A parsed station file (nothing opened yet; see :meth:`connect`)."""

    name: str
    path: Path
    description: str = ""
    sample: str = ""
    roles: dict[str, RoleSpec] = field(default_factory=dict)

    @classmethod
    def load(cls, name_or_path: str | Path) -> Station:
        path = resolve_station(name_or_path)
        where = str(path)
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StationError(f"{where}: not a readable YAML station file ({first})") from None
        if not isinstance(doc, Mapping) or not isinstance(doc.get("roles"), Mapping):
            raise StationError(f"{where}: expected a mapping with a 'roles:' section")
        roles = {}
        for role, spec in doc["roles"].items():
            w = f"{where}: role {role!r}"
            if not isinstance(spec, Mapping):
                raise StationError(f"{w}: expected a mapping (driver, resource, ...)")
            unknown = set(spec) - {"driver", "resource", "visa_library", "kwargs", "limits",
                                   "snapshot", "description"}
            if unknown:
                raise StationError(f"{w}: unknown key(s) {sorted(unknown)}")
            for key in ("driver", "resource"):
                if not isinstance(spec.get(key), str):
                    raise StationError(f"{w}: '{key}' is required (a string)")
            limits = spec.get("limits") or {}
            if not isinstance(limits, Mapping):
                raise StationError(f"{w}: 'limits' must map names to bounds")
            kwargs = spec.get("kwargs") or {}
            if not isinstance(kwargs, Mapping):
                raise StationError(f"{w}: 'kwargs' must map driver argument names to values")
            snapshot = spec.get("snapshot") or []
            if not isinstance(snapshot, list):
                raise StationError(f"{w}: 'snapshot' must be a list of property names")
            lib = str(spec.get("visa_library") or doc.get("visa_library") or "")
            roles[str(role)] = RoleSpec(
                role=str(role),
                driver=spec["driver"],
                resource=spec["resource"],
                visa_library=_resolve_library(lib, path, w) if lib else "",
                kwargs=dict(kwargs),
                limits=[Limit.parse(str(k), v, w) for k, v in limits.items()],
                snapshot=[str(s) for s in snapshot],
            )
        return cls(
            name=str(doc.get("name") or path.stem),
            path=path,
            description=str(doc.get("description") or ""),
            sample=str(doc.get("sample") or ""),
            roles=roles,
        )

    def check_roles(self, needed: Iterable[str]) -> None:
        missing = sorted(set(needed) - set(self.roles))
        if missing:
            raise StationError(
                f"station {self.name!r} ({self.path}) has no role {', '.join(missing)}; "
                f"it has: {', '.join(self.roles) or 'none'}"
            )

    def connect(self, roles: Iterable[str] | None = None) -> Lab:
        """Open the drivers of ``roles`` (default: all), guarded by their limits."""
        wanted = list(self.roles) if roles is None else list(roles)
        self.check_roles(wanted)
        lab = Lab(self)
        try:
            for role in wanted:
                spec = self.roles[role]
                where = f"station {self.name!r} role {role!r}"
                cls = _import_class(spec.driver, where)
                kwargs = dict(spec.kwargs)
                if spec.visa_library:
                    kwargs["visa_library"] = spec.visa_library
                try:
                    with warnings.catch_warnings():
                        # pymeasure asks its maintainers, not lab users, whether a driver speaks SCPI.
                        warnings.filterwarnings("ignore", "It is not known whether this device support SCPI",
                                                FutureWarning)
                        inst = cls(spec.resource, **kwargs)
                except Exception as exc:
                    raise StationError(
                        f"{where}: cannot open {spec.resource!r} with {cls.__name__} "
                        f"({type(exc).__name__}: {_first_line(exc)})"
                    ) from None
                lab.instruments[role] = inst
                _ping(inst, spec.resource, where)
                guard(inst, spec.limits, role)
        except BaseException:
            lab.close()
            raise
        return lab


def _ping(inst: Any, resource: str, where: str) -> None:
    """Ask ``*IDN?`` once so that a wrong address fails here, clearly, not mid-run."""
    try:
        idn = inst.id
    except NotImplementedError:  # a non-SCPI driver: nothing standard to ask
        return
    except Exception as exc:
        raise StationError(
            f"{where}: no answer to *IDN? at {resource!r} ({type(exc).__name__}: "
            f"{_first_line(exc)})"
        ) from None
    if not str(idn).strip():
        raise StationError(f"{where}: no instrument answers at {resource!r} (empty *IDN? reply)")


def _visa_library_of(inst: Any):
    conn = getattr(getattr(inst, "adapter", None), "connection", None)
    return getattr(conn, "visalib", None)


class Lab:
    """A connected station: role -> guarded driver, the run's clock, snapshot, close."""

    def __init__(self, station: Station):
        self.station = station
        self.instruments: dict[str, Any] = {}

    @property
    def clock(self) -> Clock:
        """The bench's clock if a driver's VISA library carries one, else the wall clock."""
        for inst in self.instruments.values():
            clock = clock_of(_visa_library_of(inst))
            if not isinstance(clock, WallClock):
                return clock
        return WallClock()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per role: driver, resource, library, IDN, declared settings, limits (for NXinstrument)."""
        out = {}
        for role, inst in self.instruments.items():
            spec = self.station.roles[role]
            settings = {}
            for name in spec.snapshot:
                settings[name] = _read(inst, name)
            out[role] = {
                "driver": spec.driver,
                "resource": spec.resource,
                "visa_library": spec.visa_library or "default",
                "idn": _read(inst, "id"),
                "settings": settings or None,
                "limits": {lim.name: lim.record() for lim in spec.limits} or None,
            }
        return out

    def sample(self) -> dict[str, Any]:
        """Facts for NXsample: the station's sample text and what a VISA library reports."""
        out: dict[str, Any] = {"name": self.station.sample or self.station.name}
        seen = set()
        for inst in self.instruments.values():
            lib = _visa_library_of(inst)
            bench = getattr(lib, "bench", None)
            if bench is None or id(bench) in seen or not hasattr(bench, "snapshot"):
                continue
            seen.add(id(bench))
            out["bench_file"] = str(getattr(lib, "library_path", ""))
            out.update(bench.snapshot())
        return out

    def close(self) -> None:
        for inst in self.instruments.values():
            adapter = getattr(inst, "adapter", None)
            try:
                adapter.close()
            except Exception:  # closing is best effort; the run's status is already decided
                pass


def _first_line(exc: Exception) -> str:
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return lines[0][:200] if lines else ""


def _read(inst: Any, name: str) -> Any:
    obj = inst
    try:
        for part in name.split("."):
            obj = getattr(obj, part)
    except NotImplementedError:  # e.g. no *IDN? on a non-SCPI instrument
        return "n/a (the driver has no such query)"
    except Exception as exc:  # a snapshot must not fail the run; record why it is missing
        return f"unavailable ({type(exc).__name__}: {exc})"
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, (list, tuple)) and all(isinstance(v, (int, float)) for v in obj):
        return list(obj)
    return str(obj)
