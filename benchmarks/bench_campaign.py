"""Campaigns on dask.distributed: speed-up of two workers over serial, and the cost of a task.

Measured side by side in one run, on the same tasks (bit-error-rate runs on several dies):

* serial: the runs one after the other in this process (Runner, each on a freshly built bench);
* the same runs as a campaign on a LocalCluster of 1 worker, then of 2 workers (clusters started
  beforehand: their start-up is printed apart, it is paid once per campaign, not per run);
* per-task overhead: tiny runs (a 5-point I-V) as a 1-worker campaign against the same runs bare
  in-process (``run_protocol``-style), per task: dispatch, bench construction in the worker, run-file
  headline, index rewrites and the summary figure included.

    python benchmarks/bench_campaign.py
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from pathlib import Path

from labctl.campaign import run_campaign
from labctl.campaign_spec import forget_visa_libraries, load_spec
from labctl.protocol import get_protocol
from labctl.runner import Runner
from labctl.station import Station

warnings.simplefilter("ignore", FutureWarning)

WORK = {"name": "work", "protocol": "rram_bit_error_rate", "parameters": {"repeats": 4},
        "grid": {"compliances": [20e-6, 50e-6, 100e-6]}, "chips": {"seeds": [1, 2, 3, 4]}}
TINY = {"name": "tiny", "protocol": "demo_iv", "parameters": {"points": 5},
        "grid": {"v_stop": [0.5, 0.6, 0.7, 0.8]}, "chips": {"seeds": [1, 2, 3, 4]}}


def serial(spec_dict, folder: Path) -> float:
    """The campaign's runs one after the other in this process, each on a fresh bench."""
    spec = load_spec(spec_dict)
    cls = get_protocol(spec.protocol)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    for task in spec.tasks():
        forget_visa_libraries()
        protocol = cls()
        protocol.set_values(task.parameters)
        station = Station.load(spec.station, library_options=task.chip.library_options() or None)
        Runner(protocol, station, folder / f"{task.key}.h5").run()
    return time.perf_counter() - t0


def on_cluster(spec_dict, folder: Path, client) -> float:
    t0 = time.perf_counter()
    done = run_campaign(spec_dict, out=folder, client=client, progress=False)
    assert done.status == "completed", done.status
    return time.perf_counter() - t0


def cluster(n: int):
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    c = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                     silence_logs=logging.ERROR)
    client = Client(c)
    client.run(lambda: __import__("labctl.campaign"))  # what every first task would import
    return c, client, time.perf_counter() - t0


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench_campaign_"))
    n_work, n_tiny = len(load_spec(WORK).tasks()), len(load_spec(TINY).tasks())
    serial(TINY, tmp / "warm")  # imports and first-run costs out of the way
    c1, client1, start1 = cluster(1)
    c2, client2, start2 = cluster(2)
    try:
        on_cluster(TINY, tmp / "warm1", client1)
        on_cluster(TINY, tmp / "warm2", client2)
        t_serial = serial(WORK, tmp / "serial")
        t_one = on_cluster(WORK, tmp / "one", client1)
        t_two = on_cluster(WORK, tmp / "two", client2)
        t_bare = serial(TINY, tmp / "bare")
        t_tiny = on_cluster(TINY, tmp / "tiny", client1)
    finally:
        client1.close(), c1.close(), client2.close(), c2.close()
    print(f"LocalCluster start-up (processes, loopback, labctl imported): 1 worker {start1:.2f} s, "
          f"2 workers {start2:.2f} s")
    print(f"{n_work} BER runs ({WORK['parameters']['repeats']} patterns, one compliance each):")
    print(f"  serial in-process   {t_serial:6.2f} s  ({t_serial / n_work:.2f} s/run)")
    print(f"  campaign, 1 worker  {t_one:6.2f} s")
    print(f"  campaign, 2 workers {t_two:6.2f} s  -> {t_serial / t_two:.2f}x serial, {t_one / t_two:.2f}x 1 worker "
          "(target >= 1.7x)")
    print(f"{n_tiny} tiny runs (5-point I-V): bare {t_bare / n_tiny:.3f} s/run, campaign on 1 worker "
          f"{t_tiny / n_tiny:.3f} s/run -> overhead {(t_tiny - t_bare) / n_tiny:.3f} s/task (target <= 0.5 s)")


if __name__ == "__main__":
    main()
