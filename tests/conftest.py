"""Shared fixtures: every test starts on simulated benches as they were at power-on."""

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
