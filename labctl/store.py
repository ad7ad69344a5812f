"""Crash-safe NeXus HDF5 run files: one ``NXentry`` per run, data streamed and flushed as taken.

Layout (what silx, h5web, xarray and :mod:`labctl.results` read with no help)::

    /                      NXroot    @default="entry"
    /entry                 NXentry   @default=<the experiment's headline plot>  title, start_time, ...
    /entry/data            NXdata    the point columns, one field each, over the run's scan
    /entry/<table>         NXdata    further tables of scalar columns (e.g. a summary per epoch)
    /entry/<array>         NXdata    one field per array channel: (*scan, *record) + its axes
    /entry/<plot>          NXdata    one quantity (links to its signal, errors, axes): what to look at
    /entry/instrument      NXinstrument   a group per station role: driver, resource, IDN, ...
    /entry/sample          NXsample       the sample at the start (bench, seed, ...); end_of_run: at the end
    /entry/parameters      NXparameters   protocol parameters with @units
    /entry/program         NXcollection   package versions, git commit
    /entry/log             NXnote         the run's log lines (text/plain), written at the end

Tables and arrays are *channels*: a scan stored N-dimensional in place, or a log that grows, each
field with ``@units`` and ``@long_name``, rates with their count and 95 % interval
(:mod:`labctl.channels`). Either way each record is flushed before the call returns, and a killed
run shows every point it took, in place.

Why the file is written in phases: HDF5's single-writer/multiple-reader (SWMR) mode lets a
reader follow a live run and keeps the file readable if the writer is killed, but forbids creating
objects or attributes once it is on. So :class:`RunWriter` creates every group, field, link and
attribute first (the schema), then switches SWMR on and only writes and flushes.
:meth:`RunWriter.finish` closes the SWMR file and reopens it normally to write the exit status and
end time. A run whose writer died keeps ``status = "running"``; :mod:`labctl.results` reports it as
incomplete.

Why a kill at any moment leaves a readable file: a file open for plain (non-SWMR) writing is
refused by every reader once its writer dies, and may be inconsistent. So it is open that way only
while labctl itself writes metadata (milliseconds), never while protocol code runs: between the
metadata and the first point (the protocol's set-up, which may take seconds) the file is closed
(:meth:`RunWriter.hold`). A new file is written under a hidden temporary name and takes its own name
only once it is consistent on disk (closed, or streaming), so a kill during creation leaves no stub
that blocks the name.

Why a run keeps free space: HDF5 failing a write mid-flush cannot close the file (and crashes the
process at exit), and the exit status needs room. A run is refused when its disk has less than
:data:`RESERVE_BYTES` free and stops (status "failed", everything flushed kept) when it gets there.
A write that fails anyway is not retried: the file keeps what its last flush wrote, readable, and
``labctl recover`` makes it readable by any HDF5 tool.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import glob
import json
import os
import re
import shutil
import socket
import time
import traceback as _tb
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from labctl import writers
from labctl.channels import Channel, create_array, create_plot, create_table, nx_group, set_attrs
from labctl.errors import RunFileError, StorageError
from labctl.hdf5_files import holds_nothing, read_superblock
from labctl.hdf5_files import reason as _reason
from labctl.schema import Array, Axis, Column, Plot, Sweep, Table

__all__ = ["Array", "Axis", "Column", "LIBVER", "Plot", "RunWriter", "STATUSES", "Sweep", "Table",
           "check_target", "write_tree"]

#: Oldest/newest HDF5 object formats used: 1.10 is the first with SWMR; pinning the upper bound
#: keeps files readable by HDF5 1.10+ tools (silx, h5web) whatever HDF5 wrote them.
LIBVER = ("v110", "v110")
STATUSES = ("running", "completed", "aborted", "failed")
#: Groups of an entry that are not data channels.
RESERVED = frozenset({"instrument", "sample", "parameters", "program", "protocol", "station", "log",
                      "link_faults", "traceback", "user"})
#: The NeXus application definition every run conforms to: a generic scan of instruments' readings
#: (a contributed definition, FAIRmat), with the NeXus definitions release it was checked against.
DEFINITION, DEFINITION_VERSION = "NXsensor_scan", "v2026.01"
#: Free space a run keeps on its disk (refused below it, stopped when it gets there).
RESERVE_BYTES = 16 * 2**20
#: Bytes of data appended between two looks at the free space.
CHECK_BYTES = 2**20
#: NeXus's rule for group names (NXDL "validItemName"): what an entry may be called.
_ENTRY_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.]*[A-Za-z0-9_])?")


def check_entry_name(entry: str) -> None:
    """An entry name is one NeXus group name: letters, digits, ``_`` and inner ``.`` (no ``/``)."""
    if not isinstance(entry, str) or not _ENTRY_NAME.fullmatch(entry):
        raise RunFileError(f"entry name {entry!r}: use letters, digits and _ (a NeXus group name, "
                           "e.g. run_2)")


def free_space_problem(directory: str | Path) -> str:
    """Why ``directory``'s disk cannot take a run ("" when it can)."""
    try:
        free = shutil.disk_usage(directory).free
    except OSError:  # not measurable here (some network file systems): not a reason to refuse
        return ""
    if free >= RESERVE_BYTES:
        return ""
    return (f"disk nearly full: {free / 1e6:.1f} MB free in {directory}, below the "
            f"{RESERVE_BYTES / 1e6:.0f} MB a run keeps to record how it ended")


def check_target(path: str | Path, entry: str = "entry", *, new: bool = False) -> None:
    """Refuse, before any instrument is touched, a run file that cannot take this run.

    ``new``: the file must not exist yet (a stub that :func:`labctl.hdf5_files.holds_nothing` does
    not count). Otherwise an existing file takes a new entry only if it is an HDF5 1.10+ file
    (SWMR needs its superblock), no writer of it is alive, it was not left open by a dead one, and it
    has no object of that name. Raises RunFileError (FileExistsError for a taken name).
    """
    check_entry_name(entry)
    path = Path(path)
    if not path.parent.is_dir():
        raise RunFileError(f"cannot write {path}: directory {path.parent} does not exist")
    low = free_space_problem(path.parent)
    if low:
        raise RunFileError(low)
    if not path.exists() or holds_nothing(path):
        return
    if new:
        raise RunFileError(f"{path} exists: choose another --out, remove it, or add --entry NAME")
    _check_shared_file(path, entry)


def _check_shared_file(path: Path, entry: str) -> None:
    from labctl.hdf5_files import open_for_reading
    from labctl.recovery import live_writers

    sb = read_superblock(path)
    if sb is None:
        raise RunFileError(f"{path} exists and is not an HDF5 file: choose another --out")
    if sb.version < 3:
        raise RunFileError(f"{path} has an HDF5 format older than 1.10 (superblock version {sb.version}), "
                           "which cannot stream a run (SWMR): choose another --out")
    busy = live_writers(path)
    if busy:
        raise RunFileError(f"{path} is being written ({'; '.join(busy)}): add this run when that is done")
    if sb.left_open:
        raise RunFileError(f"{path} was left open by a writer that is gone: `labctl recover {path}` first")
    try:
        with open_for_reading(path) as f:
            taken = entry in f
    except OSError as exc:
        raise RunFileError(str(exc)) from None
    if taken:
        raise FileExistsError(f"{path} already holds an entry {entry!r}")


def _partial_path(path: Path) -> Path:
    """Hidden sibling a new file is written under until it is consistent: ``.NAME.HOST.PID.partial``."""
    stem = f".{path.name}.{socket.gethostname()}.{os.getpid()}"
    candidate, k = path.with_name(f"{stem}.partial"), 1
    while candidate.exists():
        candidate, k = path.with_name(f"{stem}-{k}.partial"), k + 1
    return candidate


def _remove_stale_partials(path: Path) -> None:
    """Temporary files of writers of ``path`` on this host that died while creating it."""
    host = socket.gethostname()
    for stale in glob.glob(glob.escape(str(path.with_name(f".{path.name}.{host}."))) + "*.partial"):
        pid = stale[:-len(".partial")].rsplit(".", 1)[-1].split("-")[0]
        if pid.isdigit() and not writers.process_alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(stale)


def _abandon(f: h5py.File) -> None:
    """Close a file HDF5 failed to write. Its pending writes go to /dev/null first: retried on a full
    disk they fail again, and HDF5 crashes the process at exit on a file it could not close. The
    disk keeps what the last successful flush wrote (consistent for SWMR readers)."""
    with contextlib.suppress(Exception):
        fd = f.id.get_vfd_handle()
        null = os.open(os.devnull, os.O_RDWR)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
    with contextlib.suppress(Exception):
        f.close()


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def write_tree(group: h5py.Group, values: Mapping[str, Any]) -> None:
    """Write a nested mapping as fields (strings, numbers, lists) and ``NXcollection`` subgroups.

    ``None`` values are skipped; a ``(value, units)`` tuple becomes a field with ``@units``.
    """
    for key, value in values.items():
        name = str(key).replace("/", "_")
        if value is None:
            continue
        if isinstance(value, Mapping):
            write_tree(nx_group(group, name, "NXcollection"), value)
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


class RunWriter:
    """Write one run to ``path`` (a new file, or a new entry of an existing file).

    Phase 1 (``__init__``, :meth:`write_metadata`): create the schema and metadata. ``columns``
    (over ``scan``) are the table ``data``; ``tables``, ``arrays`` further channels; ``plots`` the
    NXdata groups to look at, ``default`` the one the entry opens on. :meth:`hold` closes the file
    while the protocol sets up (reopened for more metadata or streaming).
    Phase 2 (:meth:`start`, then :meth:`append`/:meth:`append_row`/:meth:`append_array`/
    :meth:`set_axis`): SWMR streaming, every call flushed to disk before it returns.
    Phase 3 (:meth:`finish`): status, end time, messages.

    A write that fails (full disk, I/O error) raises :class:`StorageError` and leaves ``broken`` set:
    the file is not written again, and keeps what was flushed before.
    """

    def __init__(
        self,
        path: str | Path,
        columns: Sequence[Column] = (),
        arrays: Sequence[Array] = (),
        *,
        scan: Sequence[Sweep] | None = None,
        tables: Sequence[Table] = (),
        plots: Sequence[Plot] = (),
        default: str = "",
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
        self.tables = {t.name: t for t in tables}
        if self.columns:
            self.tables = {"data": Table("data", self.columns, None if scan is None else tuple(scan)),
                           **self.tables}
        self.arrays = {a.name: a for a in arrays}
        self.plots = {p.name: p for p in plots}
        names = [*self.tables, *self.arrays, *self.plots]
        if len(set(names)) != len(names) or len(self.tables) != len(tables) + bool(self.columns):
            raise ValueError(f"table, array and plot names {names} must be distinct")
        clash = set(names) & RESERVED
        if clash:
            raise ValueError(f"names {sorted(clash)} are reserved NeXus group names")
        if default and default not in names:
            raise ValueError(f"default plot {default!r} is none of {names}")
        self.default = default or next(iter(self.plots), None) or next(iter(names), None)
        check_entry_name(entry)
        self.status = "running"
        self.broken = ""  # why the file could not be written (then it is not written again)
        self._streaming = False
        self._closed = False
        self._unchecked = CHECK_BYTES  # the first record looks at the free space
        self._names: dict[str, Any] = {}

        self.created_file = not self.path.exists() or holds_nothing(self.path)
        self._published = not self.created_file
        if self.created_file:
            _remove_stale_partials(self.path)
            self._partial = _partial_path(self.path)
            self.file = self._open_new(self._partial)
        else:
            _check_shared_file(self.path, entry)
            self._partial = None
            self.file = self._open_existing()
        try:
            with self._writing("creating the run's groups"):
                self._create(title)
            writers.register(self)
        except BaseException:
            if self.created_file:  # no half-made file left to look like a run
                _abandon(self.file)
                self._partial.unlink(missing_ok=True)
            elif not self.broken:  # e.g. Ctrl-C: the other runs of the file keep theirs, this one goes
                with contextlib.suppress(Exception):
                    self.file.pop(entry, None)
                    self.file.close()
            raise

    def _open_new(self, where: Path) -> h5py.File:
        try:
            return h5py.File(where, "w-", libver=LIBVER)
        except (OSError, RuntimeError) as exc:
            where.unlink(missing_ok=True)
            raise StorageError(f"cannot create {self.path}: {_reason(exc)}") from None

    def _open_existing(self) -> h5py.File:
        """The shared file, open for writing: HDF5's lock now keeps other writers out, so what
        :func:`check_target` found is checked again (another run may have started meanwhile)."""
        from labctl.recovery import live_entries

        try:
            f = h5py.File(self.path, "a", libver=LIBVER)
        except (OSError, RuntimeError) as exc:
            _check_shared_file(self.path, self.entry_name)  # says why, when it can
            raise StorageError(f"cannot add a run to {self.path}: {_reason(exc)}") from None
        taken, busy = self.entry_name in f, live_entries(f)
        if taken or busy:
            f.close()
            if taken:
                raise FileExistsError(f"{self.path} already holds an entry {self.entry_name!r}")
            raise RunFileError(f"{self.path} is being written ({'; '.join(busy)}): add this run when "
                               "that is done")
        return f

    @contextlib.contextmanager
    def _writing(self, doing: str, f: h5py.File | None = None) -> Iterator[None]:
        """HDF5 writes to ``f`` (default: the run's file): a failure abandons the file (see
        :func:`_abandon`) and raises :class:`StorageError`."""
        f = self.file if f is None else f
        try:
            yield
        except StorageError:
            raise
        except (OSError, RuntimeError) as exc:
            _abandon(f)
            if f is self.file:
                self.file = None
            self.broken = f"{doing}: {_reason(exc)}"
            raise StorageError(f"writing {self.path} failed while {self.broken}; the run file keeps "
                               f"the {self.n_points} points flushed before") from exc

    @staticmethod
    def _point_columns(columns: Sequence[Column]) -> list[Column]:
        cols = list(columns)
        names = [c.name for c in cols]
        if len(set(names)) != len(names):
            raise ValueError(f"column names {names} must be distinct")
        return cols

    @property
    def n_points(self) -> int:
        ch = getattr(self, "_channels", {}).get("data")
        return 0 if ch is None else ch.n

    # -- phase 1: schema and metadata ---------------------------------------------------------
    def _create(self, title: str) -> None:
        f = self.file
        if self.created_file:  # the root is the creating program's: never rewritten by a later run
            f.attrs["NX_class"] = "NXroot"
            f.attrs["default"] = self.entry_name
            f.attrs["creator"] = "labctl"
            f.attrs["HDF5_Version"] = h5py.version.hdf5_version
            f.attrs["h5py_version"] = h5py.version.version
        e = nx_group(f, self.entry_name, "NXentry")
        self.entry = e
        e.attrs["writer_pid"] = os.getpid()
        e.attrs["writer_host"] = socket.gethostname()
        write_tree(e, {"title": title, "experiment_description": title, "start_time": now_iso(),
                       "status": "running", "definition": DEFINITION})
        e["definition"].attrs["version"] = DEFINITION_VERSION
        signals: dict[str, str] = {}  # each table's own @signal: its default plot's, else its first plot's
        for p in sorted(self.plots.values(), key=lambda p: p.name != self.default):
            signals.setdefault(p.channel, p.signal)
        self._channels: dict[str, Channel] = {}
        for t in self.tables.values():
            self._channels[t.name] = create_table(e, t, signals.get(t.name))
        for a in self.arrays.values():
            self._channels[a.name] = create_array(e, a)
        for p in self.plots.values():
            create_plot(e, p, self._channels)
        if self.default:
            e.attrs["default"] = self.default
        f.flush()

    def write_metadata(
        self,
        *,
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
        instruments: Mapping[str, Mapping[str, Any]] | None = None,
        sample: Mapping[str, Any] | None = None,
        program: Mapping[str, Any] | None = None,
        user: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Record what makes the run reproducible; only before :meth:`start`.

        ``parameters``: name -> {"value", "units", "long_name", "description"};
        ``instruments``: role -> nested mapping (driver, resource, idn, settings, limits);
        ``sample``/``program``/``extra``: nested mappings (``extra`` lands in the entry);
        ``user``: who ran it (NXuser: ``name``, optionally affiliation, email, ...).
        """
        if self._streaming:
            raise RuntimeError("metadata must be written before streaming starts (SWMR)")
        self._ensure_open()
        with self._writing("writing the run's metadata"):
            self._write_metadata(parameters, instruments, sample, program, user, extra)
            self.file.flush()

    def _write_metadata(self, parameters, instruments, sample, program, user, extra) -> None:
        e = self.entry
        if parameters is not None:
            g = nx_group(e, "parameters", "NXparameters")
            for name, p in parameters.items():
                write_tree(g, {name: p.get("value")})
                if name in g:
                    numeric = g[name].dtype.kind in "iufc"  # units belong to numbers, not to text
                    set_attrs(
                        g[name], (p.get("units") or "") if numeric else None, p.get("long_name") or name,
                        description=p.get("description") or "",
                        source=p.get("source") or "explicit",
                    )
        if instruments is not None:
            g = nx_group(e, "instrument", "NXinstrument")
            for role, facts in instruments.items():
                write_tree(nx_group(g, role, "NXcollection"), facts)
        if sample is not None:
            write_tree(nx_group(e, "sample", "NXsample"), sample)
        if program is not None:
            self._write_program(e, program)
        if user is not None:
            write_tree(nx_group(e, "user", "NXuser"), user)
        if extra is not None:
            write_tree(e, extra)

    def hold(self) -> None:
        """Close the file until more metadata or :meth:`start` (the protocol sets up meanwhile):
        a writer killed then leaves a closed, consistent file. A new file takes its name now."""
        if self._streaming or self.file is None or self._closed:
            return
        with self._writing("closing the file until the run starts"):
            self.file.flush()
            self._names = {name: (ch.group.name, {k: ds.name for k, ds in ch.axes.items()},
                                  [ds.name for ds in ch.scales]) for name, ch in self._channels.items()}
            self.file.close()
        self.file = None
        self._publish()

    def _ensure_open(self) -> None:
        """Reopen a held file; every group, field and slot is found again by name."""
        if self.file is not None:
            return
        if self.broken or self._closed:
            raise StorageError(f"{self.path} is closed ({self.broken or 'finished'})")
        f = self.file = self._reopen(self.path if self._published else self._partial)
        self.entry = f[self.entry_name]
        for name, ch in self._channels.items():
            group, axes, scales = self._names[name]
            ch.group = f[group]
            ch.axes = {k: f[path] for k, path in axes.items()}
            ch.scales = [f[path] for path in scales]
            slots = [slot for _, slot in ch.slots] + [a.slot for a in ch.sweeps.values()]
            slots += [slot for rate in ch.rates for slot in rate.slots.values()]
            slots += [s for s in (ch.time, ch.taken) if s is not None]
            for slot in slots:
                slot.attach(f[slot.path])

    def _publish(self) -> None:
        """Give a new file its name, once it is consistent on disk (closed, or streaming). The name
        is linked, never replaced: a file that took it meanwhile is kept (a stub excepted)."""
        if self._published:
            return
        try:
            os.link(self._partial, self.path)
        except FileExistsError:
            if not holds_nothing(self.path):
                raise RunFileError(f"{self.path} was created by someone else while this run started; "
                                   f"this run is in {self._partial}") from None
            os.replace(self._partial, self.path)
        except OSError:  # a file system without hard links
            os.replace(self._partial, self.path)
        else:
            self._partial.unlink()
        self._published = True

    @staticmethod
    def _write_program(e: h5py.Group, program: Mapping[str, Any]) -> None:
        """What wrote the run: NeXus ``program_name`` (with its version and command line) and an
        ``NXprocess`` whose ``environment`` note holds the package versions and source commit."""
        facts = dict(program)
        name, version = str(facts.pop("name", "labctl")), str(facts.pop("version", ""))
        command = str(facts.pop("command_line", ""))
        write_tree(e, {"program_name": name})
        e["program_name"].attrs["version"] = version
        e["program_name"].attrs["configuration"] = command
        g = nx_group(e, "program", "NXprocess")
        write_tree(g, {"program": name, "version": version, "date": now_iso()})
        write_tree(nx_group(g, "environment", "NXnote"), {
            "type": "application/json", "description": "Package versions, source commit and command line",
            "data": json.dumps({**facts, "command_line": command}, sort_keys=True, default=str)})

    # -- phase 2: streaming -----------------------------------------------------------------------
    def start(self) -> None:
        """Switch to SWMR: from now on only writes, each flushed before returning."""
        if self._streaming:
            return
        self._ensure_open()
        with self._writing("starting to stream"):
            self.file.flush()
            self.file.swmr_mode = True
        self._streaming = True
        self._publish()

    def _make_room(self, nbytes: int) -> None:
        """Look at the free space every :data:`CHECK_BYTES` written: stop before the disk fills."""
        self._unchecked += nbytes
        if self._unchecked < CHECK_BYTES:
            return
        self._unchecked = 0
        low = free_space_problem(self.path.parent)
        if low:
            raise StorageError(f"{low}: the run stopped there, with its {self.n_points} points "
                               "recorded before")

    def elapsed(self) -> float:
        return self._clock() - self._t0

    def append(self, **values: Any) -> None:
        """Append one point: a value per declared column (missing ones: NaN, or 0 for ints)."""
        if "data" not in self._channels:
            raise KeyError("this run declares no columns")
        self.append_row("data", **values)

    def append_row(self, table: str, **values: Any) -> None:
        """Record one row of ``table`` (the next cell of its scan, or the end of its log)."""
        ch = self._channel(table)
        if table not in self.tables:
            raise KeyError(f"{table!r} is an array channel, not a table")
        if not ch.names.issuperset(values):
            unknown = set(values) - ch.names
            raise KeyError(f"unknown column(s) {sorted(unknown)}; declared: "
                           f"{[c.name for c in self.tables[table].columns]}")
        self._record(ch, values)

    def append_array(self, name: str, values: Any, **index: Any) -> None:
        """Record one array of channel ``name`` with its index scalars."""
        ch = self._channel(name)
        if name not in self.arrays:
            raise KeyError(f"{name!r} is a table, not an array channel")
        a = self.arrays[name]
        arr = np.asarray(values)
        if arr.shape != a.shape:
            raise ValueError(f"array {name!r}: got shape {arr.shape}, declared {a.shape}")
        unknown = set(index) - {c.name for c in a.index}
        if unknown:
            raise KeyError(f"array {name!r}: unknown index {sorted(unknown)}")
        self._record(ch, {**index, name: arr})

    def _record(self, ch: Channel, values: dict[str, Any]) -> None:
        values.setdefault("time", self.elapsed())
        if not self._streaming:
            self.start()
        self._make_room(sum(np.asarray(v).nbytes for v in values.values()))
        with self._writing(f"writing record {ch.n + 1} of {ch.name!r}"):
            ch.record(values)
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
        if not self._streaming:
            self.start()
        with self._writing(f"writing axis {name}.{axis}"):
            ds[...] = arr
            self.file.flush()

    def _channel(self, name: str) -> Channel:
        try:
            return self._channels[name]
        except KeyError:
            raise KeyError(f"unknown array or table {name!r}; declared: {list(self._channels)}") from None

    # -- phase 3: exit status -----------------------------------------------------------------
    def finish(self, status: str, message: str = "", traceback: str = "",
               sample: Mapping[str, Any] | None = None, log: Sequence[str] = (),
               faults: Sequence[Mapping[str, Any]] | None = None,
               instrument_errors: Mapping[str, Sequence[str]] | None = None) -> None:
        """Close the streaming file and record how the run ended (reopened without SWMR), with the
        sample's state at the end (``sample/end_of_run``: what the run did to it), the run's log
        lines (``log``, an ``NXnote``), the link faults seen and how each was handled
        (``link_faults``: one entry per field, see :mod:`labctl.link`) and what the instruments'
        error queues held (``instrument/<role>/error_queue``).

        A file that could not be written (``broken``) is left as it is: its status stays "running"
        (read as incomplete) and :attr:`status_recorded` is False.
        """
        if status not in STATUSES[1:]:
            raise ValueError(f"status must be one of {STATUSES[1:]}")
        if self._closed:
            return
        clock_elapsed = self.elapsed()
        self.status = status
        if self.file is not None:
            with self._writing("closing the streaming file"):
                self.file.close()
            self.file = None
        self._closed = True
        if self.broken:
            return
        self._publish()
        h5 = self._reopen(self.path)
        with contextlib.ExitStack() as stack:
            stack.callback(lambda: h5.id.valid and h5.close())  # e.g. a second Ctrl-C
            stack.enter_context(self._writing("recording the exit status", h5))
            e = h5[self.entry_name]
            write_tree(
                e,
                {
                    "status": status,
                    "end_time": now_iso(),
                    "duration": (int(round(time.time() - self._wall0)), "s"),  # NeXus: NX_INT
                    "collection_time": (time.time() - self._wall0, "s"),
                    "clock_time": (clock_elapsed, "s"),
                    "exit_message": message or None,
                },
            )
            if traceback:
                write_tree(nx_group(e, "traceback", "NXnote"), {
                    "type": "text/x-python-traceback", "description": message or "traceback of the run",
                    "date": now_iso(), "data": traceback})
            if sample is not None:
                write_tree(nx_group(nx_group(e, "sample", "NXsample"), "end_of_run", "NXcollection"), sample)
            for role, entries in (instrument_errors or {}).items():
                write_tree(nx_group(nx_group(e, "instrument", "NXinstrument"), role, "NXcollection"),
                           {"error_queue": list(entries)})
            if log:
                write_tree(nx_group(e, "log", "NXnote"), {
                    "type": "text/plain", "description": "Log records of the run (labctl loggers, INFO and up)",
                    "data": "\n".join(log) + "\n"})
            if faults is not None:
                columns = ("role", "resource", "kind", "command", "outcome")
                table = {c: [str(f.get(c, "")) for f in faults] for c in columns} if faults else {}
                if faults:
                    table["time"] = ([float(f.get("time", np.nan)) for f in faults], "s")
                write_tree(nx_group(e, "link_faults", "NXcollection"), {"count": (len(faults), "1"), **table})
            e["duration"].attrs["long_name"] = "Wall-clock duration (whole seconds)"
            e["collection_time"].attrs["long_name"] = "Wall-clock duration"
            e["clock_time"].attrs["long_name"] = "Duration on the run clock"
            h5.close()

    @property
    def active(self) -> bool:
        """Still writing its run (false once finished, closed, or failed to write)."""
        return not self._closed and not self.broken

    @property
    def status_recorded(self) -> bool:
        """Whether the file holds the run's exit status (False until finished, or when broken)."""
        return self._closed and not self.broken

    def _reopen(self, where: Path) -> h5py.File:
        """The closed file, writable again (more metadata, streaming, the exit status).

        A reader following the live run (SWMR) holds a file lock that refuses this open; the run's
        status matters more than that lock (the reader only ever reads, and sees the status on reopen).
        """
        try:
            try:
                return h5py.File(where, "r+", libver=LIBVER)
            except BlockingIOError:
                return h5py.File(where, "r+", libver=LIBVER, locking=False)
        except (OSError, RuntimeError) as exc:
            self.broken = f"reopening the file: {_reason(exc)}"
            raise StorageError(f"cannot reopen {self.path}: {_reason(exc)}") from None

    def discard(self) -> None:
        """Remove what this writer made (its file, or its entry in a shared file): a run that
        never started must not be left looking like one. Only before :meth:`start`."""
        if self._streaming:
            raise RuntimeError("a run that streamed data is finished, not discarded")
        self.close()
        if self.created_file:
            (self.path if self._published else self._partial).unlink(missing_ok=True)
        elif not self.broken:
            with h5py.File(self.path, "r+", libver=LIBVER) as f:
                f.pop(self.entry_name, None)

    def close(self) -> None:
        """Close without a status (the run stays 'running', i.e. incomplete)."""
        if not self._closed:
            if self.file is not None:
                with self._writing("closing the file"):
                    self.file.close()
                self.file = None
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
