"""Vowel recognition with four coupled STNOs (Romera et al., Nature 2018) on the default station: training
by the frequency-difference rule raises the recognition rate well above chance, the synchronization maps
come out of measured spectra, the run file holds what the paper plots, bad settings are refused."""

import numpy as np
import pytest

from labctl.protocol import ParameterError, get_protocol
from labctl.protocols._stno.vowel_learning import (
    Calibration,
    epoch_rate,
    initial_currents,
    learning_step,
    next_currents,
)
from labctl.protocols._stno.vowel_readout import (
    N_OSC,
    NONE,
    TARGETS,
    UNCLASSIFIED,
    VOWELS,
    classify,
    map_code,
    read_spectrum,
    read_sync_map,
    target_maps,
)
from labctl.results import open_run
from labctl.runner import Runner
from labctl.station import Station

SMALL = dict(speakers=6, epochs=2, cal_points=3, map_points=3, seed=1)

pytestmark = pytest.mark.slow  # trains a network / runs whole experiments


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("vowels") / "run.h5"
    cls = get_protocol("stno_vowel_recognition")
    result = Runner(cls(**SMALL), Station.load(cls.STATION), path).run()
    assert result.status == "completed", result.message
    return cls, path


def test_training_raises_recognition_well_above_chance(small_run):
    _, path = small_run
    with open_run(path) as run:
        d = run.data()  # the headline: recognition rate per epoch, test with training beside it
        assert d.name == "recognition" and d.axes[0].name == "epoch"
        train, test = d["train_accuracy"].values, d["test_accuracy"].values
        chance = 1 / len(VOWELS)
        assert train.shape == test.shape == (SMALL["epochs"] + 1,)
        assert train[-1] > train[0] + 0.1 and test[-1] > test[0]
        assert train[-1] > 3 * chance and test[-1] > 3 * chance
        lo, hi = d.interval("test_accuracy")
        assert np.all((lo <= test) & (test <= hi)) and set(d.errors) == {"test_accuracy", "train_accuracy"}


def test_run_file_holds_maps_confusion_and_calibration(small_run):
    cls, path = small_run
    with open_run(path) as run:
        test = run["test"].values > 0.5
        last = run["epoch"].values == SMALL["epochs"]
        n_test = int(np.sum(test & last))
        conf = run.data("confusion").signal.values
        assert conf.shape == (SMALL["epochs"] + 1, len(VOWELS), len(VOWELS) + 1)
        assert conf[-1].sum() == n_test
        correct = run["correct"].values[test & last]
        assert np.trace(conf[-1][:, :len(VOWELS)]) == correct.sum()
        assert run.data("accuracy")["test_accuracy"].values[-1] == pytest.approx(correct.mean())
        assert np.array_equal(run.data("target_map").signal.values > 0.5, target_maps())
        cal = run.data("calibration").signal.values  # (4, cal_points): frequency rises with current
        assert cal.shape == (N_OSC, SMALL["cal_points"]) and np.all(np.diff(cal, axis=1) > 5e6)
        spectra = run.data("spectrum").signal.values
        assert spectra.shape == (n_test, run.parameter_values()["points"])
        smap = run.data("sync_map")
        assert smap.signal.values.shape == (SMALL["map_points"], SMALL["map_points"])
        assert smap.axes[0].values[0] == 315e6 and smap.axes[1].values[-1] == 370e6
        assert smap["epoch"].values == SMALL["epochs"]  # the single epoch it shows, a scalar coordinate
        # the inputs sit where the formants put them: f_A rises with F1 for every token
        assert np.all((run["f_a"].values > 300e6) & (run["f_b"].values < 385e6))
        assert cls.figure(run) is not None


def test_locked_inputs_are_seen_as_emission_on_their_frequency(small_run):
    """A map that says input A is locked comes with a spectral peak on f_A, an unlocked one without."""
    _, path = small_run
    with open_run(path) as run:
        test = run["test"].values > 0.5
        last = run["epoch"].values == SMALL["epochs"]
        code = run["sync_code"].values[test & last].astype(int)
        f_a = run["f_a"].values[test & last]
        spec = run.data("spectrum")
        f = spec.axes[1].values
        on_a = np.array([trace[np.argmin(np.abs(f - fa))] for trace, fa in zip(spec.signal.values, f_a, strict=True)])
        floor = np.median(spec.signal.values)
        locked_a = (code & 0b1111) > 0
        assert locked_a.any() and (~locked_a).any()
        assert np.all(on_a[locked_a] > floor + 15)
        assert np.median(on_a[~locked_a]) < np.median(on_a[locked_a]) - 10


def test_sync_map_reading_attributes_peaks_to_oscillators():
    free = np.array([316e6, 345e6, 355e6, 367e6])
    # A on oscillator 2 (341 MHz), B unlocked; the others emit near their free-running frequencies
    peaks = [(341.0e6, -30, 1e6), (316.2e6, -35, 1e6), (355.3e6, -31, 1e6), (367.4e6, -28, 1e6)]
    sync, freqs = read_sync_map(peaks, 341e6, 330e6, free, tolerance=0.3e6, match=18e6)
    assert sync[:, 0].tolist() == [False, True, False, False] and not sync[:, 1].any()
    assert freqs.tolist() == [316.2e6, 341e6, 355.3e6, 367.4e6]
    # A pulls oscillator 2, B oscillator 3; oscillator 4 hides in the noise: left free, not locked
    peaks = [(343.0e6, -30, 1e6), (316.2e6, -35, 1e6), (354.0e6, -31, 1e6)]
    sync, _ = read_sync_map(peaks, 343e6, 354e6, free, tolerance=0.3e6, match=12e6)
    assert classify(sync) == VOWELS.index("ae") and map_code(sync) == 0b0100_0010


def test_classification_and_its_ties():
    maps = target_maps()
    for v, name in enumerate(VOWELS):
        assert classify(maps[v]) == v
        assert maps[v].sum() == sum(k != NONE for k in TARGETS[name])
    both = maps[VOWELS.index("ae")] | maps[VOWELS.index("aw")]  # A on 1, B on 0 and 2: equally far
    assert classify(both) == UNCLASSIFIED
    # only oscillator 2 on B: one cell from /ae/ (A on 1 missing) and from /er/ (no lock; B on 2 extra):
    # the target holding the measured lock wins
    only_b2 = np.zeros((N_OSC, 2), bool)
    only_b2[2, 1] = True
    assert classify(only_b2) == VOWELS.index("ae")


def test_learning_rule_moves_toward_missing_and_away_from_wrong_locks():
    slope = np.full(N_OSC, 10e6 / 1e-3)  # 10 MHz per mA
    freqs = np.array([320e6, 340e6, 355e6, 368e6])
    target = np.zeros((N_OSC, 2), bool)
    target[1, 0] = True  # oscillator 2 should follow A at 346 MHz
    sync = np.zeros((N_OSC, 2), bool)
    sync[2, 0] = True  # but oscillator 3 (free at 355) follows it
    d_i = learning_step(sync, target, freqs, (346e6, 330e6), slope, rate=0.5, lock_range=12e6)
    assert d_i[1] == pytest.approx(0.5 * 6e6 / 10e9)  # half the 6 MHz gap, up
    assert d_i[2] == pytest.approx(0.5 * 3e6 / 10e9)  # pushed further up, to 12 MHz from A
    assert d_i[0] == 0 and d_i[3] == 0
    assert np.all(learning_step(target, target, freqs, (346e6, 330e6), slope, 0.5, 12e6) == 0)


def _linear_calibration():
    """Every oscillator 300 MHz at 5 mA, rising 10 MHz per mA."""
    currents = np.array([5e-3, 7e-3, 9e-3])
    return Calibration(currents, [300e6 + 1e10 * (currents - 5e-3)] * N_OSC)


def test_sync_map_is_read_from_the_separate_peaks_of_a_spectrum():
    f = np.linspace(300e6, 385e6, 851)
    trace = np.full(f.size, -90.0)
    for f0, p in ((341.0e6, -30), (316.2e6, -35), (355.3e6, -31), (367.4e6, -28)):
        trace = np.maximum(trace, p - ((f - f0) / 0.2e6) ** 2)
    free = np.array([316e6, 345e6, 355e6, 367e6])
    sync, freqs = read_spectrum(f, trace, 341e6, 330e6, free, separation=1.5e6, tolerance=0.3e6, match=18e6)
    assert sync[:, 0].tolist() == [False, True, False, False] and not sync[:, 1].any()
    assert freqs == pytest.approx([316.2e6, 341e6, 355.3e6, 367.4e6])


def test_learning_starts_spread_over_the_band_and_slows_down_by_epoch():
    cal = _linear_calibration()
    spread = initial_currents(cal, (300e6, 340e6), 5e-3, 9e-3)  # slice centres 305, 315, 325, 335 MHz
    assert spread == pytest.approx([5.5e-3, 6.5e-3, 7.5e-3, 8.5e-3], abs=1e-8)
    assert initial_currents(cal, (300e6, 340e6), 5e-3, 9e-3, i_init=6e-3).tolist() == [6e-3] * N_OSC
    assert epoch_rate(0.6, 2.0, 0) == epoch_rate(0.6, 2.0, 1) == 0.6
    assert epoch_rate(0.6, 2.0, 3) == pytest.approx(0.6 / 9)


def test_next_currents_count_locked_oscillators_at_their_calibration_and_stay_within_bounds():
    cal = _linear_calibration()
    currents = np.array([5e-3, 7.5e-3, 7.8e-3, 9e-3])  # free-running 300, 325, 328, 340 MHz
    target = np.zeros((N_OSC, 2), bool)
    target[1, 0] = True  # oscillator 2 should follow A at 330 MHz
    sync = np.zeros((N_OSC, 2), bool)
    sync[2, 0] = True  # oscillator 3 follows it instead
    freqs = np.array([300e6, 326e6, 330e6, 340e6])  # measured: oscillator 3 sits on the input
    new = next_currents(currents, cal, sync, target, freqs, (330e6, 310e6), rate=0.5, lock_range=12e6,
                        i_min=5e-3, i_max=9e-3)
    assert new[1] - currents[1] == pytest.approx(0.5 * 4e6 / 1e10)  # toward A from its measured 326 MHz
    assert new[2] - currents[2] == pytest.approx(-0.5 * 10e6 / 1e10)  # to 12 MHz from A, counted from 328 MHz
    assert new[0] == currents[0] and new[3] == currents[3]
    far = next_currents(currents, cal, sync, target, freqs, (330e6, 310e6), rate=1.0, lock_range=50e6,
                        i_min=5e-3, i_max=9e-3)
    assert far[2] == 5e-3  # a 48 MHz push is stopped at i_min


@pytest.mark.parametrize("params, message", [
    (dict(i_min=9e-3, i_max=6e-3), "i_min < i_max"),
    (dict(band_low=290e6), "f_start < band_low"),
    (dict(f1_low=500.0, f1_high=500.0), "formant ranges"),
])
def test_inconsistent_settings_are_refused_before_a_file_exists(tmp_path, params, message):
    cls = get_protocol("stno_vowel_recognition")
    with pytest.raises(ParameterError, match=message):
        Runner(cls(**SMALL, **params), Station.load("stno"), tmp_path / "run.h5").run()
    assert not (tmp_path / "run.h5").exists()


def test_rf_power_above_the_station_limit_fails_the_run_with_the_lab_left_safe(tmp_path):
    cls = get_protocol("stno_vowel_recognition")
    proto = cls(**SMALL, rf_power=3.0)
    proto.plan = dict  # no plan declared: the guard refuses the power while the run starts
    result = Runner(proto, Station.load("stno"), tmp_path / "run.h5").run()
    assert result.status == "failed" and "limit" in result.message
    with open_run(tmp_path / "run.h5") as run:
        assert len(run["presentation"].values) == 0  # refused before any vowel was sent
    lab = Station.load("stno").connect(["smu1", "rf_a", "rf_b"])
    try:
        assert not lab.instruments["rf_a"].is_enabled and not lab.instruments["rf_b"].is_enabled
        assert not lab.instruments["smu1"].source_enabled
    finally:
        lab.close()


def test_out_of_range_parameters_are_refused():
    cls = get_protocol("stno_vowel_recognition")
    with pytest.raises(ValueError):
        cls(speakers=60)
    with pytest.raises(ValueError):
        cls(learning_rate=2.0)
