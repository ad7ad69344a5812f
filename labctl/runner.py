"""Run one protocol on one station into one run file: the *how* behind a protocol's *what*.

The runner binds the station's guarded drivers to the protocol's roles, gives it the station's
clock, streams every emitted point and array to a :class:`labctl.store.RunWriter`, lands aborts at
the protocol's checkpoints (Ctrl-C and SIGTERM included, from the CLI or a script), always calls
``shutdown()`` and records how the run ended, with the sample's state at its start and its end.
"""

from __future__ import annotations

import functools
import getpass
import importlib.metadata
import logging
import platform
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py

from labctl.connection import ConnectedStation
from labctl.error_queue import error_queues, summary
from labctl.errors import StorageError
from labctl.interrupts import signals_handled
from labctl.link import logger as fault_log
from labctl.logs import RunLog
from labctl.plan import Check, check_plan, refuse
from labctl.protocol import Protocol, RunAborted, get_protocol
from labctl.station import Station
from labctl.store import RunWriter, check_target

log = logging.getLogger(__name__)

EXIT_CODES = {"completed": 0, "failed": 1, "aborted": 130}
_PACKAGES = ("labctl-nanodevices", "numpy", "h5py", "pymeasure", "pyvisa", "pyvisa-sim", "PyYAML")


class FaultRecorder(logging.Handler):
    """Collects the link faults (:mod:`labctl.link`) seen by one thread, for the run file."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.faults: list[dict[str, Any]] = []
        self.links = 0

    def emit(self, record: logging.LogRecord) -> None:
        fault = getattr(record, "fault", None)
        if isinstance(fault, dict) and record.thread == self.thread:
            self.faults.append(dict(fault))

    @contextmanager
    def attached(self) -> Iterator[FaultRecorder]:
        self.thread = threading.get_ident()
        fault_log.addHandler(self)
        try:
            yield self
        finally:
            fault_log.removeHandler(self)


@dataclass
class RunResult:
    path: Path
    status: str
    message: str = ""
    points: int = 0
    recorded: bool = True  # False: the file could not take the exit status (it reads as incomplete)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


def git_commit(where: Path | None = None) -> dict[str, Any] | None:
    """Commit of the labctl source checkout (editable installs), with a dirty flag; else None."""
    where = where or Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD", "--show-toplevel"],
            capture_output=True, text=True, timeout=5,
        )
        if head.returncode != 0:
            return None
        commit, top = head.stdout.split()
        if not (where / "__init__.py").samefile(Path(top) / "labctl" / "__init__.py"):
            return None  # installed inside some other repository: its commit says nothing
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        )
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty.stdout.strip())}


def program_info() -> dict[str, Any]:
    """Package versions and git commit: what ran, for the run file."""
    versions: dict[str, Any] = {"python": platform.python_version(),
                                "hdf5": h5py.version.hdf5_version}
    for dist in _PACKAGES:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    from labctl import __version__

    return {"name": "labctl", "version": __version__, "versions": versions, "git": git_commit(),
            "command_line": " ".join(sys.argv)}


def _user_name() -> str:
    """Who runs the experiment (the login name): NeXus NXuser/name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown"


class Runner:
    """Run ``protocol`` (parameters already set) on ``station``, writing to ``out``.

    The station's ``setup`` fills the parameters the caller did not set. Thread-safe controls:
    :meth:`abort` (lands at the next checkpoint), :meth:`pause`/:meth:`resume`. ``on_progress(percent)``
    is called whenever the protocol reports progress. Run from the main thread, :meth:`run` turns
    SIGINT/SIGTERM into an abort (a second one interrupts at once).
    """

    def __init__(
        self,
        protocol: Protocol,
        station: Station,
        out: str | Path,
        *,
        on_progress: Callable[[float], None] | None = None,
        entry: str = "entry",
    ):
        self.protocol = protocol
        self.station = station
        self.out = Path(out)
        self.entry = entry
        self.on_progress = on_progress or (lambda pct: None)
        self.phase = "idle"
        self._stop = threading.Event()
        self._pause = threading.Event()
        self.writer: RunWriter | None = None
        self.connected: ConnectedStation | None = None
        self._streaming = False
        self.log = RunLog()
        self.faults = FaultRecorder()
        self._storage_error: StorageError | None = None
        protocol.set_defaults(station.defaults_for(protocol.parameter_specs()), source=f"station {station.name} setup")

    # -- controls ---------------------------------------------------------------------------
    def abort(self) -> None:
        self._stop.set()

    def pause(self) -> None:
        self._pause.set()

    def resume(self) -> None:
        self._pause.clear()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the run ----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Everything that can be refused before a file exists: parameters, the run file, roles, the
        plan against the station's limits (:class:`labctl.errors.LimitError`), drivers. The file is
        then written with the run's metadata and closed until the run starts."""
        p = self.protocol
        p.check_parameters()
        arrays, tables, plots, scan = list(p.arrays()), list(p.tables()), list(p.plots()), p.scan()
        check_target(self.out, self.entry)
        self.station.check_roles(p.roles())
        refuse(self.plan_checks())
        self.phase = "connecting"
        self.log.start()
        try:
            with self.faults.attached():
                self.connected = self.station.connect(p.roles())
        except BaseException:
            self.log.stop()
            raise
        self._checkpoint_commands()
        try:
            clock = self.connected.clock
            self.writer = RunWriter(
                self.out, p.COLUMNS, arrays, scan=scan, tables=tables, plots=plots, default=p.DEFAULT,
                title=p.title(), entry=self.entry, clock=clock.now,
            )
            self.writer.write_metadata(
                parameters=p.parameter_records(),
                sample=self.connected.sample(),
                program=program_info(),
                user={"name": _user_name()},
                extra={
                    "protocol": {"name": p.NAME, "class": f"{type(p).__module__}.{type(p).__qualname__}"},
                    "station": {"name": self.station.name, "path": str(self.station.path),
                                "description": self.station.description},
                    "run_clock": type(clock).__name__,
                },
            )
            p.bind(self.connected.instruments, clock, sink=self,
                   should_stop=self._stop.is_set, paused=self._pause.is_set)
            self.writer.hold()  # closed while the protocol sets up: a kill then leaves a whole file
        except BaseException:
            self._discard()
            raise

    def plan_checks(self) -> list[Check]:
        """The protocol's planned setpoints against the station's limits (nothing is connected)."""
        return check_plan(self.protocol.plan(), self.station)

    def _checkpoint_commands(self) -> None:
        """Every command a driver sends is a checkpoint while the protocol sets up and measures
        (never during shutdown): an abort lands within one instrument operation even in a loop of
        driver calls that checkpoints nowhere. The check comes before the command is sent, so no
        reply is ever left unread."""
        for inst in self.connected.instruments.values():
            adapter = getattr(inst, "adapter", None)
            for name in ("write", "write_bytes"):
                send = getattr(adapter, name, None)
                if callable(send):
                    setattr(adapter, name, self._checkpointed(send))

    def _checkpointed(self, send: Callable) -> Callable:
        @functools.wraps(send)
        def checked(*args, **kwargs):
            if self.phase in ("startup", "execute"):
                self.protocol.checkpoint()
            return send(*args, **kwargs)

        return checked

    def _discard(self) -> None:
        """Undo :meth:`prepare` when the run cannot start: no file left to look like a run."""
        if self.writer is not None:
            try:
                self.writer.discard()
            except (OSError, RuntimeError):  # e.g. a full disk: what prepare raised matters more
                pass
            self.writer = None
        if self.connected is not None:
            self.connected.close()
            self.connected = None
        self.log.stop()

    def _begin_streaming(self) -> None:
        """Snapshot the configured instruments, then switch the file to SWMR streaming."""
        if not self._streaming:
            snapshot = self.connected.snapshot()  # instrument I/O first: the file is open for ms only
            with self._storage():
                self.writer.write_metadata(instruments=snapshot)
                self.writer.start()
            self._streaming = True

    @contextmanager
    def _storage(self) -> Iterator[None]:
        """A run file that cannot be written stops the run, whatever the protocol does with the
        error: it is kept for the exit status, and the abort lands at the next checkpoint."""
        if self._storage_error is not None:
            raise self._storage_error
        try:
            yield
        except StorageError as exc:
            self._storage_error = exc
            self.abort()
            raise

    # -- the protocol's sink (labctl.protocol.RunSink) -----------------------------------------
    def point(self, values: Mapping[str, Any]) -> None:
        self._begin_streaming()
        with self._storage():
            self.writer.append(**values)

    def array(self, name: str, values: Any, index: Mapping[str, Any]) -> None:
        self._begin_streaming()
        with self._storage():
            self.writer.append_array(name, values, **index)

    def row(self, table: str, values: Mapping[str, Any]) -> None:
        self._begin_streaming()
        with self._storage():
            self.writer.append_row(table, **values)

    def axis(self, name: str, axis: str, values: Any) -> None:
        self._begin_streaming()
        with self._storage():
            self.writer.set_axis(name, axis, values)

    def progress(self, percent: float) -> None:
        self.on_progress(float(percent))

    def run(self) -> RunResult:
        """Prepare (if not yet), start up, execute, always shut down, record the exit status."""
        if self.writer is None:
            self.prepare()
        with self._signals_abort(), self.faults.attached():
            return self._run()

    def _run(self) -> RunResult:
        p = self.protocol
        status, message, tb = "completed", "", ""
        name = p.NAME or type(p).__name__
        log.info("%s started on station %s -> %s (%s)", name, self.station.name, self.out,
                 ", ".join(f"{k}={v!r}" for k, v in p.parameter_values().items()))
        queues: dict[str, list[str]] = {}
        shutdown_failed = False
        try:
            try:
                self.phase = "startup"
                p.status = Protocol.RUNNING
                p.startup()
                p.checkpoint()
                self._begin_streaming()
                self.phase = "execute"
                p.execute()
                self.phase = "errors"  # reading the error queues: no checkpoint (labctl's own reads)
                queues = error_queues(self.connected.instruments)  # settings refused unasked
            except Exception:
                # what the instruments say went wrong, read before shutdown sends anything new
                self.phase = "errors"
                queues = queues or error_queues(self.connected.instruments)
                raise
            finally:
                self.phase = "shutdown"
                try:
                    p.shutdown()
                except BaseException as exc:
                    status, message = "failed", f"shutdown failed: {type(exc).__name__}: {exc}"
                    tb = traceback.format_exc()
                    shutdown_failed = True
        except (RunAborted, KeyboardInterrupt):
            if status == "completed":
                status, message = "aborted", "aborted by request"
        except Exception as exc:
            details = traceback.format_exc()
            message = f"{type(exc).__name__}: {exc}" + (f"; then {message}" if message else "")
            if queues:
                message += f"; {summary(queues)}"
            status, tb = "failed", details + tb
            if self.stopping and not shutdown_failed:  # the abort cut an operation short: it landed
                status, message = "aborted", f"aborted by request; the operation under way ended in {message}"
        if self._storage_error is not None:  # the run stopped because its file could not go on
            status, message = "failed", str(self._storage_error)
        p.status = {"completed": Protocol.FINISHED, "aborted": Protocol.ABORTED}.get(
            status, Protocol.FAILED)
        self.phase = "finishing"
        # INFO: the caller reports the outcome (the CLI's last line, a script's RunResult); the file keeps it
        log.info("%s %s: %d points -> %s%s", name, status, self.writer.n_points, self.out,
                 f" ({message})" if message else "")
        try:
            sample = self._sample_at_end()
            linked = any(spec.link is not None for spec in self.station.roles.values())
            self.writer.finish(status, message, tb, sample=sample, log=self.log.stop(),
                               faults=self.faults.faults if linked or self.faults.faults else None,
                               instrument_errors=queues)
        except StorageError as exc:
            log.warning("%s: the exit status could not be recorded (%s)", self.out, exc)
        finally:
            self.log.stop()
            if self.connected is not None:
                self.connected.close()
        self.phase = "done"
        return RunResult(self.out, status, message, self.writer.n_points, self.writer.status_recorded)

    def _sample_at_end(self) -> dict[str, Any] | None:
        try:
            return self.connected.sample()
        except Exception as exc:  # the run's status matters more than this record
            return {"unavailable": f"{type(exc).__name__}: {exc}"}

    def _signals_abort(self):
        """SIGINT/SIGTERM abort the run at its next checkpoint; during shutdown they are held off
        (the instruments must go safe); a second one before shutdown interrupts at once."""

        def on_signal(signum, frame):
            if self.phase in ("shutdown", "finishing", "done"):
                log.warning("shutting down the instruments, please wait")
                return
            if not self.stopping:
                self.abort()
                log.warning("abort requested: stopping at the next checkpoint "
                            "(Ctrl-C again to interrupt at once)")
                return
            raise KeyboardInterrupt

        return signals_handled(on_signal)


def run_protocol(
    name: str,
    out: str | Path,
    *,
    station: str | Path | None = None,
    entry: str = "entry",
    progress: bool | None = None,
    allow_import: Sequence[str] = (),
    **values,
) -> RunResult:
    """Run protocol ``name`` into ``out``, as ``labctl run`` does, from a script or a test.

    ``station`` defaults to the protocol's own; ``values`` set parameters (values or strings with
    units, validated as on the command line) and beat the station's setup. A progress bar shows on a
    terminal or in Jupyter (``progress=False``: never; ``True``: always). Ctrl-C aborts cleanly.
    ``allow_import``: packages the station's drivers may come from besides pymeasure and labctl.
    """
    from labctl.progress import RunProgress

    cls = get_protocol(name)
    protocol = cls()
    protocol.set_values(values)
    runner = Runner(protocol, Station.load(station or cls.STATION, allow_import=allow_import), out, entry=entry)
    runner.prepare()
    with RunProgress(cls.NAME or cls.__name__, enabled=progress,
                     points=lambda: runner.writer.n_points if runner.writer else 0) as bar:
        runner.on_progress = bar
        return runner.run()
