"""Quasi-static I-V of a 1T1R test structure: the forming curve, then SET/RESET butterfly loops.

A source-measure unit on the bit line sweeps the voltage in steps (source line grounded, word line
biased). Forming: up from 0 V until the oxide breaks down and the current hits the forming
compliance. Each loop then sweeps 0 -> +V_set -> 0 under the SET compliance (the filament grows
until the current is limited) and 0 -> -V_reset -> 0 under a higher compliance (the filament's
gap reopens and the current drops): |I| versus V on a log scale is the butterfly curve.
"""

from __future__ import annotations

import numpy as np

from labctl.protocol import Column, FloatParameter, IntegerParameter, Planned, Protocol, Role


def ramp(v_from: float, v_to: float, step: float) -> np.ndarray:
    n = max(int(round(abs(v_to - v_from) / step)), 1)
    return np.linspace(v_from, v_to, n + 1)[1:]


class IVSweep(Protocol):
    """Forming and SET/RESET loops of a 1T1R test structure."""

    NAME = "rram_iv_sweep"
    STATION = "rram"
    COLUMNS = (Column("voltage", "V", "Bit-line voltage", axis=True),
               Column("current", "A", "Current"),
               Column("cycle", "", "Loop (0 = forming)"),
               Column("compliance", "A", "SMU compliance"))

    SETPOINTS = {"smu.compliance_current": ("form_compliance", "set_compliance", "reset_compliance")}

    smu = Role("source-measure unit on the test structure's bit line (Keithley 2400 command set)")

    form_v_max = FloatParameter("Forming sweep limit", units="V", default=4.0, minimum=0,
                                maximum=20)
    form_compliance = FloatParameter("Forming compliance", units="A", default=100e-6,
                                     minimum=1e-6, maximum=0.1)
    v_set = FloatParameter("SET sweep limit", units="V", default=1.5, minimum=0, maximum=20)
    set_compliance = FloatParameter("SET compliance", units="A", default=100e-6, minimum=1e-6,
                                    maximum=0.1)
    v_reset = FloatParameter("RESET sweep limit (magnitude)", units="V", default=1.5, minimum=0,
                             maximum=20)
    reset_compliance = FloatParameter("RESET compliance", units="A", default=2e-3, minimum=1e-6,
                                      maximum=0.1)
    step = FloatParameter("Voltage step", units="V", default=0.02, minimum=1e-3, maximum=1)
    loops = IntegerParameter("SET/RESET loops", default=3, minimum=0, maximum=10_000)
    settle = FloatParameter("Extra settling time per point", units="s", default=0.0, minimum=0,
                            maximum=60)

    def plan(self):
        plan = super().plan()
        plan["smu.source_voltage"] = Planned([0.0, self.form_v_max, self.v_set, -self.v_reset],
                                             source=("form_v_max", "v_set", "v_reset"), units="V")
        return plan

    def startup(self):
        s = self.smu
        s.source_mode = "voltage"
        s.compliance_current = self.form_compliance
        s.source_voltage = 0.0
        s.enable_source()

    def _point(self, v: float, cycle: int, compliance: float) -> float:
        self.smu.source_voltage = v
        if self.settle:
            self.wait(self.settle)
        i = self.smu.current
        self.emit_point(voltage=v, current=i, cycle=cycle, compliance=compliance)
        return i

    def execute(self):
        s = self.smu
        total = 1 + self.loops
        # forming: up until the current reaches the compliance, then back to zero
        v_last = 0.0
        for v in ramp(0.0, self.form_v_max, self.step):
            v_last = v
            if abs(self._point(v, 0, self.form_compliance)) >= 0.98 * self.form_compliance:
                break
        for v in ramp(v_last, 0.0, self.step):
            self._point(v, 0, self.form_compliance)
        self.progress(1, total)
        for loop in range(1, self.loops + 1):
            s.compliance_current = self.set_compliance
            for v in np.concatenate([ramp(0, self.v_set, self.step), ramp(self.v_set, 0, self.step)]):
                self._point(v, loop, self.set_compliance)
            s.compliance_current = self.reset_compliance
            for v in np.concatenate([ramp(0, -self.v_reset, self.step),
                                     ramp(-self.v_reset, 0, self.step)]):
                self._point(v, loop, self.reset_compliance)
            self.progress(1 + loop, total)

    def shutdown(self):
        # Not the driver's shutdown(): its ramp sleeps in wall time. Zero, then output off.
        self.smu.source_voltage = 0.0
        self.smu.disable_source()

    @classmethod
    def figure(cls, run):
        import matplotlib.pyplot as plt

        v, i, loop = run["voltage"].values, run["current"].values, run["cycle"].values
        fig, (ax_f, ax_b) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
        form = loop == 0
        ax_f.semilogy(v[form], np.abs(i[form]) + 1e-12, ".-", color="k")
        ax_f.set_title("Forming", fontsize=9)
        for k in np.unique(loop[~form]):
            sel = loop == k
            ax_b.semilogy(v[sel], np.abs(i[sel]) + 1e-12, ".-", ms=3, label=f"loop {int(k)}")
        ax_b.set_title("SET / RESET loops", fontsize=9)
        for ax in (ax_f, ax_b):
            ax.set_xlabel(run["voltage"].label)
            ax.set_ylabel("|current| (A)")
            ax.grid(True, which="both", alpha=0.3)
        if (~form).any():
            ax_b.legend(fontsize=8)
        fig.suptitle(f"{run.title} ({run.status})")
        return fig
