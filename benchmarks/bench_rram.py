"""RRAM die controller through @labsim, with the pymeasure driver a protocol uses.

Goals: whole-array program-and-verify <= 1 s wall; whole-array PCSA read <= 10 ms.

    python benchmarks/bench_rram.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from timing import best_of

from labctl.instruments.die_controller import DieController
from labctl.sim_backends.bench_file import resolve

warnings.simplefilter("ignore", FutureWarning)
LIB = str(resolve("rram.yaml")) + "@labsim"


def main() -> None:
    die = DieController("TCPIP0::10.0.0.7::inst0::INSTR", visa_library=LIB)
    bench = die.adapter.connection.visalib.bench
    t0 = time.perf_counter()
    die.form_array()
    print(f"forming ramp of 2048 devices (ramp-and-verify):  {time.perf_counter() - t0:7.3f} s")
    rng = np.random.default_rng(0)
    patterns = [rng.random((32, 32)) < 0.5 for _ in range(5)]
    die.verify_enabled = True
    it = iter(patterns)
    t = best_of(lambda: die.program_array(next(it)), repeat=5)
    print(f"whole-array program-and-verify (1024 bits):     {t:7.3f} s   (goal <= 1 s)")
    die.verify_enabled = False
    it = iter(patterns)
    t = best_of(lambda: die.program_array(next(it)), repeat=5)
    print(f"whole-array program, no verify:                  {t:7.3f} s")
    die.program_array(patterns[0])
    t_first = best_of(lambda: (bench.die.devices._read_cache.clear(), die.read_array()), 1)
    t = best_of(die.read_array, repeat=50)
    print(f"whole-array PCSA read (1024 bits):               {t * 1e3:7.2f} ms  (goal <= 10 ms;"
          f" {t_first * 1e3:.2f} ms right after a write)")
    t = best_of(die.array_resistance, repeat=20)
    print(f"whole-array analog read (2048 float32):          {t * 1e3:7.2f} ms")
    x = rng.random(32) < 0.5
    t = best_of(lambda: die.xnor_popcount(x), repeat=50)
    print(f"XNOR-popcount of 32 rows:                        {t * 1e3:7.2f} ms")
    clock0 = bench.clock.now()
    t = best_of(lambda: die.cycle(10**6), repeat=1)
    print(f"10^6 endurance cycles (one command):             {t:7.3f} s wall, "
          f"{bench.clock.now() - clock0:.1f} s bench time")


if __name__ == "__main__":
    main()
