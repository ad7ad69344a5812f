"""STNO protocols end to end on the default station: NeXus files showing the physics (tuning by current and
field, locking ranges growing with rf amplitude, two peaks merging), figures for `labctl plot`, and a lab
left safe (pillars unbiased, rf off, magnet ramped down)."""

import numpy as np
import pytest

from labctl.protocol import ParameterError, get_protocol
from labctl.results import open_run
from labctl.runner import Runner, run_protocol
from labctl.station import Station


def _run(name, path, **params):
    result = run_protocol(name, path, **params)
    assert result.status == "completed", result.message
    return get_protocol(name)


def _assert_left_safe():
    lab = Station.load("stno").connect(["smu1", "smu2", "rf_a", "magnet"])
    try:
        ins = lab.instruments
        assert not ins["smu1"].source_enabled and not ins["smu2"].source_enabled
        assert not ins["rf_a"].is_enabled
        assert abs(ins["magnet"].current) < 0.02 and not ins["magnet"].output_enabled
    finally:
        lab.close()


def test_frequency_vs_current_tunes_monotonically_over_tens_of_mhz(tmp_path):
    cls = _run("stno_frequency_vs_current", tmp_path / "run.h5", steps=9, i_start=5e-3, i_stop=9e-3)
    with open_run(tmp_path / "run.h5") as run:
        f = run["peak_frequency"].values
        assert np.all(np.diff(f) > 0) and f[-1] - f[0] > 30e6
        assert run["field"].values == pytest.approx(0.43, abs=2e-3)  # corrected on the gaussmeter
        r = run["voltage"].values / run["dc_current"].values
        assert np.ptp(r) / np.mean(r) < 0.01 and 30 < np.mean(r) < 100  # ohmic pillar
        spec = run.data("spectrum")
        assert spec.signal.values.shape == (9, 1001) and spec.signal.units == "dBm"
        assert spec.axes[1].values[0] == 250e6 and spec.axes[1].values[-1] == 450e6
        assert np.all(run["peak_power"].values > np.median(spec.signal.values) + 30)
        assert cls.figure(run) is not None
    _assert_left_safe()


def test_frequency_rises_with_field(tmp_path):
    _run("stno_frequency_vs_field", tmp_path / "run.h5", steps=4, field_start=0.35, field_stop=0.55)
    with open_run(tmp_path / "run.h5") as run:
        f = run["peak_frequency"].values
        assert np.all(np.diff(f) > 5e6)
        assert run["field"].values == pytest.approx([0.35, 0.41667, 0.48333, 0.55], abs=2e-3)
    _assert_left_safe()


@pytest.mark.slow
def test_injection_locking_tongue_widens_linearly_with_rf_amplitude(tmp_path):
    cls = _run("stno_injection_locking", tmp_path / "run.h5", detuning=6e6, detuning_steps=21,
               p_start=-25.0, p_stop=-13.0, p_steps=3)
    with open_run(tmp_path / "run.h5") as run:
        amp, half, (slope, intercept) = cls.halfwidths(run)
        assert np.all(np.diff(half) > 0) and half[0] > 0
        assert abs(intercept) < 0.3 * half[0] + 0.5e6  # through the origin, within the grid step
        assert np.max(np.abs(slope * amp + intercept - half)) < 0.5e6  # linear
        locked = run["locked"].values.reshape(3, 21) > 0.5
        for row in locked:  # one contiguous band per power: the tongue
            idx = np.flatnonzero(row)
            assert np.all(np.diff(idx) == 1)
        # frequency pulling: just outside the band the oscillator moves toward the rf frequency
        f_rf = run["rf_frequency"].values.reshape(3, 21)[1]
        f_osc = run["peak_frequency"].values.reshape(3, 21)[1]
        f0 = run["free_frequency"].values[0]
        edge = np.flatnonzero(locked[1])[-1] + 1
        assert f0 < f_osc[edge] < f_rf[edge]
        assert cls.figure(run) is not None
    _assert_left_safe()


@pytest.mark.slow
def test_mutual_sync_merges_two_peaks_into_one_near_equal_frequencies(tmp_path):
    cls = _run("stno_mutual_sync", tmp_path / "run.h5", steps=10, i_start=5e-3, i_stop=9.5e-3)
    with open_run(tmp_path / "run.h5") as run:
        n = run["n_peaks"].values
        power = run["peak_power"].values
        assert n[0] >= 2 and n[-1] >= 2  # far detuned: both oscillations
        merged = n == 1
        assert 1 <= merged.sum() <= 5 and not merged[0] and not merged[-1]
        assert power[merged].mean() > power[~merged].mean() + 3  # in-phase: emitted powers add
        assert cls.figure(run) is not None
    _assert_left_safe()


def test_a_current_beyond_the_limit_fails_the_run_with_the_lab_left_safe(tmp_path):
    cls = get_protocol("stno_frequency_vs_current")
    proto = cls(i_stop=15e-3, steps=3)
    proto.plan = dict  # no plan declared: the guard refuses the current while the sweep runs
    result = Runner(proto, Station.load("stno"), tmp_path / "run.h5").run()
    assert result.status == "failed" and "limit" in result.message
    _assert_left_safe()


def test_an_empty_or_inverted_analyzer_span_is_refused_before_a_file_exists(tmp_path):
    cls = get_protocol("stno_frequency_vs_current")
    with pytest.raises(ParameterError, match="f_start < f_stop"):
        Runner(cls(f_start=450e6, f_stop=250e6), Station.load("stno"), tmp_path / "run.h5").run()
    assert not (tmp_path / "run.h5").exists()


def test_an_aborted_sweep_still_ramps_the_magnet_down_before_its_output_goes_off(tmp_path):
    cls = get_protocol("stno_frequency_vs_current")
    proto = cls(steps=9)
    runner = Runner(proto, Station.load("stno"), tmp_path / "run.h5")
    measure = proto.measure_spectrum

    def measure_then_abort(**index):  # as if Ctrl-C came during the first trace, magnet at 0.43 T
        runner.abort()
        return measure(**index)

    proto.measure_spectrum = measure_then_abort
    result = runner.run()
    assert result.status == "aborted"
    with open_run(tmp_path / "run.h5") as run:
        assert run.status == "aborted" and len(run["dc_current"].values) <= 1
    _assert_left_safe()  # coil current back to zero through the awaited ramp, then output off


def test_a_detuning_beyond_the_oscillation_frequency_fails_before_any_rf_is_sent(tmp_path):
    cls = get_protocol("stno_injection_locking")
    result = Runner(cls(detuning=5e8), Station.load("stno"), tmp_path / "run.h5").run()
    assert result.status == "failed" and "below 0 Hz" in result.message
    with open_run(tmp_path / "run.h5") as run:
        assert len(run["rf_frequency"].values) == 0
    _assert_left_safe()
