"""STNO frequency, power and linewidth versus out-of-plane field at a fixed dc current.

The field stiffens the vortex gyrotropic mode, so the frequency rises with it; it also tilts the
polarizer out of plane, which is what lets the spin torque sustain the oscillation.
"""

from __future__ import annotations

import numpy as np

from labctl.protocol import Column, FloatParameter, IntegerParameter, Plot, Role, Sweep
from labctl.protocols._stno.base import PEAK_COLUMNS, STNOSpectra
from labctl.protocols._stno.figures import spectra_figure


class FrequencyVsField(STNOSpectra):
    """STNO spectra versus out-of-plane field."""

    NAME = "stno_frequency_vs_field"
    SWEEP = Column("field", "T", "Measured field")
    COLUMNS = (Column("field_setpoint", "T", "Field setpoint", axis=True),
               Column("field", "T", "Measured field")) + PEAK_COLUMNS
    PLOTS = (Plot("frequency", "peak_frequency", title="Oscillation frequency vs out-of-plane field"),
             Plot("power", "peak_power", title="Peak power vs field"),
             Plot("linewidth_vs_field", "linewidth", title="Linewidth vs field"),
             Plot("measured_field", "field", title="Field measured at the sample vs setpoint"))
    DEFAULT = "frequency"

    FIELDS = ("field_start", "field_stop")
    SETPOINTS = {"smu1.source_current": "current"}

    smu1 = Role("source-measure unit biasing the oscillator")

    current = FloatParameter("DC current", units="A", default=7e-3, minimum=-0.1, maximum=0.1)
    field_start = FloatParameter("Start field", units="T", default=0.3, minimum=-0.6, maximum=0.6)
    field_stop = FloatParameter("Stop field", units="T", default=0.55, minimum=-0.6, maximum=0.6)
    steps = IntegerParameter("Field steps", default=11, minimum=2, maximum=1000)

    def fields(self):
        return np.linspace(self.field_start, self.field_stop, self.steps)

    def scan(self):
        return (Sweep("field_setpoint", self.fields()),)

    def sweep(self):
        self.smu1.source_current = self.current
        for k, b in enumerate(self.fields()):
            measured = self.go_to_field(b)
            self.wait(self.settle)
            f, p, w = self.measure_spectrum(field=measured)
            self.emit_point(field=measured, field_setpoint=b, peak_frequency=f, peak_power=p,
                            linewidth=w)
            self.progress(k + 1, self.steps)

    @classmethod
    def figure(cls, run):
        return spectra_figure(run, "field", 1e3, "Out-of-plane field (mT)")
