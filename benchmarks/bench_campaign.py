"""Campaigns on dask.distributed: speed-up of two workers over serial, and the cost of a task.

Measured side by side in one run, on the same tasks (bit-error-rate runs as the ber_over_dies study
takes them: 40 patterns, one compliance, several dies):

* serial: the runs one after the other in this process (Runner, each on a freshly built bench);
* the same runs as a campaign on a LocalCluster of 1 worker, then of 2 workers (clusters started
  beforehand: their start-up is printed apart, it is paid once per campaign, not per run);
* per-task overhead: tiny runs (a 5-point I-V) as a 1-worker campaign against the same runs bare
  in-process (``run_protocol``-style), per task: dispatch, bench construction in the worker, run-file
  headline, index rewrites and the summary figure included.

    python benchmarks/bench_campaign.py
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from pathlib import Path

from labctl.campaign import local_cluster, run_campaign
from labctl.campaign_index import open_campaign
from labctl.campaign_report import campaign_figure
from labctl.campaign_spec import forget_visa_libraries, load_spec
from labctl.protocol import get_protocol
from labctl.runner import Runner
from labctl.station import Station

warnings.simplefilter("ignore", FutureWarning)

WORK = {"name": "work", "protocol": "rram_bit_error_rate", "parameters": {"repeats": 40},
        "grid": {"compliances": [8e-6, 20e-6, 50e-6, 100e-6]}, "chips": {"seeds": [1, 2, 3, 4]}}
REPEAT = 2  # each configuration timed this many times, interleaved; the best is kept (a shared machine)
TINY = {"name": "tiny", "protocol": "demo_iv", "parameters": {"points": 5},
        "grid": {"v_stop": [0.5, 0.6, 0.7, 0.8]}, "chips": {"seeds": [1, 2, 3, 4]}}


def serial(spec_dict, folder: Path) -> float:
    """The campaign's runs one after the other in this process, each on a fresh bench."""
    spec = load_spec(spec_dict)
    cls = get_protocol(spec.protocol)
    folder.mkdir(parents=True)
    t0, c0 = time.perf_counter(), time.process_time()
    for task in spec.tasks():
        forget_visa_libraries()
        protocol = cls()
        protocol.set_values(task.parameters)
        station = Station.load(spec.station, library_options=task.chip.library_options() or None)
        Runner(protocol, station, folder / f"{task.key}.h5").run()
    CPU[spec.name] = min(CPU.get(spec.name, float("inf")), (time.process_time() - c0) / len(spec.tasks()))
    return time.perf_counter() - t0


CPU = {}  # configuration -> CPU seconds per run (the run's thread in the worker, or this process)


def on_cluster(spec_dict, folder: Path, client, key: str = "") -> float:
    t0 = time.perf_counter()
    done = run_campaign(spec_dict, out=folder, client=client, progress=False)
    assert done.status == "completed", done.status
    if key:
        CPU[key] = min(CPU.get(key, float("inf")), float(done.table["cpu_time"].mean()))
    return time.perf_counter() - t0


def cluster(n: int):
    from distributed import Client

    t0 = time.perf_counter()
    c = local_cluster(n)
    client = Client(c)
    client.run(lambda: __import__("labctl.campaign"))  # what every first task would import
    return c, client, time.perf_counter() - t0


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench_campaign_"))
    n_work, n_tiny = len(load_spec(WORK).tasks()), len(load_spec(TINY).tasks())
    serial(TINY, tmp / "warm")  # imports and first-run costs out of the way
    c1, client1, start1 = cluster(1)
    c2, client2, start2 = cluster(2)
    best = {k: float("inf") for k in ("serial", "one", "two", "bare", "tiny")}
    try:
        on_cluster(TINY, tmp / "warm1", client1)
        on_cluster(TINY, tmp / "warm2", client2)
        for r in range(REPEAT):
            measures = (("serial", lambda d: serial(WORK, d)),
                        ("one", lambda d: on_cluster(WORK, d, client1, "one")),
                        ("two", lambda d: on_cluster(WORK, d, client2, "two")),
                        ("bare", lambda d: serial(TINY, d)),
                        ("tiny", lambda d: on_cluster(TINY, d, client1)))
            for key, measure in measures:
                best[key] = min(best[key], measure(tmp / f"{key}{r}"))
    finally:
        client2.close(), c2.close(), client1.close(), c1.close()  # last made first: each restores the log level
    t_serial, t_one, t_two, t_bare, t_tiny = (best[k] for k in ("serial", "one", "two", "bare", "tiny"))
    print(f"LocalCluster start-up (processes, loopback, labctl imported): 1 worker {start1:.2f} s, "
          f"2 workers {start2:.2f} s")
    print(f"{n_work} BER runs ({WORK['parameters']['repeats']} patterns, one compliance each), best of {REPEAT}:")
    print(f"  serial in-process   {t_serial:6.2f} s  ({t_serial / n_work:.2f} s/run)")
    print(f"  campaign, 1 worker  {t_one:6.2f} s")
    print(f"  campaign, 2 workers {t_two:6.2f} s  -> {t_serial / t_two:.2f}x serial, {t_one / t_two:.2f}x 1 worker "
          "(target >= 1.7x)")
    t0 = time.perf_counter()
    campaign_figure(open_campaign(next(tmp.glob("two*/work.h5")))).savefig(tmp / "figure.png", dpi=110)
    print(f"  of which fixed per campaign: the summary figure {time.perf_counter() - t0:.2f} s, the spec check, "
          "the campaign file written at start, every 2 s and at the end")
    print(f"  CPU per run: serial {CPU['work']:.2f} s, in a worker {CPU['one']:.2f} s (1 worker), {CPU['two']:.2f} s "
          f"(2 workers); load average (1 min) at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{n_tiny} tiny runs (5-point I-V): bare {t_bare / n_tiny:.3f} s/run, campaign on 1 worker "
          f"{t_tiny / n_tiny:.3f} s/run -> overhead {(t_tiny - t_bare) / n_tiny:.3f} s/task (target <= 0.5 s; "
          "the campaign file and figure included)")


if __name__ == "__main__":
    main()
