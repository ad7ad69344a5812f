"""Whole-stack STNO benchmark: a 100-point frequency-vs-current sweep with 1001-point traces.

Runs the `stno_frequency_vs_current` protocol on the default station (stock pymeasure drivers -> pyvisa ->
@labsim emulators -> bench physics -> NeXus file) and prints the wall time of the run and of its sweep
(target <= 2 s for the current sweep; the magnet ramp before it is excluded).
Run: python benchmarks/bench_stno.py
"""

import tempfile
import time
import warnings
from pathlib import Path

from labctl.protocol import get_protocol
from labctl.results import open_run
from labctl.runner import Runner
from labctl.station import Station


def main():
    warnings.simplefilter("ignore", FutureWarning)
    cls = get_protocol("stno_frequency_vs_current")
    marks = {}
    sweep, go_to_field = cls.sweep, cls.go_to_field

    def timed_field(self, field):  # the current sweep starts once the magnet is at field
        measured = go_to_field(self, field)
        marks["start"] = time.perf_counter()
        return measured

    def timed_sweep(self):
        sweep(self)
        marks["stop"] = time.perf_counter()

    cls.sweep, cls.go_to_field = timed_sweep, timed_field
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.h5"
        t0 = time.perf_counter()
        result = Runner(cls(steps=100, points=1001), Station.load("stno"), path).run()
        total = time.perf_counter() - t0
        with open_run(path) as run:
            f = run["peak_frequency"].values
            n = len(f)
    assert result.status == "completed", result.message
    sweep = marks["stop"] - marks["start"]
    print(f"stno_frequency_vs_current, {n} points x 1001-point traces: run {total:.2f} s wall, "
          f"sweep {sweep:.2f} s wall ({1e3 * sweep / n:.1f} ms/point; target <= 2 s); "
          f"peak {f[0] / 1e6:.1f} -> {f[-1] / 1e6:.1f} MHz")


if __name__ == "__main__":
    main()
