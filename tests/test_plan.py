"""Plans against station limits: a protocol's planned setpoints are checked before anything is connected
or written (exit 2, one line, no file); `labctl run --dry-run` prints the plan and the checks."""

import os

import pytest

from labctl.cli import main
from labctl.errors import LimitError
from labctl.limits import Limit
from labctl.plan import Planned, check_plan
from labctl.protocol import get_protocol, protocols
from labctl.runner import Runner
from labctl.station import RoleSpec, Station


def test_a_sweep_beyond_the_station_limit_is_refused_before_it_starts(in_tmp, capsys):
    before = set(os.listdir(in_tmp))
    assert main(["run", "demo_iv", "-p", "v_stop=5", "--out", "iv.h5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("labctl: error: plan refused before the run: smu.source_voltage = 5 V (v_start, v_stop)")
    assert "station limit |source_voltage| <= 2 V" in err
    assert set(os.listdir(in_tmp)) == before


def test_dry_run_prints_the_plan_and_its_checks_and_writes_nothing(in_tmp, capsys):
    assert main(["run", "demo_iv", "--dry-run", "-p", "v_stop=1.5"]) == 0
    out = capsys.readouterr().out
    assert "dry run, nothing connected or written" in out
    assert "v_stop = 1.5 V   (explicit)" in out
    row = next(line for line in out.splitlines() if "smu.source_voltage" in line)
    assert "0 .. 1.5 V" in row and "|source_voltage| <= 2 V" in row and row.rstrip().endswith("ok")
    assert "limits the plan does not cover (still guarded while running): smu.source_current" in out
    assert not list(in_tmp.iterdir())

    assert main(["run", "demo_iv", "--dry-run", "-p", "v_stop=5"]) == 2
    captured = capsys.readouterr()
    assert next(line for line in captured.out.splitlines() if "smu.source_voltage" in line).endswith("REFUSED")
    assert captured.err.count("\n") == 1 and "plan refused" in captured.err
    assert not list(in_tmp.iterdir())


def test_dry_run_names_the_visa_library_with_the_bench_seed_and_options(in_tmp, capsys):
    assert main(["run", "stno_frequency_vs_current", "--dry-run", "--bench-seed", "4",
                 "--bench-option", "device.temperature=200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "  VISA library: stno.yaml?device.temperature=200&seed=4@labsim"
    assert main(["run", "demo_iv", "--dry-run", "--visa-library", "@py"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "  VISA library: @py"
    assert not list(in_tmp.iterdir())


def test_dry_run_shows_an_empty_list_as_empty(in_tmp, capsys):
    assert main(["run", "rram_bnn_inference", "--dry-run", "-p", "set_voltages="]) == 0
    assert "    set_voltages = (empty)   (explicit)" in capsys.readouterr().out.splitlines()


def test_dry_run_refuses_a_bench_option_the_bench_does_not_take(in_tmp, capsys):
    assert main(["run", "stno_frequency_vs_current", "--dry-run", "--bench-option", "device.temperatur=200"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("labctl: error: stno.yaml?device.temperatur=200@labsim: ")
    assert "has no parameter 'temperatur'" in captured.err
    assert not list(in_tmp.iterdir())


@pytest.mark.parametrize(
    "name, params, refused",
    [
        ("demo_iv", {"compliance": "0.5"}, "smu.compliance_current = 0.5 A (compliance)"),
        ("rram_iv_sweep", {"v_reset": "6"}, "smu.source_voltage = -6 V (form_v_max, v_set, v_reset)"),
        ("rram_form_array", {"v_stop": "5"}, "die.form_stop = 5 V (v_stop)"),
        ("rram_bit_error_rate", {"reset_gate": "4"}, "die.reset_gate = 4 V (reset_gate)"),
        ("stno_frequency_vs_current", {"i_stop": "0.02"}, "smu1.source_current = 0.02 A (i_start, i_stop)"),
        ("stno_frequency_vs_field", {"magnet_step": "1"},
         "magnet.current_setpoint = steps of 1 A (field_start, field_stop, field_per_amp, magnet_step)"),
        ("stno_frequency_vs_field", {"field_per_amp": "0.04"}, "magnet.current_setpoint = 13.75 A"),
        ("stno_injection_locking", {"p_stop": "3"}, "rf_a.power = 3 dBm (p_start, p_stop)"),
        ("stno_injection_locking", {"compliance": "2"}, "smu1.compliance_voltage = 2 V (compliance)"),
        ("stno_mutual_sync", {"i_stop": "0.011"}, "smu2.source_current = 0.011 A (i_start, i_stop)"),
        ("stno_vowel_recognition", {"rf_power": "2"}, "rf_a.power = 2 dBm (rf_power)"),
    ],
)
def test_each_protocols_plan_is_refused_before_anything_is_connected(tmp_path, monkeypatch, name, params,
                                                                     refused):
    def no_connect(*args, **kwargs):
        raise AssertionError("connected before the plan was checked")

    monkeypatch.setattr(Station, "connect", no_connect)
    cls = get_protocol(name)
    runner = Runner(cls(**params), Station.load(cls.STATION), tmp_path / "x.h5")
    with pytest.raises(LimitError, match="plan refused before the run") as info:
        runner.prepare()
    assert refused in str(info.value)
    assert not (tmp_path / "x.h5").exists()


def test_every_shipped_protocol_plans_within_its_own_station_by_default(tmp_path):
    for name, cls in protocols().items():
        checks = Runner(cls(), Station.load(cls.STATION), tmp_path / "x.h5").plan_checks()
        assert all(c.ok for c in checks), (name, [c.line() for c in checks if not c.ok])


def test_a_property_limit_covers_method_arguments_of_its_name_and_method_limits_their_own():
    station = Station("s", path=None, roles={"smu": RoleSpec("smu", "D", "R", limits=[
        Limit("compliance_current", abs=0.1), Limit("apply_voltage.voltage", max=1.0), Limit("power", step=2.0)])})
    plan = {
        "smu.ramp.compliance_current": Planned([0.2]),   # a property limit covers any argument of its name
        "smu.apply_voltage.voltage": Planned([0.5, 1.5]),
        "smu.power": Planned([0, 10], step=3.0),
        "smu.source_current": Planned([5.0]),              # no limit: shown, never refused
        "other.anything": Planned([1e9]),
    }
    checks = {c.setting: c for c in check_plan(plan, station)}
    assert checks["smu.ramp.compliance_current"].problems == ["0.2"]
    assert checks["smu.apply_voltage.voltage"].problems == ["1.5"]
    assert checks["smu.power"].problems == ["steps of 3"]
    assert checks["smu.source_current"].ok and checks["smu.source_current"].limit is None
    assert checks["other.anything"].ok


def test_a_script_is_refused_the_same_way(tmp_path):
    from labctl import run_protocol

    with pytest.raises(LimitError, match="smu.source_voltage = 5 V"):
        run_protocol("demo_iv", tmp_path / "iv.h5", v_stop=5)
    assert not (tmp_path / "iv.h5").exists()
