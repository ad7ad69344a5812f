"""STNO frequency, power and linewidth versus dc current at a fixed out-of-plane field.

The vortex gyrotropic frequency rises with current (Oersted confinement and the nonlinear shift of the
growing orbit); below the threshold current there is no auto-oscillation peak.
"""

from __future__ import annotations

import numpy as np

from labctl.protocol import Column, FloatParameter, IntegerParameter, Plot, Role, Sweep
from labctl.protocols._stno.base import PEAK_COLUMNS, STNOSpectra
from labctl.protocols._stno.figures import spectra_figure


class FrequencyVsCurrent(STNOSpectra):
    """STNO spectra versus dc current."""

    NAME = "stno_frequency_vs_current"
    COLUMNS = (Column("dc_current", "A", "DC current", axis=True),
               Column("voltage", "V", "Pillar voltage"),
               Column("field", "T", "Measured field")) + PEAK_COLUMNS
    PLOTS = (Plot("frequency", "peak_frequency", title="Oscillation frequency vs DC current"),
             Plot("power", "peak_power", title="Peak power vs DC current"),
             Plot("linewidth_vs_current", "linewidth", title="Linewidth vs DC current"),
             Plot("pillar_voltage", "voltage", title="Pillar voltage vs DC current"))
    DEFAULT = "frequency"

    SETPOINTS = {"smu1.source_current": ("i_start", "i_stop")}

    smu1 = Role("source-measure unit biasing the oscillator")

    i_start = FloatParameter("Start current", units="A", default=4.5e-3, minimum=-0.1, maximum=0.1)
    i_stop = FloatParameter("Stop current", units="A", default=9e-3, minimum=-0.1, maximum=0.1)
    steps = IntegerParameter("Current steps", default=46, minimum=2, maximum=10_000)

    def currents(self):
        return np.linspace(self.i_start, self.i_stop, self.steps)

    def scan(self):
        return (Sweep("dc_current", self.currents()),)

    def sweep(self):
        field = self.go_to_field(self.field)
        for k, i in enumerate(self.currents()):
            self.smu1.source_current = i
            self.wait(self.settle)
            f, p, w = self.measure_spectrum(dc_current=i)
            self.emit_point(dc_current=i, voltage=self.smu1.voltage, field=field, peak_frequency=f,
                            peak_power=p, linewidth=w)
            self.progress(k + 1, self.steps)

    @classmethod
    def figure(cls, run):
        return spectra_figure(run, "dc_current", 1e3, "DC current (mA)")
