"""Behaviour of the vortex STNO model: tuning, emergent injection locking and mutual synchronization,
self-injection and the amplified coupling loop, synchronization regions in the plane of two inputs,
thermal linewidth, reproducibility, and the spectrum analyzer's view of it."""

import numpy as np
import pytest

from labctl.protocols._stno.spectra import peak, separate_peaks
from labctl.sim_backends.physics.spectrum import (
    AnalyzerSettings,
    analyzer_trace,
    to_dbm,
    window_duration,
)
from labctl.sim_backends.physics.stno import (
    DeviceSpread,
    Drive,
    FeedbackLoop,
    SeriesCircuit,
    StripLine,
    VortexMTJ,
    fabricate_chip,
    operating_point,
    simulate,
    with_temperature,
)

FIELD = 0.43  # T, out of plane, as in Romera et al. 2018
DEVICE = VortexMTJ()
COLD = with_temperature(DEVICE, 0.0)


def test_frequency_rises_monotonically_with_current_over_tens_of_mhz():
    currents = np.linspace(5e-3, 9e-3, 9)
    run = simulate(DEVICE, currents[:, None], FIELD, 2e-6, rng=1, dt=2e-9)
    f = run.mean_frequency()[:, 0]
    assert np.all(np.diff(f) > 0)
    assert f[-1] - f[0] > 30e6
    assert 250e6 < f[0] < 450e6  # a few hundred MHz
    theory = operating_point(DEVICE, currents[:, None], FIELD).free_frequency[:, 0]
    assert np.max(np.abs(f - theory)) < 1e6


def test_frequency_rises_with_out_of_plane_field():
    fields = np.linspace(0.35, 0.6, 6)
    run = simulate(DEVICE, 7e-3, fields, 2e-6, rng=2, dt=2e-9)
    f = run.mean_frequency()[:, 0]
    assert np.all(np.diff(f) > 0)
    assert f[-1] - f[0] > 40e6


def test_auto_oscillation_needs_the_threshold_current():
    i_th = float(DEVICE.threshold_current(FIELD))
    assert 2e-3 < i_th < 6e-3
    run = simulate(DEVICE, [[0.8 * i_th], [1.6 * i_th]], FIELD, 2e-6, rng=3, dt=2e-9)
    power = np.mean(np.abs(run.c[len(run.c) // 2:]) ** 2, axis=0)[:, 0]
    assert power[0] < 0.01 < 0.1 < power[1]


def _locked(run, f_drive, tol=20e3):
    return np.abs(run.mean_frequency()[:, 0] - f_drive) < tol


def test_locking_halfwidth_grows_linearly_with_rf_field_in_the_small_drive_limit():
    current = 7e-3
    op = operating_point(COLD, current, FIELD)
    f0 = float(op.free_frequency[0, 0])
    amplitudes = np.array([10e-6, 20e-6, 30e-6, 40e-6])  # T
    detunings = np.linspace(-3e6, 3e6, 61)
    amp, det = np.meshgrid(amplitudes, detunings, indexing="ij")
    drive = Drive.tones(f0 + det.ravel(), amp.ravel())
    burn = simulate(COLD, current, FIELD, 1.5e-6, rng=4, dt=2e-9, drive=drive, f_ref=f0)
    run = simulate(COLD, current, FIELD, 3e-6, rng=4, dt=2e-9, drive=drive, f_ref=f0,
                   state=burn.state, record_every=4)
    locked = _locked(run, f0 + det.ravel()).reshape(amp.shape)
    half = np.array([(np.ptp(det[i][locked[i]]) + 0.1e6) / 2 for i in range(len(amplitudes))])
    slope, intercept = np.polyfit(amplitudes, half, 1)
    assert np.all(np.diff(half) > 0)
    assert abs(intercept) < 0.15e6
    fit = slope * amplitudes + intercept
    assert np.max(np.abs(fit - half)) < 0.1e6
    theory_slope = float(op.locking_halfwidth(1.0)[0, 0])
    assert slope == pytest.approx(theory_slope, rel=0.15)
    # locked points form one contiguous band around the free-running frequency (an Arnold tongue row)
    for row in locked:
        idx = np.flatnonzero(row)
        assert np.all(np.diff(idx) == 1)


def test_frequency_is_pulled_toward_the_drive_before_locking():
    current, b = 7e-3, 20e-6
    op = operating_point(COLD, current, FIELD)
    f0 = float(op.free_frequency[0, 0])
    hw = float(op.locking_halfwidth(b)[0, 0])
    f_drive = f0 + np.array([1.3, 2.0]) * hw
    drive = Drive.tones(f_drive, b)
    run = simulate(COLD, current, FIELD, 4e-6, rng=5, dt=2e-9, drive=drive, f_ref=f0, record_every=4)
    f = run.mean_frequency()[:, 0]
    assert np.all(~_locked(run, f_drive))
    assert np.all(f > f0 + 0.05e6)  # pulled toward the drive, more the closer it is
    assert f[0] - f0 > f[1] - f0


def _pair_run(delta_current, circuit=None, seed=7):
    circuit = circuit or SeriesCircuit()
    chip = fabricate_chip(2, seed=11)
    # second oscillator's current set so that its free frequency sits `delta` away from the first one's
    i1 = 7e-3
    grid = np.linspace(4.5e-3, 10e-3, 221)
    f_grid = operating_point(chip, np.stack([np.full_like(grid, i1), grid], 1), FIELD).free_frequency
    i_match = np.interp(f_grid[0, 0], f_grid[:, 1], grid)
    currents = np.array([[i1, i_match + d] for d in np.atleast_1d(delta_current)])
    free = operating_point(chip, currents, FIELD, circuit).free_frequency
    burn = simulate(chip, currents, FIELD, 1e-6, rng=seed, dt=2e-9, circuit=circuit)
    run = simulate(chip, currents, FIELD, window_duration(0.3e6) * 2, rng=seed, dt=2e-9,
                   circuit=circuit, state=burn.state, f_ref=burn.f_ref)
    return run, free


def test_two_coupled_oscillators_synchronize_and_unlock_when_detuned():
    run, free = _pair_run([0.0, 0.2e-3, 2.0e-3])
    f = run.mean_frequency()
    detuning = np.abs(free[:, 1] - free[:, 0])
    assert detuning[1] > 1e6 and detuning[2] > 10e6
    assert np.all(np.abs(f[:2, 1] - f[:2, 0]) < 50e3)  # one common frequency
    assert abs(f[2, 1] - f[2, 0]) > 5e6  # unlocked
    v = run.load_voltage()
    settings = AnalyzerSettings(280e6, 400e6, 1001, rbw=0.3e6)
    peaks = [len(separate_peaks(settings.frequencies, analyzer_trace(v[:, i], run.dt, run.f_ref[i], settings,
                                                                     rng=i), exclusion=2e6))
             for i in range(3)]  # read as stno_mutual_sync reads its spectra
    assert peaks == [1, 1, 2]


def test_synchronization_needs_the_microwave_current_coupling():
    run, free = _pair_run([0.2e-3], circuit=SeriesCircuit(coupled=False))
    f = run.mean_frequency()[0]
    assert abs(f[1] - f[0]) == pytest.approx(abs(free[0, 1] - free[0, 0]), abs=0.3e6)
    assert abs(f[1] - f[0]) > 1e6


def test_self_injection_through_the_loop_shifts_the_frequency_periodically_with_its_phase():
    # the amplified emission fed back on the strip line pulls the oscillator's own frequency by -Im(K g),
    # 2 pi periodic in the loop phase (Tsunegi et al., Sci. Rep. 6, 26849 (2016))
    phases = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    circuits = [SeriesCircuit(loop=FeedbackLoop(10.0, ph)) for ph in phases]
    measured, predicted = [], []
    for circuit in circuits:
        burn = simulate(COLD, 7e-3, FIELD, 1e-6, rng=1, dt=2e-9, circuit=circuit)
        run = simulate(COLD, 7e-3, FIELD, 2e-6, rng=1, dt=2e-9, circuit=circuit, state=burn.state,
                       f_ref=burn.f_ref)
        measured.append(run.mean_frequency()[0, 0])
        predicted.append(operating_point(COLD, 7e-3, FIELD, circuit).free_frequency[0, 0])
    measured, predicted = np.array(measured), np.array(predicted)
    assert np.max(np.abs(measured - predicted)) < 0.3e6
    assert np.ptp(measured) > 8e6
    assert np.argmax(measured) != np.argmin(measured)
    without = operating_point(COLD, 7e-3, FIELD, SeriesCircuit()).free_frequency[0, 0]
    assert np.min(measured) < without < np.max(measured)


def _mutual_locking_band(circuit):
    """Free-running detunings (Hz) of a cold pair over which it runs at one frequency."""
    chip = with_temperature(fabricate_chip(2, seed=0, spread=DeviceSpread(*[0.0] * 6)), 0.0)  # identical
    d_i = np.linspace(-1.6e-3, 1.6e-3, 33)
    currents = np.stack([np.full_like(d_i, 7e-3), 7e-3 + d_i], axis=1)
    free = operating_point(chip, currents, FIELD, circuit).free_frequency
    burn = simulate(chip, currents, FIELD, 1.5e-6, rng=1, circuit=circuit)
    run = simulate(chip, currents, FIELD, 2e-6, rng=2, circuit=circuit, state=burn.state, f_ref=burn.f_ref)
    f = run.mean_frequency()
    locked = np.abs(f[:, 1] - f[:, 0]) < 30e3
    return (free[:, 1] - free[:, 0])[locked]


def test_the_amplifier_in_the_coupling_loop_widens_mutual_synchronization():
    series = _mutual_locking_band(SeriesCircuit())
    looped = _mutual_locking_band(SeriesCircuit(loop=FeedbackLoop(10.0, 3 * np.pi / 4)))
    assert np.ptp(series) > 10e6  # the microwave current alone synchronizes pairs several MHz apart
    assert np.ptp(looped) > 1.3 * np.ptp(series)
    alone = _mutual_locking_band(SeriesCircuit(coupled=False))
    assert alone.size == 0 or np.ptp(alone) < 0.5e6  # uncoupled: one frequency only where they coincide


def _input_plane(circuit):
    """Per point of a grid of two strip-line inputs (f_A, f_B): what each of two neighbouring oscillators
    (335 and 341 MHz) follows, 0 = neither, 1 = A, 2 = B, from the integrated dynamics at 300 K."""
    chip = fabricate_chip(2, seed=11)
    grid = np.linspace(4.5e-3, 10e-3, 551)
    f_grid = operating_point(chip, np.stack([grid, grid], 1), FIELD).free_frequency
    currents = np.array([np.interp(f, f_grid[:, k], grid) for k, f in enumerate((335e6, 341e6))])
    g = np.linspace(320e6, 356e6, 19)
    f_a, f_b = (x.ravel() for x in np.meshgrid(g, g, indexing="ij"))
    drive = Drive(np.stack([f_a, f_b], 1), np.full((f_a.size, 2), StripLine().field(1e-4)))  # -10 dBm
    kw = dict(drive=drive, circuit=circuit)
    burn = simulate(chip, currents, FIELD, 0.5e-6, rng=1, f_ref=np.full(f_a.size, 338e6), **kw)
    run = simulate(chip, currents, FIELD, 1.5e-6, rng=2, state=burn.state, f_ref=burn.f_ref, **kw)
    f = run.mean_frequency()
    return np.where(np.abs(f - f_a[:, None]) < 50e3, 1, np.where(np.abs(f - f_b[:, None]) < 50e3, 2, 0))


def test_synchronization_regions_in_the_input_plane_change_shape_without_coupling():
    coupled, uncoupled = _input_plane(SeriesCircuit()), _input_plane(SeriesCircuit(coupled=False))
    together = {name: np.sum((s[:, 0] == s[:, 1]) & (s[:, 0] > 0)) for name, s in
                (("coupled", coupled), ("uncoupled", uncoupled))}
    split = {name: np.sum((s[:, 0] > 0) & (s[:, 1] > 0) & (s[:, 0] != s[:, 1])) for name, s in
             (("coupled", coupled), ("uncoupled", uncoupled))}
    # coupled, the pair follows an input as one: wider regions where both lock to it, and the two inputs
    # can no longer pull the pair apart (one oscillator on each); uncoupled, each has its own band
    assert together["coupled"] > 1.6 * together["uncoupled"]
    assert split["uncoupled"] >= 8 and split["coupled"] <= split["uncoupled"] // 4
    assert np.mean(np.any(coupled != uncoupled, axis=1)) > 0.1


def test_thermal_noise_gives_the_predicted_finite_linewidth():
    current, n_real, tau = 7e-3, 96, 1.5e-6
    op = operating_point(DEVICE, current, FIELD)
    widths = {}
    for name, dev in (("warm", DEVICE), ("cold", COLD)):
        burn = simulate(dev, np.full((n_real, 1), current), FIELD, 0.5e-6, rng=8, dt=2e-9)
        run = simulate(dev, current, FIELD, tau, rng=9, dt=2e-9, state=burn.state, f_ref=burn.f_ref)
        ph = run.phase()[:, :, 0]
        drift = ph[-1] - ph[0]
        widths[name] = np.var(drift) / (2 * np.pi * (run.times[-1] - run.times[0]))
    assert widths["warm"] == pytest.approx(float(op.linewidth()[0, 0]), rel=0.35)
    assert widths["cold"] < 1e-3 * widths["warm"]


def test_same_seed_same_chip_and_trajectory_other_seed_other_chip():
    a, b, c = fabricate_chip(4, seed=3), fabricate_chip(4, seed=3), fabricate_chip(4, seed=4)
    assert np.array_equal(a.radius, b.radius) and not np.array_equal(a.radius, c.radius)
    f_a = operating_point(a, 7e-3, FIELD).free_frequency
    f_c = operating_point(c, 7e-3, FIELD).free_frequency
    assert np.ptp(f_a) > 1e6 and np.max(np.abs(f_a - f_c)) > 1e6  # device-to-device spread
    r1 = simulate(a, 7e-3, FIELD, 0.2e-6, rng=5, dt=2e-9)
    r2 = simulate(b, 7e-3, FIELD, 0.2e-6, rng=5, dt=2e-9)
    r3 = simulate(b, 7e-3, FIELD, 0.2e-6, rng=6, dt=2e-9)
    assert np.array_equal(r1.c, r2.c) and not np.array_equal(r1.c, r3.c)


def test_large_batches_take_the_single_precision_path_with_the_same_physics():
    small = simulate(DEVICE, np.full((8, 1), 7e-3), FIELD, 1e-6, rng=1, dt=2e-9)
    large = simulate(DEVICE, np.full((2048, 1), 7e-3), FIELD, 1e-6, rng=1, dt=2e-9, record_every=8)
    assert large.c.dtype == np.complex64 and small.c.dtype == np.complex128
    p_small = np.mean(np.abs(small.c[-200:]) ** 2)
    p_large = np.mean(np.abs(large.c[-25:]) ** 2)
    assert p_large == pytest.approx(p_small, rel=0.03)
    assert np.mean(large.mean_frequency()) == pytest.approx(np.mean(small.mean_frequency()), abs=0.2e6)


def test_analyzer_shows_a_tone_at_its_power_and_the_noise_floor_in_its_rbw():
    dt, amplitude = 2e-9, 0.01  # 10 mV peak on 50 ohm = -30 dBm
    t = np.arange(4000) * dt
    envelope = amplitude * np.exp(-2j * np.pi * 3.3e6 * t)
    settings = AnalyzerSettings(280e6, 320e6, 1001, rbw=1e6, averages=16)
    trace = analyzer_trace(envelope, dt, 300e6, settings, rng=0)
    f, p, width = peak(settings.frequencies, trace)
    assert f == pytest.approx(303.3e6, abs=20e3)
    assert p == pytest.approx(to_dbm(amplitude**2 / 100), abs=0.1)
    assert width == pytest.approx(1e6, rel=0.15)  # a pure tone is as wide as the RBW
    floor = trace[np.abs(settings.frequencies - 303.3e6) > 5e6]
    expected = -150 + 10 * np.log10(1.0645 * 1e6)
    assert np.mean(floor) == pytest.approx(expected, abs=0.5)
    assert np.std(floor) < 1.5  # 16 averages: about 4.3 dB / sqrt(16)
