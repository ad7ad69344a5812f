"""Write a bit pattern into the 2T2R die, with optional program-and-verify, and read it back.

Each bit is a complementary pair: the device that must be LRS is RESET then SET under the chosen
compliance, its partner is RESET. With verify on, the controller reads every device after each pulse
and pulses again those outside their resistance target, up to a pulse budget. The run records the
resistances before and after, the pulses spent per device, and the bits read back by the PCSA.
"""

from __future__ import annotations

import numpy as np

from labctl.protocol import Array, Column, IntegerParameter, ListParameter, Parameter
from labctl.protocols._rram.base import FormsFirst, RRAMDieProtocol, VerifyParameters
from labctl.protocols._rram.figures import bit_map, log_histogram
from labctl.protocols._rram.layout import BIT_AXES, COLS, DEVICE_AXES, DEVICE_SHAPE, ROWS, planes
from labctl.protocols._rram.parameters import pattern_bits


class ProgramArray(FormsFirst, VerifyParameters, RRAMDieProtocol):
    """Write a pattern into the 1-kbit die (program-and-verify optional)."""

    NAME = "rram_program_array"
    COLUMNS = (Column("bit_errors", "", "Bits read back wrong (PCSA)"),
               Column("failed_devices", "", "Devices outside their verify target"),
               Column("pulses", "", "Pulses applied"),
               Column("energy", "J", "Programming energy"))
    ARRAYS = (Array("pattern", (ROWS, COLS), "", "Pattern written", axes=BIT_AXES, dtype="i1", grid=()),
              Array("resistance_before", DEVICE_SHAPE, "ohm", "Resistance before", axes=DEVICE_AXES,
                    grid=()),
              Array("resistance_after", DEVICE_SHAPE, "ohm", "Resistance after", axes=DEVICE_AXES,
                    grid=()),
              Array("device_pulses", DEVICE_SHAPE, "", "Pulses per device", axes=DEVICE_AXES,
                    dtype="i2", grid=()),
              Array("read_bits", (ROWS, COLS), "", "Bits read back (PCSA)", axes=BIT_AXES,
                    dtype="i1", grid=()))
    DEFAULT = "resistance_after"

    pattern = ListParameter("Pattern", choices=["checkerboard", "random", "ones", "zeros",
                                                "stripes", "user"], default="checkerboard")
    user_bits = Parameter("User pattern (256 hex digits, row-major, MSB first)", default="")
    seed = IntegerParameter("Seed of the random pattern", default=0, minimum=0,
                            maximum=2**31 - 1)

    def startup(self):
        self.bits = pattern_bits(self.pattern, self.seed, self.user_bits)  # bad input: fail early
        super().startup()
        self.configure_verify()

    def scan(self):
        return ()  # one write, one point

    def execute(self):
        d = self.die
        self.emit_array("pattern", self.bits.astype(np.int8))
        self.emit_array("resistance_before", planes(d.array_resistance()))
        pulses = d.program_array(self.bits)
        energy = d.energy
        r = d.array_resistance()
        self.emit_array("device_pulses", planes(pulses.astype(np.int16)))
        self.emit_array("resistance_after", planes(r))
        read = d.read_array()
        self.emit_array("read_bits", read.astype(np.int8))
        want_lrs = np.stack([self.bits, ~self.bits], axis=-1)
        failed = np.where(want_lrs, r > self.r_lrs_max, r < self.r_hrs_min)
        self.emit_point(bit_errors=int(np.sum(read != self.bits)), failed_devices=int(failed.sum()),
                        pulses=int(pulses.sum()), energy=energy)

    @classmethod
    def figure(cls, run):
        import matplotlib.pyplot as plt

        bits = run.data("pattern").signal.values.astype(bool)
        read = run.data("read_bits").signal.values.astype(bool)
        before = run.data("resistance_before").signal.values  # (side, row, column)
        after = run.data("resistance_after").signal.values
        fig, axes = plt.subplots(1, 4, figsize=(15, 3.6), layout="constrained")
        bit_map(axes[0], bits, "Pattern written", cmap="gray_r")
        errors = read != bits
        bit_map(axes[1], errors, f"Read-back errors: {errors.sum()}", cmap="Reds", vmin=0, vmax=1)
        log_histogram(axes[2], before, "before")
        log_histogram(axes[2], after[np.stack([bits, ~bits])], "after, LRS targets")
        log_histogram(axes[2], after[np.stack([~bits, bits])], "after, HRS targets")
        axes[2].set_xlabel("Resistance (ohm)")
        axes[2].set_ylabel("Devices")
        axes[2].legend(fontsize=8)
        im = bit_map(axes[3], np.log10(after[0]), "log10 R of BL devices after")
        fig.colorbar(im, ax=axes[3])
        fig.suptitle(f"{run.title} ({run.status})")
        return fig
