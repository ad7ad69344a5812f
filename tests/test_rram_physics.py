"""Behaviour of the HfO2 RRAM compact model and of the 1-kbit 2T2R die (plain numpy, no VISA)."""

import numpy as np
import pytest

from labctl.sim_backends.bench_file import BenchFile
from labctl.sim_backends.physics.rram import STUCK_NONE, AccessTransistor, RRAMArray
from labctl.sim_backends.physics.rram_die import (
    COLS,
    RESET,
    ROWS,
    SET,
    SIDES,
    PulseSpec,
    RRAMDie,
)
from labctl.sim_backends.rram_bench import RRAMBench, RRAMTestStructure

TR = AccessTransistor()


def set_pulse(i_c, width=SET.width):
    return PulseSpec(SET.amplitude, width, float(TR.gate_for_current(i_c)))


def formed_array(n, seed):
    arr = RRAMArray(n, seed=seed)
    arr.apply_pulse(None, 4.0, 100e-6, gate=SET.gate)
    assert arr.formed.all()
    return arr


def test_gate_voltage_sets_compliance_over_20_to_200_uA():
    vg = np.linspace(0.6, 1.6, 11)
    i_sat = TR.saturation_current(vg)
    assert np.all(np.diff(i_sat) > 0)
    assert i_sat[0] < 20e-6 and i_sat[-1] > 200e-6


CURRENTS = np.array([20e-6, 50e-6, 100e-6, 200e-6])


def lrs_times_current(arr, width, currents=CURRENTS):
    """Median R_LRS x I_C after a RESET and one SET of ``width`` at each compliance."""
    out = []
    for i_c in currents:
        arr.apply_pulse(None, **RESET.kwargs())
        res = arr.apply_pulse(None, **set_pulse(i_c, width).kwargs())
        assert np.median(res.current) == pytest.approx(i_c, rel=0.15)  # current held at I_c
        out.append(np.median(arr.resistance()) * i_c)
    return np.array(out)


def loglog_slope(currents, r_times_i):
    return np.polyfit(np.log(currents), np.log(r_times_i / currents), 1)[0]


def test_lrs_follows_v_c_over_i_c_with_the_default_pulse():
    """Ielmini's universal law R_LRS = V_C / I_C, V_C ~ 0.4-0.5 V, slope -1 over 20-200 uA."""
    v_c = lrs_times_current(formed_array(400, seed=1), SET.width)
    assert np.all((v_c > 0.3) & (v_c < 0.6)), v_c
    assert loglog_slope(CURRENTS, v_c) == pytest.approx(-1.0, abs=0.08)


def test_v_c_falls_slowly_with_set_time_and_breaks_out_below_a_few_ns():
    """The voltage-time dilemma: V_C drops a little per decade of time at compliance; the
    law keeps slope -1 at every width, V_C leaves the 0.3-0.6 V band below about 10 ns."""
    arr = formed_array(300, seed=2)
    widths = (1e-9, 30e-9, 100e-9, 1e-6, 100e-6)
    v_c = np.array([lrs_times_current(arr, w, CURRENTS[[0, -1]]) for w in widths])
    for row in v_c:
        assert loglog_slope(CURRENTS[[0, -1]], row) == pytest.approx(-1.0, abs=0.1)
    decades = np.diff(np.log10(widths))[:, None]
    per_decade = (v_c[1:] / v_c[:-1]) ** (1 / decades)
    assert np.all((per_decade > 0.75) & (per_decade < 0.97))
    assert np.all(v_c[0] > 0.6)  # 1 ns: the SET has not settled to the law's band
    assert np.all((v_c[1:] > 0.3) & (v_c[1:] < 0.6))


def ramp(v_from, v_to, step):
    n = max(int(round(abs(v_to - v_from) / step)), 1)
    return np.linspace(v_from, v_to, n + 1)[1:]


def quasi_static_loops(ts, i_c, loops, step=0.05, dwell=20e-3, v_max=1.5):
    """RESET then SET sweeps of the SMU on the test structure: HRS after each RESET, and R x I_C
    with the time spent at compliance after each SET."""
    hrs, v_c, t_cc = [], [], []
    for _ in range(loops):
        for v in np.concatenate([ramp(0, -v_max, step), ramp(-v_max, 0, step)]):
            ts.apply("VOLT", v, 2e-3, dwell)
        hrs.append(ts.resistance)
        at_compliance = 0
        for v in np.concatenate([ramp(0, v_max, step), ramp(v_max, 0, step)]):
            at_compliance += ts.apply("VOLT", v, i_c, dwell)[1] >= 0.98 * i_c
        v_c.append(ts.resistance * i_c)
        t_cc.append(at_compliance * dwell)
    return np.array(hrs), np.array(v_c), np.median(t_cc)


@pytest.fixture(scope="module")
def dc_loops():
    ts = RRAMTestStructure(np.random.SeedSequence(5), gate=3.3)
    for v in ramp(0, 4.0, 0.05):  # forming sweep under 100 uA
        if ts.apply("VOLT", v, 100e-6, 20e-3)[1] >= 0.98 * 100e-6:
            break
    return {i_c: quasi_static_loops(ts, i_c, loops=4) for i_c in (20e-6, 200e-6)}


def test_quasi_static_sweeps_follow_the_same_law_as_the_die(dc_loops):
    """The DC structure and the die are one physics: same slope, and a die SET pulse as long as
    the sweep's time at compliance gives the sweep's V_C (lower than 100 ns pulses give)."""
    currents = np.array(list(dc_loops))
    v_dc = np.array([np.median(v) for _, v, _ in dc_loops.values()])
    assert loglog_slope(currents, v_dc) == pytest.approx(-1.0, abs=0.08)
    arr = formed_array(200, seed=3)
    for (_, v, t_cc), i_c in zip(dc_loops.values(), currents, strict=True):
        assert 0.2 < t_cc < 5  # seconds at compliance, as a Keithley sweep spends
        die_v = lrs_times_current(arr, t_cc, [i_c])[0]
        assert die_v == pytest.approx(np.median(v), rel=0.1)
        assert np.median(v) < 0.75 * lrs_times_current(arr, SET.width, [i_c])[0]


def test_quasi_static_loops_vary_from_cycle_to_cycle(dc_loops):
    hrs = np.concatenate([h for h, _, _ in dc_loops.values()])
    assert np.unique(hrs).size == hrs.size
    assert np.std(np.log(hrs)) > 0.15  # the rupture position differs from loop to loop
    assert hrs.min() > 2e5


def test_bipolar_set_and_reset():
    arr = formed_array(200, seed=2)
    arr.apply_pulse(None, **RESET.kwargs())
    r_hrs = arr.resistance()
    arr.apply_pulse(None, -0.3, 1e-6, gate=3.3)  # weak RESET-polarity pulse: no change
    assert np.allclose(arr.resistance(), r_hrs, rtol=0.02)
    arr.apply_pulse(None, **SET.kwargs())
    r_lrs = arr.resistance()
    assert np.median(r_hrs) / np.median(r_lrs) > 30
    arr.apply_pulse(None, **SET.kwargs())  # SET polarity again: stays low
    assert np.median(arr.resistance()) < 2 * np.median(r_lrs)
    arr.apply_pulse(None, **RESET.kwargs())
    assert np.median(arr.resistance()) > 30 * np.median(r_lrs)


def test_hrs_spread_much_wider_than_lrs():
    arr = formed_array(2000, seed=3)
    arr.apply_pulse(None, **RESET.kwargs())
    ln_hrs = np.log(arr.resistance())
    arr.apply_pulse(None, **SET.kwargs())
    ln_lrs = np.log(arr.resistance())
    assert ln_hrs.std() > 2.0 * ln_lrs.std()
    p5, p95 = np.percentile(ln_hrs, [5, 95])
    assert (p95 - p5) / np.log(10) > 0.6  # HRS spans most of a decade
    z = (ln_hrs - ln_hrs.mean()) / ln_hrs.std()  # log-normal: ln R close to a Gaussian
    assert abs(np.mean(z**3)) < 0.6
    assert np.allclose(np.percentile(z, [15.87, 50, 84.13]), [-1, 0, 1], atol=0.15)


def test_cycle_to_cycle_variability_of_each_device():
    arr = formed_array(64, seed=4)
    r_hrs, r_lrs = [], []
    for _ in range(25):
        arr.apply_pulse(None, **RESET.kwargs())
        r_hrs.append(arr.resistance())
        arr.apply_pulse(None, **SET.kwargs())
        r_lrs.append(arr.resistance())
    c2c_hrs = np.std(np.log(r_hrs), axis=0).mean()  # spread of each device over its cycles
    c2c_lrs = np.std(np.log(r_lrs), axis=0).mean()
    assert c2c_hrs > 1.5 * c2c_lrs > 0


def test_forming_voltage_spread_across_devices():
    die = RRAMDie(seed=11)
    rep = die.form()
    v = rep.voltage
    assert np.isfinite(v).all()
    assert 2.3 < np.mean(v) < 4.0
    assert np.std(v) > 0.1
    assert np.ptp(v) > 0.5
    assert np.all(rep.resistance < 1e5)


def test_read_noise_larger_in_hrs():
    arr = formed_array(2, seed=5)
    arr.apply_pulse([0], **RESET.kwargs())
    arr.apply_pulse([1], **SET.kwargs())
    r = arr.read_resistance(None, n_reads=2000)
    rel = np.std(np.log(r), axis=0)
    assert rel[0] > rel[1] > 0


def test_energy_is_pulse_voltage_times_charge():
    arr = formed_array(200, seed=6)
    energies = []
    for i_c in (20e-6, 200e-6):
        arr.apply_pulse(None, **RESET.kwargs())
        res = arr.apply_pulse(None, **set_pulse(i_c).kwargs())
        energies.append(np.median(res.energy))
        # once set, the current sits at I_c for most of the pulse
        assert np.median(res.energy) == pytest.approx(SET.amplitude * i_c * SET.width, rel=0.3)
    assert energies[1] > 5 * energies[0]


def window_after(arr, n_cycles, set_kw, reset_kw):
    """Cycle, then (median HRS, median LRS) of a RESET and a SET at the same conditions."""
    arr.cycle(n_cycles, set_kw, reset_kw)
    r_hrs = np.median(arr.resistance())
    arr.apply_pulse(None, **set_kw)
    r_lrs = np.median(arr.resistance())
    arr.apply_pulse(None, **reset_kw)
    return r_hrs, r_lrs


def test_endurance_window_closes_gradually_with_cycles():
    arr = formed_array(1024, seed=7)
    s, r = SET.kwargs(), RESET.kwargs()
    hrs, lrs, stuck = [], [], []
    n = 0
    for target in (10, 10**5, 10**6, 10**7):
        h, lo = window_after(arr, target - n, s, r)
        n = target
        hrs.append(h)
        lrs.append(lo)
        stuck.append(np.mean(arr.stuck != STUCK_NONE))
    window = np.array(hrs) / np.array(lrs)
    assert np.all(np.diff(window) < 0)
    assert window[0] > 30 and window[-1] < 8
    # at the nominal SET/RESET balance the HRS falls (residual vacancies), the LRS holds
    assert hrs[0] / hrs[-1] > 20 and lrs[-1] / lrs[0] < 1.5
    assert stuck[0] == 0 and stuck[-1] > 0.005  # worn-out devices no longer switch
    assert arr.cycles[arr.stuck == STUCK_NONE].min() >= 10**7  # counted without a 10^7-step loop


def test_set_reset_balance_decides_how_devices_fail():
    """Chen et al. 2012: too strong a RESET for the SET makes the LRS rise (SET failure), too
    weak a one lets the HRS fall faster (RESET failure); in between the window lasts longest."""
    s = SET.kwargs()
    result = {}
    for v_reset in (1.3, 1.5, 1.7):
        arr = formed_array(512, seed=7)
        reset = PulseSpec(-v_reset, RESET.width, RESET.gate).kwargs()
        h0, l0 = window_after(arr, 1, s, reset)
        h, lo = window_after(arr, 10**6, s, reset)
        result[v_reset] = (h / h0, lo / l0, h / lo)
    assert result[1.7][1] > 2 > result[1.5][1]  # LRS rises only under the strong RESET
    assert result[1.3][0] < result[1.5][0] < 0.5  # the HRS falls, faster under a weak RESET
    assert result[1.5][2] > max(result[1.3][2], result[1.7][2])


def test_the_two_devices_of_a_pair_wear_out_independently():
    die = RRAMDie(seed=3)
    die.form(v_start=4.0, v_stop=4.0, width=100e-6)
    die.cycle(10**7)
    stuck = (die.devices.stuck != STUCK_NONE).reshape(ROWS, COLS, 2)
    p_bl, p_blb = stuck[..., 0].mean(), stuck[..., 1].mean()
    assert 0.05 < p_bl < 0.95 and 0.05 < p_blb < 0.95
    both = np.mean(stuck[..., 0] & stuck[..., 1])
    assert both == pytest.approx(p_bl * p_blb, abs=3 * np.sqrt(p_bl * p_blb / stuck[..., 0].size))
    wear = np.log1p(die.devices.defects).reshape(ROWS, COLS, 2)
    assert abs(np.corrcoef(wear[..., 0].ravel(), wear[..., 1].ravel())[0, 1]) < 0.1


def calibrate_reference(die, set_kw):
    """What a lab does once: write a checkerboard, read the BL devices, set the reference at the
    geometric mean of their LRS and HRS medians; it then stays fixed."""
    bits = np.indices((ROWS, COLS)).sum(axis=0) % 2 == 0
    die.program(bits, set_pulse=set_kw, reset_pulse=RESET, verify=False)
    r_bl = die.read_resistance(die.index(sides=0))[0].reshape(ROWS, COLS)
    die.set_reference(np.sqrt(np.median(r_bl[bits]) * np.median(r_bl[~bits])))


def count_errors(die, rng, set_kw, programs):
    """(2T2R errors, 1T1R errors against the die's fixed reference, bits) over random patterns."""
    err2 = err1 = 0
    for _ in range(programs):
        bits = rng.random((ROWS, COLS)) < 0.5
        die.program(bits, set_pulse=set_kw, reset_pulse=RESET, verify=False)
        err2 += np.sum(die.read_pcsa()[0] != bits)
        err1 += np.sum(die.read_1t1r()[0] != bits)
    return err2, err1, programs * ROWS * COLS


def _ber(seeds, i_c, programs=5):
    """2T2R (PCSA) and 1T1R (fixed reference calibrated at i_c) bit-error rates at compliance i_c."""
    err2 = err1 = bits_total = 0
    for seed in seeds:
        die = RRAMDie(seed=seed)
        die.form(v_start=4.0, v_stop=4.0, width=100e-6)
        calibrate_reference(die, set_pulse(i_c))
        e2, e1, n = count_errors(die, np.random.default_rng(seed), set_pulse(i_c), programs)
        err2, err1, bits_total = err2 + e2, err1 + e1, bits_total + n
    return err2 / bits_total, err1 / bits_total


@pytest.fixture(scope="module")
def ber_vs_current():
    seeds = (21, 22, 23, 24)
    return {i_c: _ber(seeds, i_c) for i_c in (8e-6, 20e-6)}


def test_2t2r_ber_ten_times_lower_than_1t1r_at_low_current(ber_vs_current):
    ber2, ber1 = ber_vs_current[8e-6]
    assert ber1 > 5e-3  # the weak condition really is error-prone single-ended
    assert ber2 * 10 <= ber1


def test_ber_falls_as_programming_current_rises(ber_vs_current):
    (b2_lo, b1_lo), (b2_hi, b1_hi) = ber_vs_current[8e-6], ber_vs_current[20e-6]
    assert b1_hi < b1_lo / 3
    assert b2_hi <= b2_lo


@pytest.fixture(scope="module")
def ber_vs_cycles():
    """Cycling at 100 uA; BER of fresh random patterns at each checkpoint, both read modes, the
    1T1R reference calibrated once before cycling."""
    points = (1, 10**4, 10**5, 10**6, 3 * 10**6, 10**7)
    counts = {p: np.zeros(3, int) for p in points}
    for seed in (31, 32):
        die = RRAMDie(seed=seed)
        die.form(v_start=4.0, v_stop=4.0, width=100e-6)
        calibrate_reference(die, SET)
        reference = die.reference.copy()
        rng, done = np.random.default_rng(seed), 0
        for p in points:
            die.cycle(p - done)
            done = p
            counts[p] += count_errors(die, rng, SET, programs=4)
        assert np.array_equal(die.reference, reference)  # never recalibrated
    return counts


def test_2t2r_keeps_its_advantage_as_the_die_ages(ber_vs_cycles):
    """Bocquet 2018, Hirtzlin 2020: the differential read stays ahead at every cycle count.
    Mechanism: the window closes gradually (HRS falling); a fixed 1T1R reference is crossed long
    before an HRS falls to its partner's LRS."""
    ber = {p: (e2 / n, e1 / n) for p, (e2, e1, n) in ber_vs_cycles.items()}
    for b2, b1 in ber.values():
        assert b2 <= b1
    assert ber[10**6][1] > 1e-3 and ber[10**6][0] < ber[10**6][1] / 5
    assert ber[3 * 10**6][1] > 0.05 and ber[3 * 10**6][0] < 0.01
    assert ber[10**7][0] > 1e-3  # the 2T2R bits wear out too, later


def test_1t1r_reference_is_a_fixed_setting_of_the_die():
    die = RRAMDie(seed=12)
    die.form(v_start=4.0, v_stop=4.0, width=100e-6)
    with pytest.raises(RuntimeError, match="reference"):
        die.read_1t1r()
    die.set_reference(np.geomspace(2e4, 2e5, COLS))  # one trim per column
    i_ref = die.reference_current()
    assert i_ref.shape == (COLS,) and np.all(np.diff(i_ref) < 0)
    die.program(np.ones((ROWS, COLS), bool), verify=False)
    assert die.read_1t1r()[0].all()
    assert np.array_equal(die.reference, np.geomspace(2e4, 2e5, COLS))
    die.set_reference(1e9)  # above every HRS: every device reads LRS
    die.program(np.zeros((ROWS, COLS), bool), verify=False)
    assert die.read_1t1r()[0].all() and not die.read_pcsa()[0].any()
    with pytest.raises(ValueError):
        die.set_reference(-1.0)


def test_xnor_popcount_of_a_well_programmed_row():
    die = RRAMDie(seed=8)
    die.form(v_start=4.0, v_stop=4.0, width=100e-6)
    rng = np.random.default_rng(0)
    w = rng.random((ROWS, COLS)) < 0.5
    rep = die.program(w, set_pulse=set_pulse(150e-6))
    assert rep.ok.mean() > 0.99
    for _ in range(5):
        x = rng.random(COLS) < 0.5
        expected = np.sum(~(x[None, :] ^ w), axis=1)
        assert np.array_equal(die.xnor_popcount(x)[0], expected)
    assert np.array_equal(die.read_pcsa(rows=[3, 7])[0], w[[3, 7]])


def test_program_and_verify_repairs_weak_bits():
    die = RRAMDie(seed=9)
    die.form(v_start=4.0, v_stop=4.0, width=100e-6)
    bits = np.random.default_rng(1).random((ROWS, COLS)) < 0.5
    weak = set_pulse(20e-6)
    single = die.program(bits, set_pulse=weak, verify=False, r_lrs_max=8e4)
    verified = die.program(bits, set_pulse=weak, verify=True, r_lrs_max=8e4, max_pulses=10)
    assert verified.ok.mean() > single.ok.mean()
    assert verified.pulses.max() > 1
    assert verified.energy > 0 and verified.duration > 0


def test_bad_addresses_and_pattern_shapes_are_refused():
    die = RRAMDie(seed=1)
    with pytest.raises(IndexError):
        die.index(rows=[ROWS])
    with pytest.raises(IndexError):
        die.read_pcsa(rows=[-1])
    with pytest.raises(ValueError):
        die.program(np.zeros((ROWS, COLS - 1), bool))
    with pytest.raises(ValueError):
        die.xnor_popcount(np.zeros(COLS + 1, bool))


def test_energy_log_records_operations():
    die = RRAMDie(seed=2)
    die.form(v_start=4.0, v_stop=4.0, width=100e-6)
    die.program(np.ones((ROWS, COLS), bool), verify=False)
    die.read_pcsa()
    ops = die.energy_by_operation()
    assert ops["form"] > ops["set"] > 0 and ops["reset"] > 0 and ops["read_pcsa"] > 0
    assert all(d > 0 for _, _, _, d in die.log.recent)


def test_operation_log_keeps_totals_in_bounded_memory():
    """Days of testing keep a constant footprint: totals per operation since power-on, a bounded
    ring of the latest records, and the operations of one piece of work summed."""
    die = RRAMDie(seed=4)
    kept = die.log.recent.maxlen
    energies = []
    for _ in range(3 * kept):
        die.read_pcsa(rows=[0])
        energies.append(die.log.recent[-1][2])
    assert len(die.log.recent) == kept and die.log.count == 3 * kept
    reads = die.log.totals["read_pcsa"]
    assert reads.count == 3 * kept and reads.devices == 3 * kept * COLS * SIDES
    assert die.energy_by_operation() == {"read_pcsa": pytest.approx(sum(energies), rel=1e-12)}
    with die.log.span() as work:
        die.read_pcsa()
        die.read_resistance()
    last_two = list(die.log.recent)[-2:]
    assert work.count == 2 and work.energy == pytest.approx(sum(e for _, _, e, _ in last_two), rel=1e-12)
    assert work.duration == pytest.approx(sum(d for _, _, _, d in last_two), rel=1e-12)


def test_cycling_before_forming_stresses_the_oxide_and_wears_no_filament():
    """A pristine device has no filament: 10^10 cycles (1000 s of pulses) only add to its oxide's
    breakdown hazard, and some devices break down as under any long stress; the die then forms and
    cycles like any other."""
    die = RRAMDie(seed=0)
    arr = die.devices
    die.cycle(10**10)
    assert np.all(arr.ions == 0) and np.all(arr.defects == 0)
    assert np.all(arr.h[~arr.formed] > 0) and 0 < arr.formed.sum() < arr.n
    die.form()
    die.cycle(1)
    assert np.all(np.isfinite(die.resistance()))


def test_the_filament_tip_never_recedes_beyond_the_widest_gap():
    die = RRAMDie(seed=1)
    die.form()
    weak_set = PulseSpec(1.8, 100e-9, float(AccessTransistor().gate_for_current(5e-6)))
    die.cycle(10**10, weak_set, RESET)  # ~10^4 blocking ions per device
    die.cycle(1, weak_set, RESET)
    arr = die.devices
    assert np.all(arr.g_floor() <= arr.gap_model.g_ceil) and np.all(arr.gap <= arr.gap_model.g_ceil)
    assert np.all(np.isfinite(die.resistance()))


def test_same_seed_same_die_different_seed_different_die():
    def fingerprint(seed):
        die = RRAMDie(seed=seed)
        v = die.form(v_start=2.5, v_stop=4.0, v_step=0.1).voltage
        die.program(np.eye(ROWS, COLS, dtype=bool), verify=False)
        return v, die.resistance(), die.read_pcsa(n_reads=3)

    a, b, c = fingerprint(3), fingerprint(3), fingerprint(4)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    assert not np.allclose(a[1], c[1])


def bench_file(tmp_path, params):
    """The shipped RRAM bench with ``params`` as its x-bench.params."""
    import yaml

    from labctl.sim_backends.bench_file import resolve

    data = yaml.safe_load(resolve("rram.yaml").read_text())
    data["x-bench"]["params"] = params
    path = tmp_path / "other_die.yaml"
    path.write_text(yaml.safe_dump(data))
    return BenchFile.load(path)


def test_bench_file_describes_another_die(tmp_path):
    params = {"test_structure_gate": 3.0, "gap": {"g_max": 1.8e-9, "ea": 1.45},
              "sense": {"offset": 0.0}, "endurance": {"defect_rate": "1e-5"}}
    other = bench_file(tmp_path, params).build_bench()
    nominal = RRAMBench(seed=other.seed)
    for bench in (other, nominal):
        bench.die.form(v_start=4.0, v_stop=4.0, width=100e-6)
        bench.die.program(np.zeros((ROWS, COLS), bool), verify=False)
    devices = other.die.devices
    assert devices.gap_model.ea == 1.45 and devices.endurance.defect_rate == 1e-5
    assert other.test_structure.cell.gap_model == devices.gap_model  # same wafer
    assert other.test_structure.gate == 3.0
    assert np.all(other.die.sa_offset == 0) and np.any(nominal.die.sa_offset != 0)
    # a narrower rupture gap: HRS lower by about exp(0.2 nm / g0)
    hrs = [np.median(b.die.resistance()[..., 0]) for b in (other, nominal)]
    assert hrs[1] / hrs[0] == pytest.approx(np.exp(0.2 / 0.25), rel=0.3)
    assert "gap.g_max=1.8e-09" in other.snapshot()["device_parameters"]
    assert nominal.snapshot()["device_parameters"] == "defaults"
    # dotted overrides from the command line land in the same groups
    tweaked = bench_file(tmp_path, {}).with_overrides([("transistor.vth", "0.55")]).build_bench()
    assert tweaked.die.devices.transistor.vth == 0.55


@pytest.mark.parametrize("params, message", [
    ({"gap": {"eaa": 1.0}}, "gap: unknown eaa .known: i0, g0"),
    ({"sensing": {}}, "unknown parameter sensing"),
    ({"sense": {"offset": "small"}}, "sense.offset: 'small' is not a number"),
    ({"endurance": 3}, "'endurance' must be a mapping"),
])
def test_bench_file_parameters_are_checked(tmp_path, params, message):
    with pytest.raises(ValueError, match=message):
        bench_file(tmp_path, params).build_bench()
