"""pytest plugin: the ``labsim_reset`` fixture, for tests that run on simulated benches.

Simulated state outlives ``ResourceManager.close()`` (pyvisa caches one library per bench spec), so
without a reset one test's programmed die or ramped magnet leaks into the next. Load it explicitly
where it is wanted (``pytest_plugins = ["labctl.sim_backends.pytest_plugin"]`` in a conftest, or
``pytest -p labctl.sim_backends.pytest_plugin``): it is not registered globally, so installing labctl
does not import pyvisa-sim into every pytest session of the environment.
"""

from __future__ import annotations

import pytest

from labctl.sim_backends.visa_library import LabSimVisaLibrary


@pytest.fixture
def labsim_reset():
    """Reset every live bench before and after the test."""
    LabSimVisaLibrary.reset_all()
    yield
    LabSimVisaLibrary.reset_all()
