"""Speed of the RRAM physics (plain numpy, no VISA).

Goal: 10^6 simulated device reads for bit-error statistics in <= 1 s.  Also prints the cost of the
programming physics (whole-die pulses, program-and-verify) and of a 10^6-cycle endurance block.

    python benchmarks/bench_rram_physics.py
"""

from __future__ import annotations

import numpy as np
from timing import best_of

from labctl.sim_backends.physics.rram_die import COLS, N_DEVICES, ROWS, SET, RRAMDie


def main() -> None:
    die = RRAMDie(seed=1)
    die.form(v_start=4.0, v_stop=4.0, width=100e-6)
    bits = np.random.default_rng(0).random((ROWS, COLS)) < 0.5
    die.program(bits)
    n_reads = -(-10**6 // N_DEVICES)
    reads = n_reads * N_DEVICES

    t = best_of(lambda: die.read_pcsa(n_reads=n_reads))
    print(f"PCSA reads (2T2R, both devices):   {reads:.2e} device reads in {t * 1e3:7.1f} ms"
          f"  (goal 1e6 <= 1000 ms)")
    t = best_of(lambda: die.devices.read_current(None, n_reads=n_reads))
    print(f"raw device read currents:          {reads:.2e} device reads in {t * 1e3:7.1f} ms")
    t = best_of(lambda: die.read_pcsa())
    print(f"one whole-array PCSA read:         {t * 1e3:7.3f} ms")
    t = best_of(lambda: die.devices.apply_pulse(None, **SET.kwargs()))
    print(f"one pulse on all {N_DEVICES} devices:      {t * 1e3:7.1f} ms")
    t = best_of(lambda: die.program(bits), repeat=3)
    print(f"whole-array program-and-verify:    {t * 1e3:7.1f} ms (physics only)")
    t = best_of(lambda: die.cycle(10**6), repeat=2)
    print(f"10^6 endurance cycles, all devices: {t * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
