"""Mutual synchronization of electrically coupled STNOs (Romera et al., Nature 563, 230 (2018)).

Oscillator A is held at a fixed current; the current of oscillator B is swept so that its free-running
frequency crosses A's. The two spectral peaks approach, merge into one over the range where the
microwave currents they send each other lock them, and separate again beyond it. Oscillators C and D
(smu3, smu4) are biased at their own fixed currents for a four-oscillator network, or left unbiased
(current 0, the default) for a pair.
"""

from __future__ import annotations

import numpy as np

from labctl.protocol import Column, FloatParameter, IntegerParameter, Plot, Role, Sweep
from labctl.protocols._stno.base import STNOSpectra
from labctl.protocols._stno.figures import spectra_figure
from labctl.protocols._stno.spectra import separate_peaks


class MutualSync(STNOSpectra):
    """Mutual synchronization of series-coupled STNOs (B swept across A; C, D optional)."""

    NAME = "stno_mutual_sync"
    SMU_ROLES = ("smu1", "smu2", "smu3", "smu4")
    SWEEP = Column("current_b", "A", "Current of oscillator B")
    COLUMNS = (Column("current_b", "A", "Current of oscillator B", axis=True),
               Column("n_peaks", "", "Separate spectral peaks"),
               Column("peak_frequency", "Hz", "Strongest peak frequency"),
               Column("peak_power", "dBm", "Strongest peak power"),
               Column("linewidth", "Hz", "Strongest peak linewidth (-3 dB)"),
               Column("second_frequency", "Hz", "Second peak frequency (NaN if merged)"),
               Column("second_power", "dBm", "Second peak power (NaN if merged)"))
    PLOTS = (Plot("frequencies", "peak_frequency", ("second_frequency",),
                  title="Peak frequencies vs current of oscillator B"),
             Plot("powers", "peak_power", ("second_power",), title="Peak powers vs current of B"),
             Plot("peaks", "n_peaks", title="Separate spectral peaks (1: synchronized)"),
             Plot("linewidth_vs_current", "linewidth", title="Linewidth of the strongest peak"))
    DEFAULT = "frequencies"

    SETPOINTS = {"smu1.source_current": "current_a", "smu2.source_current": ("i_start", "i_stop"),
                 "smu3.source_current": "current_c", "smu4.source_current": "current_d"}

    smu1 = Role("source-measure unit biasing oscillator A")
    smu2 = Role("source-measure unit biasing oscillator B")
    smu3 = Role("source-measure unit biasing oscillator C")
    smu4 = Role("source-measure unit biasing oscillator D")

    current_a = FloatParameter("Current of oscillator A", units="A", default=7e-3, minimum=-0.1,
                               maximum=0.1)
    current_c = FloatParameter("Current of oscillator C (0 = unbiased)", units="A", default=0.0,
                               minimum=-0.1, maximum=0.1)
    current_d = FloatParameter("Current of oscillator D (0 = unbiased)", units="A", default=0.0,
                               minimum=-0.1, maximum=0.1)
    i_start = FloatParameter("Start current of B", units="A", default=5e-3, minimum=-0.1, maximum=0.1)
    i_stop = FloatParameter("Stop current of B", units="A", default=9.5e-3, minimum=-0.1, maximum=0.1)
    steps = IntegerParameter("Current steps", default=46, minimum=2, maximum=10_000)
    separation = FloatParameter("Peaks closer than this count as one", units="Hz", default=2e6,
                                minimum=1e3, maximum=1e9)

    def currents(self):
        return np.linspace(self.i_start, self.i_stop, self.steps)

    def scan(self):
        return (Sweep("current_b", self.currents()),)

    def sweep(self):
        self.go_to_field(self.field)
        self.smu1.source_current = self.current_a
        self.smu3.source_current = self.current_c
        self.smu4.source_current = self.current_d
        for k, i in enumerate(self.currents()):
            self.smu2.source_current = i
            self.wait(self.settle)
            trace = self.analyzer.trace()
            self.emit_array("spectrum", trace, current_b=i)
            found = separate_peaks(self.frequencies, trace, exclusion=self.separation)
            first = found[0] if found else (np.nan, np.nan, np.nan)
            second = found[1] if len(found) > 1 else (np.nan, np.nan, np.nan)
            self.emit_point(current_b=i, n_peaks=len(found), peak_frequency=first[0],
                            peak_power=first[1], linewidth=first[2], second_frequency=second[0],
                            second_power=second[1])
            self.progress(k + 1, self.steps)

    @classmethod
    def figure(cls, run):
        return spectra_figure(run, "current_b", 1e3, "Current of oscillator B (mA)", second="second_frequency")
