"""The labctl command: bad input -> exit 2 and no file; real subprocess runs killed and interrupted."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from labctl.cli import main
from labctl.results import open_run

BAD_STATION = "roles:\n  smu: {driver: pymeasure.instruments.keithley.Keithley2400}\n"
DEAD_STATION = textwrap.dedent(
    """\
    roles:
      smu:
        driver: pymeasure.instruments.keithley.Keithley2400
        resource: "GPIB0::9::INSTR"
        visa_library: "demo.yaml@labsim"
    """
)


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "no_such"], "unknown protocol 'no_such'"),
        (["run", "demo_iv", "-p", "volts=1"], "no parameter 'volts'"),
        (["run", "demo_iv", "-p", "points=many"], "points='many': must be an integer"),
        (["run", "demo_iv", "-p", "v_stop=999"], "must be a number in [-210 V, 210 V]"),
        (["run", "demo_iv", "-p", "points"], "-p expects NAME=VALUE"),
        (["run", "demo_iv", "--bench-option", "seed=3"], "--bench-option expects PARAM=VALUE"),
        (["run", "demo_iv", "--station", "missing.yaml"], "station file 'missing.yaml' not found"),
        (["run", "demo_iv", "--station", "bad.yaml"], "'resource' is required"),
        (["run", "demo_iv", "--station", "garbage.yaml"], "not a readable YAML station file"),
        (["run", "demo_iv", "--station", "dead.yaml"], "cannot open 'GPIB0::9::INSTR'"),
        (["run", "demo_iv", "--out", "nodir/x.h5"], "directory nodir does not exist"),
        (["show", "missing.h5"], "no such run file"),
        (["show", "garbage.yaml"], "not a readable HDF5 run file"),
        (["bench", "show", "nope.yaml"], "no bench file 'nope.yaml'"),
        (["bench", "show", "garbage.yaml"], "not a readable YAML bench file"),
        (["bench", "show", "nodevice.yaml"], "resource 'X' needs 'device: NAME'"),
    ],
)
def test_bad_input_gives_one_line_exit_2_and_no_file(in_tmp, error_line, args, message):
    (in_tmp / "bad.yaml").write_text(BAD_STATION)
    (in_tmp / "garbage.yaml").write_text("roles: [unclosed\n")
    (in_tmp / "dead.yaml").write_text(DEAD_STATION)
    (in_tmp / "nodevice.yaml").write_text("resources:\n  X: {}\n")
    before = set(os.listdir(in_tmp))
    assert main(args) == 2
    line = error_line()
    assert line.startswith("labctl: error:") and message in line
    assert set(os.listdir(in_tmp)) == before  # nothing half-written left behind


@pytest.mark.parametrize("command", ["show", "plot"])
def test_hdf5_file_without_a_run_is_refused(in_tmp, error_line, command):
    h5py.File(in_tmp / "other.h5", "w").close()
    assert main([command, "other.h5"]) == 2
    assert "no NXentry" in error_line()


def test_existing_output_is_never_overwritten(in_tmp, error_line):
    (in_tmp / "run.h5").write_bytes(b"precious")
    assert main(["run", "demo_iv", "--out", "run.h5"]) == 2
    assert "run.h5 exists" in error_line()
    assert (in_tmp / "run.h5").read_bytes() == b"precious"


def test_bench_options_build_another_sample_and_are_recorded(in_tmp, capsys, error_line):
    args = ["run", "demo_iv", "-p", "points=3", "--bench-seed", "4", "--bench-option", "temperature=320"]
    assert main([*args, "--out", "warm.h5"]) == 0
    capsys.readouterr()
    with open_run(in_tmp / "warm.h5") as run:
        assert run.sample["bench_options"] == "temperature=320&seed=4"
    assert main(["run", "demo_iv", "--bench-option", "temprature=320", "--out", "typo.h5"]) == 2
    assert "temprature" in error_line()


def test_run_show_plot_list(in_tmp, capsys):
    assert main(["run", "demo_iv", "-p", "points=6", "-p", "v_stop=0.6 V", "--out", "iv.h5"]) == 0
    assert "completed: 6 points -> iv.h5" in capsys.readouterr().out
    assert main(["run", "demo_iv", "-p", "points=3", "--out", "iv.h5", "--entry", "again"]) == 0
    capsys.readouterr()
    assert main(["show", "iv.h5"]) == 0
    out = capsys.readouterr().out
    assert "iv.h5 :: entry" in out and "iv.h5 :: again" in out
    assert "status:     completed" in out and "v_stop = 0.6 V" in out
    assert "data: current (A) (6,)  axes [voltage]" in out
    assert main(["plot", "iv.h5", "--out-dir", "figs"]) == 0
    pngs = sorted(p.name for p in (in_tmp / "figs").iterdir())
    assert pngs == ["iv_again_default.png", "iv_again_figure.png", "iv_entry_default.png", "iv_entry_figure.png"]
    assert (in_tmp / "figs" / pngs[0]).read_bytes()[:4] == b"\x89PNG"
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "demo_iv" in out and "demo " in out and "demo.yaml" in out
    assert main(["bench", "show", "demo.yaml"]) == 0
    assert "GPIB0::24::INSTR" in capsys.readouterr().out


def test_failed_run_exits_1_with_message_and_file(in_tmp, capsys, monkeypatch):
    from labctl.protocol import get_protocol

    monkeypatch.setattr(get_protocol("demo_iv"), "plan", lambda self: {})  # refused while running
    assert main(["run", "demo_iv", "-p", "v_stop=3", "-p", "points=4", "--out", "f.h5"]) == 1
    err = capsys.readouterr().err
    assert "failed: 3 points -> f.h5" in err and "refused: station limit" in err
    assert main(["show", "f.h5", "--traceback"]) == 0
    assert "LimitError" in capsys.readouterr().out


def test_real_lab_path_reaches_pyvisa_py(in_tmp, error_line):
    """`pip install "labctl-nanodevices[lab]"` brings pyvisa-py: `--visa-library @py` gets as far as the
    resource (no GPIB board here), not "No package named pyvisa_py"."""
    from importlib.metadata import requires

    assert any(r.startswith("pyvisa-py") and 'extra == "lab"' in r for r in requires("labctl-nanodevices"))
    assert main(["run", "demo_iv", "--visa-library", "@py", "--out", "a.h5"]) == 2
    line = error_line()
    assert "cannot open 'GPIB0::24::INSTR'" in line and "pyvisa_py" not in line
    assert not (in_tmp / "a.h5").exists()


# -- real `labctl run` processes ---------------------------------------------------------------------
HOLDING_PROTOCOL = textwrap.dedent(
    """
    import sys
    import numpy as np
    from labctl.protocol import Column, IntegerParameter, Protocol, Role

    class Holding(Protocol):
        '''Sweep that stops after `hold` points until a line arrives on stdin.'''
        STATION = "demo"
        COLUMNS = (Column("voltage", "V", "Source voltage", axis=True),
                   Column("current", "A", "Measured current"))
        smu = Role("source-measure unit")
        hold = IntegerParameter("Points before holding", default=5)

        def startup(self):
            self.smu.source_mode = "voltage"
            self.smu.compliance_current = 0.01
            self.smu.enable_source()

        def execute(self):
            for k, v in enumerate(np.linspace(0, 0.6, 20)):
                self.smu.source_voltage = v
                self.emit_point(voltage=v, current=self.smu.current)
                if k + 1 == self.hold:
                    print("HOLD", flush=True)
                    sys.stdin.readline()

        def shutdown(self):
            self.smu.source_voltage = 0.0
            self.smu.disable_source()
            print("OUTPUT_ENABLED", self.smu.source_enabled, flush=True)
    """
)


def _start(tmp_path: Path, out: str, labctl_command) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.Popen(
        [*labctl_command, "run", "holding_protocol:Holding", "--out", out, "-q"],
        cwd=tmp_path, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


def _held(proc: subprocess.Popen) -> subprocess.Popen:
    line = proc.stdout.readline()
    if line.strip() != "HOLD":
        proc.kill()
        raise AssertionError(f"no HOLD: {line!r} {proc.stderr.read()}")
    return proc


@pytest.fixture(scope="module")
def runs(tmp_path_factory, labctl_command):
    """Two `labctl run` processes started together (start-up cost paid once, in parallel)."""
    tmp = tmp_path_factory.mktemp("runs")
    (tmp / "holding_protocol.py").write_text(HOLDING_PROTOCOL)
    procs = {name: _start(tmp, f"{name}.h5", labctl_command) for name in ("killed", "aborted")}
    procs["script"] = subprocess.Popen(  # the same protocol run from a plain script
        [sys.executable, "-c", "from labctl import run_protocol; "
         "r = run_protocol('holding_protocol:Holding', 'script.h5'); print('STATUS', r.status, r.points)"],
        cwd=tmp, env={**os.environ, "PYTHONPATH": str(tmp)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    yield tmp, procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.slow
def test_sigkilled_run_leaves_a_readable_file_with_flushed_points(runs):
    tmp, procs = runs
    proc = _held(procs["killed"])
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    with open_run(tmp / "killed.h5") as run:
        assert run.status == "incomplete" and run.recorded_status == "running"
        np.testing.assert_allclose(run["voltage"].values, np.linspace(0, 0.6, 20)[:5])
        assert np.all(np.diff(run["current"].values) > 0)
        assert run.instruments["smu"]["idn"].startswith("KEITHLEY")
    assert main(["show", str(tmp / "killed.h5")]) == 0
    with pytest.raises(OSError):  # HDF5 still marks it open for writing: plain tools refuse it
        h5py.File(tmp / "killed.h5", "r").close()
    assert main(["recover", str(tmp / "killed.h5")]) == 0
    with h5py.File(tmp / "killed.h5", "r") as f:
        assert f["entry/data/voltage"].shape == (5,) and f["entry/status"][()] == b"running"


@pytest.mark.slow
def test_ctrl_c_aborts_at_checkpoint_shuts_down_and_exits_nonzero(runs):
    tmp, procs = runs
    proc = _held(procs["aborted"])
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate("\n")  # release the hold: the next command sent (the 6th voltage) aborts
    assert proc.returncode == 130, err
    assert "abort requested" in err and "aborted: 5 points" in err and "Traceback" not in err
    assert "OUTPUT_ENABLED False" in out
    with open_run(tmp / "aborted.h5") as run:
        assert run.status == "aborted" and len(run["voltage"].values) == 5


@pytest.mark.slow
def test_sigterm_aborts_a_run_started_from_a_script(runs):
    """The runner, not the CLI, turns signals into an abort: scripts stop as cleanly as `labctl run`."""
    tmp, procs = runs
    proc = _held(procs["script"])
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate("\n")
    assert proc.returncode == 0, err
    assert "OUTPUT_ENABLED False" in out and "STATUS aborted 5" in out and "Traceback" not in err
    with open_run(tmp / "script.h5") as run:
        assert run.status == "aborted" and len(run["voltage"].values) == 5


SCRIPT = shutil.which("labctl", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(SCRIPT is None, reason="console script not installed")
def test_console_script_entry_point():
    res = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "run" in res.stdout and "bench" in res.stdout


def test_plot_without_protocol_draws_every_nxdata_including_map_stacks(in_tmp, capsys):
    from labctl.store import Array, Axis, RunWriter

    maps = Array("bit_map", (32, 32), "", "Read bits", axes=(Axis("row"), Axis("col")), dtype="i1")
    w = RunWriter(in_tmp / "maps.h5", arrays=[maps], title="32x32 maps")
    rng = np.random.default_rng(0)
    for _ in range(6):
        w.append_array("bit_map", rng.integers(0, 2, (32, 32)))
    w.finish("completed")
    assert main(["plot", "maps.h5"]) == 0
    assert capsys.readouterr().out.split() == [str(in_tmp / "maps_entry_bit_map.png")]


def test_plot_of_a_run_killed_between_two_columns(in_tmp, capsys):
    from labctl.store import Array, Axis, Column, RunWriter

    cols = [Column("v", "V", axis=True), Column("i", "A"), Column("r", "ohm")]
    traces = Array("trace", (4,), "dBm", axes=(Axis("f", "Hz"),), index=(Column("bias", "A"),))
    w = RunWriter(in_tmp / "cut.h5", cols, [traces], title="cut")
    for k in range(3):
        w.append(v=k, i=k, r=k)
        w.append_array("trace", np.zeros(4), bias=k)
    w.finish("completed")
    with h5py.File(in_tmp / "cut.h5", "r+") as f:  # what a kill between two appends leaves
        f["entry/data/r"].resize((4,))
        f["entry/trace/bias"].resize((2,))
        f["entry/status"][()] = "running"
    assert main(["plot", "cut.h5"]) == 0
    assert len(capsys.readouterr().out.split()) == 2
    with open_run(in_tmp / "cut.h5") as run:  # the reader shows complete records only
        assert not run.complete
        assert {k: len(f.values) for k, f in run.columns().items()} == {"v": 3, "i": 3, "r": 3, "time": 3}
        trace = run.data("trace")
        assert trace.signal.values.shape == (2, 4) and trace.axes[1].values.shape == (4,)
        assert len(run.to_pandas()) == 3


def test_plot_falls_back_to_generic_figures_when_the_protocols_fails(in_tmp, capsys, monkeypatch):
    from labctl.protocol import get_protocol

    assert main(["run", "demo_iv", "-p", "points=3", "--out", "iv.h5", "-q"]) == 0

    def broken(cls, run):
        raise IndexError("needs more points")

    monkeypatch.setattr(get_protocol("demo_iv"), "figure", classmethod(broken))
    capsys.readouterr()
    with pytest.warns(UserWarning, match="DemoIV.figure failed .IndexError: needs more points"):
        assert main(["plot", "iv.h5"]) == 0
    assert capsys.readouterr().out.split() == [str(in_tmp / "iv_entry_data.png")]


def test_a_protocol_module_that_fails_to_import_shows_its_error(in_tmp, capsys, monkeypatch):
    import labctl.protocols
    from labctl.registry import DISCOVERY_ERRORS

    (in_tmp / "broken_sweep.py").write_text("import numpy_with_a_typo\n")
    monkeypatch.setattr(labctl.protocols, "__path__", [*labctl.protocols.__path__, str(in_tmp)])
    monkeypatch.setattr("labctl.registry.DISCOVERY_ERRORS", dict(DISCOVERY_ERRORS))
    assert main(["run", "broken_sweep"]) == 2
    err = capsys.readouterr().err
    assert "labctl.protocols.broken_sweep failed to import (ModuleNotFoundError" in err
    assert "numpy_with_a_typo" in err and len(err.strip().splitlines()) == 1
