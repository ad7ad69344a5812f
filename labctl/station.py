"""Station files: which driver, on which VISA resource and library, fills each role; limits; setup.

A station is the only place that says where instruments are. Pointing a protocol at real hardware
means editing resources here (or ``labctl run --visa-library``); nothing in the protocol changes.
Example (``labctl/stations/demo.yaml``)::

    name: demo
    description: Keithley 2400 on the demo bench's diode
    visa_library: "demo.yaml@labsim"         # every role's library (a role may override it)
    setup:                                   # parameter defaults of this set-up (-p still wins)
      v_stop: 0.8
    roles:
      smu:
        driver: pymeasure.instruments.keithley.Keithley2400
        resource: "GPIB0::24::INSTR"
        kwargs: {}                           # extra driver keyword arguments
        snapshot: {source_voltage: V}        # properties recorded in the run file, with units
                                             # (or a list of names: units then from a limit)
        limits:                              # see labctl.limits
          source_voltage: 5                  # |value| <= 5
          compliance_current: {abs: 0.01, units: A}

Two keys serve stations whose instruments sit on a served bench (``labctl sim serve``) or on a LAN:
``clock: "127.0.0.1:5024"`` runs the run on the clock behind that control port
(:mod:`labctl.remote_clock`), and ``link:`` (station-wide or per role: ``false``, or
``{retries: 3, backoff: 0.05}``) sets the handling of link faults (:mod:`labctl.link`), on by
default for ``TCPIP...`` resources.

A library given as ``FILE@backend`` with a relative ``FILE`` is looked up next to the station file
first; any other name is passed on unchanged, for the backend to resolve (a simulated backend knows
its own shipped bench files). Library options (``labctl run --bench-seed``) are appended to such a
file as a query, ``FILE?seed=3@backend``: the backend that reads the file reads them too.
"""

from __future__ import annotations

import importlib
import importlib.resources
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from labctl.errors import LimitError, StationError
from labctl.limits import Limit
from labctl.link import LinkPolicy

__all__ = ["LimitError", "RoleSpec", "Station", "StationError", "resolve_station", "shipped_stations"]

_ROLE_KEYS = {"driver", "resource", "visa_library", "kwargs", "limits", "snapshot", "description", "link"}
_STATION_KEYS = {"name", "description", "sample", "visa_library", "setup", "roles", "clock", "link"}


@dataclass
class RoleSpec:
    role: str
    driver: str
    resource: str
    visa_library: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    limits: list[Limit] = field(default_factory=list)
    snapshot: list[str] = field(default_factory=list)
    snapshot_units: dict[str, str] = field(default_factory=dict)
    link: LinkPolicy | None = None  # link-fault handling (labctl.link); None: none

    @property
    def networked(self) -> bool:
        return self.resource.upper().startswith("TCPIP")


def _link_policy(spec: Any, networked: bool, where: str) -> LinkPolicy | None:
    """A role's link policy: ``link: false`` none, a mapping tunes it; by default LAN resources
    (``TCPIP...``) get one and others none."""
    if spec is None:
        return LinkPolicy() if networked else None
    if spec is False:
        return None
    try:
        return LinkPolicy.parse(spec, where)
    except ValueError as exc:
        raise StationError(str(exc)) from None


def _local_library(spec: str, station: Path) -> str:
    """``bench.yaml@labsim`` -> absolute path when the file sits next to the station file."""
    path, at, backend = spec.rpartition("@")
    if not at or not path or Path(path).is_absolute():
        return spec
    local = station.parent / path
    if local.is_file() and local.resolve() != station.resolve():
        return f"{local.resolve()}@{backend}"
    return spec


def with_library_options(spec: str, options: Mapping[str, Any]) -> str:
    """``FILE@backend`` + ``{"seed": 3}`` -> ``FILE?seed=3@backend``; a spec with no file is refused."""
    if not options:
        return spec
    path, at, backend = spec.rpartition("@")
    if not at or not path:
        raise StationError(f"library {spec!r} names no file to carry options {dict(options)}")
    sep = "&" if "?" in path else "?"
    return f"{path}{sep}{urlencode({k: str(v) for k, v in options.items()})}@{backend}"


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


def _mapping(value: Any, where: str, what: str) -> Mapping:
    value = value or {}
    if not isinstance(value, Mapping):
        raise StationError(f"{where}: {what}")
    return value


@dataclass
class Station:
    """A parsed station file (nothing opened yet; see :meth:`connect`)."""

    name: str
    path: Path
    description: str = ""
    sample: str = ""
    roles: dict[str, RoleSpec] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict)
    clock: str = ""  # address of a served bench's control port whose clock the run follows
    #: Packages a driver may come from besides pymeasure and labctl (named by the user, never by
    #: the file: ``labctl run --allow-import mylab``); see :mod:`labctl.connection`.
    allow_import: tuple[str, ...] = ()

    @classmethod
    def load(
        cls,
        name_or_path: str | Path,
        *,
        visa_library: str | None = None,
        library_options: Mapping[str, Any] | None = None,
        allow_import: Iterable[str] = (),
    ) -> Station:
        """Read a station file; ``visa_library`` replaces every role's library (the real lab's
        ``"@py"``, say), ``library_options`` are appended to each library's file (see module doc),
        ``allow_import`` names packages besides pymeasure and labctl that drivers may come from."""
        path = resolve_station(name_or_path)
        where = str(path)
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StationError(f"{where}: not a readable YAML station file ({first})") from None
        if not isinstance(doc, Mapping) or not isinstance(doc.get("roles"), Mapping):
            raise StationError(f"{where}: expected a mapping with a 'roles:' section")
        unknown = set(doc) - _STATION_KEYS
        if unknown:
            raise StationError(f"{where}: unknown key(s) {sorted(unknown)}; use {sorted(_STATION_KEYS)}")
        setup = _mapping(doc.get("setup"), where, "'setup' must map parameter names to values")
        roles = {}
        for role, spec in doc["roles"].items():
            w = f"{where}: role {role!r}"
            if not isinstance(spec, Mapping):
                raise StationError(f"{w}: expected a mapping (driver, resource, ...)")
            unknown = set(spec) - _ROLE_KEYS
            if unknown:
                raise StationError(f"{w}: unknown key(s) {sorted(unknown)}")
            for key in ("driver", "resource"):
                if not isinstance(spec.get(key), str):
                    raise StationError(f"{w}: '{key}' is required (a string)")
            limits = _mapping(spec.get("limits"), w, "'limits' must map names to bounds")
            kwargs = _mapping(spec.get("kwargs"), w, "'kwargs' must map driver argument names to values")
            snapshot = spec.get("snapshot") or []
            if isinstance(snapshot, list):
                snapshot = {str(name): None for name in snapshot}
            if not isinstance(snapshot, dict):
                raise StationError(f"{w}: 'snapshot' must map property names to units (or list names)")
            lib = str(visa_library if visa_library is not None
                      else spec.get("visa_library") or doc.get("visa_library") or "")
            if lib:
                lib = with_library_options(_local_library(lib, path), library_options or {})
            roles[str(role)] = RoleSpec(
                role=str(role),
                driver=spec["driver"],
                resource=spec["resource"],
                visa_library=lib,
                kwargs=dict(kwargs),
                limits=[Limit.parse(str(k), v, w) for k, v in limits.items()],
                snapshot=[str(s) for s in snapshot],
                snapshot_units={str(k): str(u) for k, u in snapshot.items() if u is not None},
                link=_link_policy(spec.get("link", doc.get("link")), spec["resource"].upper().startswith("TCPIP"),
                                  w),
            )
        return cls(
            name=str(doc.get("name") or path.stem),
            path=path,
            description=str(doc.get("description") or ""),
            sample=str(doc.get("sample") or ""),
            roles=roles,
            setup={str(k): v for k, v in setup.items()},
            clock=str(doc.get("clock") or ""),
            allow_import=tuple(str(p) for p in allow_import),
        )

    def check_roles(self, needed: Iterable[str]) -> None:
        missing = sorted(set(needed) - set(self.roles))
        if missing:
            raise StationError(
                f"station {self.name!r} ({self.path}) has no role {', '.join(missing)}; "
                f"it has: {', '.join(self.roles) or 'none'}"
            )

    def defaults_for(self, parameters: Iterable[str]) -> dict[str, Any]:
        """The station's ``setup`` values for those of ``parameters`` it gives."""
        names = set(parameters)
        return {k: v for k, v in self.setup.items() if k in names}

    def connect(self, roles: Iterable[str] | None = None):
        """Open the drivers of ``roles`` (default: all), guarded by their limits."""
        from labctl.connection import connect

        return connect(self, roles)
