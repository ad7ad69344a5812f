"""The abstract STNO protocol: the analyzer, the magnet, biasing pillars, safe shutdown.

Abstract (no NAME): `stno_frequency_vs_current`, `stno_frequency_vs_field`, `stno_injection_locking`,
`stno_mutual_sync` and `stno_vowel_recognition` build on it. Spectra are recorded whole (NeXus array
`spectrum`, dBm vs frequency) and reduced to peak frequency, power and -3 dB linewidth
(:mod:`labctl.protocols._stno.spectra`).
"""

from __future__ import annotations

from labctl.protocol import (
    Array,
    Axis,
    Column,
    FloatParameter,
    IntegerParameter,
    ParameterError,
    Planned,
    Protocol,
    Role,
)
from labctl.protocols._stno.magnet import prepare_magnet, release_magnet, set_field
from labctl.protocols._stno.spectra import peak

PEAK_COLUMNS = (
    Column("peak_frequency", "Hz", "Peak frequency"),
    Column("peak_power", "dBm", "Peak power"),
    Column("linewidth", "Hz", "Linewidth (-3 dB)"),
)


class STNOSpectra(Protocol):
    """Spectra of spin-torque oscillators under dc bias and an out-of-plane field (abstract)."""

    STATION = "stno"
    SMU_ROLES: tuple[str, ...] = ("smu1",)
    RF_ROLES: tuple[str, ...] = ()
    SWEEP = Column("dc_current", "A", "DC current")  # the array index: what each record is taken at
    FIELDS: tuple[str, ...] = ("field",)  # parameters holding the fields the run goes to (its plan)

    analyzer = Role("spectrum analyzer on the chip's rf output (E4408B + RBW/averaging)")
    magnet = Role("bipolar supply of the electromagnet (Kepco BOP command set)")
    gaussmeter = Role("gaussmeter with its probe at the sample (Lake Shore 421)")

    field = FloatParameter("Out-of-plane field", units="T", default=0.43, minimum=-0.6, maximum=0.6)
    f_start = FloatParameter("Analyzer start frequency", units="Hz", default=250e6, minimum=1e6,
                             maximum=26e9)
    f_stop = FloatParameter("Analyzer stop frequency", units="Hz", default=450e6, minimum=1e6,
                            maximum=26.5e9)
    points = IntegerParameter("Analyzer points", default=1001, minimum=101, maximum=8192)
    rbw = FloatParameter("Resolution bandwidth", units="Hz", default=1e6, minimum=1e3, maximum=5e6)
    averages = IntegerParameter("Sweeps averaged per trace", default=1, minimum=1, maximum=100)
    compliance = FloatParameter("SMU voltage compliance", units="V", default=1.0, minimum=0.01,
                                maximum=210)
    settle = FloatParameter("Settling time per point", units="s", default=0.01, minimum=0,
                            maximum=60)
    field_per_amp = FloatParameter("Magnet calibration", units="T/A", default=0.05, minimum=1e-4,
                                   maximum=1)
    magnet_step = FloatParameter("Magnet current step per setpoint", units="A", default=0.5,
                                 minimum=1e-3, maximum=12)
    magnet_voltage = FloatParameter("Magnet supply voltage limit (sets the ramp rate)", units="V",
                                    default=5.0, minimum=0.1, maximum=36)

    def check_parameters(self):
        super().check_parameters()
        if not self.f_start < self.f_stop:
            raise ParameterError(f"need f_start < f_stop (got {self.f_start:g} Hz, {self.f_stop:g} Hz)")

    def plan(self):
        """Pillar compliance and magnet supply as set at startup; the coil currents that the fields of
        ``FIELDS`` need (from zero, in steps of ``magnet_step``); subclasses declare the rest."""
        plan = super().plan()
        for name in self.SMU_ROLES:
            plan[f"{name}.compliance_voltage"] = Planned([self.compliance], source=("compliance",), units="V")
        plan["magnet.voltage_setpoint"] = Planned([self.magnet_voltage], source=("magnet_voltage",), units="V")
        coil = [0.0] + [getattr(self, name) / self.field_per_amp for name in self.FIELDS]
        plan["magnet.current_setpoint"] = Planned(coil, step=self.magnet_step, units="A",
                                                  source=(*self.FIELDS, "field_per_amp", "magnet_step"))
        return plan

    def arrays(self):
        """One spectrum per point of the scan, indexed by what each is taken at."""
        index = {c.name: c for c in (*self.scan_columns(), self.SWEEP)}
        return (Array("spectrum", (self.points,), "dBm", "Power spectrum",
                      axes=(Axis("frequency", "Hz", "Frequency"),), index=tuple(index.values()),
                      grid=self.scan()),)

    # -- startup helpers -----------------------------------------------------------------------
    def startup(self):
        sa = self.analyzer
        sa.start_frequency = self.f_start
        sa.stop_frequency = self.f_stop
        sa.frequency_points = self.points
        sa.resolution_bandwidth = self.rbw
        sa.averages = self.averages
        sa.averaging_enabled = self.averages > 1
        for name in self.RF_ROLES:
            getattr(self, name).disable()
        for name in self.SMU_ROLES:
            smu = getattr(self, name)
            smu.source_mode = "current"
            smu.compliance_voltage = self.compliance
            smu.source_current = 0.0
            smu.enable_source()
        prepare_magnet(self.magnet, self.gaussmeter, self.magnet_voltage)

    def go_to_field(self, field: float) -> float:
        """Ramp the magnet to `field` T; the gaussmeter's reading."""
        return set_field(self, self.magnet, self.gaussmeter, field, self.field_per_amp,
                         self.magnet_step)

    def measure_spectrum(self, **index) -> tuple[float, float, float]:
        """Take a trace, store it under `index`; (peak frequency, power, linewidth)."""
        trace = self.analyzer.trace()
        self.emit_array("spectrum", trace, **index)
        return peak(self.frequencies, trace)

    def execute(self):
        self.use_analyzer_frequencies()
        self.sweep()

    def use_analyzer_frequencies(self):
        """Read back the analyzer's frequency points (after any change of span) for data and peaks."""
        self.frequencies = self.analyzer.frequencies
        self.set_axis("spectrum", "frequency", self.frequencies)

    def sweep(self):
        raise NotImplementedError

    # -- shutdown: pillars unbiased, rf off, magnet ramped down then off -------------------------
    def shutdown(self):
        errors = []
        steps = [(name, lambda smu: (setattr(smu, "source_current", 0.0), smu.disable_source()))
                 for name in self.SMU_ROLES]
        steps += [(name, lambda rf: rf.disable()) for name in self.RF_ROLES]
        steps += [("magnet", lambda m: release_magnet(self, m, self.magnet_step))]
        for name, action in steps:
            try:
                action(getattr(self, name))
            except Exception as exc:  # every other instrument still goes safe
                errors.append(exc)
        if errors:
            raise errors[0]
