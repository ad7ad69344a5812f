"""The channels of a run file: how a table or an array channel is laid out as a NeXus ``NXdata`` group,
and how each of its records lands in it.

A channel (table or array) declared over a grid of :class:`~labctl.schema.Sweep` is stored
N-dimensional from the start, pre-filled with NaN (integers: their ``_FillValue``), its sweeps as
HDF5 dimension scales; record ``k`` is written in place into cell ``k`` (C order), and the
channel's ``points_taken`` says how many cells are filled. A channel without a grid is a log
that grows along one dimension (the ``time`` of each record, or its unbounded sweep).
Every field carries ``@units`` (``1`` for dimensionless) and ``@long_name``. A rate column
(:attr:`~labctl.schema.Column.trials`) gets its event count and its 95 % Wilson interval:
``<rate>_errors`` (NeXus uncertainty: the larger distance from the rate to either bound, so that a
symmetric error bar covers the interval) and the bounds ``<rate>_ci_low``/``<rate>_ci_high``.
A plot is an ``NXdata`` of hard links to one quantity of a channel, its errors and its axes.

Everything here is created before streaming starts (SWMR forbids new objects afterwards, see
:mod:`labctl.store`); a record is written with low-level h5py calls into spaces made once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import h5py
import numpy as np

from labctl.schema import TIME, Array, Column, Plot, Sweep, Table

__all__ = ["CONFIDENCE", "DIMENSIONLESS", "TAKEN", "Channel", "Slot", "create_array", "create_plot",
           "create_table", "nx_group", "set_attrs"]

#: Field holding how many cells of a gridded channel are filled.
TAKEN = "points_taken"
DIMENSIONLESS = "1"
CONFIDENCE = 0.95
_CHUNK_BYTES = 64 * 1024


def set_attrs(obj, units: str | None = None, long_name: str | None = None, **attrs) -> None:
    """``@units`` (dimensionless: ``1``) and ``@long_name``, the axis label NeXus viewers print
    as it is: with the units in parentheses (:mod:`labctl.results` takes them off again)."""
    units = None if units is None else units or DIMENSIONLESS
    if units is not None:
        obj.attrs["units"] = units
    if long_name is not None:
        suffix = f" ({units})"
        if units not in (None, DIMENSIONLESS) and not long_name.endswith(suffix):
            long_name += suffix
        obj.attrs["long_name"] = long_name
    for k, v in attrs.items():
        obj.attrs[k] = v


def nx_group(parent: h5py.Group, name: str, nx_class: str) -> h5py.Group:
    """The group ``name`` of ``parent`` (made if missing), of NeXus class ``nx_class``."""
    g = parent.require_group(name)
    g.attrs["NX_class"] = nx_class
    return g


# -- writing records ----------------------------------------------------------------------------------
def _fill(dtype: np.dtype):
    """What a cell not yet taken holds: NaN, or an integer no count or index takes."""
    if dtype.kind in "fc":
        return np.nan
    if dtype.kind == "i":
        return np.iinfo(dtype).min
    if dtype.kind == "u":
        return np.iinfo(dtype).max
    return False


def _missing(dtype: np.dtype):
    return np.nan if dtype.kind in "fc" else 0


class Slot:
    """Writes one field's value of record ``k``: in place in a grid, or appended to a log.

    Low-level h5py calls with the memory and file spaces made once: no per-call object churn.
    """

    __slots__ = ("dsid", "dtype", "count", "mspace", "fspace", "tail", "log", "scalar", "path")

    def __init__(self, dset: h5py.Dataset, lead: int, log: bool):
        self.path = dset.name
        self.dtype = dset.dtype
        self.log = log
        record = dset.shape[lead:]
        self.tail = tuple(0 for _ in record)
        self.count = (1,) * lead + record
        self.scalar = dset.shape == ()
        self.mspace = None if self.scalar else h5py.h5s.create_simple(self.count)
        self.attach(dset)

    def attach(self, dset: h5py.Dataset) -> None:
        """Write to ``dset`` (the same dataset, after its file was closed and opened again)."""
        self.dsid = dset.id
        self.fspace = None if (self.log or self.scalar) else self.dsid.get_space()

    def buffer(self, value) -> np.ndarray:
        """``value`` as one record (ValueError/TypeError if it cannot be one); nothing written."""
        return np.ascontiguousarray(value, dtype=self.dtype).reshape(self.count)

    def write(self, cell: tuple[int, ...], buf: np.ndarray) -> None:
        if self.scalar:
            self.dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, buf)
            return
        if self.log:
            n = cell[0]
            self.dsid.set_extent((n + 1, *self.count[1:]))
            fspace = self.dsid.get_space()
        else:
            fspace = self.fspace
        fspace.select_hyperslab((*cell, *self.tail), self.count)
        self.dsid.write(self.mspace, fspace, buf)


class _SweepAxis:
    """The values of one sweep of a grid: declared ones are checked, unknown ones written once."""

    __slots__ = ("sweep", "dim", "slot", "known", "values")

    def __init__(self, sweep: Sweep, dim: int | None, slot: Slot):
        self.sweep, self.dim, self.slot = sweep, dim, slot
        self.values = np.array(sweep.values or [np.nan] * sweep.size, dtype=float)
        self.known = np.full(sweep.size, bool(sweep.values))

    def check(self, cell: tuple[int, ...], value, todo: list) -> None:
        i = cell[self.dim] if self.dim is not None else 0
        if value is None:
            return
        v = float(value)
        if not self.known[i]:
            todo.append((self, i, v))
        elif not math.isclose(v, self.values[i], rel_tol=1e-9, abs_tol=1e-300):
            raise ValueError(
                f"{self.sweep.name}={v:g} where the scan has {self.values[i]:g} (index {i}): "
                "records must come in the order of the declared sweeps (last one fastest)")

    def fill(self, i: int, v: float) -> None:
        self.values[i], self.known[i] = v, True
        cell = (i,) if self.dim is not None else ()
        self.slot.write(cell, self.slot.buffer(v))


def _wilson(k: float, n: float) -> tuple[float, float]:
    from labctl.stats import wilson_interval  # scipy: imported by runs that record rates only

    return wilson_interval(k, n, CONFIDENCE)


class _Rate:
    """Count and Wilson interval of a rate column, computed from each record."""

    __slots__ = ("column", "count", "trials", "slots")

    def __init__(self, column: Column, slots: dict[str, Slot]):
        self.column, self.slots = column, slots
        self.count, self.trials = column.count, column.trials

    def buffers(self, values: Mapping[str, Any]) -> list[tuple[Slot, np.ndarray]]:
        rate = values.get(self.column.name)
        n = self.trials if isinstance(self.trials, int) else values.get(self.trials)
        k = values.get(self.count) if self.count else (None if rate is None or n is None else rate * n)
        out = {"ci_low": np.nan, "ci_high": np.nan, "errors": np.nan, "count": np.nan}
        try:
            n, k = float(n), float(round(float(k)))
            lo, hi = _wilson(k, n)
            if not (lo == lo and hi == hi):  # no trials: no interval
                raise ValueError
        except (TypeError, ValueError):
            pass  # no rate, no trials, or counts that are not counts: the interval stays NaN
        else:
            r = float(rate) if rate is not None else k / n
            out.update(ci_low=lo, ci_high=hi, errors=max(r - lo, hi - r), count=k)
        return [(slot, slot.buffer(out[key])) for key, slot in self.slots.items()]


class Channel:
    """A table or an array channel: its group, the slots a record fills, its grid and sweeps."""

    def __init__(self, name: str, group: h5py.Group, grid: tuple[Sweep, ...] | None):
        self.name, self.group, self.grid = name, group, grid
        self.log = grid is None or (len(grid) == 1 and grid[0].unbounded)
        self.shape = () if self.log else tuple(s.size for s in grid)
        self.kept = [] if self.log else [k for k, s in enumerate(grid) if s.size > 1]
        self.total = None if self.log else int(np.prod(self.shape, dtype=np.int64))
        self.slots: list[tuple[str, Slot]] = []  # (value key, slot): written from the record
        self.sweeps: dict[str, _SweepAxis] = {}
        self.rates: list[_Rate] = []
        self.time: Slot | None = None
        self.taken: Slot | None = None
        self.axes: dict[str, h5py.Dataset] = {}  # record axes of an array channel
        self.scales: list[h5py.Dataset] = []  # dimension scales of the leading (record) dimensions
        self.coordinates: list[str] = []  # sweeps of one setpoint: scalar coordinates
        self.names: frozenset[str] = frozenset()  # what a record may name
        self.n = 0

    @property
    def lead(self) -> tuple[int, ...]:
        """Leading (record) shape of the fields: the grid without its single-setpoint sweeps."""
        return (0,) if self.log else tuple(self.shape[k] for k in self.kept)

    def sweep_names(self) -> set[str]:
        return set() if self.log else {s.name for s in self.grid}

    def cell(self) -> tuple[int, ...]:
        if self.log:
            return (self.n,)
        if self.n >= self.total:
            raise IndexError(f"{self.name}: the scan {self.shape} is full ({self.total} records); "
                             "more records than the declared sweeps have setpoints")
        return tuple(int(i) for i in np.unravel_index(self.n, self.shape))

    def record(self, values: Mapping[str, Any], extra: Sequence[tuple[Slot, np.ndarray]] = ()) -> None:
        """Write one record: check everything first, so a bad value writes nothing."""
        full = self.cell()
        todo: list = []
        for name, axis in self.sweeps.items():
            axis.check(full, values.get(name), todo)
        cell = full if self.log else tuple(full[k] for k in self.kept)
        bufs = list(extra)
        bufs += [(slot, slot.buffer(values.get(key, _missing(slot.dtype)))) for key, slot in self.slots]
        for rate in self.rates:
            bufs += rate.buffers(values)
        for axis, i, v in todo:
            axis.fill(i, v)
        for slot, buf in bufs:
            slot.write(cell, buf)
        self.n += 1
        if self.taken is not None:
            self.taken.write((), self.taken.buffer(self.n))


def _chunks(shape: tuple[int, ...], lead: int, itemsize: int, log: bool) -> tuple[int, ...] | None:
    """Chunks of about 64 kB: whole records, as many leading cells as fit (a log: up to 1024)."""
    if not shape:
        return None
    record = shape[lead:]
    per = max(1, int(np.prod(record, dtype=np.int64)) * itemsize)
    if log:
        k = 1024 if not record else int(min(1024, max(1, _CHUNK_BYTES // per)))
        return (k, *record)
    chunks, budget = [], max(1, _CHUNK_BYTES // per)
    for n in reversed(shape[:lead]):  # innermost dimensions first
        take = int(min(n, budget))
        chunks.insert(0, take)
        budget = max(1, budget // max(take, 1))
    return (*chunks, *record)


# -- laying a channel out -----------------------------------------------------------------------------
def _field(g: h5py.Group, ch: Channel, name: str, record: tuple[int, ...], dtype,
           units: str, long_name: str, key: str | None = None) -> Slot:
    """A field of channel ``ch`` holding ``record``-shaped values per cell, and its slot."""
    dtype = np.dtype(dtype)
    shape = (*ch.lead, *record)
    fill = _fill(dtype)
    kwargs = {}
    if ch.log:
        kwargs["maxshape"] = (None, *record)
    ds = g.create_dataset(name, shape=shape, dtype=dtype, fillvalue=fill,
                          chunks=_chunks(shape, len(ch.lead), dtype.itemsize, ch.log), **kwargs)
    set_attrs(ds, units, long_name or name)
    if dtype.kind in "iu" and not ch.log:
        ds.attrs["_FillValue"] = np.array(fill, dtype=dtype)  # netCDF readers mask cells not taken
    if ch.coordinates:
        ds.attrs["coordinates"] = " ".join(ch.coordinates)
    slot = Slot(ds, len(ch.lead), ch.log)
    if key is not None:
        ch.slots.append((key, slot))
    return slot


def _sweeps(g: h5py.Group, ch: Channel, columns: Mapping[str, Column]) -> None:
    """The sweep fields of a grid: 1-D dimension scales, or scalars for single setpoints."""
    if ch.log:
        return
    for k, s in enumerate(ch.grid):
        col = columns.get(s.name)
        if col is None:
            raise ValueError(f"{ch.name}: sweep {s.name!r} names no column of it "
                             f"({sorted(columns)})")
        dim = k if s.size > 1 else None
        data = np.array(s.values or [np.nan] * s.size, dtype=float)
        ds = g.create_dataset(s.name, data=data if dim is not None else data[0])
        set_attrs(ds, col.units, col.label)
        if dim is not None:
            ds.make_scale(s.name)
            ch.scales.append(ds)
        else:
            ch.coordinates.append(s.name)
        ch.sweeps[s.name] = _SweepAxis(s, dim, Slot(ds, 1 if dim is not None else 0, False))


def _nxdata_axes(g: h5py.Group, ch: Channel, log_axis: str | None,
                 record_axes: Sequence[str] = ()) -> list[str]:
    if ch.log:
        lead = [log_axis or "."]
    else:
        lead = [ch.grid[k].name for k in ch.kept]
    axes = [*lead, *record_axes]
    if axes:
        g.attrs["axes"] = axes
    for k, a in enumerate(axes):
        if a != ".":
            g.attrs[f"{a}_indices"] = k
    return axes


def _taken(g: h5py.Group, ch: Channel) -> None:
    if not ch.log:
        ds = g.create_dataset(TAKEN, data=np.int64(0))
        set_attrs(ds, DIMENSIONLESS, "Records taken (cells filled in scan order)")
        ch.taken = Slot(ds, 0, False)


def _attach(ch: Channel, g: h5py.Group) -> None:
    """Attach the leading dimension scales (sweeps, or the log's index) to every record field."""
    for ds in g.values():
        if isinstance(ds, h5py.Dataset) and ds.ndim >= len(ch.lead) and not ds.is_scale:
            for k, scale in enumerate(ch.scales):
                ds.dims[k].attach_scale(scale)
                ds.dims[k].label = scale.name.rsplit("/", 1)[-1]


def create_table(e: h5py.Group, t: Table, signal: str | None) -> Channel:
    g = nx_group(e, t.name, "NXdata")
    ch = Channel(t.name, g, t.grid)
    columns = {c.name: c for c in t.columns}
    if "time" not in columns:
        columns["time"] = TIME
    _sweeps(g, ch, columns)
    sweeps = ch.sweep_names()
    for c in columns.values():
        if c.name in sweeps:
            continue
        slot = _field(g, ch, c.name, (), c.dtype, c.units, c.label, key=c.name)
        if c.name == "time":
            ch.time = slot
    for c in columns.values():
        if not c.is_rate:
            continue
        if c.count and c.count not in columns:
            raise ValueError(f"{t.name}: rate {c.name!r} counts in {c.count!r}, not a column")
        if isinstance(c.trials, str) and c.trials not in columns:
            raise ValueError(f"{t.name}: rate {c.name!r} has trials {c.trials!r}, not a column")
        parts = {"errors": f"95 % confidence half-width covering the interval ({c.label})",
                 "ci_low": f"95 % confidence interval, lower bound ({c.label})",
                 "ci_high": f"95 % confidence interval, upper bound ({c.label})"}
        if not c.count:
            parts["count"] = f"Events counted ({c.label} x trials)"
        slots = {}
        for part, long_name in parts.items():
            name = f"{c.name}_{part}"
            if name in columns:
                raise ValueError(f"{t.name}: column {name!r} clashes with the rate fields of {c.name!r}")
            units = DIMENSIONLESS if part == "count" else c.units
            slots[part] = _field(g, ch, name, (), "f8", units, long_name)
            if part == "errors":
                g[name].attrs["confidence_level"] = CONFIDENCE
                g[name].attrs["interval"] = "Wilson score interval"
        if isinstance(c.trials, int):
            g[c.name].attrs["trials"] = c.trials
        ch.rates.append(_Rate(c, slots))
    _taken(g, ch)
    ch.names = frozenset(columns)
    if TAKEN in columns:
        raise ValueError(f"{t.name}: column name {TAKEN!r} is reserved")
    # what to plot from the table itself: its first signal, over its sweeps or first axis column
    axis_cols = [c.name for c in t.columns if c.axis and c.name not in sweeps]
    if ch.log:
        unbounded = t.grid[0].name if t.grid else None
        if unbounded is not None and unbounded not in columns:
            raise ValueError(f"{t.name}: sweep {unbounded!r} names no column of it")
        log_axis = unbounded or (axis_cols[0] if axis_cols else None)
        ch.scales.append(g[unbounded or "time"])
        g[unbounded or "time"].make_scale(unbounded or "time")
    else:
        log_axis = None
    plain = [c.name for c in t.columns if not c.axis and c.name not in sweeps]
    g.attrs["signal"] = signal or (plain or axis_cols or ["time"])[0]
    _nxdata_axes(g, ch, log_axis)
    _attach(ch, g)
    return ch


def create_array(e: h5py.Group, a: Array) -> Channel:
    g = nx_group(e, a.name, "NXdata")
    ch = Channel(a.name, g, a.grid)
    index = {c.name: c for c in (*a.index, TIME)}
    _sweeps(g, ch, index)
    sweeps = ch.sweep_names()
    slot = _field(g, ch, a.name, a.shape, a.dtype, a.units, a.label)
    if len(a.shape) in (1, 2):
        g[a.name].attrs["interpretation"] = "spectrum" if len(a.shape) == 1 else "image"
    g.attrs["signal"] = a.name
    for c in index.values():
        if c.name not in sweeps:
            s = _field(g, ch, c.name, (), c.dtype, c.units, c.label, key=c.name)
            if c.name == "time":
                ch.time = s
    _taken(g, ch)
    for ax, n in zip(a.axis_list(), a.shape, strict=True):
        ds = g.create_dataset(ax.name, data=np.arange(n, dtype="f8"))
        set_attrs(ds, ax.units, ax.long_name or ax.name)
        ds.make_scale(ax.name)
        ch.axes[ax.name] = ds
    log_axis = None
    if ch.log:
        unbounded = a.grid[0].name if a.grid else None
        log_axis = unbounded or (a.index[0].name if a.index else None)
        ch.scales.append(g[unbounded or "time"])
        g[unbounded or "time"].make_scale(unbounded or "time")
    _nxdata_axes(g, ch, log_axis, [ax.name for ax in a.axis_list()])
    _attach(ch, g)
    lead = len(ch.lead)
    for k, ax in enumerate(a.axis_list()):
        g[a.name].dims[lead + k].attach_scale(ch.axes[ax.name])
        g[a.name].dims[lead + k].label = ax.name
    ch.slots.insert(0, (a.name, slot))  # the array itself: filled from the call's values
    return ch


def create_plot(e: h5py.Group, p: Plot, channels: Mapping[str, Channel]) -> None:
    src = e.get(p.channel)
    ch = channels.get(p.channel)
    if ch is None:
        raise ValueError(f"plot {p.name!r}: no table or array {p.channel!r}")
    fields = [p.signal, *p.auxiliary]
    missing = [n for n in fields if n not in src]
    if missing:
        raise ValueError(f"plot {p.name!r}: {p.channel} has no field {missing}")
    units = {n: src[n].attrs.get("units") for n in fields}
    odd = [n for n in p.auxiliary if units[n] != units[p.signal]]
    if odd:
        raise ValueError(f"plot {p.name!r}: auxiliary signals {odd} are not in the units of "
                         f"{p.signal!r} ({units[p.signal]}): give them their own plot")
    g = nx_group(e, p.name, "NXdata")
    rate_parts = [f"{n}_{part}" for n in fields for part in ("errors", "ci_low", "ci_high", "count")]
    links = [*fields, *rate_parts, "time", TAKEN, *ch.coordinates,
             *(s.name for s in ch.scales)]
    axes = list(src.attrs.get("axes", []))
    links += [a for a in axes if a != "."]
    for name in dict.fromkeys(links):
        if name in src and name not in g:
            g[name] = src[name]  # a hard link: the same field, no copy
    g.attrs["signal"] = p.signal
    if p.auxiliary:
        g.attrs["auxiliary_signals"] = list(p.auxiliary)
    if axes:
        g.attrs["axes"] = axes
        for k, a in enumerate(axes):
            if a != ".":
                g.attrs[f"{a}_indices"] = k
    g.attrs["title"] = p.title or src[p.signal].attrs.get("long_name", p.signal)
    if p.interpretation:
        g.attrs["interpretation"] = p.interpretation
        for n in fields:
            src[n].attrs["interpretation"] = p.interpretation
