import pytest


@pytest.fixture(autouse=True)
def _fresh_benches(labsim_reset):
    """Every test starts on simulated benches as they were at power-on."""
    yield
