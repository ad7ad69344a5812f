"""labctl: lab automation for memory-centric neuromorphic nanodevice experiments."""

from pathlib import Path as _Path

__version__ = "0.1.0"


def _checkout_root() -> str | None:
    """The source checkout this package sits in, if any: its sibling folders (``instruments/``,
    ``protocols/``, ...) are the sub-packages the wheel installs as ``labctl.*`` (see setup.py)."""
    root = _Path(__file__).resolve().parent.parent
    markers = ("pyproject.toml", "setup.py", "instruments/__init__.py", "protocols/__init__.py")
    return str(root) if all((root / m).is_file() for m in markers) else None


# In a source checkout (editable or not, started from anywhere, the repository root included), the
# sub-packages resolve to the sibling folders, exactly as setup.py maps them into the wheel.
if (_root := _checkout_root()) is not None and _root not in __path__:
    __path__.append(_root)

# Public names, imported on first use (PEP 562) so that `import labctl` (done by the @labsim
# backend too) stays light and pulls in neither pymeasure nor h5py.
_EXPORTS = {
    "Protocol": "labctl.protocol",
    "Role": "labctl.protocol",
    "RunAborted": "labctl.protocol",
    "Column": "labctl.schema",
    "Array": "labctl.schema",
    "Axis": "labctl.schema",
    "Station": "labctl.station",
    "LimitError": "labctl.errors",
    "Runner": "labctl.runner",
    "run_protocol": "labctl.runner",
    "open_run": "labctl.results",
    "clock_of": "labctl.capabilities",
    "run_campaign": "labctl.campaign",
    "open_campaign": "labctl.campaign_index",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'labctl' has no attribute {name!r}")
