"""A connected station: the guarded drivers filling each role, the run's clock, what to record.

:func:`connect` opens each role's driver on its VISA resource, asks ``*IDN?`` once (a wrong address
fails here, not mid-run) and wraps it in the station's limits (:mod:`labctl.limits`).
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Iterable
from typing import Any

from labctl.capabilities import clock_of, library_of, sample_of
from labctl.clock import Clock, WallClock
from labctl.errors import StationError
from labctl.limits import guard
from labctl.link import make_resilient
from labctl.station import Station

__all__ = ["DRIVER_PACKAGES", "ConnectedStation", "connect", "driver_class"]

#: Where station drivers may come from without the user naming more (``--allow-import``).
DRIVER_PACKAGES = ("pymeasure", "labctl")

log = logging.getLogger(__name__)


class ConnectedStation:
    """Role -> guarded driver, with the run's clock, the snapshot for the file, and close."""

    def __init__(self, station: Station):
        self.station = station
        self.instruments: dict[str, Any] = {}
        self._remote_clock = None

    def _libraries(self) -> list[Any]:
        """Each distinct VISA library object behind the drivers, in role order."""
        seen: dict[int, Any] = {}
        for inst in self.instruments.values():
            lib = library_of(inst)
            if lib is not None:
                seen.setdefault(id(lib), lib)
        return list(seen.values())

    @property
    def clock(self) -> Clock:
        """The station's ``clock:`` (a served bench's, through its control port), else the clock a
        driver's VISA library carries (a simulated bench's), else the wall clock."""
        if self.station.clock:
            if self._remote_clock is None:
                from labctl.remote_clock import RemoteClock

                self._remote_clock = RemoteClock(self.station.clock)
            return self._remote_clock
        for lib in self._libraries():
            clock = clock_of(lib)
            if not isinstance(clock, WallClock):
                return clock
        return WallClock()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per role: driver, resource, library, IDN, declared settings, limits (for NXinstrument)."""
        out = {}
        for role, inst in self.instruments.items():
            spec = self.station.roles[role]
            units = {**{lim.name: lim.units for lim in spec.limits if lim.units}, **spec.snapshot_units}
            settings = {name: _with_units(_read(inst, name), units.get(name)) for name in spec.snapshot}
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
        """Facts for NXsample: the station's sample text and what the VISA libraries report now."""
        out: dict[str, Any] = {"name": self.station.sample or self.station.name}
        for lib in self._libraries():
            out.update(sample_of(lib))
        if self.station.clock:
            out.update(sample_of(self.clock))
        return out

    def close(self) -> None:
        if self._remote_clock is not None:
            self._remote_clock.close()
        for inst in self.instruments.values():
            adapter = getattr(inst, "adapter", None)
            try:
                adapter.close()
            except Exception:  # closing is best effort; the run's status is already decided
                pass


def connect(station: Station, roles: Iterable[str] | None = None) -> ConnectedStation:
    """Open the drivers of ``roles`` (default: all) of ``station``, guarded by their limits."""
    wanted = list(station.roles) if roles is None else list(roles)
    station.check_roles(wanted)
    allowed = (*DRIVER_PACKAGES, *station.allow_import)
    classes = {role: driver_class(station.roles[role].driver, f"station {station.name!r} role {role!r}", allowed)
               for role in wanted}  # every driver checked before any instrument is opened
    connected = ConnectedStation(station)
    try:
        for role in wanted:
            spec = station.roles[role]
            where = f"station {station.name!r} role {role!r}"
            cls = classes[role]
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
            connected.instruments[role] = inst
            if spec.link is not None:
                make_resilient(inst, role, spec.link)
            _ping(inst, spec.resource, where)
            guard(inst, spec.limits, role)
            log.info("station %s: %s = %s at %s", station.name, role, cls.__name__, spec.resource)
    except BaseException:
        connected.close()
        raise
    return connected


def driver_class(path: str, where: str, allowed: Iterable[str] = DRIVER_PACKAGES) -> type:
    """The driver class a station names: a pymeasure ``Instrument`` subclass from one of the
    ``allowed`` packages. A station file is data that may come from elsewhere: a module outside
    them is never imported (importing runs its code), nor is anything but a driver class called."""
    module, sep, name = path.partition(":")
    if not sep:
        module, _, name = path.rpartition(".")
    package = module.split(".")[0]
    if package not in allowed:
        raise StationError(f"{where}: driver {path!r} is not from an allowed package ({', '.join(allowed)}); "
                           f"if you trust it: labctl run --allow-import {package or path}")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise StationError(f"{where}: cannot import driver {path!r} ({exc})") from None
    from pymeasure.instruments import Instrument

    if not (isinstance(cls, type) and issubclass(cls, Instrument)):
        raise StationError(f"{where}: driver {path!r} is not a pymeasure Instrument class")
    return cls


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


def _first_line(exc: Exception) -> str:
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return lines[0][:400] if lines else ""


def _with_units(value: Any, units: str | None) -> Any:
    """``(value, units)`` for a number (or list of numbers) whose units the station gives."""
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    numeric |= isinstance(value, list) and all(isinstance(v, (int, float)) for v in value)
    return (value, units) if units and numeric else value


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
