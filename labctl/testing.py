"""pytest plugin: every test starts on freshly powered-on simulated benches.

Simulated state outlives ``ResourceManager.close()`` (pyvisa caches one library per bench file),
so without a reset one test's programmed die or ramped magnet leaks into the next. Registered as a
``pytest11`` entry point: any project with labctl installed gets the ``labsim_reset`` fixture.
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
