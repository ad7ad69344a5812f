"""The @labsim pyvisa backend: stock drivers on physics, SCPI errors, binary blocks, isolation."""

import gc

import numpy as np
import pytest
import pyvisa
from pymeasure.instruments.keithley import Keithley2400

from labctl.capabilities import clock_of
from labctl.clock import WallClock
from labctl.sim_backends.bench_file import describe, resolve
from labctl.sim_backends.demo_bench import K_B, Q_E

DEMO = str(resolve("demo.yaml"))
LABSIM = DEMO + "@labsim"


def test_stock_keithley2400_reads_diode_physics():
    smu = Keithley2400("GPIB0::24::INSTR", visa_library=LABSIM)
    bench = smu.adapter.connection.visalib.bench
    smu.source_mode = "voltage"
    smu.compliance_current = 0.1
    smu.enable_source()
    currents = []
    for v in (0.30, 0.35, 0.40):
        smu.source_voltage = v
        currents.append(smu.current)
    # Shockley: a decade of current per n*V_T*ln(10) volts in the exponential region.
    diode = bench.diode
    slope = np.diff(np.log(currents)) / 0.05
    assert slope == pytest.approx(1 / (diode.n * K_B * 300 / Q_E), rel=0.05)
    assert smu.check_errors() == []
    smu.source_voltage = -2
    assert -3 * diode.i_s < smu.current < 0  # reverse saturation current


def test_compliance_limits_current_and_sets_status_bit():
    smu = Keithley2400("GPIB0::24::INSTR", visa_library=LABSIM)
    smu.source_mode = "voltage"
    smu.compliance_current = 1e-3
    smu.enable_source()
    smu.source_voltage = 2.0
    values = smu.values(":READ?")
    voltage, current, status = values[0], values[1], int(values[4])
    assert current == pytest.approx(1e-3, rel=0.01)
    assert voltage < 1.0  # the SMU backed off to the voltage that drives the compliance current
    assert status & 8


def test_current_source_at_zero_reads_zero_volts_not_compliance():
    smu = Keithley2400("GPIB0::24::INSTR", visa_library=LABSIM)
    smu.source_mode = "current"
    smu.compliance_voltage = 10
    smu.source_current = 0.0
    smu.enable_source()
    values = smu.values(":READ?")
    voltage, status = values[0], int(values[4])
    assert abs(voltage) < 1e-3  # a passive device carrying 0 A has 0 V across it
    assert not status & 8
    smu.source_current = 1e-3
    assert 0.4 < smu.voltage < 1.0  # forward diode drop at 1 mA


def test_bench_time_advances_with_integration_not_wall_time(smu, rm):
    clock = clock_of(rm)
    assert clock is rm.visalib.bench.clock and not isinstance(clock, WallClock)
    smu.write(":SENS:CURR:NPLC 10;:OUTP ON")
    t0 = clock.now()
    smu.query(":READ?")
    assert clock.now() - t0 == pytest.approx(10 / 50 + 0.001, abs=0.01)  # 10 PLC at 50 Hz + delay
    clock.sleep(3600.0)
    assert clock.now() - t0 > 3600.0


@pytest.mark.parametrize(
    "bad, code",
    [
        ("FOO:BAR 1", -113),
        (":SOUR:VOLT 1e3", -222),
        (":SOUR:VOLT abc", -104),
        (":OUTP INF", -104),
        (":SOUR:FUNC PRESSURE", -224),
        (":SOUR:VOLT 1 V, 2", -108),
        (":SOUR:VOLT 2 FURLONG", -131),
        (":SENS:CURR:PROT", -109),
    ],
)
def test_bad_scpi_lands_in_error_queue_and_changes_nothing(smu, bad, code):
    smu.write(":SOUR:VOLT 1.5")
    smu.write(bad)
    entry = smu.query(":SYST:ERR?")
    assert int(entry.split(",")[0]) == code
    assert smu.query(":SYST:ERR?").startswith("0,")
    assert float(smu.query(":SOUR:VOLT?")) == 1.5
    assert smu.query("*IDN?").startswith("KEITHLEY")  # still answering


def test_error_status_bits_and_clear(smu):
    smu.write("NOPE")
    assert int(smu.query("*STB?")) & 4  # error/event queue not empty
    assert int(smu.query("*ESR?")) & 32  # command error
    smu.write("*CLS")
    assert smu.query(":SYST:ERR:COUN?") == "0"


def test_error_queue_overflow_keeps_the_first_errors(smu):
    for _ in range(15):
        smu.write("NOPE")
    entries = smu.query(":SYST:ERR:ALL?")
    codes = [int(x) for x in entries.split(",")[0::2]]
    assert codes[:9] == [-113] * 9 and codes[-1] == -350


def test_unknown_query_times_out_at_once_with_query_error(smu):
    smu.timeout = 60_000  # a stock pyvisa-sim read would busy-wait this long
    with pytest.raises(pyvisa.VisaIOError):
        smu.query(":NOT:A:QUERY?")
    errors = smu.query(":SYST:ERR:ALL?")
    assert "-113" in errors and "-420" in errors


@pytest.mark.parametrize("text, value", [("5", 5), ("-3", -3), ("1e-3", 1e-3), ("+2.5", 2.5),
                                         (".5", 0.5), ("500 mV", 0.5), ("MAX", 210), ("2.0E+00", 2)])
def test_float_parameters_in_every_legal_spelling(smu, text, value):
    smu.write(f":SOUR:VOLT {text}")
    assert smu.query(":SYST:ERR?").startswith("0,")
    assert float(smu.query(":SOUR:VOLT?")) == pytest.approx(value)


def test_def_restores_the_reset_value(smu):
    smu.write(":SOUR:VOLT 5;:SENS:CURR:PROT 0.01")
    smu.write(":SOUR:VOLT DEF;:SENS:CURR:PROT DEF")
    assert smu.query(":SYST:ERR?").startswith("0,")
    assert smu.query(":SOUR:VOLT?;:SENS:CURR:PROT?") == "0;0.000105"


def test_compound_message_with_same_subsystem_path(smu):
    assert smu.query(":SOUR:VOLT 2;CURR 0.001;:SOUR:VOLT?;CURR?") == "2;0.001"


ISOLATION = """
import pyvisa
from labctl.sim_backends.bench_file import resolve

pytest_plugins = {plugins!r}

def _smu():
    rm = pyvisa.ResourceManager(str(resolve("demo.yaml")) + "@labsim")
    return rm.open_resource("GPIB0::24::INSTR", read_termination="\\n", write_termination="\\n")

def test_dirty(labsim_reset):
    _smu().write(":SOUR:VOLT 7")

def test_clean(labsim_reset):
    assert float(_smu().query(":SOUR:VOLT?")) == 0.0
"""


@pytest.mark.parametrize("order", ["dirty-first", "clean-first"])
def test_labsim_reset_isolates_tests_in_any_order(pytester, order):
    """Run in a separate pytest, in both orders: the fixture, not test order, keeps state apart."""
    pytester.makepyfile(test_isolation=ISOLATION.format(plugins=["labctl.sim_backends.pytest_plugin"]))
    names = ["test_dirty", "test_clean"] if order == "dirty-first" else ["test_clean", "test_dirty"]
    ids = [f"test_isolation.py::{n}" for n in names]
    pytester.runpytest_inprocess(*ids, "-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_without_the_reset_state_leaks_from_one_test_to_the_next(pytester):
    """The isolation test above can fail: with no reset, the dirty test's setting reaches the clean one."""
    body = ISOLATION.format(plugins=[]).replace("(labsim_reset)", "()")
    pytester.makepyfile(test_isolation=body)
    result = pytester.runpytest_inprocess("test_isolation.py::test_dirty", "test_isolation.py::test_clean",
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)


def test_state_outlives_close_until_reset():
    rm = pyvisa.ResourceManager(LABSIM)
    rm.open_resource("GPIB0::25::INSTR", write_termination="\n").write(":SOUR:VOLT 4")
    rm.close()
    del rm
    gc.collect()  # pyvisa keeps libraries weakly: the bench must not power down with the last reference
    rm = pyvisa.ResourceManager(LABSIM)
    inst = rm.open_resource("GPIB0::25::INSTR", read_termination="\n", write_termination="\n")
    assert float(inst.query(":SOUR:VOLT?")) == 4.0
    rm.visalib.reset()
    assert float(inst.query(":SOUR:VOLT?")) == 0.0
    inst.write_raw(b":SOUR:VO")  # half a message, then a power cycle: the fragment is gone
    rm.visalib.reset()
    assert float(inst.query(":SOUR:VOLT?")) == 0.0
    assert inst.query(":SYST:ERR?").startswith("0,")


def test_one_bench_per_file_shared_by_all_resources(rm):
    a = rm.open_resource("GPIB0::24::INSTR", read_termination="\n", write_termination="\n")
    b = rm.open_resource("GPIB0::25::INSTR", read_termination="\n", write_termination="\n")
    t0 = rm.visalib.bench.clock.now()
    a.write(":OUTP ON;:SENS:CURR:NPLC 5")
    a.query(":READ?")  # 5 NPLC at 50 Hz: 0.1 s of integration on the diode's SMU
    b.write(":OUTP ON")
    t_b = float(b.query(":READ?").split(",")[3])  # TIME element of the resistor SMU's reading
    assert t_b - t0 >= 0.1  # the second instrument sees the time the first one spent: one clock


def test_each_instrument_answers_the_serial_its_bench_file_gives(tmp_path):
    rm = pyvisa.ResourceManager(f"{resolve('stno.yaml')}@labsim")
    serials = {r: rm.open_resource(r, read_termination="\n").query("*IDN?").split(",")[2].strip()
               for r in ("GPIB0::24::INSTR", "GPIB0::25::INSTR", "GPIB0::27::INSTR", "GPIB0::19::INSTR",
                         "GPIB0::20::INSTR")}
    rm.close()
    assert serials == {"GPIB0::24::INSTR": "4000001", "GPIB0::25::INSTR": "4000002",
                       "GPIB0::27::INSTR": "4000004", "GPIB0::19::INSTR": "US00000001",
                       "GPIB0::20::INSTR": "US00000002"}
    bench = tmp_path / "demo.yaml"
    bench.write_text(resolve("demo.yaml").read_text().replace("{dut: resistor}", "{dut: resistor, serial: 1234567}"))
    rm = pyvisa.ResourceManager(f"{bench}@labsim")
    idn = rm.open_resource("GPIB0::25::INSTR", read_termination="\n").query("*IDN?")
    rm.close()
    assert idn.startswith("KEITHLEY INSTRUMENTS INC.,MODEL 2400,1234567,C32")


def test_same_seed_same_part():
    r1 = pyvisa.ResourceManager(LABSIM).visalib.bench.resistor.resistance
    pyvisa.ResourceManager(LABSIM).visalib.reset()
    assert pyvisa.ResourceManager(LABSIM).visalib.bench.resistor.resistance == r1


def test_stock_sim_still_loads_the_bench_yaml():
    rm = pyvisa.ResourceManager(DEMO + "@sim")
    inst = rm.open_resource("GPIB0::24::INSTR", read_termination="\n", write_termination="\n")
    assert inst.query("*IDN?").startswith("KEITHLEY")
    inst.write(":SOUR:VOLT 1.5")
    assert float(inst.query(":SOUR:VOLT?")) == 1.5


def test_device_without_emulator_keeps_its_yaml_dialogues_under_labsim(tmp_path):
    # exercises the pyvisa-sim internals labctl relies on for such devices (their output buffers)
    bench = tmp_path / "mock.yaml"
    bench.write_text(
        'spec: "1.1"\n'
        "devices:\n"
        "  meter:\n"
        "    eom: {GPIB INSTR: {q: \"\\n\", r: \"\\n\"}}\n"
        "    dialogues: [{q: \"*IDN?\", r: \"ACME,METER,1,1.0\"}]\n"
        "resources:\n"
        "  GPIB0::3::INSTR: {device: meter}\n"
    )
    rm = pyvisa.ResourceManager(f"{bench}@labsim")
    inst = rm.open_resource("GPIB0::3::INSTR", read_termination="\n", write_termination="\n")
    assert inst.query("*IDN?") == "ACME,METER,1,1.0"
    with pytest.raises(pyvisa.VisaIOError):
        inst.read()  # nothing pending: an immediate timeout
    rm.close()


def test_pyvisa_library_environment_variable_routes_unmodified_code(monkeypatch):
    monkeypatch.setenv("PYVISA_LIBRARY", LABSIM)
    rm = pyvisa.ResourceManager()
    assert type(rm.visalib).__name__ == "LabSimVisaLibrary"
    assert "GPIB0::24::INSTR" in rm.list_resources()


def test_describe_bench_file():
    info = describe("demo.yaml")
    assert info["bench"].endswith("DemoBench")
    models = {r["resource"]: r["model"] for r in info["resources"]}
    assert models["GPIB0::24::INSTR"].endswith("keithley2400:Keithley2400Emulator")


AWG = "USB0::0x0957::0x2807::MY00000001::INSTR"


@pytest.fixture
def awg(rm):
    inst = rm.open_resource(AWG, read_termination="\n", write_termination="\n")
    yield inst
    inst.close()


@pytest.mark.parametrize("n", [8, 1024, 100_000])
def test_binary_blocks_both_directions(awg, n):
    data = np.random.default_rng(0).standard_normal(n).astype("<f4")
    data[:8] = np.frombuffer(b"\n\n\n\n;;;;#9#9'\"\"'" * 2, dtype="<f4")  # terminators inside the block
    awg.write_binary_values(":TRAC:DATA ", data, datatype="f")
    assert awg.query(":SYST:ERR?").startswith("0,")
    assert int(awg.query(":TRAC:POIN?")) == n
    back = awg.query_binary_values(":TRAC:DATA?", datatype="f", container=np.array)
    np.testing.assert_array_equal(back, data)


def test_malformed_block_is_a_block_error(awg):
    awg.write_raw(b":TRAC:DATA #3008abcdefgh,1\n")
    assert awg.query(":SYST:ERR?").startswith("-108")
    awg.write_raw(b":TRAC:DATA #3007abcdefg\n")
    assert awg.query(":SYST:ERR?").startswith("-160")
    assert awg.query(":TRAC:POIN?") == "0"


def test_opening_a_resource_the_bench_lacks_is_refused(rm):
    with pytest.raises(pyvisa.VisaIOError, match="RSRC_NFOUND"):
        rm.open_resource("GPIB0::9::INSTR")
