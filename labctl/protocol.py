"""Protocols: what an experiment does, step by step, as a pymeasure ``Procedure``.

A protocol declares its instrument roles, parameters and data, and says *what* to do; the runner
(:mod:`labctl.runner`) decides *how*: which station's instruments fill the roles, which clock time
runs on, where data goes, when to stop. Because it stays a ``Procedure`` and talks through
``emit``/``should_stop``, pymeasure's ``Worker`` and ``ManagedWindow`` can run it too.

Example::

    class IVSweep(Protocol):
        NAME = "iv_sweep"
        STATION = "demo"
        COLUMNS = (Column("voltage", "V", "Source voltage", axis=True),
                   Column("current", "A", "Measured current"))
        smu = Role("source-measure unit across the device")
        v_max = FloatParameter("Maximum voltage", units="V", default=1.0, minimum=0, maximum=20)
        SETPOINTS = {"smu.source_voltage": "v_max"}  # checked against the station's limits up front

        def execute(self):
            for v in np.linspace(0, self.v_max, 11):
                self.smu.source_voltage = v
                self.wait(0.01)
                self.emit_point(voltage=v, current=self.smu.current)

Protocols register themselves by ``NAME`` when their module is imported; every module of
:mod:`labctl.protocols` is imported by :func:`discover` (:mod:`labctl.registry`).
"""

from __future__ import annotations

import difflib
import functools
import time
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from pymeasure.experiment import Procedure

from labctl.headline import Headline
from labctl.parameters import (
    BooleanParameter,
    FloatListParameter,
    FloatParameter,
    IntegerParameter,
    ListParameter,
    Parameter,
    ParameterError,
    assign,
)
from labctl.plan import Planned
from labctl.registry import DISCOVERY_ERRORS, discover, get_protocol, protocols, register, registered_protocol
from labctl.schema import Array, Axis, Column, Plot, Sweep, Table

__all__ = [
    "DISCOVERY_ERRORS", "Array", "Axis", "BooleanParameter", "Column", "FloatListParameter", "FloatParameter",
    "IntegerParameter", "ListParameter", "Parameter", "ParameterError", "Planned", "Plot", "Protocol", "Role",
    "RunAborted", "Sweep", "Table", "discover", "get_protocol", "protocols", "registered_protocol",
]

#: Longest single clock sleep inside :meth:`Protocol.wait`: how late an abort may land.
WAIT_SLICE = 0.25


class RunAborted(KeyboardInterrupt):
    """Raised at a checkpoint once the run is asked to stop.

    A ``KeyboardInterrupt`` so that a broad ``except Exception`` in protocol code cannot swallow
    it, and so that pymeasure's Worker files the run as aborted, not failed.
    """


class Role:
    """An instrument the protocol needs, filled by the station's driver of the same role name.

    ``smu = Role("source-measure unit on the device")``; inside the protocol, ``self.smu`` is the
    station's (limit-guarded) driver instance.
    """

    def __init__(self, description: str = ""):
        self.description = description
        self.name = ""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        try:
            return obj._instruments[self.name]
        except KeyError:
            raise RuntimeError(
                f"role {self.name!r} of {type(obj).__name__} is not bound to an instrument: "
                "run it with `labctl run` or call protocol.bind(...) first"
            ) from None


def _label(col: Column) -> str:
    """pymeasure's column header ``name (units)``, keeping units only where pint knows them."""
    if not col.units:
        return col.name
    label = f"{col.name} ({col.units})"
    try:
        Procedure.parse_columns([label])
    except ValueError:
        return col.name
    return label


class RunSink(typing.Protocol):
    """Where a bound protocol's data go (the runner's writer): points by column name."""

    def point(self, values: Mapping[str, Any]) -> None: ...

    def array(self, name: str, values: np.ndarray, index: Mapping[str, Any]) -> None: ...

    def row(self, table: str, values: Mapping[str, Any]) -> None: ...

    def axis(self, name: str, axis: str, values: np.ndarray) -> None: ...

    def progress(self, percent: float) -> None: ...


class _PymeasureSink:
    """Data through pymeasure's ``Procedure.emit``, points keyed by pymeasure's column labels, so
    that pymeasure's ``Worker`` and ``Results`` run a protocol unchanged."""

    def __init__(self, protocol: Protocol):
        self.protocol = protocol
        self.labels = {c.name: lab for c, lab in zip(protocol.COLUMNS, protocol.DATA_COLUMNS, strict=True)}

    def point(self, values):
        self.protocol.emit("results", {self.labels[k]: v for k, v in values.items()})

    def array(self, name, values, index):
        self.protocol.emit("array", {"name": name, "values": values, "index": dict(index)})

    def row(self, table, values):
        self.protocol.emit("row", {"table": table, "values": dict(values)})

    def axis(self, name, axis, values):
        self.protocol.emit("axis", {"name": name, "axis": axis, "values": values})

    def progress(self, percent):
        self.protocol.emit("progress", percent)


class Protocol(Procedure):
    """Base of every labctl protocol (see the module docstring for an example).

    Class attributes to set: ``NAME`` (registry key; leave empty for an abstract base),
    ``STATION`` (default station: a shipped name or a path), ``COLUMNS`` (scalar data,
    :class:`Column`), ``ARRAYS`` (array channels, :class:`Array`; override :meth:`arrays` when
    shapes depend on parameters), ``TABLES`` (further tables of scalars, :class:`Table`),
    ``PLOTS`` (NXdata groups showing one quantity each, :class:`Plot`) and ``DEFAULT`` (the one a
    viewer opens the file on: the experiment's headline plot), roles as :class:`Role` attributes,
    parameters as pymeasure ``Parameter`` attributes (values with units, lists:
    :mod:`labctl.parameters`). Methods to write: :meth:`scan` (the sweeps the
    points fill), ``startup`` (configure), ``execute`` (measure), ``shutdown`` (leave the lab safe;
    always runs), optionally :meth:`figure`, and ``HEADLINES`` with :meth:`headline` (the scalars a
    campaign tabulates and summarizes over chips, :mod:`labctl.headline`).
    """

    NAME: ClassVar[str] = ""
    STATION: ClassVar[str] = ""
    COLUMNS: ClassVar[Sequence[Column]] = ()
    ARRAYS: ClassVar[Sequence[Array]] = ()
    TABLES: ClassVar[Sequence[Table]] = ()
    PLOTS: ClassVar[Sequence[Plot]] = ()
    DEFAULT: ClassVar[str] = ""
    HEADLINES: ClassVar[Sequence[Headline]] = ()
    DATA_COLUMNS: ClassVar[list[str]] = []
    #: What the protocol will set, checked against the station's limits before the run starts:
    #: ``"role.property"`` (or ``"role.method.argument"``) -> the parameter(s) whose values it takes,
    #: e.g. ``{"smu.source_voltage": ("v_start", "v_stop")}``. Override :meth:`plan` for derived values.
    SETPOINTS: ClassVar[Mapping[str, str | Sequence[str]]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.COLUMNS = tuple(cls.COLUMNS)
        cls.DATA_COLUMNS = [_label(c) for c in cls.COLUMNS]
        cls._column_names = frozenset(c.name for c in cls.COLUMNS)
        if "shutdown" in cls.__dict__:
            cls.shutdown = _shielded(cls.__dict__["shutdown"])
        if cls.__dict__.get("NAME"):
            register(cls)

    def __init__(self, **parameters: Any):
        super().__init__()
        self._instruments: dict[str, Any] = {}
        self.clock = None
        self._sink: RunSink = _PymeasureSink(self)
        self._paused: Callable[[], bool] = lambda: False
        self._sources: dict[str, str] = {}  # parameter -> where its value came from
        self.should_stop = lambda: False  # replaced by whoever runs the protocol
        if parameters:
            self.set_values(parameters)

    # -- declarations --------------------------------------------------------------------------
    @classmethod
    def roles(cls) -> dict[str, Role]:
        return _declared(cls, Role)

    @classmethod
    def parameter_specs(cls) -> dict[str, Parameter]:
        return _declared(cls, Parameter)

    @classmethod
    def title(cls) -> str:
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else cls.__name__

    def plan(self) -> dict[str, Planned]:
        """Every value each limited setting will take, from the parameters (see :mod:`labctl.plan`).

        The default reads :attr:`SETPOINTS` (merged along the class hierarchy); override, call
        ``super().plan()`` and add derived settings (a magnet current from a field and its calibration).
        """
        declared: dict[str, Any] = {}
        for klass in reversed(type(self).__mro__):
            declared.update(vars(klass).get("SETPOINTS", {}))
        out = {}
        for setting, names in declared.items():
            names = (names,) if isinstance(names, str) else tuple(names)
            values = [getattr(self, n) for n in names]
            out[setting] = Planned(_flat(values), source=names, units=_units(self, names[0]))
        return out

    def arrays(self) -> Sequence[Array]:
        """Array channels of this run; override when shapes depend on parameter values."""
        return tuple(self.ARRAYS)

    def tables(self) -> Sequence[Table]:
        """Further tables of this run; override when their scans depend on parameter values."""
        return tuple(self.TABLES)

    def plots(self) -> Sequence[Plot]:
        """The NXdata groups that show one quantity each (``PLOTS``)."""
        return tuple(self.PLOTS)

    def scan(self) -> tuple[Sweep, ...] | None:
        """The sweeps the points fill, outermost first, from the parameters (``None``: a log).

        Point ``k`` lands in cell ``k`` of the grid in C order, as nested loops take them; the
        file stores each column N-dimensional over these sweeps (see :mod:`labctl.schema`).
        """
        return None

    def scan_columns(self) -> tuple[Column, ...]:
        """The point columns named by the sweeps of :meth:`scan` (an array over the same scan
        lists them in its ``index`` so that its sweeps carry their units)."""
        names = {s.name for s in self.scan() or ()}
        return tuple(c for c in self.COLUMNS if c.name in names)

    # -- parameters ----------------------------------------------------------------------------
    def set_values(self, values: Mapping[str, Any], source: str = "explicit") -> None:
        """Set parameters from values or strings (``"1.5"``, ``"1.5 V"``), validated."""
        specs = self.parameter_specs()
        for name, value in values.items():
            if name not in specs:
                hint = difflib.get_close_matches(name, specs, n=1)
                raise ParameterError(
                    f"{self.NAME or type(self).__name__} has no parameter {name!r}"
                    + (f" (did you mean {hint[0]!r}?)" if hint else "")
                    + f"; parameters: {', '.join(specs) or 'none'}"
                )
            setattr(self, name, assign(self._parameters[name], name, value))
            self._sources[name] = source

    def set_defaults(self, values: Mapping[str, Any], source: str) -> None:
        """Defaults from elsewhere (a station's ``setup``) for parameters not set explicitly:
        an explicit value beats the station's setup, which beats the class default."""
        explicit = {n for n, src in self._sources.items() if src == "explicit"}
        self.set_values({k: v for k, v in values.items() if k not in explicit}, source=source)

    def check_parameters(self) -> None:
        missing = [n for n in self._parameters if getattr(self, n) is None]
        if missing:
            raise ParameterError(f"parameters without a value: {', '.join(missing)} (use -p NAME=VALUE)")

    def parameter_records(self) -> dict[str, dict[str, Any]]:
        """Values with units, display name and description, for the run file."""
        out = {}
        for name, spec in self.parameter_objects().items():
            out[name] = {
                "value": getattr(self, name),
                "units": getattr(spec, "units", None) or "",
                "long_name": spec.name,
                "description": spec.description or "",
                "source": self._sources.get(name, "default"),
            }
        return out

    # -- binding (done by the runner) ----------------------------------------------------------
    def bind(
        self,
        instruments: Mapping[str, Any],
        clock=None,
        *,
        sink: RunSink | None = None,
        emit: Callable[[str, Any], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        paused: Callable[[], bool] | None = None,
    ) -> None:
        """Give the protocol its instruments, clock and where its data go.

        ``sink`` receives points by column name (the runner's); without one, data go out through
        pymeasure's ``emit`` (``emit=`` replaces it) with pymeasure's column labels.
        """
        missing = set(self.roles()) - set(instruments)
        if missing:
            raise KeyError(f"no instrument for role(s) {sorted(missing)}")
        self._instruments = dict(instruments)
        self.clock = clock
        if sink is not None:
            self._sink = sink
        if emit is not None:
            self.emit = emit
        if should_stop is not None:
            self.should_stop = should_stop
        if paused is not None:
            self._paused = paused

    @property
    def instruments(self) -> dict[str, Any]:
        return dict(self._instruments)

    def _clock(self):
        if self.clock is None:
            from labctl.clock import WallClock

            self.clock = WallClock()
        return self.clock

    def now(self) -> float:
        """Seconds on the run's clock (virtual on a simulated station)."""
        return self._clock().now()

    # -- what protocols call -------------------------------------------------------------------
    def checkpoint(self) -> None:
        """A place where pause holds and abort lands (raises :class:`RunAborted`).

        Inert inside ``shutdown()``: an aborted run must still finish ramping fields down.
        """
        if self.__dict__.get("_shutting_down"):
            return
        while self._paused() and not self.should_stop():
            time.sleep(0.05)  # a paused run waits for a person: wall time is right here
        if self.should_stop():
            raise RunAborted("run aborted")

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass on the run's clock, checkpointing at least every 0.25 s."""
        seconds = float(seconds)
        if seconds != seconds:  # NaN: the loop below would never end
            raise ValueError("wait(NaN): the time to wait is not a number")
        clock = self._clock()
        end = clock.now() + seconds
        while True:
            self.checkpoint()
            remaining = end - clock.now()
            if remaining <= 0:
                return
            clock.sleep(min(remaining, WAIT_SLICE))

    def emit_point(self, **values: Any) -> None:
        """Record one point (one value per declared column), then checkpoint."""
        unknown = set(values) - self._column_names
        if unknown:
            raise KeyError(
                f"unknown column(s) {sorted(unknown)}; declared: {[c.name for c in self.COLUMNS]}"
            )
        self._sink.point(values)
        self.checkpoint()

    def emit_array(self, name: str, values: Any, **index: Any) -> None:
        """Record one array (trace, map) of channel ``name`` with its index scalars; checkpoint."""
        self._sink.array(name, np.asarray(values), index)
        self.checkpoint()

    def emit_row(self, table: str, **values: Any) -> None:
        """Record one row of table ``table`` (one value per declared column), then checkpoint."""
        self._sink.row(table, values)
        self.checkpoint()

    def set_axis(self, name: str, axis: str, values: Any) -> None:
        """Give the values along one dimension of array channel ``name`` (e.g. frequencies)."""
        self._sink.axis(name, axis, np.asarray(values))

    def progress(self, done: float, total: float) -> None:
        """Report progress (drives the progress bar and its ETA)."""
        self._sink.progress(100.0 * min(max(done / total, 0.0), 1.0) if total else 0.0)

    def shutdown(self) -> None:
        """Leave the lab safe: by default every bound instrument's own ``shutdown()``.

        Override to order it (ramp fields down before outputs off) and call ``super()``.
        """
        errors = []
        for inst in self._instruments.values():
            stop = getattr(inst, "shutdown", None)
            if callable(stop):
                try:
                    stop()
                except Exception as exc:  # keep going: every other instrument still goes safe
                    errors.append(exc)
        if errors:
            raise errors[0]

    @classmethod
    def figure(cls, run):
        """A matplotlib Figure for ``labctl plot`` (``run``: :class:`labctl.results.Run`).

        ``None`` (the default) plots every NXdata group generically.
        """
        return None

    @classmethod
    def headline(cls, run) -> Mapping[str, Any]:
        """The ``HEADLINES`` of a completed run, computed from its file (``run``: a
        :class:`labctl.results.Run`): floats, and :class:`labctl.headline.Rate` for rates. None declared: ``{}``."""
        return {}


def _flat(values: Sequence[Any]) -> list[float]:
    """Parameter values (numbers, or lists of numbers for list parameters) as one list of floats."""
    out: list[float] = []
    for v in values:
        out.extend(float(x) for x in np.ravel(np.asarray(v, dtype=float)))
    return out


def _units(protocol: Protocol, parameter: str) -> str:
    spec = protocol.parameter_specs().get(parameter)
    return getattr(spec, "units", None) or ""


def _declared(cls: type, kind: type) -> dict[str, Any]:
    """Class attributes of type ``kind`` along the MRO, base classes first, overrides winning."""
    out = {}
    for klass in reversed(cls.__mro__):
        out.update({k: v for k, v in vars(klass).items() if isinstance(v, kind)})
    return out


def _shielded(shutdown):
    """Wrap a ``shutdown`` so that checkpoints (and so waits) inside it never abort it."""

    @functools.wraps(shutdown)
    def wrapper(self, *args, **kwargs):
        outer = self.__dict__.get("_shutting_down", False)
        self._shutting_down = True
        try:
            return shutdown(self, *args, **kwargs)
        finally:
            self._shutting_down = outer

    return wrapper


Protocol.shutdown = _shielded(Protocol.shutdown)
