"""BNN inference on the simulated 2T2R die, end to end: accuracy versus weight bit-error rate."""

import matplotlib
import numpy as np
import pytest

from labctl.protocol import ParameterError, get_protocol
from labctl.protocols._rram import bnn
from labctl.results import open_run
from labctl.runner import run_protocol
from labctl.station import Station

matplotlib.use("Agg")
NAME = "rram_bnn_inference"
CURRENTS = [5e-6, 20e-6, 100e-6]
IMAGES = 200

pytestmark = pytest.mark.slow  # trains a network / runs whole experiments


def run(path, **params):
    return get_protocol(NAME), run_protocol(NAME, path, **params)


def die_log():
    lab = Station.load("rram").connect(["die"])
    try:
        return lab.instruments["die"].adapter.connection.visalib.bench.die.log
    finally:
        lab.close()


@pytest.fixture(scope="module")
def bnn_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("bnn") / "bnn.h5"
    cls, res = run(path, compliances=", ".join(map(str, CURRENTS)), repeats=2, test_images=IMAGES)
    assert res.status == "completed", res.message
    return cls, path


@pytest.fixture(scope="module")
def low_voltage_run(tmp_path_factory):
    """Weights written with a 1 V SET: too low for every device to switch within the pulse."""
    path = tmp_path_factory.mktemp("bnn") / "bnn_1V.h5"
    _, res = run(path, compliances="20e-6", set_voltage=1.0, repeats=2, test_images=IMAGES)
    assert res.status == "completed", res.message
    return path


def per_current(values):
    """(current, repeat) records -> shape (currents, repeats)."""
    return np.asarray(values).reshape(len(CURRENTS), 2, *np.shape(values)[1:])


def test_accuracy_holds_at_low_ber_and_drops_at_high_ber(bnn_run, low_voltage_run):
    _, path = bnn_run
    with open_run(path) as r:
        i_c = per_current(r["compliance"].values)
        ber, acc = per_current(r["ber"].values), per_current(r["accuracy_die"].values)
        soft = r["accuracy_software"].values
        assert list(i_c[:, 0]) == CURRENTS and list(r["repeat"].values[:2]) == [0, 1]
        assert soft[0] > 0.75 and np.all(soft == soft[0])
        # bit errors come from the devices: weak filaments at low programming current
        assert np.all(ber[0] > 3e-3) and np.all(ber[1] <= 4e-3) and np.all(ber[2] <= 1e-3)
        lrs = per_current(r["r_lrs_median"].values)
        assert np.all(lrs[0] > 5 * lrs[2])
        # the paper's claim: no accuracy loss while BER stays around 1e-3 or below ...
        assert np.all(np.abs(acc[1:] - soft[0]) <= 0.02)
        assert np.all(per_current(r["agreement"].values)[2] >= 0.97)
        # ... a small one at BER ~1e-2 ...
        assert acc[0].mean() < soft[0] and acc[0].min() >= soft[0] - 0.06
        flips = per_current(r["hidden_flips"].values)
        assert flips[0].min() > 0.01 > flips[2].max()
        e = per_current(r["energy_per_bit"].values)[:, 0]
        assert e[0] < e[1] < e[2]
        assert np.all(r["energy_per_image"].values > 0)
        # every programming draws fresh errors (cycle-to-cycle variability), not a fixed mask
        maps = r.data("weight_error_map").signal.values  # (current, repeat, row, column)
        assert maps.shape == (len(CURRENTS), 2, 32, 32)
        assert not np.array_equal(maps[0, 0] > 0, maps[0, 1] > 0)
        # the weight BER counts every bit of every read-back (10 reads per programming)
        assert np.all(r["weight_bits_read"].values == 10 * 1024) and maps.max() <= 10
        assert np.array_equal(maps.sum(axis=(-2, -1)).ravel(), r["weight_errors"].values)
        # the headline: accuracy (with its 95 % interval) over the (compliance, repeat) scan
        d = r.data()
        assert d.name == "accuracy" and d.signal.name == "accuracy_die" and d.signal.values.shape == (3, 2)
        assert [a.name for a in d.axes] == ["compliance", "repeat"] and d.taken == 6
        lo, hi = d.interval("accuracy_die")
        assert np.all((lo <= d.signal.values) & (d.signal.values <= hi)) and np.all(hi - lo < 0.2)
        assert np.array_equal(d.errors["accuracy_die"].values,
                              np.maximum(d.signal.values - lo, hi - d.signal.values))
    # ... and a clear loss once errors are frequent (devices that did not switch at 1 V)
    with open_run(low_voltage_run) as r:
        soft, acc = r["accuracy_software"].values[0], r["accuracy_die"].values
        assert np.all(r["ber"].values > 2e-2)
        assert np.all(acc < soft - 0.05) and acc.mean() < soft - 0.08
        assert np.all(r["hidden_flips"].values > 0.05)


def test_summary_averages_the_programmings_of_each_condition(bnn_run):
    """Accuracy as mean over programmings with its t interval; weight errors pooled with theirs."""
    from labctl.stats import t_interval, wilson_interval

    _, path = bnn_run
    with open_run(path) as r:
        summary = r.columns("summary")
        acc = per_current(r["accuracy_die"].values)
        assert np.allclose(summary["compliance"].values, CURRENTS)
        assert np.all(summary["programmings"].values == 2)
        mean, low, high = t_interval(acc, axis=1)
        assert np.allclose(summary["accuracy_mean"].values, mean)
        assert np.allclose(summary["accuracy_low"].values, low, equal_nan=True)
        assert np.allclose(summary["accuracy_high"].values, high, equal_nan=True)
        assert np.allclose(summary["accuracy_loss"].values, summary["accuracy_software"].values - mean)
        k = per_current(r["weight_errors"].values).sum(axis=1)
        n = per_current(r["weight_bits_read"].values).sum(axis=1)
        assert np.array_equal(summary["weight_errors"].values, k)
        assert np.allclose(summary["ber"].values, k / n)
        lo, hi = wilson_interval(k, n)
        assert np.allclose(summary["ber_ci_low"].values, lo) and np.allclose(summary["ber_ci_high"].values, hi)
        tolerance = r.data("software_tolerance")  # the network's own tolerance, software
        assert tolerance["injected_ber"].values[0] == 0
        assert tolerance.signal.values[0] == pytest.approx(r["accuracy_software"].values[0])


def test_error_aware_training_loses_less_on_the_die(tmp_path):
    """Weights written at a 1 V SET (weight BER ~6 %), a standard network and one trained with
    10 % weight flips, each programmed three times: the error-aware network loses less of its own
    error-free accuracy (Hirtzlin et al., arXiv:1904.03652), though it starts lower."""
    path = tmp_path / "aware.h5"
    _, res = run(path, compliances="20e-6", set_voltages="1.0", repeats=3, training_ber="0, 0.1")
    assert res.status == "completed", res.message
    with open_run(path) as r:
        s = r.columns("summary")
        assert list(s["training_ber"].values) == [0.0, 0.1]
        assert np.all(s["ber"].values > 3e-2) and np.all(s["ber"].values < 0.1)
        loss = s["accuracy_loss"].values
        assert loss[0] > 0.08  # the standard network: a clear loss
        assert loss[1] < loss[0] - 0.01
        assert s["accuracy_software"].values[1] < s["accuracy_software"].values[0]
        assert list(r["training_ber"].values) == [0.0, 0.1] * 3  # interleaved, programming by programming
        weights = r.data("weights").signal.values  # one layout per network
        assert weights.shape == (2, 32, 32) and not np.array_equal(weights[0], weights[1])


def test_file_holds_a_network_that_reproduces_its_predictions(bnn_run):
    """The stored weights, thresholds and output layer give back the recorded predictions."""
    cls, path = bnn_run
    with open_run(path) as r:
        rows = r.data("weights").signal.values.astype(bool)  # recorded once: no record dimension
        net = bnn.BinaryNetwork(
            np.concatenate([rows[:16], rows[16:]], axis=1),
            r.data("thresholds").signal.values,
            r.data("output_weights").signal.values.astype(bool),
            r.data("output_scale").signal.values,
            r.data("output_bias").signal.values)
        x = r.data("test_inputs").signal.values.astype(bool)
        labels = r.data("labels").signal.values
        soft = r.data("software_predictions").signal.values
        assert x.shape == (IMAGES, 64)
        assert np.array_equal(bnn.predict(net, x), soft)
        assert bnn.accuracy(soft, labels) == pytest.approx(r["accuracy_software"].values[0])
        popcounts = r.columns("popcounts")["popcounts"].values  # records in the order taken
        predictions = r.columns("predictions")["predictions"].values
        assert popcounts.shape == (2 * len(CURRENTS), IMAGES, 16)
        for k in range(len(predictions)):
            assert np.array_equal(bnn.infer(net, popcounts[k]), predictions[k])
            assert bnn.accuracy(predictions[k], labels) == pytest.approx(r["accuracy_die"].values[k])
        # healthy die: every on-die popcount is the exact XNOR-popcount of the weights
        assert np.array_equal(popcounts[-1], bnn.hidden_popcounts(net, x))
        errors = r.data("weight_error_map").signal.values
        assert errors[0, 0].sum() == r["weight_errors"].values[0] > 0
        fig = cls.figure(r)
        assert fig is not None and len(fig.axes) >= 3
        matplotlib.pyplot.close(fig)


def test_bad_inputs_are_refused_before_the_die_is_touched(tmp_path):
    with pytest.raises(ParameterError, match="449 images"):
        run(tmp_path / "big.h5", test_images=5000)
    with pytest.raises(ParameterError, match="compliances"):  # the scan is refused before any file
        run(tmp_path / "bad.h5", compliances="20e-6, lots")
    with pytest.raises(ParameterError, match="training_ber"):
        run(tmp_path / "bad.h5", training_ber="0, 0.6")
    from labctl.errors import LimitError

    with pytest.raises(LimitError, match="set_voltages"):  # every SET amplitude against the station
        run(tmp_path / "bad.h5", set_voltages="1.0, 2.6")
    assert die_log().count == 0 and not (tmp_path / "bad.h5").exists()
