"""STNO physics speed: integrator throughput and the cost of a frequency-vs-current sweep of spectra.

Targets: >= 1e7 oscillator-steps/s on one core; a 100-point sweep with 1001-point traces <= 2 s
(this script measures the physics + spectrum part alone; benchmarks/bench_stno.py the whole stack).
Also the cost of one vowel-presentation trace as the STNO bench computes it (4 oscillators x 4 noise rows,
relaxation + one RBW window, with and without the amplified coupling loop), split into integrator and
analyzer: the integrator's per-step cost is numpy call overhead on 16 values, so steps, not rows, cost.
Run: python benchmarks/bench_stno_physics.py
"""

import time

import numpy as np
from timing import best_of

from labctl.protocols._stno.spectra import peak
from labctl.sim_backends.physics.spectrum import (
    AnalyzerSettings,
    analyzer_trace,
    max_sample_interval,
    window_duration,
)
from labctl.sim_backends.physics.stno import (
    Drive,
    FeedbackLoop,
    SeriesCircuit,
    fabricate_chip,
    operating_point,
    simulate,
    stable_step,
)

FIELD = 0.43


def throughput(batch: int, n_osc: int, steps: int = 400, repeats: int = 3) -> float:
    chip = fabricate_chip(n_osc, seed=1)
    drive = Drive.tones(np.full(batch, 330e6), 20e-6)
    currents = np.full((batch, n_osc), 7e-3)
    t = best_of(lambda: simulate(chip, currents, FIELD, steps * 2e-9, rng=1, dt=2e-9, drive=drive,
                                 record_every=steps), repeats)
    return batch * n_osc * steps / t


def sweep(points: int = 100, realizations: int = 8) -> tuple[float, np.ndarray]:
    chip = fabricate_chip(1, seed=1)
    settings = AnalyzerSettings(250e6, 450e6, 1001, rbw=1e6)
    f_ref = 0.5 * (settings.start + settings.stop)
    state, peaks = None, []
    t = time.perf_counter()
    for i, current in enumerate(np.linspace(4.5e-3, 9e-3, points)):
        cur = np.full((realizations, 1), current)
        dt = min(stable_step(operating_point(chip, cur, FIELD)), max_sample_interval(settings, f_ref))
        burn = 0.2e-6
        run = simulate(chip, cur, FIELD, burn + window_duration(settings.rbw), rng=i, dt=dt, state=state,
                       f_ref=f_ref)
        state = run.state
        trace = analyzer_trace(run.load_voltage()[int(burn / dt):], dt, f_ref, settings, rng=i)
        peaks.append(peak(settings.frequencies, trace)[0])
    return time.perf_counter() - t, np.array(peaks)


def vowel_trace(loop: FeedbackLoop | None, repeats: int = 20) -> tuple[float, float, int]:
    """(integrator ms, analyzer ms, steps) of one trace: 0.5 us relaxation + 1 MHz-RBW window, 300-385 MHz."""
    chip = fabricate_chip(4, seed=2018)
    settings = AnalyzerSettings(300e6, 385e6, 851, rbw=1e6)
    f_ref = 0.5 * (settings.start + settings.stop)
    currents = np.broadcast_to([5.2e-3, 7.6e-3, 8.4e-3, 9.4e-3], (4, 4))
    circuit = SeriesCircuit(loop=loop)
    dt = min(stable_step(operating_point(chip, currents, FIELD, circuit)), max_sample_interval(settings, f_ref))
    drive = Drive.tones(np.broadcast_to([330e6, 352e6], (4, 2)), 1.26e-4)
    relax = 0.5e-6
    run = None

    def integrate():
        nonlocal run
        run = simulate(chip, currents, FIELD, relax + window_duration(settings.rbw), rng=1, dt=dt, drive=drive,
                       circuit=circuit, f_ref=f_ref)

    t_sim = best_of(integrate, repeats)
    v = run.load_voltage()[int(round(relax / dt)):]
    t_spec = best_of(lambda: analyzer_trace(v, dt, f_ref, settings, rng=1), repeats)
    return 1e3 * t_sim, 1e3 * t_spec, len(run.c)


def main():
    for batch, n_osc in ((16, 1), (256, 4), (4096, 4), (16384, 1)):
        print(f"integrator B={batch:5d} K={n_osc}: {throughput(batch, n_osc):.3g} oscillator-steps/s")
    for name, loop in (("no loop", None), ("loop 10 dB", FeedbackLoop(10.0, 0.0))):
        t_sim, t_spec, steps = vowel_trace(loop)
        print(f"vowel trace, {name}: integrator {t_sim:.1f} ms ({steps} steps, {1e3 * t_sim / steps:.1f} us/step), "
              f"analyzer {t_spec:.1f} ms; integrator / analyzer = {t_sim / t_spec:.1f}")
    wall, f = sweep()
    print(f"100-point frequency-vs-current sweep, 1001-point traces, RBW 1 MHz, physics+spectrum: "
          f"{wall:.2f} s wall; peak {f[10] / 1e6:.1f} -> {f[-1] / 1e6:.1f} MHz")


if __name__ == "__main__":
    main()
