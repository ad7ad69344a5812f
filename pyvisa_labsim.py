"""pyvisa backend entry point: ``pyvisa.ResourceManager("bench.yaml@labsim")``.

pyvisa resolves the ``@labsim`` suffix by importing the top-level module ``pyvisa_labsim`` and
reading ``WRAPPER_CLASS``; the whole backend lives in :mod:`labctl.sim_backends.visa_library`.
"""

from labctl.sim_backends.visa_library import LabSimVisaLibrary as WRAPPER_CLASS

__all__ = ["WRAPPER_CLASS"]
