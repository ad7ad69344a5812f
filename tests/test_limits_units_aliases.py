"""Safety limits in any units, and on every control that reaches the limited quantity."""

import textwrap

import pytest
from pymeasure.instruments.agilent import Agilent8257D
from pymeasure.instruments.keithley import Keithley2400
from pymeasure.test import expected_protocol

from labctl.errors import LimitError, StationError
from labctl.limits import Limit, guard
from labctl.plan import Planned, check_plan
from labctl.station import Station
from labctl.units import UnitsError, convert, convert_step

INIT = [(":FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME, STATUS", None)]  # Keithley 2400 __init__


# -- units ------------------------------------------------------------------------------------------
def test_a_limit_in_milliamps_bounds_a_control_set_in_amps():
    with expected_protocol(Keithley2400, [*INIT, (":SOURCE:CURRENT 0.005", None)]) as smu:
        guard(smu, [Limit("source_current", abs=10, units="mA")], "smu")
        with pytest.raises(LimitError, match=r"\|source_current\| <= 0.01 A \(the station's \|source_current\| "
                                             r"<= 10 mA\)"):
            smu.source_current = 0.05  # 50 mA: once let through, the limit read as 10 A
        smu.source_current = 0.005


def test_a_power_limit_in_milliwatts_bounds_a_generator_set_in_dbm():
    with expected_protocol(Agilent8257D, [(":POW 0 dBm;", None)]) as rf:
        guard(rf, [Limit(n, max=1.0, units="mW") for n in ("power", "start_power", "stop_power")], "rf")
        with pytest.raises(LimitError, match="power <= 0 dBm"):
            rf.power = 3.0  # 2 mW
        rf.power = 0.0  # 1 mW


@pytest.mark.parametrize("limit, message", [
    (Limit("source_current", abs=1, units="V"), "V cannot be expressed in A"),
    (Limit("source_current", abs=1, units="mAA"), "unknown unit 'mAA'"),
    (Limit("source_current", abs=1, step=0.1, units="degC"), "cannot be expressed in A"),
])
def test_a_limit_whose_units_do_not_fit_the_control_is_refused(limit, message):
    with expected_protocol(Keithley2400, INIT) as smu:
        with pytest.raises(StationError, match=message):
            guard(smu, [limit], "smu")


def test_a_limit_with_units_on_a_control_of_unknown_units_is_refused():
    with expected_protocol(Keithley2400, INIT) as smu:
        with pytest.raises(StationError, match="nobody declared the units of Keithley2400.filter_count"):
            guard(smu, [Limit("filter_count", max=10, units="1/s")], "smu")
        guard(smu, [Limit("filter_count", max=10)], "smu")  # no units: the control's own


def test_steps_convert_only_between_units_that_scale():
    assert convert_step(0.5, "A", "mA") == pytest.approx(500.0)
    assert convert(1.0, "mW", "dBm") == pytest.approx(0.0)
    with pytest.raises(UnitsError, match="not a plain scale"):
        convert_step(1.0, "mW", "dBm")


def test_a_plan_is_held_against_a_limit_in_other_units():
    station = Station.load("demo")
    station.roles["smu"].limits = [Limit("compliance_current", abs=20, units="mA")]
    ok, over = (check_plan({"smu.compliance_current": Planned([v], units="A")}, station)[0] for v in (0.01, 0.03))
    assert ok.ok and not over.ok
    assert "0.03 A" in over.line() and "the station's |compliance_current| <= 20 mA" in over.line()


# -- controls that reach a limited quantity ---------------------------------------------------------
def _station(tmp_path, role_yaml: str) -> Station:
    path = tmp_path / "st.yaml"
    path.write_text("visa_library: \"rram.yaml@labsim\"\nroles:\n" + textwrap.indent(textwrap.dedent(role_yaml), "  "))
    return Station.load(path)


def test_a_compliance_limit_that_leaves_the_word_line_free_is_refused(tmp_path):
    station = _station(tmp_path, """
        die:
          driver: labctl.instruments.die_controller.DieController
          resource: "TCPIP0::10.0.0.7::inst0::INSTR"
          limits: {set_compliance: {abs: 300.0e-6, units: A}}
        """)
    with pytest.raises(StationError, match="the limit on set_compliance leaves set_gate unguarded, which sets "
                                           "the same SET compliance current"):
        station.connect()


def test_a_power_limit_that_leaves_the_sweep_powers_free_is_refused():
    with expected_protocol(Agilent8257D, []) as rf:
        with pytest.raises(StationError, match="leaves start_power, stop_power unguarded"):
            guard(rf, [Limit("power", max=0.0, units="dBm")], "rf_a")


def test_the_shipped_stations_guard_every_control_of_a_limited_quantity(monkeypatch):
    rram = Station.load("rram").connect(["die"])
    stno = Station.load("stno").connect(["rf_a"])
    try:
        die, rf = rram.instruments["die"], stno.instruments["rf_a"]
        sent = []
        for inst in (die, rf):
            write = inst.adapter.write
            monkeypatch.setattr(inst.adapter, "write", lambda c, w=write, **k: (sent.append(c), w(c, **k)))
        with pytest.raises(LimitError, match="set_gate"):
            die.set_gate = 3.3  # 845 uA through the access transistor: past the 300 uA compliance limit
        with pytest.raises(LimitError, match="form_gate"):
            die.form_gate = 3.3
        with pytest.raises(LimitError, match="start_power"):
            rf.start_power = 10.0  # the sweep's start escaped the power limit
        assert sent == []
        die.set_compliance = 300e-6  # the controller's own word line for the largest current allowed
        assert die.set_gate <= 1.836
    finally:
        rram.close()
        stno.close()


def test_a_limit_bounds_every_value_of_an_array_setting(tmp_path):
    station = _station(tmp_path, """
        die:
          driver: labctl.instruments.die_controller.DieController
          resource: "TCPIP0::10.0.0.7::inst0::INSTR"
          limits:
            sense_reference: {max: 1.0e+6, units: ohm}
            sense_reference_columns: {max: 1.0e+6, units: ohm}
        """)
    lab = station.connect()
    try:
        with pytest.raises(LimitError, match="sense_reference_columns"):
            lab.instruments["die"].sense_reference_columns = [1e5] * 31 + [5e6]
        lab.instruments["die"].sense_reference_columns = [1e5] * 32
    finally:
        lab.close()
