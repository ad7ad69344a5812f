"""Quantities with units in protocol parameters (`50 uA`, `1500 mV`, `-10 dBm`, `0.1 mW` for a power in dBm),
lists of them (`20 uA, 50 uA`), all read and checked before anything starts; refusals are one line, exit 2."""

import os

import pytest

from labctl.cli import main
from labctl.protocol import ParameterError, get_protocol
from labctl.units import UnitsError, fmt_quantity, parse_quantity


@pytest.mark.parametrize("text, units, value", [
    ("50 uA", "A", 5e-5), ("50uA", "A", 5e-5), ("5 µA", "A", 5e-6), ("2e-5", "A", 2e-5),
    ("1500 mV", "V", 1.5), ("-10 dBm", "dBm", -10.0), ("0.1 mW", "dBm", -10.0), ("-10 dBm", "W", 1e-4),
    ("30 mT", "T", 0.03), ("50 mT/A", "T/A", 0.05), ("1 kohm", "ohm", 1e3), ("300 MHz", "Hz", 3e8),
    ("50 %", "", 0.5), (7, "A", 7.0),
])
def test_a_typed_quantity_is_a_number_in_the_parameters_units(text, units, value):
    assert parse_quantity(text, units) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text, units, message", [
    ("50 uV", "A", "50 uV is not in A"), ("5 mAA", "A", "unknown unit 'mAA'"), ("3 V", "", "not a plain number"),
    ("1+1", "A", "is not a number"), ("__import__('os')", "A", "is not a number"), ("", "A", "is not a number"),
])
def test_what_is_not_a_quantity_of_the_right_kind_is_refused(text, units, message):
    with pytest.raises(UnitsError, match=message.replace("(", r"\(").replace("+", r"\+")):
        parse_quantity(text, units)


def test_messages_write_bounds_with_prefixes():
    assert fmt_quantity(5e-6, "A") == "5 uA" and fmt_quantity(315e6, "Hz") == "315 MHz"
    assert fmt_quantity(-10, "dBm") == "-10 dBm" and fmt_quantity(0.05, "T/A") == "0.05 T/A"


def test_parameters_take_quantities_and_lists_of_them():
    ber = get_protocol("rram_bit_error_rate")(compliance="50 uA", compliances="20 uA, 50 uA")
    assert ber.compliance == pytest.approx(5e-5)
    assert ber.compliances == "2e-05, 5e-05"
    assert get_protocol("demo_iv")(v_stop="1500 mV", points="1e3").v_stop == 1.5
    locking = get_protocol("stno_injection_locking")(p_start="-20 dBm", p_stop="0.1 mW")
    assert (locking.p_start, locking.p_stop) == (-20.0, -10.0)
    assert get_protocol("stno_frequency_vs_current")(field="400 mT").field == pytest.approx(0.4)
    with pytest.raises(ParameterError, match=r"points='41 V': 41 V is not a plain number"):
        get_protocol("demo_iv")(points="41 V")
    with pytest.raises(ParameterError, match=r"must be an integer"):
        get_protocol("demo_iv")(points="2.5")


@pytest.mark.parametrize("args, message", [
    (["demo_iv", "-p", "compliance=50 uV"],
     "parameter compliance='50 uV': 50 uV is not in A; must be a number in [1 nA, 1.05 A]"),
    (["rram_bit_error_rate", "-p", "compliance=5 mA"], "must be a number in [5 uA, 500 uA]"),
    (["rram_bit_error_rate", "-p", "compliances=20 uA, 50 mV"], "50 mV is not in A"),
    (["rram_bit_error_rate", "-p", "compliances=20 uA, 5 mA"], "comma-separated numbers in [5 uA, 500 uA]"),
    (["stno_injection_locking", "-p", "p_stop=2 furlongs"], "2 furlongs is not in dBm"),
])
def test_a_bad_quantity_is_one_line_exit_2_and_no_file(in_tmp, capsys, args, message):
    assert main(["run", *args, "--out", "x.h5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert os.listdir(in_tmp) == []


def test_the_command_line_runs_with_quantities(in_tmp, capsys):
    assert main(["run", "rram_bit_error_rate", "-p", "compliance=50 uA", "-p", "compliances=20 uA, 50 uA",
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "compliance = 50 uA   (explicit)" in out and "compliances = 2e-05, 5e-05 A   (explicit)" in out
    assert main(["run", "demo_iv", "-p", "v_stop=500 mV", "-p", "points=3", "-p", "compliance=10mA",
                 "--out", "iv.h5"]) == 0
    from labctl.results import open_run

    with open_run("iv.h5") as run:
        assert run.parameter_values()["v_stop"] == 0.5 and run.parameter_values()["compliance"] == 0.01


def test_a_stations_setup_may_give_quantities(tmp_path):
    from labctl.runner import Runner
    from labctl.station import Station, resolve_station

    text = resolve_station("stno").read_text().replace("field_per_amp: 0.05 ", 'field_per_amp: "50 mT/A" ')
    assert '"50 mT/A"' in text
    (tmp_path / "stno.yaml").write_text(text)
    proto = get_protocol("stno_frequency_vs_field")()
    Runner(proto, Station.load(tmp_path / "stno.yaml"), tmp_path / "x.h5")
    assert proto.field_per_amp == pytest.approx(0.05)


def test_a_script_passes_quantities_as_the_command_line_does(tmp_path):
    from labctl import run_protocol
    from labctl.results import open_run

    result = run_protocol("stno_frequency_vs_current", tmp_path / "fvi.h5", field="400 mT", steps=3, progress=False)
    assert result.status == "completed"
    with open_run(tmp_path / "fvi.h5") as run:
        assert run.parameter_values()["field"] == pytest.approx(0.4)
