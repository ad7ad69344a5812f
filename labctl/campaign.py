"""Campaigns: populations of runs (a grid of parameters x chip instances) on dask.distributed.

``run_campaign(spec)`` (or ``labctl campaign SPEC.yaml``) checks the spec (:mod:`labctl.campaign_spec`),
plans one run per grid point and chip, and sends each run as one task to a ``dask.distributed``
cluster: a ``LocalCluster`` of worker processes on loopback (one per core, one thread each) when no
scheduler is given, or an existing cluster (``scheduler="tcp://host:8786"``). Nothing is shared
between tasks but the spec: a task loads the station with its chip's library options, builds its own
bench in its worker, runs the protocol with :class:`labctl.runner.Runner` into its own NeXus file in
the campaign folder, and computes the protocol's headline scalars from that file. The campaign file
(:mod:`labctl.campaign_index`) tabulates the runs, links their entries and summarizes the headlines
over chips at every grid point (mean, sd and a confidence interval, :mod:`labctl.stats`).

Folder (``out``, default ``./NAME``)::

    NAME.h5          the campaign file          NAME.png   its summary figure
    runs/KEY.h5      one run file per task      KEY: hash of protocol, station, parameters and chip

**Shared filesystem.** Workers write run files at the campaign folder's absolute path, so on a
cluster of several machines that folder must be on a filesystem every worker mounts at the same
path (NFS, a cluster's scratch space). Without one, each run lands on the disk of the machine that
ran it, the campaign file still records its status and headline values (computed on the worker),
but its link dangles; copy the ``runs/`` folders back into the campaign folder and run the same
spec again: every completed run is found and skipped, and the index is rebuilt with its links.

**Resuming.** A run is identified by its key; running a spec again skips every run whose file says
completed, and runs again those that failed, were aborted or were killed (incomplete). A run still
being written by a worker of an earlier, interrupted campaign is waited for, then reused if it completes.

**Stopping.** A failed run is recorded with its error and the others go on. Ctrl-C (or SIGTERM)
stops dispatching, asks running runs to abort at their next checkpoint (their instruments shut down,
their files say aborted), waits for them and writes the campaign file; a second Ctrl-C stops waiting
(runs still going are recorded as interrupted). The campaign file is always written whole
(:func:`labctl.campaign_index.write_index`), so it is consistent whenever the process stops.

Worker processes run one task at a time (one thread each; a process lock serializes tasks on workers
started with more threads): a simulated bench is one object per process, and a run starts from its
chip as it powers up. On a cluster of your own, start workers as :func:`local_cluster` does: one
thread each, the profiler off and glibc's trimming left alone, e.g.
``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False dask worker tcp://HOST:8786 --nthreads 1 --no-nanny``.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from labctl.campaign_index import CampaignIndex, RunRecord, open_campaign, write_index
from labctl.campaign_spec import CampaignSpec, SpecError, Task, forget_visa_libraries, load_spec
from labctl.headline import checked_headline
from labctl.interrupts import signals_handled

__all__ = ["Campaign", "CampaignError", "SpecError", "execute_task", "local_cluster", "run_campaign"]

log = logging.getLogger(__name__)

#: How often the campaign file is rewritten while runs complete (and always at the end).
INDEX_EVERY = 2.0
#: How long a task waits for an earlier campaign's worker still writing its run file.
WAIT_FOR_WRITER = 3600.0
_RUN_LOCK = threading.Lock()


class CampaignError(RuntimeError):
    """The campaign cannot start (folder, cluster); one line saying what."""


# -- the task (runs in a worker) ------------------------------------------------------------------
def execute_task(job: Mapping[str, Any], stop: str | None = None) -> dict[str, Any]:
    """Run one campaign task (in a dask worker, or anywhere): returns status, message, duration
    (wall s), cpu_time (s of this thread), headline values and the worker. ``stop`` names a
    ``distributed.Event`` that aborts the run."""
    with _RUN_LOCK:
        t0, c0 = time.monotonic(), time.thread_time()
        out = _execute(job, stop)
        out.setdefault("duration", time.monotonic() - t0)
        out.setdefault("cpu_time", time.thread_time() - c0)
        out["worker"] = _worker_name()
        return out


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _stop_event(name: str | None):
    if not name:
        return None
    try:
        from distributed import Event

        return Event(name)
    except (ImportError, ValueError):  # not in a worker: nothing can ask this run to stop
        return None


def _execute(job: Mapping[str, Any], stop: str | None) -> dict[str, Any]:
    from labctl.protocol import get_protocol
    from labctl.results import open_run
    from labctl.runner import Runner
    from labctl.station import Station

    out = Path(job["file"])
    event = _stop_event(stop)
    if event is not None and event.is_set():
        return {"status": "skipped", "message": "the campaign stopped before this run started"}
    try:
        cls = get_protocol(job["protocol"])
        reused = _earlier_attempt(out)
        if reused is None:
            out.parent.mkdir(parents=True, exist_ok=True)
            protocol = cls()
            protocol.set_values(job["parameters"])
            station = Station.load(job["station"], library_options=job["library_options"] or None)
            forget_visa_libraries()  # this run's bench is built from its seed, not left from the last run
            runner = Runner(protocol, station, out)
            with _aborted_by(event, runner.abort):
                result = runner.run()
            status, message = result.status, result.message
        else:
            status, message = reused, "completed by an earlier attempt"
    except Exception as exc:
        return {"status": "failed", "message": _one_line(exc), "traceback": traceback.format_exc()}
    finally:
        forget_visa_libraries()
    headline: dict[str, Any] = {}
    if status == "completed":
        try:
            with open_run(out) as run:
                headline = checked_headline(cls.HEADLINES, cls.headline(run))
        except Exception as exc:
            return {"status": "failed", "message": f"headline scalars: {_one_line(exc)}",
                    "traceback": traceback.format_exc()}
    return {"status": status, "message": message, "headline": headline}


def _earlier_attempt(out: Path) -> str | None:
    """``"completed"`` when ``out`` holds a completed run (reused); else the file is removed
    (failed, aborted, killed), after waiting for a live writer of an earlier campaign to end."""
    from labctl.results import open_run

    if not out.exists():
        return None
    deadline = time.monotonic() + WAIT_FOR_WRITER
    while True:
        try:
            with open_run(out) as run:
                status = run.status
        except (OSError, ValueError, KeyError):
            status = "unreadable"
        if status != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.5)  # another process is still writing this very run: it will end
    if status == "completed":
        return status
    out.unlink()
    return None


@contextmanager
def _aborted_by(event, abort: Callable[[], None]):
    """While the body runs, a set ``event`` (a ``distributed.Event``) calls ``abort``."""
    if event is None:
        yield
        return
    done = threading.Event()

    def watch():
        while not done.is_set():
            try:
                if event.wait(timeout=0.5):
                    abort()
                    return
            except Exception:  # the scheduler went away: nobody is left to ask for a stop
                return

    threading.Thread(target=watch, name="campaign-stop-watch", daemon=True).start()
    try:
        yield
    finally:
        done.set()


def _one_line(exc: BaseException) -> str:
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__


# -- the campaign (runs in the client) ---------------------------------------------------------------
@dataclass
class Campaign:
    """What :func:`run_campaign` returns: the folder, the campaign file read back, every run record."""

    spec: CampaignSpec
    folder: Path
    path: Path
    status: str
    records: list[RunRecord]
    figure: Path | None = None
    index: CampaignIndex = field(init=False)

    def __post_init__(self):
        self.index = open_campaign(self.path)

    @property
    def summaries(self):
        """Headline -> :class:`labctl.campaign_index.Summary` over the grid."""
        return self.index.summaries

    @property
    def table(self):
        return self.index.table

    def counts(self) -> dict[str, int]:
        return self.index.counts()

    @property
    def exit_code(self) -> int:
        return {"completed": 0, "interrupted": 130}.get(self.status, 1)

    def report(self) -> str:
        from labctl.campaign_report import summary_table

        return summary_table(self.index)


def _job(spec: CampaignSpec, task: Task, folder: Path) -> dict[str, Any]:
    return {"protocol": spec.protocol, "station": spec.station, "library_options": task.chip.library_options(),
            "parameters": task.parameters, "file": str(folder / task.file), "key": task.key}


def _plan(spec: CampaignSpec, folder: Path, index_path: Path) -> list[RunRecord]:
    """One record per task; runs whose file is complete are taken as done (headline recomputed)."""
    from labctl.protocol import get_protocol
    from labctl.results import open_run

    cls = get_protocol(spec.protocol)
    earlier: dict[str, tuple[float, str]] = {}
    if index_path.exists():
        try:
            old = open_campaign(index_path)
            cpu = old.table.get("cpu_time", [math.nan] * old.n_runs)
            earlier = {k: (d, c, w) for k, d, c, w in zip(old.table["key"], old.table["duration"], cpu,
                                                           old.table["worker"], strict=True)}
        except (OSError, ValueError, KeyError):
            earlier = {}
    records = []
    for task in spec.tasks():
        rec = RunRecord(task)
        file = folder / task.file
        if file.exists():
            try:
                with open_run(file) as run:
                    if run.status == "completed":
                        rec.headline = checked_headline(cls.HEADLINES, cls.headline(run))
                        rec.status, rec.message = "completed", ""
                        rec.duration, rec.cpu_time, rec.worker = earlier.get(task.key, (run.duration, math.nan, ""))
            except Exception as exc:  # a damaged or half-written file: run it again
                log.info("%s: %s; running it again", file, _one_line(exc))
                rec.headline = {}
        records.append(rec)
    return records


class _Progress:
    """A tqdm bar over the campaign's runs (done this session and before), with failed and running."""

    def __init__(self, label: str, total: int, done: int, stream: TextIO, enabled: bool | None):
        from labctl.progress import bar

        self.bar = bar(label, total, enabled=enabled, file=stream, unit="run")
        self.bar.update(done)

    def update(self, done: int, failed: int, running: int) -> None:
        if self.bar.disable:
            return
        self.bar.set_postfix_str(f"{failed} failed, {running} running", refresh=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()


@contextmanager
def _client(scheduler: str | None, workers: int | None):
    """A dask client: on ``scheduler``, or on a LocalCluster of worker processes on loopback."""
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise CampaignError(f"campaigns need dask.distributed ({exc})") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise CampaignError(f"cannot reach the dask scheduler at {scheduler} ({_one_line(exc)})") from None
        try:
            yield client
        finally:
            client.close()
        return
    cluster = local_cluster(workers)
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


#: Worker settings for campaign runs, both of which slow a run's Python- and numpy-heavy work: dask's
#: statistical profiler samples every thread's stack every 10 ms under the GIL (a campaign has no
#: dashboard to show it on), and the nanny's default MALLOC_TRIM_THRESHOLD_=65536 makes glibc return
#: memory to the system at almost every numpy allocation of the physics.
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


def _worker_environ() -> dict[str, Any]:
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return environ


def local_cluster(workers: int | None = None):
    """A ``distributed.LocalCluster`` for campaigns: ``workers`` processes (default: one per core) of
    one thread, on loopback (scheduler, workers and its HTTP endpoint on free 127.0.0.1 ports), the
    profiler off and glibc's default trimming (:data:`WORKER_CONFIG`), SIGINT ignored in the workers (a
    terminal's Ctrl-C is the campaign's to handle)."""
    import dask
    from distributed import LocalCluster

    settings = {**WORKER_CONFIG, "distributed.nanny.pre-spawn-environ": _worker_environ()}
    # worker processes inherit an ignored SIGINT: a terminal's Ctrl-C is the campaign's to handle
    with signals_handled(signal.SIG_IGN, (signal.SIGINT,)), dask.config.set(settings):
        return LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                            host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)


class _Stop:
    """Ctrl-C/SIGTERM while a campaign dispatches: first, stop (``requested``); second, interrupt."""

    def __init__(self):
        self.requested = False

    def installed(self):
        def on_signal(signum, frame):
            if not self.requested:
                self.requested = True
                log.warning("stopping: no new runs; running runs abort at their next checkpoint "
                            "(Ctrl-C again to stop waiting for them)")
                return
            raise KeyboardInterrupt

        return signals_handled(on_signal)


def run_campaign(
    spec: str | Path | Mapping[str, Any] | CampaignSpec,
    *,
    out: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    client=None,
    progress: bool | None = None,
    stream: TextIO | None = None,
    on_record: Callable[[RunRecord], None] | None = None,
) -> Campaign:
    """Run (or resume) a campaign; returns a :class:`Campaign` with the campaign file read back.

    ``spec``: a YAML file, a shipped study's name, a mapping or a :class:`CampaignSpec` (checked
    first: :class:`SpecError`). ``out``: the campaign folder (default ``./NAME``). ``scheduler``: a
    dask scheduler address; else a LocalCluster of ``workers`` processes (default: one per core) is
    started and stopped; ``client``: an existing ``distributed.Client`` instead of either.
    ``progress``: a tqdm bar over runs on ``stream`` (default: stderr, shown on a terminal or notebook).
    ``on_record(record)`` is called as each run ends. From a script, call it under
    ``if __name__ == "__main__":`` (worker processes import the main module, as multiprocessing's do).
    """
    from labctl.runner import program_info
    from labctl.store import now_iso

    spec = load_spec(spec)
    folder = Path(out) if out is not None else Path(spec.name)
    if folder.exists() and not folder.is_dir():
        raise CampaignError(f"{folder} exists and is not a folder")
    if workers is not None and workers < 1:
        raise CampaignError(f"workers must be at least 1, got {workers}")
    folder = folder.resolve()
    index_path = folder / f"{spec.name}.h5"
    (folder / "runs").mkdir(parents=True, exist_ok=True)
    (folder / f"{spec.name}.yaml").write_text(spec.text, encoding="utf-8")

    stream = stream or sys.stderr
    records = _plan(spec, folder, index_path)
    start = now_iso()
    program = program_info()

    def write(status: str, end: str = "") -> None:
        write_index(index_path, spec, records, status=status, start_time=start, end_time=end, program=program)

    todo = deque(r for r in records if not r.done)
    write("running")
    status = "completed"
    if todo:
        status = _dispatch(spec, folder, records, todo, write, scheduler, workers, client,
                           progress, stream, on_record)
    if status == "completed" and not all(r.done for r in records):
        status = "partial"
    write(status, now_iso())
    figure = _save_figure(index_path, folder / f"{spec.name}.png")
    return Campaign(spec, folder, index_path, status, records, figure)


def _dispatch(spec, folder, records, todo, write, scheduler, workers, client, progress, stream,
              on_record) -> str:
    """Send the runs of ``todo`` to the cluster, a few ahead of the free workers; record each as it ends."""
    from distributed import wait

    stop_name = f"labctl-campaign-{uuid.uuid4().hex}"
    done = sum(r.done for r in records)
    line = _Progress(spec.name, len(records), done, stream, progress)
    stop = _Stop()
    in_flight: dict[Any, RunRecord] = {}
    last_write = time.monotonic()
    try:
        with stop.installed(), (_borrowed(client) if client is not None else _client(scheduler, workers)) as c:
            from distributed import Event

            event = Event(stop_name, client=c)
            window = max(2, 2 * sum(c.nthreads().values()))

            def fill():
                while todo and len(in_flight) < window and not stop.requested:
                    rec = todo.popleft()
                    fut = c.submit(execute_task, _job(spec, rec.task, folder), stop_name, pure=False,
                                   key=f"labctl-run-{rec.task.key}-{uuid.uuid4().hex[:8]}")
                    in_flight[fut] = rec

            fill()
            stopping = False
            while in_flight:
                if stop.requested and not stopping:
                    stopping = True
                    event.set()
                try:
                    finished, _ = wait(list(in_flight), timeout=0.25, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    finished = ()
                for fut in finished:
                    rec = in_flight.pop(fut)
                    _apply(rec, fut)
                    if on_record is not None:
                        on_record(rec)
                fill()
                n_done = sum(r.done for r in records)
                n_failed = sum(r.status in ("failed", "aborted") for r in records)
                line.update(n_done, n_failed, len(in_flight))
                if finished and (time.monotonic() - last_write > INDEX_EVERY or not in_flight):
                    write("running")
                    last_write = time.monotonic()
            event.set()  # nothing left to stop; a worker still watching lets go
    except KeyboardInterrupt:
        for rec in in_flight.values():
            rec.status, rec.message = "interrupted", "the campaign stopped waiting for this run"
        return "interrupted"
    finally:
        line.close()
    return "interrupted" if stop.requested else "completed"


@contextmanager
def _borrowed(client):
    yield client


def _apply(rec: RunRecord, fut) -> None:
    try:
        res = fut.result()
    except Exception as exc:  # the worker died under the run, or the task could not be sent
        rec.status, rec.message = "failed", f"task lost: {_one_line(exc)}"
        return
    rec.status = res["status"] if res["status"] != "skipped" else "pending"
    rec.message = res.get("message", "")
    rec.duration = float(res.get("duration", math.nan))
    rec.cpu_time = float(res.get("cpu_time", math.nan))
    rec.headline = res.get("headline", {})
    rec.worker = res.get("worker", "")


def _save_figure(index_path: Path, png: Path) -> Path | None:
    from labctl.campaign_report import campaign_figure

    index = open_campaign(index_path)
    if not index.headlines:
        return None
    campaign_figure(index).savefig(png, dpi=110)
    return png
