"""Crash-safe NeXus HDF5 run files: one ``NXentry`` per run, data streamed and flushed as taken.

Layout (what silx, h5web and :mod:`labctl.results` read with no help)::

    /                      NXroot    @default="entry"
    /entry                 NXentry   @default="data"  title, start_time, end_time, status, ...
    /entry/data            NXdata    one 1-D field per scalar column, @signal/@axes
    /entry/<array>         NXdata    one (n_records, *shape) field per array channel + its axes
    /entry/instrument      NXinstrument   a group per station role: driver, resource, IDN, ...
    /entry/sample          NXsample       the sample at the start (bench, seed, ...); end_of_run: at the end
    /entry/parameters      NXparameters   protocol parameters with @units
    /entry/program         NXcollection   package versions, git commit
    /entry/log             NXnote         the run's log lines (text/plain), written at the end

Every data field carries ``@units`` and ``@long_name``.

Why the file is written in two phases: HDF5's single-writer/multiple-reader (SWMR) mode lets a
reader follow a live run and keeps the file readable if the writer is killed, but forbids creating
objects or attributes once it is on. So :class:`RunWriter` creates every group, field and attribute
first (the schema: :class:`Column` and :class:`Array` declarations), then switches SWMR on and only
appends and flushes. :meth:`RunWriter.finish` closes the SWMR file and reopens it normally to write
the exit status and end time. A run whose writer died keeps ``status = "running"``;
:mod:`labctl.results` reports it as incomplete.
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
import time
import traceback as _tb
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from labctl.schema import TIME, Array, Axis, Column

__all__ = ["Array", "Axis", "Column", "LIBVER", "RunWriter", "STATUSES", "write_tree"]

#: Oldest/newest HDF5 object formats used: 1.10 is the first with SWMR; pinning the upper bound
#: keeps files readable by HDF5 1.10+ tools (silx, h5web) whatever HDF5 wrote them.
LIBVER = ("v110", "v110")
STATUSES = ("running", "completed", "aborted", "failed")
_CHUNK_BYTES = 64 * 1024
_POINT_CHUNK = 1024


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _set_attrs(obj, units: str | None = None, long_name: str | None = None, **attrs) -> None:
    if units is not None:
        obj.attrs["units"] = units
    if long_name is not None:
        obj.attrs["long_name"] = long_name
    for k, v in attrs.items():
        obj.attrs[k] = v


def _group(parent: h5py.Group, name: str, nx_class: str) -> h5py.Group:
    g = parent.require_group(name)
    g.attrs["NX_class"] = nx_class
    return g


def write_tree(group: h5py.Group, values: Mapping[str, Any]) -> None:
    """Write a nested mapping as fields (strings, numbers, lists) and ``NXcollection`` subgroups.

    ``None`` values are skipped; a ``(value, units)`` tuple becomes a field with ``@units``.
    """
    for key, value in values.items():
        name = str(key).replace("/", "_")
        if value is None:
            continue
        if isinstance(value, Mapping):
            write_tree(_group(group, name, "NXcollection"), value)
            continue
        units = None
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str):
            value, units = value
        if name in group:
            del group[name]
        try:
            if isinstance(value, str):
                ds = group.create_dataset(name, data=value, dtype=h5py.string_dtype())
            elif isinstance(value, (list, tuple)) and value and all(
                isinstance(v, str) for v in value
            ):
                ds = group.create_dataset(name, data=list(value), dtype=h5py.string_dtype())
            else:
                ds = group.create_dataset(name, data=np.asarray(value))
        except (TypeError, ValueError):
            ds = group.create_dataset(name, data=repr(value), dtype=h5py.string_dtype())
        if units is not None:
            ds.attrs["units"] = units


class _Appender:
    """Low-level appends to a 1-D or (n, *shape) chunked dataset: no per-call h5py object churn."""

    __slots__ = ("dset", "dsid", "tail", "mspace", "count", "dtype")

    def __init__(self, dset: h5py.Dataset):
        self.dset = dset
        self.dsid = dset.id
        self.tail = dset.shape[1:]
        self.dtype = dset.dtype
        self.mspace = h5py.h5s.create_simple((1, *self.tail))
        self.count = (1, *self.tail)

    def buffer(self, value) -> np.ndarray:
        """``value`` as one record (ValueError/TypeError if it cannot be one); nothing written."""
        return np.ascontiguousarray(value, dtype=self.dtype).reshape(self.count)

    def append(self, n: int, buf: np.ndarray) -> None:
        """Write record ``n`` from :meth:`buffer`'s result."""
        self.dsid.set_extent((n + 1, *self.tail))
        fspace = self.dsid.get_space()
        fspace.select_hyperslab((n, *(0 for _ in self.tail)), self.count)
        self.dsid.write(self.mspace, fspace, buf)


def _missing(dtype: np.dtype):
    return np.nan if dtype.kind in "fc" else 0


@dataclass
class _Channel:
    array: Array
    data: _Appender
    index: list[tuple[Column, _Appender]]
    time: _Appender
    axes: dict[str, h5py.Dataset] = field(default_factory=dict)
    n: int = 0


class RunWriter:
    """Write one run to ``path`` (a new file, or a new entry of an existing file).

    Phase 1 (``__init__``, :meth:`write_metadata`): create the schema and metadata.
    Phase 2 (:meth:`start`, then :meth:`append`/:meth:`append_array`/:meth:`set_axis`):
    SWMR streaming, every call flushed to disk before it returns.
    Phase 3 (:meth:`finish`): status, end time, messages.
    """

    def __init__(
        self,
        path: str | Path,
        columns: Sequence[Column] = (),
        arrays: Sequence[Array] = (),
        *,
        title: str = "",
        entry: str = "entry",
        clock: Callable[[], float] = time.monotonic,
    ):
        self.path = Path(path)
        self.entry_name = entry
        self._clock = clock
        self._t0 = clock()
        self._wall0 = time.time()
        self.columns = self._point_columns(columns)
        self.arrays = {a.name: a for a in arrays}
        if len(self.arrays) != len(arrays):
            raise ValueError("array names must be distinct")
        clash = set(self.arrays) & {"data", "instrument", "sample", "parameters", "program", "log"}
        if clash:
            raise ValueError(f"array names {sorted(clash)} are reserved NeXus group names")
        self.status = "running"
        self._streaming = False
        self._closed = False
        self.n_points = 0

        self.created_file = not self.path.exists()
        self.file = h5py.File(self.path, "w-" if self.created_file else "a", libver=LIBVER)
        if entry in self.file:
            self.file.close()
            raise FileExistsError(f"{self.path} already holds an entry {entry!r}")
        try:
            self._create(title)
        except BaseException:
            self.file.close()
            if self.created_file:  # no half-made file left to look like a run
                self.path.unlink(missing_ok=True)
            raise

    @staticmethod
    def _point_columns(columns: Sequence[Column]) -> list[Column]:
        cols = list(columns)
        names = [c.name for c in cols]
        if len(set(names)) != len(names):
            raise ValueError(f"column names {names} must be distinct")
        if cols and "time" not in names:
            cols.append(TIME)
        return cols

    # -- phase 1: schema and metadata ---------------------------------------------------------
    def _create(self, title: str) -> None:
        f = self.file
        f.attrs["NX_class"] = "NXroot"
        f.attrs.setdefault("default", self.entry_name)
        f.attrs["creator"] = "labctl"
        f.attrs["HDF5_Version"] = h5py.version.hdf5_version
        f.attrs["h5py_version"] = h5py.version.version
        e = _group(f, self.entry_name, "NXentry")
        self.entry = e
        e.attrs["writer_pid"] = os.getpid()
        e.attrs["writer_host"] = socket.gethostname()
        write_tree(e, {"title": title, "start_time": now_iso(), "status": "running"})

        self._points: list[tuple[Column, _Appender]] = []
        if self.columns:
            g = _group(e, "data", "NXdata")
            axes = [c.name for c in self.columns if c.axis]
            signals = [c.name for c in self.columns if not c.axis and c is not TIME]
            g.attrs["signal"] = (signals or axes or ["time"])[0]
            if signals[1:]:
                g.attrs["auxiliary_signals"] = signals[1:]
            g.attrs["axes"] = axes[:1] or ["."]
            for a in axes:
                g.attrs[f"{a}_indices"] = 0
            for c in self.columns:
                ds = g.create_dataset(
                    c.name, shape=(0,), maxshape=(None,), chunks=(_POINT_CHUNK,), dtype=c.dtype
                )
                _set_attrs(ds, c.units, c.label)
                self._points.append((c, _Appender(ds)))
        self._channels: dict[str, _Channel] = {}
        for a in self.arrays.values():
            self._channels[a.name] = self._create_array(e, a)
        default = "data" if self.columns else next(iter(self.arrays), None)
        if default:
            e.attrs["default"] = default
        f.flush()

    def _create_array(self, e: h5py.Group, a: Array) -> _Channel:
        g = _group(e, a.name, "NXdata")
        record_bytes = int(np.prod(a.shape)) * np.dtype(a.dtype).itemsize
        k = int(min(1024, max(1, _CHUNK_BYTES // record_bytes)))
        ds = g.create_dataset(
            a.name, shape=(0, *a.shape), maxshape=(None, *a.shape), chunks=(k, *a.shape),
            dtype=a.dtype,
        )
        _set_attrs(ds, a.units, a.label)
        if len(a.shape) in (1, 2):
            ds.attrs["interpretation"] = "spectrum" if len(a.shape) == 1 else "image"
        g.attrs["signal"] = a.name
        g.attrs["axes"] = [a.index[0].name if a.index else "."] + [x.name for x in a.axis_list()]
        axes = {}
        for k_dim, (ax, n) in enumerate(zip(a.axis_list(), a.shape, strict=True)):
            axes[ax.name] = g.create_dataset(ax.name, data=np.arange(n, dtype="f8"))
            _set_attrs(axes[ax.name], ax.units, ax.long_name or ax.name)
            g.attrs[f"{ax.name}_indices"] = k_dim + 1
        index = []
        for c in (*a.index, TIME):
            ids = g.create_dataset(
                c.name, shape=(0,), maxshape=(None,), chunks=(_POINT_CHUNK,), dtype=c.dtype
            )
            _set_attrs(ids, c.units, c.label)
            g.attrs[f"{c.name}_indices"] = 0
            index.append((c, _Appender(ids)))
        return _Channel(a, _Appender(ds), index[:-1], index[-1][1], axes)

    def write_metadata(
        self,
        *,
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
        instruments: Mapping[str, Mapping[str, Any]] | None = None,
        sample: Mapping[str, Any] | None = None,
        program: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Record what makes the run reproducible; only before :meth:`start`.

        ``parameters``: name -> {"value", "units", "long_name", "description"};
        ``instruments``: role -> nested mapping (driver, resource, idn, settings, limits);
        ``sample``/``program``/``extra``: nested mappings (``extra`` lands in the entry).
        """
        if self._streaming:
            raise RuntimeError("metadata must be written before streaming starts (SWMR)")
        e = self.entry
        if parameters is not None:
            g = _group(e, "parameters", "NXparameters")
            for name, p in parameters.items():
                write_tree(g, {name: p.get("value")})
                if name in g:
                    _set_attrs(
                        g[name], p.get("units") or "", p.get("long_name") or name,
                        description=p.get("description") or "",
                        source=p.get("source") or "explicit",
                    )
        if instruments is not None:
            g = _group(e, "instrument", "NXinstrument")
            for role, facts in instruments.items():
                write_tree(_group(g, role, "NXcollection"), facts)
        if sample is not None:
            write_tree(_group(e, "sample", "NXsample"), sample)
        if program is not None:
            write_tree(_group(e, "program", "NXcollection"), program)
        if extra is not None:
            write_tree(e, extra)
        self.file.flush()

    # -- phase 2: streaming -----------------------------------------------------------------------
    def start(self) -> None:
        """Switch to SWMR: from now on only appends, each flushed before returning."""
        if not self._streaming:
            self.file.flush()
            self.file.swmr_mode = True
            self._streaming = True

    def elapsed(self) -> float:
        return self._clock() - self._t0

    def append(self, **values: Any) -> None:
        """Append one point: a value per declared column (missing ones: NaN, or 0 for ints)."""
        if not self._points:
            raise KeyError("this run declares no columns")
        unknown = set(values) - {c.name for c, _ in self._points}
        if unknown:
            raise KeyError(
                f"unknown column(s) {sorted(unknown)}; declared: {[c.name for c in self.columns]}"
            )
        if not self._streaming:
            self.start()
        if "time" not in values:
            values["time"] = self.elapsed()
        # every value converted first: a bad one fails before any column grows (no ragged columns)
        bufs = [app.buffer(values.get(c.name, _missing(app.dtype))) for c, app in self._points]
        n = self.n_points
        for (_, app), buf in zip(self._points, bufs, strict=True):
            app.append(n, buf)
        self.n_points = n + 1
        self.file.flush()

    def append_array(self, name: str, values: Any, **index: Any) -> None:
        """Append one record to array channel ``name`` (with its index scalars)."""
        ch = self._channel(name)
        a = ch.array
        arr = np.asarray(values)
        if arr.shape != a.shape:
            raise ValueError(f"array {name!r}: got shape {arr.shape}, declared {a.shape}")
        unknown = set(index) - {c.name for c, _ in ch.index}
        if unknown:
            raise KeyError(f"array {name!r}: unknown index {sorted(unknown)}")
        bufs = [(ch.data, ch.data.buffer(arr))]
        bufs += [(app, app.buffer(index.get(c.name, _missing(app.dtype)))) for c, app in ch.index]
        bufs.append((ch.time, ch.time.buffer(self.elapsed())))
        if not self._streaming:
            self.start()
        for app, buf in bufs:
            app.append(ch.n, buf)
        ch.n += 1
        self.file.flush()

    def set_axis(self, name: str, axis: str, values: Any) -> None:
        """Give the values of one dimension of array ``name`` (e.g. the analyzer's frequencies)."""
        ch = self._channel(name)
        if axis not in ch.axes:
            raise KeyError(f"array {name!r} has axes {list(ch.axes)}, not {axis!r}")
        ds = ch.axes[axis]
        arr = np.asarray(values, dtype="f8")
        if arr.shape != ds.shape:
            raise ValueError(f"axis {name}.{axis}: got shape {arr.shape}, declared {ds.shape}")
        ds[...] = arr
        self.file.flush()

    def _channel(self, name: str) -> _Channel:
        try:
            return self._channels[name]
        except KeyError:
            raise KeyError(f"unknown array {name!r}; declared: {list(self._channels)}") from None

    # -- phase 3: exit status -----------------------------------------------------------------
    def finish(self, status: str, message: str = "", traceback: str = "",
               sample: Mapping[str, Any] | None = None, log: Sequence[str] = (),
               faults: Sequence[Mapping[str, Any]] | None = None,
               instrument_errors: Mapping[str, Sequence[str]] | None = None) -> None:
        """Close the streaming file and record how the run ended (reopened without SWMR), with the
        sample's state at the end (``sample/end_of_run``: what the run did to it), the run's log
        lines (``log``, an ``NXnote``), the link faults seen and how each was handled
        (``link_faults``: one entry per field, see :mod:`labctl.link`) and what the instruments'
        error queues held (``instrument/<role>/error_queue``)."""
        if status not in STATUSES[1:]:
            raise ValueError(f"status must be one of {STATUSES[1:]}")
        if self._closed:
            return
        clock_elapsed = self.elapsed()
        self.file.close()
        self._closed = True
        with self._reopen() as f:
            e = f[self.entry_name]
            write_tree(
                e,
                {
                    "status": status,
                    "end_time": now_iso(),
                    "duration": (time.time() - self._wall0, "s"),
                    "clock_time": (clock_elapsed, "s"),
                    "exit_message": message or None,
                    "traceback": traceback or None,
                },
            )
            if sample is not None:
                write_tree(_group(_group(e, "sample", "NXsample"), "end_of_run", "NXcollection"), sample)
            for role, entries in (instrument_errors or {}).items():
                write_tree(_group(_group(e, "instrument", "NXinstrument"), role, "NXcollection"),
                           {"error_queue": list(entries)})
            if log:
                write_tree(_group(e, "log", "NXnote"), {
                    "type": "text/plain", "description": "Log records of the run (labctl loggers, INFO and up)",
                    "data": "\n".join(log) + "\n"})
            if faults is not None:
                columns = ("role", "resource", "kind", "command", "outcome")
                table = {c: [str(f.get(c, "")) for f in faults] for c in columns} if faults else {}
                if faults:
                    table["time"] = ([float(f.get("time", np.nan)) for f in faults], "s")
                write_tree(_group(e, "link_faults", "NXcollection"), {"count": len(faults), **table})
            e["duration"].attrs["long_name"] = "Wall-clock duration"
            e["clock_time"].attrs["long_name"] = "Duration on the run clock"
        self.status = status

    def _reopen(self) -> h5py.File:
        """The closed file, writable again for the exit status.

        A reader following the live run (SWMR) holds a file lock that refuses this open; the run's
        status matters more than that lock (the reader only ever reads, and sees the status on reopen).
        """
        try:
            return h5py.File(self.path, "r+", libver=LIBVER)
        except BlockingIOError:
            return h5py.File(self.path, "r+", libver=LIBVER, locking=False)

    def discard(self) -> None:
        """Remove what this writer made (its file, or its entry in a shared file): a run that
        never started must not be left looking like one. Only before :meth:`start`."""
        if self._streaming:
            raise RuntimeError("a run that streamed data is finished, not discarded")
        self.close()
        if self.created_file:
            self.path.unlink(missing_ok=True)
        else:
            with h5py.File(self.path, "r+", libver=LIBVER) as f:
                f.pop(self.entry_name, None)

    def close(self) -> None:
        """Close without a status (the run stays 'running', i.e. incomplete)."""
        if not self._closed:
            self.file.close()
            self._closed = True

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._closed:
            return
        if exc_type is None:
            self.finish("completed")
        else:
            aborted = issubclass(exc_type, KeyboardInterrupt)
            self.finish(
                "aborted" if aborted else "failed",
                f"{exc_type.__name__}: {exc}",
                "".join(_tb.format_exception(exc_type, exc, tb)),
            )


