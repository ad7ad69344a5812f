"""RRAM protocols end to end on the default RRAM station: files, physics, figures, safety limits."""

import matplotlib
import numpy as np
import pytest

from labctl.protocol import ParameterError, get_protocol
from labctl.results import open_run
from labctl.runner import run_protocol
from labctl.station import Station
from labctl.stats import wilson_interval

matplotlib.use("Agg")


def run(name, path, **params):
    return get_protocol(name), run_protocol(name, path, **params)


def bench_of_station():
    lab = Station.load("rram").connect(["die"])
    try:
        return lab.instruments["die"].adapter.connection.visalib.bench
    finally:
        lab.close()


def figure_ok(cls, r):
    fig = cls.figure(r)
    assert fig is not None and fig.axes
    matplotlib.pyplot.close(fig)


def test_form_array_histogram_and_maps(tmp_path):
    cls, res = run("rram_form_array", tmp_path / "form.h5", v_start=2.6)
    assert res.status == "completed", res.message
    with open_run(tmp_path / "form.h5") as r:
        v = r.data("forming_voltage").signal.values
        assert v.shape == (2, 32, 32) and np.isfinite(v).all()  # (side, row, column), recorded once
        assert 2.5 < v.mean() < 4.0 and v.std() > 0.1
        assert r["formed"].values.sum() == 2048
        assert r["formed_fraction"].values[-1] == pytest.approx(1.0)
        assert np.all(r.data("resistance").signal.values < 1e5)
        assert r.data().name == "forming" and r.data().signal.name == "formed_fraction"
        assert r.sample["seed"] == 7
        figure_ok(cls, r)


def test_forming_a_partly_formed_die_counts_only_this_ramp(tmp_path):
    """A second ramp starting above the first one's voltages: earlier devices count as formed before."""
    _, res = run("rram_form_array", tmp_path / "low.h5", v_start=2.6, v_stop=3.2)
    assert res.status == "completed", res.message
    with open_run(tmp_path / "low.h5") as r:
        first = int(r["formed"].values.sum())
    assert 0 < first < 2048
    _, res = run("rram_form_array", tmp_path / "high.h5", v_start=3.3)
    assert res.status == "completed", res.message
    with open_run(tmp_path / "high.h5") as r:
        assert r["formed"].values.sum() == 2048 - first
        assert r["formed_fraction"].values[0] > first / 2048
        assert r["formed_fraction"].values[-1] == pytest.approx(1.0)


def test_program_array_with_verify_reads_back_the_pattern(tmp_path):
    hex_bits = "f0" * 128
    cls, res = run("rram_program_array", tmp_path / "p.h5", pattern="user", user_bits=hex_bits,
                   verify=True)
    assert res.status == "completed", res.message
    with open_run(tmp_path / "p.h5") as r:
        pattern = r.data("pattern").signal.values.astype(bool)
        assert np.array_equal(pattern[0, :8], [1, 1, 1, 1, 0, 0, 0, 0])
        assert np.array_equal(r.data("read_bits").signal.values.astype(bool), pattern)
        assert r["bit_errors"].values.tolist() == [0]
        after = r.data("resistance_after").signal.values  # (side, row, column)
        assert np.median(after[0][pattern]) * 30 < np.median(after[0][~pattern])
        before = r.data("resistance_before").signal.values
        assert np.all(before < 1e5)  # formed first, all in the forming LRS
        assert r.data("device_pulses").signal.values.min() >= 1
        assert r.data().name == "resistance_after"
        assert r["energy"].values[0] > 0
        figure_ok(cls, r)


def test_bad_user_pattern_fails_cleanly(tmp_path):
    _, res = run("rram_program_array", tmp_path / "bad.h5", pattern="user", user_bits="abc")
    assert res.status == "failed" and "hex digits" in res.message
    assert bench_of_station().die.log.count == 0


def test_negative_cycle_counts_are_refused_before_any_file(tmp_path):
    with pytest.raises(ParameterError, match="cycle_points"):
        run("rram_bit_error_rate", tmp_path / "bad.h5", cycle_points="0, -10")
    assert bench_of_station().die.log.count == 0 and not (tmp_path / "bad.h5").exists()


def test_every_compliance_of_the_sweep_is_checked_against_the_station(tmp_path):
    from labctl.errors import LimitError

    with pytest.raises(LimitError, match="compliances"):
        run("rram_bit_error_rate", tmp_path / "high.h5", compliances="20e-6, 350e-6")
    assert bench_of_station().die.log.count == 0 and not (tmp_path / "high.h5").exists()


def test_unknown_codes_are_refused_before_a_file_exists(tmp_path):
    with pytest.raises(ParameterError, match="'HAMMING7' is not a code"):
        run("rram_bit_error_rate", tmp_path / "bad.h5", codes="SECDED64, HAMMING7")
    assert not (tmp_path / "bad.h5").exists()
    assert bench_of_station().die.log.count == 0


def test_no_codes_runs_without_the_ecc_table_and_its_plot(tmp_path):
    cls, res = run("rram_bit_error_rate", tmp_path / "plain.h5", compliances="20e-6", repeats=1, codes="")
    assert res.status == "completed", res.message
    with open_run(tmp_path / "plain.h5") as r:
        assert "ecc" not in r.data_names and "ber_ecc" not in r.data_names
        assert r.data().signal.name == "ber_2t2r"
        figure_ok(cls, r)


def check_rates(cols, rate, count, trials):
    """Counts, rates and their 95 % intervals in the file agree with a recomputation from the counts."""
    k, n = cols[count].values, cols[trials].values
    assert np.array_equal(cols[rate].values, k / n)
    low, high = wilson_interval(k, n, 0.95)
    assert np.allclose(cols[f"{rate}_ci_low"].values, low, rtol=1e-12, atol=0)
    assert np.allclose(cols[f"{rate}_ci_high"].values, high, rtol=1e-12, atol=0)
    assert np.all(cols[f"{rate}_ci_high"].values > 0)  # a zero count still bounds the rate


def check_rate_fields(r, name, bits):
    check_rates(r.columns(), f"ber_{name}", f"errors_{name}", "bits")


@pytest.fixture(scope="module")
def ber_run(tmp_path_factory):
    """BER at a low and a nominal current, fresh and after 1e6 cycles, 4 patterns per condition."""
    path = tmp_path_factory.mktemp("ber") / "ber.h5"
    cls, res = run("rram_bit_error_rate", path, compliances="10e-6, 100e-6",
                   cycle_points="0, 1000000", repeats=4, seed=1, calibration_writes=2)
    assert res.status == "completed", res.message
    return cls, path


@pytest.mark.slow
def test_bit_error_rate_falls_with_current_and_2t2r_beats_1t1r(ber_run):
    cls, path = ber_run
    with open_run(path) as r:
        i_c, cyc, bits = r["compliance"].values, r["cycles"].values, r["bits"].values
        assert list(i_c) == [10e-6, 100e-6] * 2 and list(cyc) == [0, 0, 1e6, 1e6]
        assert np.all(bits == 4 * 1024)
        b1, b2 = r["ber_1t1r"].values, r["ber_2t2r"].values
        assert b1[0] > b1[1] and b2[0] >= b2[1]
        assert b2[0] < b1[0] / 5  # weak filaments: the differential read errs far less
        assert np.all(b2 <= b1)
        assert r["energy_per_bit"].values[1] > 3 * r["energy_per_bit"].values[0]
        assert np.allclose(r["energy_per_device"].values, r["energy_per_bit"].values / 2)
        assert r["r_lrs_median"].values[0] > 3 * r["r_lrs_median"].values[1]
        maps = r.data("error_map_1t1r").signal.values  # (cycles, compliance, row, column)
        assert maps.shape == (2, 2, 32, 32) and maps[0, 0].sum() == r["errors_1t1r"].values[0]
        for name in ("2t2r", "1t1r"):
            check_rate_fields(r, name, bits)
        figure_ok(cls, r)


@pytest.mark.slow
def test_1t1r_reference_is_calibrated_once_per_current_and_kept_while_cycling(ber_run):
    _, path = ber_run
    with open_run(path) as r:
        cal = r.data("reference_1t1r")
        refs = cal.signal.values
        assert list(cal["compliance"].values) == [10e-6, 100e-6]  # once per current, before cycling
        assert refs.shape == (2, 32) and np.all(refs == refs[:, :1])  # one value for the die
        # between the calibration writes' LRS and HRS, nearer the narrower LRS (equal margins)
        lrs, hrs = cal["calibration_lrs"].values, cal["calibration_hrs"].values
        assert np.all(lrs < refs[:, 0]) and np.all(refs[:, 0] < np.sqrt(lrs * hrs))
        assert np.all(cal["calibration_sigma_lrs"].values < cal["calibration_sigma_hrs"].values)
        # every condition read against its current's calibration, fresh and after 1e6 cycles
        assert np.allclose(r["reference"].values, np.tile(refs[:, 0], 2))
        assert np.all(r.sample["reference_1t1r"] == 1e5)  # power-up trim before the run
        assert np.array_equal(r.sample_at_end["reference_1t1r"], refs[1])  # the last one set


@pytest.mark.slow
def test_ecc_comparison_is_recorded_and_sensible(ber_run):
    """1T1R + Hamming SEC / Hsiao SECDED on 64, 32 and 16-bit words against raw 1T1R and 2T2R."""
    _, path = ber_run
    with open_run(path) as r:
        ecc = r.columns("ecc")  # one row per (cycles, compliance, code)
        per_bit = ecc["devices_per_bit"].values.reshape(4, 4)
        assert np.all(per_bit == [72 / 64, 39 / 32, 38 / 32, 22 / 16])  # SECDED64, SECDED32, SEC32, SECDED16
        assert np.array_equal(ecc["code"].values, np.tile(np.arange(4), 4))
        assert np.array_equal(ecc["compliance"].values, np.repeat([10e-6, 100e-6, 10e-6, 100e-6], 4))
        n = ecc["data_bits"].values.reshape(4, 4)
        assert np.array_equal(n[0], 4 * np.array([14 * 64, 26 * 32, 26 * 32, 46 * 16]))
        check_rates(ecc, "ber", "errors", "data_bits")
        k, ber = ecc["errors"].values.reshape(4, 4), ecc["ber"].values.reshape(4, 4)
        raw, two = r["ber_1t1r"].values, r["ber_2t2r"].values
        # at 10 uA every code corrects what single errors it meets: below raw 1T1R
        assert raw[0] > 1e-3 and np.all(ber[0] < 0.75 * raw[0])
        assert np.all(ecc["word_errors"].values <= ecc["errors"].values)
        assert np.all(ecc["raw_errors"].values.reshape(4, 4)[:, 0] <= r["errors_1t1r"].values)
        assert two[0] <= ber[0].max()  # 2T2R at least as good as the weakest code here
        assert np.all(ber[1] == 0) and np.all(k[1] == 0)  # 100 uA: nothing to correct
        e = ecc["energy_per_bit"].values.reshape(4, 4)
        assert np.allclose(e, per_bit * r["energy_per_device"].values[:, None])
        assert r.data("ber_ecc").signal.name == "ber"


def test_an_abort_lands_within_one_pattern(tmp_path):
    """Ctrl-C during a long repeat loop stops after the pattern being written, not the condition."""
    from labctl.runner import Runner

    protocol = get_protocol("rram_bit_error_rate")(compliances="100e-6", repeats=1000,
                                                   calibration_writes=1, form_first=False)
    runner = Runner(protocol, Station.load("rram"), tmp_path / "abort.h5")
    runner.prepare()
    die = protocol.die
    program, writes = die.program_array, []

    def program_then_abort(bits):
        writes.append(bits)
        if len(writes) == 3:  # the calibration write, then two test patterns
            runner.abort()
        return program(bits)

    die.program_array = program_then_abort
    result = runner.run()
    assert result.status == "aborted"
    assert len(writes) == 3


@pytest.mark.slow
def test_2t2r_never_loses_to_1t1r_as_the_die_ages(tmp_path):
    """Cycling at 100 uA with the reference fixed before cycling: the window closes (HRS falls),
    both reads fail eventually, and the differential read is never the worse one."""
    cls, res = run("rram_endurance", tmp_path / "e.h5", max_cycles=1e7, per_decade=1, repeats=4)
    assert res.status == "completed", res.message
    with open_run(tmp_path / "e.h5") as r:
        n, window = r["cycles"].values, r["window"].values
        assert n[0] == 1 and n[-1] == 1e7
        assert window[0] > 30 and window[-1] < window[0] / 5
        b1, b2 = r["ber_1t1r"].values, r["ber_2t2r"].values
        assert b1[0] == b2[0] == 0 and b1[-1] > 1e-2
        assert np.all(b2 <= b1)
        check_rate_fields(r, "2t2r", r["bits"].values)
        check_rate_fields(r, "1t1r", r["bits"].values)
        assert np.all(r["bits"].values == 4 * 1024)
        assert list(r["writes"].values) == [4 + 4 * (k + 1) for k in range(len(n))]
        cal = r.data("reference_1t1r")  # recorded once, before cycling
        assert cal.signal.values.shape == (32,) and cal["compliance"].values == 100e-6
        assert r["time"].values[-1] > 1e7 * 32 * 2 * 100e-9  # cycling took bench time
        figure_ok(cls, r)


@pytest.mark.slow
def test_iv_sweep_forming_and_butterfly(tmp_path):
    cls, res = run("rram_iv_sweep", tmp_path / "iv.h5", step=0.05, loops=2)
    assert res.status == "completed", res.message
    with open_run(tmp_path / "iv.h5") as r:
        v, i, loop = r["voltage"].values, r["current"].values, r["cycle"].values
        form = loop == 0
        k_form = np.argmax(i[form] > 0.9e-4)
        assert 1.5 < v[form][k_form] < 4.0  # breakdown at a few volts, quasi-statically
        assert np.abs(i[form][:k_form]).max() < 1e-6  # pristine leakage before it
        for k in (1, 2):
            sel = loop == k
            assert i[sel].max() == pytest.approx(100e-6, rel=0.05)  # SET under compliance
            neg = sel & (v < 0)
            i_at_end = np.abs(i[neg][np.argmin(v[neg])])
            assert i_at_end < 0.1 * np.abs(i[neg]).max()  # RESET: current collapsed
        figure_ok(cls, r)
    lab = Station.load("rram").connect(["smu"])
    try:
        assert not lab.instruments["smu"].source_enabled  # shutdown left the output off
    finally:
        lab.close()


@pytest.mark.parametrize("name, params", [
    ("rram_program_array", {"set_voltage": 3.0}),
    ("rram_bit_error_rate", {"reset_voltage": 2.8}),
    ("rram_form_array", {"v_stop": 4.8}),
    ("rram_program_array", {"compliance": 400e-6}),
])
def test_pulses_beyond_station_limits_are_refused_before_any_scpi(tmp_path, name, params):
    from labctl.errors import LimitError

    bench = bench_of_station()
    with pytest.raises(LimitError, match="plan refused before the run"):  # the plan, before connecting
        run(name, tmp_path / "x.h5", **params)
    assert not (tmp_path / "x.h5").exists()
    assert bench.die.log.count == 0  # nothing reached the die
    lab = Station.load("rram").connect(["die"])
    d = lab.instruments["die"]
    emulator_defaults = (d.set_amplitude, d.reset_amplitude, d.form_stop)
    lab.close()
    assert emulator_defaults == (1.8, 1.4, 4.5)


def test_station_limit_refuses_on_the_client_side(monkeypatch):
    from labctl.station import LimitError

    lab = Station.load("rram").connect(["die"])
    try:
        die = lab.instruments["die"]
        sent, write = [], die.adapter.write

        def spy(command, **kwargs):
            sent.append(command)
            write(command, **kwargs)

        monkeypatch.setattr(die.adapter, "write", spy)
        for name, value in (("set_amplitude", 2.6), ("reset_amplitude", 3.0),
                            ("form_stop", 4.6), ("set_compliance", 350e-6)):
            with pytest.raises(LimitError, match=name):
                setattr(die, name, value)
        assert sent == []
        die.set_amplitude = 2.0  # within the limit: sent
        assert sent[0] == ":SET:AMPL 2"
    finally:
        lab.close()
