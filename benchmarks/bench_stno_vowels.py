"""Vowel recognition with four coupled STNOs on the simulated station: recognition rates and wall time.

Runs `stno_vowel_recognition` with its default parameters (all 48 women, seven vowels, talker-split
train/test halves) unless overridden (`python benchmarks/bench_stno_vowels.py epochs=3 speakers=12`), then
prints the train/test recognition rate per epoch, the final confusion matrix, the wall time and the cost
per analyzer trace. Romera et al., Nature 563, 230 (2018) measured 89 % (train) and 88 % (test).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from labctl.protocol import get_protocol
from labctl.protocols._stno.vowel_readout import VOWELS
from labctl.results import open_run
from labctl.runner import Runner
from labctl.station import Station


def main(argv: list[str]) -> None:
    params = dict(arg.split("=", 1) for arg in argv)
    cls = get_protocol("stno_vowel_recognition")
    proto = cls()
    proto.set_values(params)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vowels.h5"
        start = time.perf_counter()
        result = Runner(proto, Station.load(cls.STATION), path).run()
        wall = time.perf_counter() - start
        if result.status != "completed":
            raise SystemExit(f"run {result.status}: {result.message}")
        with open_run(path) as run:
            acc = run.data("accuracy").signal.values
            conf = run.data("confusion").signal.values[-1]
            n_traces = (len(run["presentation"].values) + proto.map_points**2 + 4 * proto.cal_points)
    print(f"parameters: {params or 'defaults'}")
    print("epoch  train %  test %")
    for epoch, (tr, te) in enumerate(acc):
        print(f"{epoch:5d}  {100 * tr:7.1f}  {100 * te:6.1f}")
    print("test confusion (rows spoken, columns classified, last column unclassified):")
    print("      " + " ".join(f"{v:>4}" for v in (*VOWELS, "?")))
    for v, row in zip(VOWELS, conf, strict=True):
        print(f"  {v:>3} " + " ".join(f"{int(n):4d}" for n in row))
    print(f"final: train {100 * acc[-1, 0]:.1f} %, test {100 * acc[-1, 1]:.1f} % "
          f"(best test {100 * np.max(acc[1:, 1]) if len(acc) > 1 else float('nan'):.1f} %)")
    print(f"wall time {wall:.1f} s for {n_traces} analyzer traces ({1e3 * wall / n_traces:.1f} ms per trace)")


if __name__ == "__main__":
    main(sys.argv[1:])
