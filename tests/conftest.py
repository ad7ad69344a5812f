"""Shared fixtures: every test starts on simulated benches as they were at power-on; the command line
run from a scratch folder, in process or as a subprocess."""

import sys

import pytest
import pyvisa

from labctl.sim_backends.bench_file import resolve

pytest_plugins = ["labctl.sim_backends.pytest_plugin", "pytester"]

DEMO = str(resolve("demo.yaml"))


@pytest.fixture(autouse=True)
def _fresh_benches(labsim_reset):
    yield


@pytest.fixture
def rm():
    """A resource manager on the demo bench."""
    manager = pyvisa.ResourceManager(DEMO + "@labsim")
    yield manager
    manager.close()


@pytest.fixture
def smu(rm):
    """The demo bench's Keithley 2400 (diode), as a raw pyvisa resource."""
    inst = rm.open_resource("GPIB0::24::INSTR", read_termination="\n", write_termination="\n")
    yield inst
    inst.close()


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """A fresh current folder (relative paths, default run files and the demo land there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def error_line(capsys):
    """``error_line()``: the one line a refused command wrote on stderr (no traceback, no second line)."""

    def read() -> str:
        err = capsys.readouterr().err
        assert "Traceback" not in err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        return lines[0]

    return read


@pytest.fixture(scope="session")
def labctl_command():
    """The ``labctl`` command of this interpreter, for a subprocess (argv without the arguments)."""
    return [sys.executable, "-c", "import sys; from labctl.cli import main; sys.exit(main())"]
