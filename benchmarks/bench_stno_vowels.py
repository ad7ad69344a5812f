"""Vowel recognition with four coupled STNOs on the simulated station: recognition rates, wall time, and
where the time goes.

Runs `stno_vowel_recognition` with its default parameters (the 37 women, seven vowels, talker-split
train/test halves, 8 epochs) unless overridden (`python benchmarks/bench_stno_vowels.py epochs=3 seed=2`),
then prints the train/test recognition rate per epoch, the final confusion matrix, and the run's time:
wall and CPU against the 30 s target for one full-data run, split into the oscillator integrator, the
analyzer's trace computation, and the rest (SCPI, drivers, protocol, run file), with the cost per trace.
Romera et al., Nature 563, 230 (2018) measured 89 % (train) and 88 % (test).
"""

from __future__ import annotations

import functools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from labctl.protocol import get_protocol
from labctl.protocols._stno.vowel_readout import VOWELS
from labctl.results import open_run
from labctl.runner import Runner
from labctl.sim_backends import stno_bench
from labctl.station import Station

TARGET_S = 30.0  # one full-data run, 8 epochs, through the instruments


def timed(module, name: str, spent: dict[str, float]) -> None:
    """Replace ``module.name`` by a wrapper adding its CPU time to ``spent[name]``."""
    original = getattr(module, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        t = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] += time.process_time() - t

    spent[name] = 0.0
    setattr(module, name, wrapper)


def main(argv: list[str]) -> None:
    params = dict(arg.split("=", 1) for arg in argv)
    cls = get_protocol("stno_vowel_recognition")
    proto = cls()
    proto.set_values(params)
    spent: dict[str, float] = {}
    timed(stno_bench, "simulate", spent)  # the oscillators' dynamics for each trace
    timed(stno_bench, "analyzer_trace", spent)  # FFT, RBW, noise floor of each trace
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vowels.h5"
        start, cpu = time.perf_counter(), time.process_time()
        result = Runner(proto, Station.load(cls.STATION), path).run()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        if result.status != "completed":
            raise SystemExit(f"run {result.status}: {result.message}")
        with open_run(path) as run:
            acc = run.data("accuracy")
            train, test = acc["train_accuracy"].values, acc["test_accuracy"].values
            conf = run.columns("confusion")["confusion"].values[-1]
            n_traces = len(run["presentation"].values) + 2 * proto.map_points**2 + 4 * proto.cal_points
    print(f"parameters: {params or 'defaults'}")
    print("epoch  train %  test %   (training rate counted while learning)")
    for epoch, (tr, te) in enumerate(zip(train, test, strict=True)):
        print(f"{epoch:5d}  {100 * tr:7.1f}  " + (f"{100 * te:6.1f}" if np.isfinite(te) else "     -"))
    print("test confusion, last epoch (rows spoken, columns classified, last column unclassified):")
    print("      " + " ".join(f"{v:>4}" for v in (*VOWELS, "?")))
    for v, row in zip(VOWELS, conf, strict=True):
        print(f"  {v:>3} " + " ".join(f"{int(n):4d}" for n in row))
    print(f"final: train {100 * train[-1]:.1f} %, test {100 * test[-1]:.1f} %")
    rest = cpu - spent["simulate"] - spent["analyzer_trace"]
    print(f"time: wall {wall:.1f} s, CPU {cpu:.1f} s (target {TARGET_S:.0f} s; wall / target = "
          f"{wall / TARGET_S:.2f}), {n_traces} analyzer traces, {1e3 * cpu / n_traces:.1f} ms CPU per trace")
    for what, t in (("integrator", spent["simulate"]), ("analyzer trace", spent["analyzer_trace"]),
                    ("SCPI, drivers, protocol, file", rest)):
        print(f"  {what:30s} {t:6.1f} s CPU ({100 * t / cpu:4.1f} %, {1e3 * t / n_traces:.1f} ms per trace)")


if __name__ == "__main__":
    main(sys.argv[1:])
