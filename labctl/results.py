"""Read run files written by :mod:`labctl.store`: entries, status, parameters, arrays with units.

Works on finished runs, live runs (opened as an SWMR reader) and runs whose writer was killed
(HDF5 then refuses a normal open; the SWMR reader still sees every flushed point). An NXdata group
reads as stored (:meth:`Run.data`: a scan as its N-D grid, cells not taken NaN);
:meth:`Run.columns` gives the same records as flat columns in the order they were taken.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from labctl import writers
from labctl.hdf5_files import open_for_reading, plain

#: Final statuses; a run still "running" whose writer process is gone reads as "incomplete".
FINAL = ("completed", "aborted", "failed")
TAKEN = "points_taken"  # as in labctl.channels (not imported: reading must not need the writer)
DIMENSIONLESS = "1"


@dataclass
class Field:
    """One HDF5 field as numpy values with its NeXus ``@units`` and ``@long_name``."""

    name: str
    values: np.ndarray
    units: str = ""
    long_name: str = ""

    @property
    def label(self) -> str:
        text = self.long_name or self.name
        return f"{text} ({self.units})" if self.units not in ("", DIMENSIONLESS) else text


@dataclass
class Data:
    """An ``NXdata`` group: its signal, the axis per signal dimension (None = plain index).

    ``errors`` maps a signal's name to its uncertainty field (NeXus ``<name>_errors``);
    ``taken`` is how many cells of a scan are filled (None for a log: all its records are).
    """

    name: str
    signal: Field
    axes: list[Field | None]
    auxiliary: list[Field] = field(default_factory=list)
    fields: dict[str, Field] = field(default_factory=dict)
    errors: dict[str, Field] = field(default_factory=dict)
    taken: int | None = None
    title: str = ""
    interpretation: str = ""
    dims: dict[str, tuple[str, ...]] = field(default_factory=dict)
    coordinates: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Field:
        return self.fields[name]

    def to_xarray(self):
        """The group as an ``xarray.Dataset``: every field on its named dimensions (the sweeps of
        a scan, an array's own axes, a log's index), sweeps and axes as coordinates, ``units`` and
        ``long_name`` as attributes; cells of a scan not taken are NaN (xarray optional)."""
        import xarray as xr

        coords, variables = {}, {}
        for name, f in self.fields.items():
            if name == TAKEN:
                continue
            dims = self.dims.get(name, ())
            if len(dims) != np.ndim(f.values):
                dims = tuple(f"{name}_dim{k}" for k in range(np.ndim(f.values)))
            var = xr.Variable(dims, f.values, {"units": f.units, "long_name": f.long_name})
            if dims == (name,) or name in self.coordinates:
                coords[name] = var
            else:
                variables[name] = var
        attrs = {"nxdata": self.name, "signal": self.signal.name, "title": self.title or self.signal.long_name}
        if self.auxiliary:
            attrs["auxiliary_signals"] = [a.name for a in self.auxiliary]
        if self.taken is not None:
            attrs["points_taken"] = self.taken
        return xr.Dataset(variables, coords, attrs)

    def interval(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(low, high) bounds of the confidence interval of rate ``name``, if recorded."""
        lo, hi = self.fields.get(f"{name}_ci_low"), self.fields.get(f"{name}_ci_high")
        return None if lo is None or hi is None else (lo.values, hi.values)


def _attr(obj, name: str, default: Any = None) -> Any:
    return plain(obj.attrs[name]) if name in obj.attrs else default


def _nx_class(obj) -> str:
    return _attr(obj, "NX_class", "") or ""


def _read_tree(group: h5py.Group) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, obj in group.items():
        if isinstance(obj, h5py.Group):
            out[name] = _read_tree(obj)
        else:
            out[name] = plain(obj[()])
    return out


def _open(path: str | Path) -> h5py.File:
    """Plainly, or as an SWMR reader when a writer (live, or dead) holds the file; never hangs."""
    return open_for_reading(path)


def _entries(f: h5py.File) -> list[str]:
    return [k for k, v in f.items() if isinstance(v, h5py.Group) and _nx_class(v) == "NXentry"]


def list_entries(path: str | Path) -> list[str]:
    """Names of the ``NXentry`` groups (runs) of a file."""
    with _open(path) as f:
        return _entries(f)


class Run:
    """One run (``NXentry``) of a file. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | Path, entry: str | None = None):
        self.path = Path(path)
        self.file = _open(self.path)
        try:
            entries = _entries(self.file)
            if not entries:
                raise ValueError(f"{path}: no NXentry (not a labctl run file)")
            entry = entry or _attr(self.file, "default") or entries[0]
            if entry not in entries:
                raise KeyError(f"{path}: no entry {entry!r}; entries: {entries}")
        except BaseException:
            self.file.close()
            raise
        self.entry_name = entry
        self.entry = self.file[entry]

    # -- context ----------------------------------------------------------------------------
    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- facts ------------------------------------------------------------------------------
    def _scalar(self, name: str, default: Any = None) -> Any:
        return plain(self.entry[name][()]) if name in self.entry else default

    @property
    def duration(self) -> float:
        """The run's wall-clock duration (s) as its file records it (whole seconds); NaN before it ends."""
        return float(self.entry["duration"][()]) if "duration" in self.entry else math.nan

    @property
    def recorded_status(self) -> str:
        return self._scalar("status", "running")

    @property
    def status(self) -> str:
        """completed / aborted / failed; running (writer alive); incomplete (writer gone)."""
        status = self.recorded_status
        if status in FINAL:
            return status
        host, pid = _attr(self.entry, "writer_host"), _attr(self.entry, "writer_pid")
        if writers.alive(host, pid, self.path, self.entry_name):
            return "running"
        return "incomplete"

    @property
    def complete(self) -> bool:
        return self.status == "completed"

    title = property(lambda self: self._scalar("title", ""))
    start_time = property(lambda self: self._scalar("start_time"))
    end_time = property(lambda self: self._scalar("end_time"))
    exit_message = property(lambda self: self._scalar("exit_message", ""))

    @property
    def traceback(self) -> str:
        """The failed run's traceback (an ``NXnote``; older files: a plain field)."""
        tb = self.entry.get("traceback")
        if isinstance(tb, h5py.Group):
            return plain(tb["data"][()]) if "data" in tb else ""
        return self._scalar("traceback", "")

    @property
    def log(self) -> list[str]:
        """The run's log lines (``time LEVEL logger: message``), kept in its ``log`` NXnote."""
        g = self.entry.get("log")
        text = plain(g["data"][()]) if isinstance(g, h5py.Group) and "data" in g else ""
        return text.splitlines() if isinstance(text, str) else []

    @property
    def protocol(self) -> str:
        """Registry name of the protocol that wrote the run ("" if none)."""
        g = self.entry.get("protocol")
        return plain(g["name"][()]) if g is not None and "name" in g else ""

    @property
    def parameters(self) -> dict[str, Field]:
        g = self.entry.get("parameters")
        if g is None:
            return {}
        return {k: self._field(v) for k, v in g.items() if isinstance(v, h5py.Dataset)}

    def parameter_values(self) -> dict[str, Any]:
        """Parameter values as plain Python (numbers, strings, bools, lists)."""
        return {k: f.values.item() if f.values.ndim == 0 else f.values.tolist()
                for k, f in self.parameters.items()}

    def group(self, name: str) -> dict[str, Any]:
        """A metadata group as a nested dict (``instrument``, ``sample``, ``program``, ...)."""
        g = self.entry.get(name)
        return _read_tree(g) if isinstance(g, h5py.Group) else {}

    @property
    def instruments(self) -> dict[str, Any]:
        return self.group("instrument")

    @property
    def sample(self) -> dict[str, Any]:
        """The sample at the start of the run (NXsample)."""
        facts = self.group("sample")
        facts.pop("end_of_run", None)
        return facts

    @property
    def sample_at_end(self) -> dict[str, Any]:
        """The sample at the end of the run (``{}`` for a run that did not finish)."""
        return self.group("sample").get("end_of_run", {})

    @property
    def program(self) -> dict[str, Any]:
        """What wrote the run: name, version, package versions, git commit, command line."""
        facts = self.group("program")
        note = facts.pop("environment", None)
        if isinstance(note, dict) and "data" in note:  # NXprocess + NXnote (JSON)
            facts = {"name": facts.get("program", ""), "version": facts.get("version", ""),
                     "date": facts.get("date", ""), **json.loads(note["data"])}
        return facts

    # -- data -------------------------------------------------------------------------------
    @property
    def data_names(self) -> list[str]:
        """The ``NXdata`` groups, the entry's default first."""
        names = [k for k, v in self.entry.items() if _nx_class(v) == "NXdata"]
        default = _attr(self.entry, "default")
        return sorted(names, key=lambda n: (n != default, names.index(n)))

    def _field(self, ds: h5py.Dataset) -> Field:
        if self.file.swmr_mode:
            ds.refresh()
        raw = ds[()]
        text = isinstance(raw, bytes) or (isinstance(raw, np.ndarray) and raw.dtype.kind in "OS")
        values = np.asarray(plain(raw) if text else raw)
        if "_FillValue" in ds.attrs and values.dtype.kind in "iu":  # cells of a scan not taken: NaN
            missing = values == ds.attrs["_FillValue"]
            if missing.any():
                values = np.where(missing, np.nan, values)
        units, long_name = _attr(ds, "units", ""), _attr(ds, "long_name", "")
        if units and long_name.endswith(f" ({units})"):  # the store's axis label: name (units)
            long_name = long_name[: -len(units) - 3]
        return Field(ds.name.rsplit("/", 1)[-1], values, units, long_name)

    def data(self, name: str | None = None) -> Data:
        """An ``NXdata`` group (default: the entry's ``@default``) with its signal and axes."""
        names = self.data_names
        if not names:
            raise KeyError(f"{self.path}: entry {self.entry_name!r} holds no NXdata")
        name = name or names[0]
        if name not in names:
            raise KeyError(f"no NXdata {name!r}; available: {names}")
        g = self.entry[name]
        fields = {k: self._field(v) for k, v in g.items() if isinstance(v, h5py.Dataset)}
        axes_attr = _names(_attr(g, "axes", []))
        if self.recorded_status != "completed" and TAKEN not in fields:
            fields = _complete_records(fields, axes_attr)
        if _attr(g, "signal") not in fields:
            raise KeyError(f"NXdata {name!r}: its @signal {_attr(g, 'signal')!r} names none of its "
                           f"fields {sorted(fields)}")
        signal = fields[_attr(g, "signal")]
        axes = [fields.get(a) if a != "." else None for a in axes_attr]
        axes += [None] * (signal.values.ndim - len(axes))
        aux = [fields[a] for a in _names(_attr(g, "auxiliary_signals", [])) if a in fields]
        errors = {f.name: fields[f"{f.name}_errors"] for f in (signal, *aux) if f"{f.name}_errors" in fields}
        taken = int(fields[TAKEN].values) if TAKEN in fields else None
        interpretation = _attr(g, "interpretation") or _attr(g[signal.name], "interpretation") or ""
        dims, coordinates = {}, set()
        for k, ds in g.items():
            if isinstance(ds, h5py.Dataset):
                dims[k] = tuple(d.label or (k if ds.ndim == 1 and ds.is_scale else "") for d in ds.dims)
                coordinates.update(str(_attr(ds, "coordinates", "")).split())
        return Data(name, signal, axes, aux, fields, errors, taken, _attr(g, "title", "") or "",
                    interpretation, dims, tuple(sorted(coordinates)))

    def columns(self, name: str = "data") -> dict[str, Field]:
        """The records of a table or array channel as flat fields, in the order they were taken.

        A scan's grid is unrolled (C order: the order its cells were filled) and cut to the cells
        taken; its sweeps are repeated to match, so ``columns()["compliance"]`` lines up with
        ``columns()["ber_2t2r"]`` as in a log. An array's records come as ``(n, *record)``.
        """
        if name not in self.data_names:
            return {}
        d = self.data(name)
        if d.taken is None or "time" not in d.fields:
            return dict(d.fields)
        g = self.entry[name]
        grid = d.fields["time"].values.shape
        dims = {a: int(_attr(g, f"{a}_indices")) for a in _names(_attr(g, "axes", []))
                if a != "." and f"{a}_indices" in g.attrs}
        out = {}
        for k, f in d.fields.items():
            v = np.asarray(f.values)
            if k == TAKEN:
                continue
            if k in dims and dims[k] < len(grid):  # a sweep: repeat along its dimension
                shape = [1] * len(grid)
                shape[dims[k]] = -1
                flat = np.broadcast_to(v.reshape(shape), grid).ravel()
            elif k in dims:  # an axis of the records (frequency of a trace): as it is
                out[k] = f
                continue
            elif v.ndim == 0 and k != "time":  # a sweep of one setpoint
                flat = np.full(int(np.prod(grid, dtype=np.int64)), v)
            else:
                flat = v.reshape((-1, *v.shape[len(grid):]))
            out[k] = replace(f, values=flat[: d.taken])
        return out

    def __getitem__(self, name: str) -> Field:
        """A point column as flat records in the order taken (:meth:`columns`), else a field of
        the default NXdata, e.g. ``run["current"].values``."""
        cols = self.columns()
        return cols[name] if name in cols else self.data()[name]

    def to_xarray(self, name: str | None = None):
        """An NXdata group (default: the point table ``data``, else the entry's default plot) as an
        ``xarray.Dataset`` with named dimensions, coordinates, units and long names
        (:meth:`Data.to_xarray`); the run's title, status, protocol and parameters as attributes."""
        if name is None:
            name = "data" if "data" in self.data_names else None
        ds = self.data(name).to_xarray()
        ds.attrs.update({"run_title": self.title, "status": self.status, "protocol": self.protocol,
                         "entry": self.entry_name, "file": str(self.path), "start_time": self.start_time or ""})
        for k, v in self.parameter_values().items():
            if isinstance(v, (str, int, float, bool)):
                ds.attrs[f"parameter_{k}"] = v
        return ds

    def to_pandas(self, name: str = "data"):
        """The records of a table as a pandas DataFrame, one row per record taken; units and
        long names in ``df.attrs["units"]``/``df.attrs["long_names"]`` (pandas optional)."""
        import pandas as pd

        cols = {k: f for k, f in self.columns(name).items() if np.ndim(f.values) == 1}
        n = max((len(f.values) for f in cols.values()), default=0)
        cols = {k: f for k, f in cols.items() if len(f.values) == n}
        df = pd.DataFrame({k: f.values for k, f in cols.items()})
        df.attrs["units"] = {k: f.units for k, f in cols.items()}
        df.attrs["long_names"] = {k: f.long_name for k, f in cols.items()}
        return df

    def shapes(self) -> dict[str, dict[str, tuple[int, ...]]]:
        out = {}
        for n in self.data_names:
            out[n] = {}
            for k, ds in self.entry[n].items():
                if isinstance(ds, h5py.Dataset):
                    if self.file.swmr_mode:
                        ds.refresh()
                    out[n][k] = ds.shape
        return out


def _names(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _complete_records(fields: dict[str, Field], axes: list[str]) -> dict[str, Field]:
    """Only the records every field has: a live or killed writer may be one column ahead.

    Record-indexed fields are all but the axes of the trace/map dimensions (``@axes[1:]``).
    """
    fixed = set(axes[1:])
    record = [k for k, f in fields.items() if k not in fixed and f.values.ndim >= 1]
    if not record:
        return fields
    n = min(len(fields[k].values) for k in record)
    return {k: replace(f, values=f.values[:n]) if k in record else f for k, f in fields.items()}


def open_run(path: str | Path, entry: str | None = None) -> Run:
    """Open a run file (the file's default entry unless ``entry`` is given)."""
    return Run(path, entry)
