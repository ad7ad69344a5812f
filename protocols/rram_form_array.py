"""Forming of the whole 2T2R die: ramp-and-verify on the controller, forming-voltage statistics.

The controller pulses every unformed device at increasing amplitude and retires each one as soon as
its read-back resistance falls below the verify threshold; the voltage at which a device formed is
its forming voltage. Their spread across the die is the oxide-breakdown statistics of the devices.
"""

from __future__ import annotations

import numpy as np

from labctl.instruments.die_controller import RAMP_STEPS
from labctl.protocol import Array, Column, FloatParameter, ParameterError, Plot, Sweep
from labctl.protocols._rram.base import RRAMDieProtocol
from labctl.protocols._rram.figures import bit_map, log_histogram
from labctl.protocols._rram.layout import DEVICE_AXES, DEVICE_SHAPE, planes


class FormArray(RRAMDieProtocol):
    """Forming of all 2048 devices by ramp-and-verify."""

    NAME = "rram_form_array"
    COLUMNS = (Column("voltage", "V", "Ramp amplitude", axis=True),
               Column("formed", "", "Devices formed at this amplitude (by this ramp)"),
               Column("formed_fraction", "", "Fraction of devices formed so far"))
    ARRAYS = (Array("forming_voltage", DEVICE_SHAPE, "V", "Forming voltage", axes=DEVICE_AXES, grid=()),
              Array("resistance", DEVICE_SHAPE, "ohm", "Resistance after forming", axes=DEVICE_AXES,
                    grid=()))
    PLOTS = (Plot("forming", "formed_fraction", title="Fraction of devices formed vs ramp amplitude"),
             Plot("formed_per_step", "formed", title="Devices formed at each ramp amplitude"))
    DEFAULT = "forming"
    SETPOINTS = {"die.form_start": "v_start", "die.form_stop": "v_stop"}

    v_start = FloatParameter("First ramp amplitude", units="V", default=2.0, minimum=0, maximum=5)
    v_stop = FloatParameter("Last ramp amplitude", units="V", default=4.5, minimum=0, maximum=5)
    v_step = FloatParameter("Ramp step", units="V", default=0.05, minimum=1e-3, maximum=1)
    width = FloatParameter("Forming pulse width", units="s", default=10e-6, minimum=10e-9,
                           maximum=1e-3)
    form_compliance = FloatParameter("Forming compliance current", units="A", default=100e-6,
                                     minimum=5e-6, maximum=500e-6)
    r_formed = FloatParameter("Verify, formed below", units="ohm", default=1e5, minimum=1e2,
                              maximum=1e9)

    def check_parameters(self):
        super().check_parameters()
        steps = int(np.floor((self.v_stop - self.v_start + 1e-9) / self.v_step)) + 1
        if self.v_stop < self.v_start or steps > RAMP_STEPS:
            raise ParameterError(f"the forming ramp {self.v_start:g} V to {self.v_stop:g} V by {self.v_step:g} V "
                                 f"needs v_stop >= v_start and at most {RAMP_STEPS} steps (the controller's "
                                 f"ramp memory), not {max(steps, 0)}")

    def startup(self):
        d = self.die
        d.form_start = self.v_start
        d.form_stop = self.v_stop
        d.form_step = self.v_step
        d.form_width = self.width
        d.form_compliance = self.form_compliance
        d.form_resistance = self.r_formed
        self.configure_pulses()

    def ramp(self):
        return np.arange(self.v_start, self.v_stop + 1e-9, self.v_step)

    def scan(self):
        return (Sweep("voltage", self.ramp()),)

    def execute(self):
        formed_before = np.isfinite(self.die.forming_voltages())  # a die may come partly formed
        v = self.die.form_array()
        r = self.die.array_resistance()
        self.emit_array("forming_voltage", planes(v))
        self.emit_array("resistance", planes(r))
        ramp = self.ramp()
        done = np.round((v[np.isfinite(v) & ~formed_before] - self.v_start) / self.v_step).astype(int)
        counts = np.bincount(done, minlength=ramp.size)[: ramp.size]
        total = (formed_before.sum() + np.cumsum(counts)) / v.size
        for k, volt in enumerate(ramp):
            self.emit_point(voltage=volt, formed=counts[k], formed_fraction=total[k])
            self.progress(k + 1, ramp.size)

    @classmethod
    def figure(cls, run):
        import matplotlib.pyplot as plt

        v = run.data("forming_voltage").signal.values  # (side, row, column)
        r = run.data("resistance").signal.values
        volts, formed = run["voltage"].values, run["formed"].values
        fig, axes = plt.subplots(1, 4, figsize=(15, 3.6), layout="constrained")
        axes[0].bar(volts, formed, width=np.diff(volts).min() if volts.size > 1 else 0.05)
        axes[0].set_xlabel("Forming voltage (V)")
        axes[0].set_ylabel("Devices")
        ok = np.isfinite(v)
        axes[0].set_title(f"{ok.sum()}/{v.size} formed, {np.nanmean(v):.2f} +- "
                          f"{np.nanstd(v):.2f} V", fontsize=9)
        for k, name in enumerate(("BL", "BLb")):
            im = bit_map(axes[1 + k], v[k], f"Forming voltage, {name} devices")
            fig.colorbar(im, ax=axes[1 + k], label="V")
        log_histogram(axes[3], r, "after forming")
        axes[3].set_xlabel("Resistance (ohm)")
        axes[3].set_ylabel("Devices")
        fig.suptitle(f"{run.title} ({run.status})")
        return fig
