"""Current-voltage sweep of a two-terminal device: the smallest end-to-end labctl job.

A stock pymeasure ``Keithley2400`` sources each voltage and measures the current under a
compliance limit; the device is whatever sits between its HI and LO terminals (on the demo
station, a small-signal diode).
"""

from __future__ import annotations

import numpy as np

from labctl.headline import Headline, Rate
from labctl.protocol import Column, FloatParameter, IntegerParameter, Protocol, Role, Sweep


class DemoIV(Protocol):
    """I-V sweep of a two-terminal device with a source-measure unit."""

    NAME = "demo_iv"
    STATION = "demo"
    COLUMNS = (
        Column("voltage", "V", "Source voltage", axis=True),
        Column("current", "A", "Measured current"),
    )
    HEADLINES = (
        Headline("current_at_stop", "A", "Current at the stop voltage"),
        Headline("in_compliance", "", "Points limited by the compliance", rate=True),
    )

    SETPOINTS = {"smu.source_voltage": ("v_start", "v_stop"), "smu.compliance_current": "compliance"}

    smu = Role("source-measure unit across the device (Keithley 2400 command set)")

    v_start = FloatParameter("Start voltage", units="V", default=0.0, minimum=-210, maximum=210)
    v_stop = FloatParameter("Stop voltage", units="V", default=0.8, minimum=-210, maximum=210)
    points = IntegerParameter("Number of points", default=41, minimum=2, maximum=1_000_000)
    compliance = FloatParameter(
        "Compliance current", units="A", default=0.01, minimum=1e-9, maximum=1.05
    )
    settle = FloatParameter("Settling time per point", units="s", default=0.01, minimum=0,
                            maximum=3600)

    def startup(self):
        self.smu.source_mode = "voltage"
        self.smu.compliance_current = self.compliance
        self.smu.source_voltage = self.v_start
        self.smu.enable_source()

    def voltages(self):
        return np.linspace(self.v_start, self.v_stop, self.points)

    def scan(self):
        return (Sweep("voltage", self.voltages()),)

    def execute(self):
        for k, v in enumerate(self.voltages()):
            self.smu.source_voltage = v
            self.wait(self.settle)
            self.emit_point(voltage=v, current=self.smu.current)
            self.progress(k + 1, self.points)

    def shutdown(self):
        # Not the driver's shutdown(): its ramp sleeps in wall time. Zero, then output off.
        self.smu.source_voltage = 0.0
        self.smu.disable_source()

    @classmethod
    def headline(cls, run):
        i = run["current"].values
        limited = np.abs(i) >= 0.99 * run.parameter_values()["compliance"]  # the SMU reads its limit
        return {"current_at_stop": float(i[-1]), "in_compliance": Rate(int(limited.sum()), i.size)}

    @classmethod
    def figure(cls, run):
        import matplotlib.pyplot as plt

        v, i = run["voltage"], run["current"]
        fig, (lin, log) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
        lin.plot(v.values, i.values, ".-")
        log.semilogy(v.values, np.abs(i.values), ".-")
        for ax, ylabel in ((lin, i.label), (log, f"|{i.long_name}| ({i.units})")):
            ax.set_xlabel(v.label)
            ax.set_ylabel(ylabel)
            ax.grid(True, alpha=0.3)
        fig.suptitle(f"{run.title} ({run.status})")
        return fig
