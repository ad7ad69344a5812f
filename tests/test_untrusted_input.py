"""Files from elsewhere are data, and bad values are refused up front: nothing runs, nothing is written."""

import copy
import os
import textwrap

import pytest
import yaml

from labctl.cli import main
from labctl.errors import StationError
from labctl.protocol import ParameterError
from labctl.runner import run_protocol
from labctl.sim_backends.bench_file import resolve
from labctl.station import Station


@pytest.fixture
def in_tmp(in_tmp, monkeypatch):
    """The shared scratch folder, importable too, as a user's own driver package would be."""
    monkeypatch.syspath_prepend(str(in_tmp))
    return in_tmp


def _station(path, driver, library="demo.yaml@labsim"):
    path.write_text(textwrap.dedent(f"""\
        roles:
          smu:
            driver: {driver}
            resource: "GPIB0::24::INSTR"
            visa_library: "{library}"
        """))
    return path


# -- station drivers --------------------------------------------------------------------------------
TRAP = "import pathlib; pathlib.Path('imported.txt').write_text('code from a station file ran')\n"


@pytest.mark.parametrize("driver", ["os.system", "trap_module.Driver", "subprocess:run"])
def test_a_station_driver_outside_the_allowed_packages_is_never_imported(in_tmp, error_line, driver):
    (in_tmp / "trap_module.py").write_text(TRAP + "class Driver: pass\n")
    _station(in_tmp / "st.yaml", driver)
    assert main(["run", "demo_iv", "--station", "st.yaml", "--out", "x.h5"]) == 2
    assert "is not from an allowed package (pymeasure, labctl)" in error_line()
    assert sorted(os.listdir(in_tmp)) == ["st.yaml", "trap_module.py"]  # nothing ran, nothing written


def test_a_station_driver_must_be_an_instrument_class(in_tmp, error_line):
    _station(in_tmp / "st.yaml", "pymeasure.experiment.Procedure")
    assert main(["run", "demo_iv", "--station", "st.yaml", "--out", "x.h5"]) == 2
    assert "is not a pymeasure Instrument class" in error_line()


def test_a_driver_package_the_user_names_is_allowed(in_tmp, capsys):
    (in_tmp / "mylab.py").write_text(
        "from pymeasure.instruments.keithley import Keithley2400\n\nclass LabSMU(Keithley2400):\n    pass\n")
    _station(in_tmp / "st.yaml", "mylab.LabSMU")
    with pytest.raises(StationError, match="labctl run --allow-import mylab"):
        Station.load(in_tmp / "st.yaml").connect()
    lab = Station.load(in_tmp / "st.yaml", allow_import=["mylab"]).connect()
    lab.close()
    assert main(["run", "demo_iv", "-p", "points=3", "--station", "st.yaml", "--out", "x.h5", "-q",
                 "--allow-import", "mylab"]) == 0


# -- bench files ------------------------------------------------------------------------------------
def _bench(tmp_path, edit) -> str:
    data = copy.deepcopy(yaml.safe_load(resolve("demo.yaml").read_text()))
    edit(data, data["devices"]["smu_diode"])
    (tmp_path / "bench.yaml").write_text(yaml.safe_dump(data))
    return "bench.yaml@labsim"


@pytest.mark.parametrize("edit, message", [
    (lambda d, dev: dev.update({"x-model": "os:system"}), "x-model 'os:system' is not a ScpiEmulator class"),
    (lambda d, dev: d["x-bench"].update({"model": "os:getcwd"}), "x-bench model 'os:getcwd' is not a Bench class"),
    (lambda d, dev: dev.update({"x-model": "labctl.sim_backends.nosuch:Emulator"}),
     "no module 'labctl.sim_backends.nosuch'"),
    (lambda d, dev: dev.update({"x-options": {"dut": "diode", "bogus": 1}}), "unexpected keyword argument 'bogus'"),
    (lambda d, dev: dev["properties"].update({"broken": {"getter": {"r": "1"}}}),
     "In device smu_diode, malformed property broken"),
])
def test_a_bench_file_calls_only_emulators_and_says_what_is_wrong_in_one_line(in_tmp, error_line, edit, message):
    _station(in_tmp / "st.yaml", "pymeasure.instruments.keithley.Keithley2400", _bench(in_tmp, edit))
    assert main(["run", "demo_iv", "--station", "st.yaml", "--out", "x.h5"]) == 2
    line = error_line()
    assert message in line and "bench.yaml" in line
    assert "PyVISA is not present" not in line and "\\n" not in line


# -- bad values: refused when set, for the CLI and scripts alike -------------------------------------
@pytest.mark.parametrize("protocol, param, message", [
    ("demo_iv", "v_stop=nan", "must be a number in [-210 V, 210 V] (a finite one)"),
    ("demo_iv", "settle=nan", "(a finite one)"),
    ("demo_iv", "v_stop=inf", "must be a number in [-210 V, 210 V]"),
    ("rram_endurance", "max_cycles=nan", "(a finite one)"),
    ("rram_bit_error_rate", "compliances=abc", "must be comma-separated numbers in [5 uA, 500 uA]"),
    ("rram_bit_error_rate", "compliances=20e-6,nan", "nan is outside"),
    ("rram_bit_error_rate", "cycle_points=-5", "-5 is outside"),
    ("rram_bit_error_rate", "cycle_points=inf", "inf is outside"),
    ("rram_bit_error_rate", "cycle_points=1e15", "1e15 is outside"),
    ("rram_bit_error_rate", "cycle_points=2.5", "2.5 is not whole"),
    ("rram_bnn_inference", "training_ber=0.7", "0.7 is outside"),
])
def test_bad_values_exit_2_and_write_nothing(in_tmp, error_line, protocol, param, message):
    assert main(["run", protocol, "-p", param, "--out", "x.h5"]) == 2
    assert message in error_line()
    assert os.listdir(in_tmp) == []
    name, _, value = param.partition("=")
    with pytest.raises(ParameterError, match="must be"):
        run_protocol(protocol, in_tmp / "y.h5", **{name: value})
    assert os.listdir(in_tmp) == []


def test_list_parameters_keep_their_values_as_text(tmp_path):
    from labctl.protocol import get_protocol

    p = get_protocol("rram_bit_error_rate")(compliances=[20e-6, 5e-5], cycle_points="0; 1000")
    assert p.compliances == "2e-05, 5e-05" and p.cycle_points == "0, 1000"

