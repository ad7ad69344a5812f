"""A served bench under load and under faults, against in-process @labsim.

* Load: 8 clients x 10,000 queries on one served instrument, no error allowed; 1,000 connect /
  disconnect cycles, the server's memory (tracemalloc, its thread's allocations) before and after.
* Latency: ``*IDN?`` and a 1024-float32 block, served through pyvisa-py, as a ratio to in-process.
* Faults: 1 % of each fault type; a 200-point ``stno_frequency_vs_current`` and an
  ``rram_bit_error_rate`` run complete with every point present exactly once.

    python benchmarks/bench_served.py [--quick]
"""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pyvisa
import yaml
from timing import best_of

from labctl.remote_clock import ControlClient
from labctl.runner import run_protocol
from labctl.sim_backends.bench_file import resolve
from labctl.sim_backends.served import ServerThread, socket_station

QUICK = "--quick" in sys.argv
AWG = "USB0::0x0957::0x2807::MY00000001::INSTR"
FAULTS = {"latency": 0.01, "latency_s": 0.02, "no_reply": 0.01, "garbled": 0.01, "disconnect": 0.01, "error": 0.01}


def load(srv, clients=8, queries=10_000) -> tuple[float, int]:
    errors = []

    def client():
        s = socket.create_connection(("127.0.0.1", srv.port("die")))
        f = s.makefile("rb")
        for _ in range(queries):
            s.sendall(b"*IDN?\n")
            if not f.readline().startswith(b"LABCTL"):
                errors.append(1)
        s.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, len(errors)


def churn(srv, cycles=1000) -> tuple[int, int]:
    def cycle(n):
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", srv.port("die")))
            s.sendall(b"*IDN?\n")
            s.recv(100)
            s.close()

    cycle(100)  # warm-up: first-use allocations are not growth
    before = srv.call(lambda s: tracemalloc.take_snapshot())
    cycle(cycles)
    srv.call(lambda s: s.find("die").sessions)  # a turn of the loop after the last close
    after = srv.call(lambda s: tracemalloc.take_snapshot())
    growth = sum(d.size_diff for d in after.compare_to(before, "filename"))
    return cycles, growth


def latency() -> list[tuple[str, float, float]]:
    """The demo bench: ``*IDN?`` of its SMU and a 1024-float32 trace of its waveform memory."""
    local = pyvisa.ResourceManager(str(resolve("demo.yaml")) + "@labsim")
    served_rm = pyvisa.ResourceManager("@py")
    kw = dict(read_termination="\n", write_termination="\n")
    rows = []
    with ServerThread("demo.yaml") as srv:
        ls, ss = local.open_resource("GPIB0::24::INSTR", **kw), served_rm.open_resource(srv.resource("smu_diode"), **kw)
        rows.append(("*IDN? round trip", best_of(lambda: ss.query("*IDN?"), 5, 300),
                     best_of(lambda: ls.query("*IDN?"), 5, 300)))
        # binary transfers end on END in-process; over a socket the reply's terminator ends them
        la = local.open_resource(AWG, write_termination="\n")
        sa = served_rm.open_resource(srv.resource("awg"), **kw)
        for r in (la, sa):
            r.write(":TRAC:DATA:NOIS 1024")
        t_s = best_of(lambda: sa.query_binary_values(":TRAC:DATA?", datatype="f", container=np.array), 5, 50)
        t_l = best_of(lambda: la.query_binary_values(":TRAC:DATA?", datatype="f", container=np.array), 5, 50)
        rows.append(("1024-float32 block query", t_s, t_l))
        for r in (ls, ss, la, sa):
            r.close()
    served_rm.close()
    return rows


def faulted_run(bench: str, name: str, params: dict, expected: np.ndarray, column: str, tmp: Path):
    with ServerThread(f"{bench}.yaml") as srv:
        with ControlClient(srv.control_port) as c:
            c.call("faults", rates=FAULTS, seed=1)
        station = tmp / f"{bench}.yaml"
        station.write_text(yaml.safe_dump(socket_station(bench, srv.server.listing(), srv.control_port,
                                                         timeout=300)))
        t0 = time.perf_counter()
        run = run_protocol(name, tmp / f"{name}.h5", station=station, **params)
        wall = time.perf_counter() - t0
        with ControlClient(srv.control_port) as c:
            injected = {k: sum(v["injected"][k] for v in c.call("faults")["instruments"].values())
                        for k in ("latency", "no_reply", "garbled", "disconnect", "error")}
    with h5py.File(run.path, "r") as f:
        axis = f[f"entry/data/{column}"][()]
        seen = int(f["entry/link_faults/count"][()])
    once = axis.shape == expected.shape and np.allclose(axis, expected)
    return run.status, run.points, once, seen, injected, wall


def main() -> None:
    tracemalloc.start()
    with ServerThread("rram.yaml") as srv:
        clients, queries = (8, 1000) if QUICK else (8, 10_000)
        wall, errors = load(srv, clients, queries)
        print(f"load: {clients} clients x {queries} *IDN? in {wall:.1f} s "
              f"({clients * queries / wall:.0f} queries/s), errors: {errors}")
        cycles, growth = churn(srv, 200 if QUICK else 1000)
        print(f"connect/disconnect: {cycles} cycles, server memory growth {growth / 1024:+.1f} KiB")
    tracemalloc.stop()
    print(f"{'operation':28s} {'served':>10s} {'@labsim':>10s} {'served/labsim':>14s}")
    for label, t_s, t_l in latency():
        print(f"{label:28s} {t_s * 1e6:8.1f}us {t_l * 1e6:8.1f}us {t_s / t_l:14.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        steps = 50 if QUICK else 200
        rows = [
            ("stno", "stno_frequency_vs_current", {"steps": steps, "points": 401},
             np.linspace(4.5e-3, 9e-3, steps), "dc_current"),
            ("rram", "rram_bit_error_rate", {"compliances": "10 uA, 20 uA, 50 uA", "repeats": 10},
             np.array([10e-6, 20e-6, 50e-6]), "compliance"),
        ]
        for bench, name, params, expected, column in rows:
            status, points, once, seen, injected, wall = faulted_run(bench, name, params, expected, column,
                                                                     Path(tmp))
            print(f"{name} with 1 % of each fault: {status}, {points} points, each once: {once}; "
                  f"faults injected {injected}, handled and recorded by the client: {seen}; {wall:.1f} s")
    print("targets: no load errors; no memory growth with connection churn; faulted runs complete, "
          "every point once")


if __name__ == "__main__":
    main()
