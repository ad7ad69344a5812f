"""labctl: lab automation for memory-centric neuromorphic nanodevice experiments."""

__version__ = "0.1.0"

# Public names, imported on first use (PEP 562) so that `import labctl` (done by the @labsim
# backend too) stays light and pulls in neither pymeasure nor h5py.
_EXPORTS = {
    "Protocol": "labctl.protocol",
    "Role": "labctl.protocol",
    "RunAborted": "labctl.protocol",
    "Column": "labctl.store",
    "Array": "labctl.store",
    "Axis": "labctl.store",
    "Station": "labctl.station",
    "LimitError": "labctl.station",
    "Runner": "labctl.runner",
    "run_protocol": "labctl.runner",
    "open_run": "labctl.results",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'labctl' has no attribute {name!r}")
