"""Injection locking of an STNO to the strip-line microwave field: the Arnold tongue.

For each rf power the generator's frequency is stepped across the free-running oscillation; where the
oscillator's spectral peak sits on the rf frequency it is locked, just outside it is pulled toward it.
The locked band's half-width grows linearly with the rf amplitude for weak drive (Adler; Slavin &
Tiberkevich, IEEE Trans. Magn. 45, 1875 (2009)); the figure shows the tongue and that linear fit.
"""

from __future__ import annotations

import numpy as np

from labctl.protocol import Column, FloatParameter, IntegerParameter, Plot, Role, Sweep
from labctl.protocols._stno.base import PEAK_COLUMNS, STNOSpectra
from labctl.protocols._stno.figures import tongue_figure
from labctl.protocols._stno.spectra import peak

Z0 = 50.0


class InjectionLocking(STNOSpectra):
    """STNO injection locking map (rf frequency x rf power)."""

    NAME = "stno_injection_locking"
    RF_ROLES = ("rf_a",)
    SWEEP = Column("rf_frequency", "Hz", "RF frequency")
    COLUMNS = (Column("rf_frequency", "Hz", "RF frequency", axis=True),
               Column("rf_power", "dBm", "RF power", axis=True),
               Column("rf_amplitude", "V", "RF amplitude on 50 ohm"),
               Column("free_frequency", "Hz", "Free-running frequency"),
               Column("locked", "", "Locked (1) or not (0)"),
               Column("pulling", "Hz", "Oscillator minus RF frequency")) + PEAK_COLUMNS
    PLOTS = (Plot("locking_map", "pulling", title="Locking map: oscillator minus RF frequency"),
             Plot("locked_map", "locked", title="Locked (1) or not (0)"),
             Plot("frequency_map", "peak_frequency", title="Oscillator frequency"),
             Plot("power_map", "peak_power", title="Peak power"),
             Plot("linewidth_map", "linewidth", title="Linewidth"))
    DEFAULT = "locking_map"

    SETPOINTS = {"smu1.source_current": "current", "rf_a.power": ("p_start", "p_stop")}

    smu1 = Role("source-measure unit biasing the oscillator")
    rf_a = Role("microwave generator feeding the strip line")

    current = FloatParameter("DC current", units="A", default=7e-3, minimum=-0.1, maximum=0.1)
    rbw = FloatParameter("Resolution bandwidth", units="Hz", default=300e3, minimum=1e3, maximum=5e6)
    span = FloatParameter("Analyzer span around the free-running frequency", units="Hz", default=20e6,
                          minimum=1e5, maximum=1e9)
    detuning = FloatParameter("RF detuning range (+-)", units="Hz", default=8e6, minimum=1e4,
                              maximum=1e9)
    detuning_steps = IntegerParameter("RF frequency steps", default=41, minimum=3, maximum=2001)
    p_start = FloatParameter("Lowest rf power", units="dBm", default=-25.0, minimum=-135, maximum=25)
    p_stop = FloatParameter("Highest rf power", units="dBm", default=-10.0, minimum=-135, maximum=25)
    p_steps = IntegerParameter("RF power steps", default=4, minimum=1, maximum=101)
    lock_tolerance = FloatParameter("Locked when |f_peak - f_rf| below", units="Hz", default=100e3,
                                    minimum=1.0, maximum=1e8)

    def powers(self):
        return np.linspace(self.p_start, self.p_stop, self.p_steps)

    def scan(self):
        # rf frequencies sit around the free-running frequency measured at the start: known then
        return (Sweep("rf_power", self.powers()), Sweep("rf_frequency", size=self.detuning_steps))

    def sweep(self):
        self.go_to_field(self.field)
        self.smu1.source_current = self.current
        self.wait(self.settle)
        # find the free-running oscillation on the wide span, then zoom on it
        f0 = peak(self.frequencies, self.analyzer.trace())[0]
        self.analyzer.start_frequency = f0 - self.span / 2
        self.analyzer.stop_frequency = f0 + self.span / 2
        self.use_analyzer_frequencies()
        f0 = peak(self.frequencies, self.analyzer.trace())[0]
        powers = self.powers()
        f_rf = f0 + np.linspace(-self.detuning, self.detuning, self.detuning_steps)
        if f_rf[0] <= 0:
            raise ValueError(f"detuning {self.detuning:g} Hz reaches below 0 Hz from the oscillation "
                             f"at {f0:g} Hz")
        total, done = len(powers) * len(f_rf), 0
        for p in powers:
            self.rf_a.power = p
            amplitude = np.sqrt(2 * Z0 * 1e-3 * 10 ** (p / 10))
            for f in f_rf:
                self.rf_a.frequency = f
                self.rf_a.enable()
                self.wait(self.settle)
                fp, pp, w = self.measure_spectrum(rf_frequency=f)
                self.emit_point(rf_frequency=f, rf_power=p, rf_amplitude=amplitude,
                                free_frequency=f0, locked=float(abs(fp - f) < self.lock_tolerance), pulling=fp - f,
                                peak_frequency=fp, peak_power=pp, linewidth=w)
                done += 1
                self.progress(done, total)
        self.rf_a.disable()

    @staticmethod
    def halfwidths(run):
        """(rf amplitudes V, locking half-widths Hz, (slope, intercept) of the weak-drive linear fit)."""
        amp = run["rf_amplitude"].values
        f_rf = run["rf_frequency"].values
        locked = run["locked"].values > 0.5
        levels = np.unique(amp)
        step = np.min(np.diff(np.unique(f_rf))) if len(np.unique(f_rf)) > 1 else 0.0
        widths = []
        for a in levels:
            sel = (amp == a) & locked
            widths.append((np.ptp(f_rf[sel]) + step) / 2 if sel.any() else 0.0)
        widths = np.array(widths)
        fit = np.polyfit(levels, widths, 1) if len(levels) > 1 else (widths[0] / levels[0], 0.0)
        return levels, widths, (float(fit[0]), float(fit[1]))

    @classmethod
    def figure(cls, run):
        return tongue_figure(run, cls.halfwidths(run))
