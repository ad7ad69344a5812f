"""The run schema: what a protocol declares it records (scalar columns, array channels, their axes),
the scans its records fill, and the plots (NXdata groups) a reader should see.

Plain frozen dataclasses with no HDF5 in sight, so that declaring a protocol (``import labctl.protocol``)
does not import h5py; :mod:`labctl.channels` turns a schema into NeXus groups and fields.

A *scan* is a tuple of :class:`Sweep`, outermost first: record ``k`` of a channel fills cell ``k`` of
the grid in C order (the last sweep varies fastest), exactly as nested ``for`` loops take them. The
store writes each record in place into grid-shaped fields, so a run stopped early shows every point
it took where it belongs and NaN elsewhere. ``None`` instead of a scan is a log of any length;
``()`` is exactly one record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _check_name(kind: str, name: str) -> None:
    if not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(f"{kind} name {name!r} must be a Python identifier")


@dataclass(frozen=True)
class Column:
    """A scalar recorded with every point (or with every record of an :class:`Array`).

    ``axis=True`` marks an independent variable (what the plot's x is); other columns are signals.
    A *rate* (bit-error rate, accuracy) names its ``trials`` (a column, or a fixed number) and
    optionally its ``count`` column (errors, correct answers; else ``round(rate * trials)``): the
    store records the count and the 95 % confidence interval beside it (NeXus ``*_errors``).
    """

    name: str
    units: str = ""
    long_name: str = ""
    axis: bool = False
    dtype: str = "f8"
    count: str = ""
    trials: str | int = ""

    def __post_init__(self):
        _check_name("column", self.name)
        if np.dtype(self.dtype).kind not in "fiub":
            raise ValueError(f"column {self.name!r}: dtype must be numeric or bool")
        if self.count and not self.trials:
            raise ValueError(f"column {self.name!r}: a rate with a count needs its trials")
        if isinstance(self.trials, int) and not isinstance(self.trials, bool) and self.trials < 1:
            raise ValueError(f"column {self.name!r}: trials must be positive")

    @property
    def is_rate(self) -> bool:
        return self.trials not in ("", None)

    @property
    def label(self) -> str:
        return self.long_name or self.name


@dataclass(frozen=True)
class Axis:
    """One dimension of an array channel (e.g. frequency of a trace, row of a map)."""

    name: str
    units: str = ""
    long_name: str = ""

    def __post_init__(self):
        _check_name("axis", self.name)


@dataclass(frozen=True)
class Sweep:
    """One swept quantity of a scan: the column (or array index) it sets, and its setpoints.

    Give the ``values`` when the parameters fix them (they are then checked against every record);
    give only the ``size`` when they are known during the run (e.g. around a measured frequency):
    the first record that lands on each index writes its value. ``Sweep(name)`` alone, as the only
    sweep of a scan, is a log of any length indexed by that column.
    """

    name: str
    values: tuple[float, ...] = ()
    size: int = 0

    def __post_init__(self):
        _check_name("sweep", self.name)
        values = tuple(float(v) for v in np.asarray(self.values, dtype=float).ravel())
        object.__setattr__(self, "values", values)
        if values:
            if self.size not in (0, len(values)):
                raise ValueError(f"sweep {self.name!r}: size {self.size} but {len(values)} values")
            object.__setattr__(self, "size", len(values))
        if int(self.size) < 0:
            raise ValueError(f"sweep {self.name!r}: size must not be negative")
        object.__setattr__(self, "size", int(self.size))

    @property
    def unbounded(self) -> bool:
        return self.size == 0


def check_scan(owner: str, scan: tuple[Sweep, ...] | None) -> tuple[Sweep, ...] | None:
    """``scan`` as a tuple of sweeps, checked (distinct names; an unbounded sweep only alone)."""
    if scan is None:
        return None
    scan = tuple(scan)
    names = [s.name for s in scan]
    if len(set(names)) != len(names):
        raise ValueError(f"{owner}: sweep names {names} must be distinct")
    if any(s.unbounded for s in scan) and len(scan) != 1:
        raise ValueError(f"{owner}: a sweep of unknown size can only be the scan's only sweep")
    return scan


@dataclass(frozen=True)
class Array:
    """An array channel: each record is an array of fixed ``shape`` (a trace, a 32x32 map).

    ``axes`` name the dimensions of one record (their values default to 0..n-1 and may be set
    once known, see :meth:`RunWriter.set_axis`); ``index`` columns are scalars stored with each
    record, the first of them being the axis along the records (e.g. the DC current of a spectrum).
    ``grid`` is the scan the records fill (see the module docstring; usually the protocol's own
    :meth:`~labctl.protocol.Protocol.scan`, one record per point): an index column named like a
    sweep gives that sweep's values. ``grid=()`` is an array recorded once.
    """

    name: str
    shape: tuple[int, ...]
    units: str = ""
    long_name: str = ""
    axes: tuple[Axis, ...] = ()
    index: tuple[Column, ...] = ()
    dtype: str = "f8"
    grid: tuple[Sweep, ...] | None = None

    def __post_init__(self):
        _check_name("array", self.name)
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))
        object.__setattr__(self, "axes", tuple(self.axes))
        object.__setattr__(self, "index", tuple(self.index))
        object.__setattr__(self, "grid", check_scan(f"array {self.name!r}", self.grid))
        if not self.shape or min(self.shape) < 1:
            raise ValueError(f"array {self.name!r}: shape must have positive dimensions")
        if self.axes and len(self.axes) != len(self.shape):
            raise ValueError(f"array {self.name!r}: one axis per dimension of {self.shape}")
        if np.dtype(self.dtype).kind not in "fiubc":
            raise ValueError(f"array {self.name!r}: dtype must be numeric")
        names = [self.name, "time", *(a.name for a in self.axes), *(c.name for c in self.index)]
        if len(set(names)) != len(names):
            raise ValueError(f"array {self.name!r}: field names {names} must be distinct")
        index = {c.name for c in self.index}
        clash = [s.name for s in self.grid or () if s.name in set(names) - index]
        if clash:
            raise ValueError(f"array {self.name!r}: sweeps {clash} clash with its own fields")

    def axis_list(self) -> tuple[Axis, ...]:
        return self.axes or tuple(Axis(f"dim{k}", "", f"index {k}") for k in range(len(self.shape)))

    @property
    def label(self) -> str:
        return self.long_name or self.name


TIME = Column("time", "s", "Time since start of run (run clock)")


@dataclass(frozen=True)
class Plot:
    """An NXdata group that shows one quantity: ``signal`` over its channel's scan (or, for a log,
    against its first axis column), with ``auxiliary`` signals of the same units drawn with it.

    ``channel`` is ``"data"`` (the point columns) or an array channel's name. ``interpretation``
    ``"spectrum"`` asks viewers to draw a 2-D grid as one curve per outer setpoint, not an image.
    """

    name: str
    signal: str
    auxiliary: tuple[str, ...] = ()
    channel: str = "data"
    title: str = ""
    interpretation: str = ""

    def __post_init__(self):
        _check_name("plot", self.name)
        object.__setattr__(self, "auxiliary", tuple(self.auxiliary))
        if self.interpretation not in ("", "spectrum", "image"):
            raise ValueError(f"plot {self.name!r}: interpretation must be spectrum or image")


@dataclass(frozen=True)
class Table:
    """A channel of scalar columns recorded together, one row per call, over its own scan.

    A protocol's ``COLUMNS`` are its table ``"data"`` (one row per :meth:`emit_point`); further
    tables hold records taken at another rate than the points (e.g. a summary per epoch).
    """

    name: str
    columns: tuple[Column, ...]
    grid: tuple[Sweep, ...] | None = None

    def __post_init__(self):
        _check_name("table", self.name)
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "grid", check_scan(f"table {self.name!r}", self.grid))
