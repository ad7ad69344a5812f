"""Vowel recognition with four coupled STNOs (Romera et al., Nature 2018) on the default station: the 37
women split by talker with nothing fitted on test talkers, training by the frequency-difference rule
raises the recognition rate well above chance, the synchronization maps come out of measured spectra and
change when the coupling loop opens, the run file holds what the paper plots, bad settings are refused."""

import numpy as np
import pytest

from labctl.protocol import ParameterError, get_protocol
from labctl.protocols._stno.vowel_data import fit_encoding, talker_split, vowel_tokens
from labctl.protocols._stno.vowel_design import design_at, fit_design, fit_designs, idealized_pairs, pair_maps
from labctl.protocols._stno.vowel_learning import (
    Calibration,
    currents_for,
    epoch_rate,
    learning_step,
    next_currents,
)
from labctl.protocols._stno.vowel_readout import (
    N_OSC,
    UNCLASSIFIED,
    VOWELS,
    classify,
    map_code,
    read_spectrum,
    read_sync_map,
)
from labctl.results import open_run
from labctl.runner import Runner
from labctl.station import Station

#: An example design: vowel -> (oscillator locked to f_A, oscillator locked to f_B), -1 = none.
PAIRS = {"ae": (1, 2), "ah": (2, -1), "aw": (1, 0), "er": (-1, -1), "iy": (-1, 3), "uh": (1, -1), "uw": (-1, 0)}
TARGETS = pair_maps(np.array([PAIRS[v] for v in VOWELS]))

SMALL = dict(speakers=6, epochs=2, cal_points=3, map_points=5, seed=2)

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
        assert train[-1] > 3 * chance and test[-1] > 3 * chance
        assert np.isnan(test[1]) and np.isfinite(test[[0, -1]]).all()  # tested before and after learning
        lo, hi = d.interval("test_accuracy")
        tested = np.isfinite(test)
        assert np.all((lo <= test)[tested] & (test <= hi)[tested])
        assert set(d.errors) == {"test_accuracy", "train_accuracy"}


def test_run_file_holds_maps_confusion_and_calibration(small_run):
    cls, path = small_run
    with open_run(path) as run:
        test = run["test"].values > 0.5
        last = run["epoch"].values == SMALL["epochs"]
        n_test = int(np.sum(test & last))
        conf = run.data("confusion").signal.values
        assert conf.shape == (2, len(VOWELS), len(VOWELS) + 1)  # epochs 0 and the last
        assert conf[-1].sum() == n_test
        correct = run["correct"].values[test & last]
        assert np.trace(conf[-1][:, :len(VOWELS)]) == correct.sum()
        assert run.data("accuracy")["test_accuracy"].values[-1] == pytest.approx(correct.mean())
        targets = run.data("target_map").signal.values > 0.5  # one oscillator or none per input
        assert targets.shape == (len(VOWELS), N_OSC, 2) and np.all(targets.sum(axis=1) <= 1)
        assert len({m.tobytes() for m in targets}) == len(VOWELS)
        cal = run.data("calibration").signal.values  # (4, cal_points): frequency rises with current
        assert cal.shape == (N_OSC, SMALL["cal_points"]) and np.all(np.diff(cal, axis=1) > 5e6)
        spectra = run.data("spectrum").signal.values
        assert spectra.shape == (n_test, run.parameter_values()["points"])
        smap = run.data("sync_map")
        assert smap.signal.values.shape == (2, SMALL["map_points"], SMALL["map_points"])
        assert smap.axes[-2].values[0] == 309.6e6 and smap.axes[-1].values[-1] == 374.4e6
        assert smap["loop_closed"].values.tolist() == [1, 0]
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
        assert np.median(on_a[~locked_a]) < np.median(on_a[locked_a]) - 6  # pulled lines may sit near f_A


def test_run_fits_its_encoding_on_its_training_talkers_only(small_run):
    _, path = small_run
    tokens, _ = vowel_tokens()
    train, test = talker_split(tokens.talker, SMALL["seed"], 0.5, SMALL["speakers"])
    with open_run(path) as run:
        ranges = run.data("formant_range").signal.values
        presented = run["token"].values.astype(int)
        is_test = run["test"].values > 0.5
        design = run.data("design_frequency").signal.values
    assert set(presented[~is_test]) == set(train) and set(presented[is_test]) == set(test)
    assert ranges.tolist() == [[tokens.formants[train, 0].min(), tokens.formants[train, 0].max()],
                               [tokens.formants[train, 1].min(), tokens.formants[train, 1].max()]]
    assert np.all((design >= 315e6) & (design <= 370e6)) and np.all(np.diff(design) > 0)


def test_synchronization_regions_change_when_the_coupling_loop_opens(small_run):
    """The trained network's maps over the (f_A, f_B) plane, measured with the loop closed and open,
    differ: the loop's coupling reshapes the regions (figure, bottom row)."""
    _, path = small_run
    with open_run(path) as run:
        codes = run.data("sync_code_map").signal.values
    closed, opened = codes
    assert 0 < np.mean(closed != opened) < 1


def test_calibration_is_taken_with_the_coupling_loop_as_the_network_learns(small_run, tmp_path):
    """Through the closed loop each oscillator also feels its own emission, which shifts its frequency: the
    calibration that the readout and the rule rely on is taken in the loop state of learning."""
    cls, path = small_run
    opened = tmp_path / "open.h5"
    params = {**SMALL, "epochs": 0, "speakers": 2, "map_points": 2, "loop_closed": False}
    assert Runner(cls(**params), Station.load(cls.STATION), opened).run().status == "completed"
    with open_run(path) as closed_run, open_run(opened) as open_run_:
        assert closed_run.parameter_values()["loop_closed"] and not open_run_.parameter_values()["loop_closed"]
        shift = closed_run.data("calibration").signal.values - open_run_.data("calibration").signal.values
    assert np.all((shift > 0.5e6) & (shift < 5e6))


def test_the_data_are_the_37_women_with_every_formant_measured():
    tokens, labels = vowel_tokens()
    assert len(tokens) == 259 and len(set(tokens.talker)) == 37
    assert np.bincount(labels).tolist() == [37] * len(VOWELS)
    train, test = talker_split(tokens.talker, 4)
    assert len(set(tokens.talker[train])) == 18 and len(set(tokens.talker[test])) == 19
    assert not set(tokens.talker[train]) & set(tokens.talker[test])
    assert len(train) + len(test) == 259
    again = talker_split(tokens.talker, 4)
    assert all(np.array_equal(a, b) for a, b in zip((train, test), again, strict=True))


def test_encoding_and_design_depend_on_the_training_talkers_only():
    tokens, labels = vowel_tokens()
    train, test = talker_split(tokens.talker, 2)
    changed = tokens.formants.copy()
    changed[test, :2] *= np.random.default_rng(0).uniform(0.5, 2.0, (len(test), 2))  # other test talkers
    band_a, band_b = (320e6, 363e6), (310e6, 374e6)
    enc, enc2 = (fit_encoding(f[train], band_a, band_b) for f in (tokens.formants, changed))
    assert enc == enc2
    assert enc.f1 == (tokens.formants[train, 0].min(), tokens.formants[train, 0].max())
    f_a, f_b = enc.encode(tokens.formants)
    assert f_a[train].min() == pytest.approx(320e6) and f_b[train].max() == pytest.approx(374e6)
    placement, targets, acc = fit_design(f_a[train], f_b[train], labels[train], (315e6, 370e6), 6e6, seed=2)
    again = fit_design(f_a[train], f_b[train], labels[train], (315e6, 370e6), 6e6, seed=2)
    assert np.array_equal(placement, again[0]) and np.array_equal(targets, again[1])
    assert len({m.tobytes() for m in targets}) == len(VOWELS) and acc > 0.6
    # the idealized accuracy it reports is what its own readout gives on the training tokens
    maps = pair_maps()[idealized_pairs(f_a[train], f_b[train], placement, 6e6)]
    assert np.mean([classify(m, targets) == v for m, v in zip(maps, labels[train], strict=True)]) == acc


def test_the_design_search_ends_where_no_single_oscillator_move_helps():
    """The fitted design is a local optimum of its own criterion on the search grid, and the runners-up it
    returns are distinct designs, ranked."""
    tokens, labels = vowel_tokens()
    train, _ = talker_split(tokens.talker, 3)
    f_a, f_b = fit_encoding(tokens.formants[train], (320.5e6, 363.2e6), (309.6e6, 374.4e6)).encode(
        tokens.formants[train])
    band, step = (315e6, 370e6), 0.5e6
    designs = fit_designs(f_a, f_b, labels[train], band, 6e6, seed=3, count=3, distance=5e6, candidates=200,
                          starts=4, step=step)
    placement, targets, acc = designs[0]
    assert fit_design(f_a, f_b, labels[train], band, 6e6, seed=3, candidates=200, starts=4, step=step)[2] == acc
    again, again_acc = design_at(f_a, f_b, labels[train], placement, 6e6)
    assert np.array_equal(again, targets) and again_acc == acc
    for k in range(N_OSC):
        for f in np.arange(band[0], band[1] + step / 2, step):
            moved = placement.copy()
            moved[k] = f
            assert design_at(f_a, f_b, labels[train], np.sort(moved), 6e6)[1] <= acc
    accs = [d[2] for d in designs]
    assert len(designs) == 3 and accs == sorted(accs, reverse=True)
    assert all(np.max(np.abs(a[0] - b[0])) > 5e6 for i, a in enumerate(designs) for b in designs[i + 1:])


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
    assert classify(sync, TARGETS) == VOWELS.index("ae") and map_code(sync) == 0b0100_0010


def test_classification_and_its_ties():
    maps = TARGETS
    for v, name in enumerate(VOWELS):
        assert classify(maps[v], maps) == v
        assert maps[v].sum() == sum(k >= 0 for k in PAIRS[name])
    both = maps[VOWELS.index("ae")] | maps[VOWELS.index("aw")]  # A on 1, B on 0 and 2: equally far
    assert classify(both, maps) == UNCLASSIFIED
    # only oscillator 2 on B: one cell from /ae/ (A on 1 missing) and from /er/ (no lock; B on 2 extra):
    # the target holding the measured lock wins
    only_b2 = np.zeros((N_OSC, 2), bool)
    only_b2[2, 1] = True
    assert classify(only_b2, maps) == VOWELS.index("ae")


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


def test_learning_starts_where_the_design_wants_and_slows_down_by_epoch():
    cal = _linear_calibration()
    placed = currents_for(cal, [305e6, 315e6, 325e6, 335e6], 5e-3, 9e-3)
    assert placed == pytest.approx([5.5e-3, 6.5e-3, 7.5e-3, 8.5e-3], abs=1e-8)
    assert currents_for(cal, [290e6, 315e6, 325e6, 400e6], 5e-3, 9e-3)[[0, 3]].tolist() == [5e-3, 9e-3]
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
    (dict(band_low=290e6), "within f_start"),
    (dict(band_low=380e6), "band_low < band_high"),
    (dict(a_low=330e6, a_high=330e6), "input bands"),
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
        cls(speakers=38)
    with pytest.raises(ValueError):
        cls(learning_rate=2.0)
