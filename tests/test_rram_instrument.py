"""The RRAM die controller through pyvisa and its pymeasure driver: bulk blocks, error paths, time."""

import numpy as np
import pytest
import pyvisa
from pymeasure.instruments.keithley import Keithley2400

from labctl.instruments.die_controller import DieController, DieControllerError
from labctl.sim_backends.bench_file import resolve
from labctl.sim_backends.physics.rram_die import SET

LIB = str(resolve("rram.yaml")) + "@labsim"
DIE = "TCPIP0::10.0.0.7::inst0::INSTR"


@pytest.fixture
def rm():
    manager = pyvisa.ResourceManager(LIB)
    yield manager
    manager.close()


@pytest.fixture
def die(rm):
    inst = rm.open_resource(DIE, read_termination="\n", write_termination="\n")
    yield inst
    inst.close()


@pytest.fixture
def bench(rm):
    return rm.visalib.bench


def error(inst):
    code, _, text = inst.query(":SYST:ERR?").partition(",")
    return int(code), text


def formed(die):
    die.write(":FORM:RAMP:STAR 4.0;:FORM:RAMP:STOP 4.0;:FORM:WIDT 1e-4")
    die.write(":ARR:FORM")
    assert die.query("*OPC?") == "1"


def test_identity_and_empty_error_queue(die):
    assert die.query("*IDN?").startswith("LABCTL,RRAM-DIE-CTRL")
    assert error(die) == (0, '"No error"')


@pytest.mark.parametrize("command, query, code", [
    (":ADDR:ROW 32", ":ADDR:ROW?", -222),
    (":ADDR:COL -1", ":ADDR:COL?", -222),
    (":ADDR:SIDE BLX", ":ADDR:SIDE?", -224),
    (":SET:AMPL 6", ":SET:AMPL?", -222),
    (":RES:AMPL -1", ":RES:AMPL?", -222),
    (":SET:WIDT 5e-9", ":SET:WIDT?", -222),
    (":FORM:GATE 7", ":FORM:GATE?", -222),
    (":SET:COMP 1e-3", ":SET:GATE?", -222),
    (":ARR:ROWS 5,2", ":ARR:ROWS?", -221),
    (":ARR:ROWS 0,40", ":ARR:ROWS?", -222),
    (":VER:COUN 0", ":VER:COUN?", -222),
])
def test_bad_settings_are_refused_and_change_nothing(die, command, query, code):
    before = die.query(query)
    die.write(command)
    assert error(die)[0] == code
    assert die.query(query) == before
    assert error(die)[0] == 0


def test_an_error_abandons_the_rest_of_the_message(die):
    die.write(":ADDR:ROW 3;:ADDR:ROW 99;:ADDR:COL 5")
    assert error(die)[0] == -222
    assert die.query(":ADDR:ROW?;:ADDR:COL?") == "3;0"


def test_malformed_patterns_are_refused_before_any_pulse(die, bench):
    bits = np.ones(1024, np.uint8)
    for payload, code in ((bits[:1000], -160), (np.full(1024, 2, np.uint8), -224)):
        die.write_binary_values(":ARR:PROG ", payload, datatype="B")
        assert error(die)[0] == code
    die.write(":ARR:PROG 1")  # numbers, not a block
    assert error(die)[0] == -104
    die.write(":ARR:PROG 1,0,1")
    assert error(die)[0] == -108
    die.write_binary_values(":ARR:POPC? ", np.ones(31, np.uint8), datatype="B")
    assert error(die)[0] == -160
    assert bench.die.log.count == 0
    assert not bench.die.devices.formed.any()


def test_forming_ramp_conflict_is_refused(die, bench):
    die.write(":FORM:RAMP:STAR 4;:FORM:RAMP:STOP 3")
    die.write(":ARR:FORM")
    assert error(die)[0] == -221
    assert bench.die.log.count == 0


def test_whole_array_write_read_popcount_as_binary_blocks(die, bench):
    formed(die)
    v = die.query_binary_values(":ARR:FORM:VOLT?", datatype="f", container=np.array)
    assert v.shape == (2048,) and np.all(v == 4.0)
    bits = np.random.default_rng(3).random((32, 32)) < 0.5
    die.write_binary_values(":ARR:PROG ", bits.astype(np.uint8).ravel(), datatype="B")
    assert die.query("*OPC?") == "1"
    pulses = die.query_binary_values(":ARR:PROG:PULS?", datatype="B", container=np.array)
    assert pulses.shape == (2048,) and pulses.min() >= 1
    read = die.query_binary_values(":ARR:READ?", datatype="B", container=np.array)
    assert np.array_equal(read.reshape(32, 32), bits)
    r = die.query_binary_values(":ARR:RES?", datatype="f", container=np.array).reshape(32, 32, 2)
    assert np.all(r[..., 0][bits] < r[..., 1][bits])
    die.write(":ARR:ROWS 4,9")
    x = np.random.default_rng(4).random(32) < 0.5
    die.write_binary_values(":ARR:POPC? ", x.astype(np.uint8), datatype="B")
    counts = die.read_binary_values(datatype="B", container=np.array)
    assert np.array_equal(counts, np.sum(~(x[None, :] ^ bits[4:10]), axis=1))
    assert float(die.query(":ENER?")) > 0
    assert error(die)[0] == 0


def test_single_ended_read_uses_the_reference(die):
    formed(die)
    bits = np.eye(32, dtype=bool)
    die.write_binary_values(":ARR:PROG ", bits.astype(np.uint8).ravel(), datatype="B")
    die.write(":SENS:MODE SING;:SENS:REF 1e5")
    read = die.query_binary_values(":ARR:READ?", datatype="B", container=np.array)
    assert np.array_equal(read.reshape(32, 32), bits)
    die.write(":SENS:REF 1e2")  # a reference below every device: every bit reads 0
    assert not die.query_binary_values(":ARR:READ?", datatype="B", container=np.array).any()


def test_reference_is_a_per_column_trim_of_the_die(die, bench):
    """One value per column, as a float32 block or 32 numbers; single-ended reads use it."""
    formed(die)
    bits = np.random.default_rng(5).random((32, 32)) < 0.5
    die.write_binary_values(":ARR:PROG ", bits.astype(np.uint8).ravel(), datatype="B")
    assert die.query_binary_values(":SENS:REF:COL?", datatype="f", container=np.array).tolist() \
        == [1e5] * 32  # power-up trim
    ref = np.full(32, 1e5, np.float32)
    ref[3], ref[7] = 1e2, 1e9  # below every device: reads 0; above every device: reads 1
    die.write_binary_values(":SENS:REF:COL ", ref, datatype="f")
    assert error(die)[0] == 0
    assert np.array_equal(bench.die.reference, ref)
    back = die.query_binary_values(":SENS:REF:COL?", datatype="f", container=np.array)
    assert np.array_equal(back, ref)
    die.write(":SENS:MODE SING")
    read = die.query_binary_values(":ARR:READ?", datatype="B", container=np.array).reshape(32, 32)
    assert not read[:, 3].any() and read[:, 7].all()
    keep = np.ones(32, bool)
    keep[[3, 7]] = False
    assert np.array_equal(read[:, keep], bits[:, keep])
    assert float(die.query(":SENS:REF?")) == pytest.approx(10 ** (161 / 32), rel=1e-6)  # geometric mean
    die.write(":SENS:REF:COL " + ",".join(["2e4"] * 31 + ["3E5"]))  # as text
    assert error(die)[0] == 0 and bench.die.reference[-1] == 3e5
    die.write(":SENS:REF 5e4")  # one value for every column
    assert np.all(bench.die.reference == 5e4)
    die.write("*RST")
    assert np.all(bench.die.reference == 1e5)


@pytest.mark.parametrize("payload, code", [
    (np.full(31, 1e5, np.float32), -160),
    (np.array([1e5] * 31 + [2e9], np.float32), -222),
    (np.array([1e5] * 31 + [np.nan], np.float32), -222),
    (np.array([50.0] + [1e5] * 31, np.float32), -222),
    ("1e5,2e5", -109),
    (",".join(["1e5"] * 33), -108),
])
def test_bad_references_are_refused_and_change_nothing(die, bench, payload, code):
    die.write(":SENS:REF 2e5")
    if isinstance(payload, str):
        die.write(":SENS:REF:COL " + payload)
    else:
        die.write_binary_values(":SENS:REF:COL ", payload, datatype="f")
    assert error(die)[0] == code
    assert np.all(bench.die.reference == 2e5)


def test_compliance_uses_the_die_s_own_transistors():
    """A bench file with other access transistors: the board's calibration follows them, so the
    compliance asked for is the current the SET gets (R_LRS ~ V_C / I_C as on the nominal die)."""
    from labctl.sim_backends.physics.rram import AccessTransistor

    lib = f"{resolve('rram.yaml')}?transistor.k_sat=1e-4&transistor.vth=0.6@labsim"
    manager = pyvisa.ResourceManager(lib)
    try:
        inst = manager.open_resource(DIE, read_termination="\n", write_termination="\n")
        bench = manager.visalib.bench
        weak = bench.die.devices.transistor
        assert (weak.k_sat, weak.vth) == (1e-4, 0.6)
        nominal = AccessTransistor()
        assert float(inst.query(":SET:GATE?")) == pytest.approx(
            float(weak.gate_for_current(100e-6)), abs=1e-4)  # powers up at 100 uA
        inst.write(":SET:COMP 20e-6")
        gate = float(inst.query(":SET:GATE?"))
        assert gate == pytest.approx(float(weak.gate_for_current(20e-6)), abs=1e-4)
        assert gate > float(nominal.gate_for_current(20e-6)) + 0.1
        assert float(inst.query(":SET:COMP?")) == pytest.approx(20e-6, rel=1e-3)
        formed(inst)
        inst.write(":VER 0")
        inst.write_binary_values(":ARR:PROG ", np.ones(1024, np.uint8), datatype="B")
        r = inst.query_binary_values(":ARR:RES?", datatype="f", container=np.array)
        r_lrs = np.median(r.reshape(32, 32, 2)[..., 0])
        assert 0.3 < r_lrs * 20e-6 < 0.6  # the universal SET law at the current asked for
        assert error(inst)[0] == 0
    finally:
        manager.close()


def test_operations_take_bench_time_not_wall_time(die, bench):
    formed(die)
    t0 = bench.clock.now()
    die.write(":ARR:CYCL 1000000")
    assert die.query("*OPC?") == "1"
    # 32 row-parallel SET + RESET pulses (100 ns + 50 ns overhead each) per cycle
    assert bench.clock.now() - t0 == pytest.approx(1e6 * 32 * 2 * 150e-9, rel=0.01)
    assert bench.die.devices.cycles.max() >= 1e6


def test_driver_reads_writes_and_validates_before_sending():
    d = DieController(DIE, visa_library=LIB)
    bench = d.adapter.connection.visalib.bench
    v = d.form_array()
    assert np.isfinite(v).all() and 2.5 < np.mean(v) < 4.5
    d.set_compliance = 50e-6
    assert d.set_compliance == pytest.approx(50e-6, rel=1e-3)
    assert d.set_gate < SET.gate
    bits = np.random.default_rng(0).random((32, 32)) < 0.5
    pulses = d.program_array(bits)
    assert pulses.shape == (32, 32, 2)
    assert np.array_equal(d.read_array(), bits)
    d.select(5, 6, "BLB")
    assert d.program_cell("HRS") >= 1 and d.cell_resistance > 1e5
    assert d.program_cell("LRS") >= 1 and d.cell_resistance < 1e5
    d.sense_reference_columns = np.geomspace(3e4, 3e5, 32)
    assert np.allclose(d.sense_reference_columns, np.geomspace(3e4, 3e5, 32), rtol=1e-6)
    assert d.sense_reference == pytest.approx(np.sqrt(3e4 * 3e5), rel=1e-5)
    d.sense_reference_columns = 7e4
    assert np.all(bench.die.reference == 7e4)
    n_log = bench.die.log.count
    for bad in (lambda: setattr(d, "row", 32), lambda: setattr(d, "set_amplitude", 5.5),
                lambda: setattr(d, "sense_reference_columns", np.full(31, 1e5)),
                lambda: setattr(d, "sense_reference_columns", [1e5] * 31 + [np.nan]),
                lambda: setattr(d, "sense_reference_columns", [1e5] * 31 + [2e9]),
                lambda: setattr(d, "rows", (9, 3)), lambda: d.program_array(np.ones((32, 31))),
                lambda: d.xnor_popcount(np.full(32, 2)), lambda: d.program_cell("LOW")):
        with pytest.raises(ValueError):
            bad()
    assert bench.die.log.count == n_log
    assert np.all(bench.die.reference == 7e4)
    d.write(":ADDR:ROW 77")
    with pytest.raises(DieControllerError, match="-222"):
        d.check_set_errors()


def test_same_bench_seed_is_the_same_die_after_reset():
    from labctl.sim_backends.visa_library import LabSimVisaLibrary

    def forming_voltages():
        d = DieController(DIE, visa_library=LIB)
        d.form_start = 3.0
        return d.form_array()

    first = forming_voltages()
    LabSimVisaLibrary.reset_all()
    assert np.array_equal(forming_voltages(), first)


def test_keithley_on_the_test_structure_forms_sets_and_resets():
    smu = Keithley2400("GPIB0::24::INSTR", visa_library=LIB)
    smu.source_mode = "voltage"
    smu.compliance_current = 100e-6
    smu.enable_source()
    smu.source_voltage = 0.5
    assert abs(smu.current) < 1e-7  # pristine oxide: leakage only
    for v in np.arange(0.5, 4.0, 0.05):
        smu.source_voltage = v
        if smu.current > 90e-6:
            break
    assert 1.5 < v < 4.0  # formed, current held at the compliance
    smu.source_voltage = 0.1
    i_lrs = smu.current
    smu.compliance_current = 2e-3
    for v in np.arange(-0.1, -1.6, -0.05):
        smu.source_voltage = v
        assert smu.current < 0
    smu.source_voltage = 0.1
    i_hrs = smu.current
    assert i_lrs > 20 * i_hrs > 0
    smu.source_voltage = 0.0
    smu.disable_source()
    assert smu.check_errors() == []
