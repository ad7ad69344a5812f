"""Endurance of the 2T2R die: SET/RESET cycling with bit-error and resistance-window tracking.

The controller cycles every device in blocks (one command per block, however many cycles); at
log-spaced checkpoints a random pattern is written and read back both ways (2T2R PCSA and 1T1R) and
every device's resistance is read. The window (median HRS / median LRS) closes as cycling leaves
residual defects in the filament gaps, and devices that stop switching (stuck) raise the BER.
"""

from __future__ import annotations

import numpy as np

from labctl.plotting import rate_errorbar
from labctl.protocol import Array, Column, FloatParameter, IntegerParameter, Plot, Sweep
from labctl.protocols._rram.base import FormsFirst, RRAMDieProtocol
from labctl.protocols._rram.layout import COLS, DEVICE_AXES, DEVICE_SHAPE, ROWS, SIDES, planes


def checkpoints(max_cycles: float, per_decade: int) -> np.ndarray:
    """1, then ``per_decade`` log-spaced cycle counts per decade up to ``max_cycles``."""
    n = int(np.ceil(np.log10(max(max_cycles, 1)) * per_decade)) + 1
    return np.unique(np.round(np.logspace(0, np.log10(max(max_cycles, 1)), n)).astype(np.int64))


class Endurance(FormsFirst, RRAMDieProtocol):
    """Endurance cycling with BER and resistance-window tracking."""

    NAME = "rram_endurance"
    COLUMNS = (Column("cycles", "", "SET/RESET cycles", axis=True),
               Column("ber_2t2r", "", "Bit-error rate, 2T2R (PCSA)", trials=ROWS * COLS),
               Column("ber_1t1r", "", "Bit-error rate, 1T1R (reference read)", trials=ROWS * COLS),
               Column("r_lrs_median", "ohm", "Median LRS resistance"),
               Column("r_hrs_median", "ohm", "Median HRS resistance"),
               Column("window", "", "Resistance window (median HRS / median LRS)"),
               Column("energy_per_cycle", "J", "Energy per device and cycle"))
    PLOTS = (Plot("ber", "ber_2t2r", ("ber_1t1r",), title="Bit-error rate vs SET/RESET cycles"),
             Plot("resistance_medians", "r_hrs_median", ("r_lrs_median",),
                  title="Median HRS and LRS resistance vs cycles"),
             Plot("window", "window", title="Resistance window vs cycles"),
             Plot("energy", "energy_per_cycle", title="Energy per device and cycle"))
    DEFAULT = "ber"

    max_cycles = FloatParameter("Cycles in all", default=1e6, minimum=1, maximum=1e10)
    per_decade = IntegerParameter("Checkpoints per decade", default=2, minimum=1, maximum=20)
    seed = IntegerParameter("Seed of the test patterns", default=0, minimum=0, maximum=2**31 - 1)

    def startup(self):
        super().startup()
        d = self.die
        d.verify_enabled = False

    def scan(self):
        return (Sweep("cycles", checkpoints(self.max_cycles, self.per_decade)),)

    def arrays(self):
        return (Array("resistance", DEVICE_SHAPE, "ohm", "Resistance after the test write",
                      axes=DEVICE_AXES, index=self.scan_columns(), grid=self.scan()),)

    def execute(self):
        d = self.die
        rng = np.random.default_rng(self.seed)
        points = checkpoints(self.max_cycles, self.per_decade)
        done = 0
        for k, n in enumerate(points):
            energy = 0.0
            if n > done:
                d.cycle(int(n - done))
                energy = d.energy / (ROWS * COLS * SIDES * (n - done))
                done = int(n)
            bits = rng.random((ROWS, COLS)) < 0.5
            d.program_array(bits)
            res = self.read_errors(bits)
            self.emit_array("resistance", planes(res["resistance"]), cycles=done)
            self.emit_point(cycles=done, ber_2t2r=res["errors_2t2r"].mean(),
                            ber_1t1r=res["errors_1t1r"].mean(), r_lrs_median=res["r_lrs"],
                            r_hrs_median=res["r_hrs"], window=res["r_hrs"] / res["r_lrs"],
                            energy_per_cycle=energy if energy else np.nan)
            self.progress(k + 1, points.size)

    @classmethod
    def figure(cls, run):
        import matplotlib.pyplot as plt

        n = run["cycles"].values
        fig, (ax_r, ax_b) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
        ax_r.loglog(n, run["r_hrs_median"].values, "o-", label="HRS median")
        ax_r.loglog(n, run["r_lrs_median"].values, "s-", label="LRS median")
        ax_w = ax_r.twinx()
        ax_w.semilogx(n, run["window"].values, "k:", label="window")
        ax_w.set_ylabel("HRS / LRS")
        ax_r.set_ylabel("Resistance (ohm)")
        floor = 0.5 / (ROWS * COLS)
        ax_b.set(xscale="log", yscale="log")
        cols = run.columns()
        for name, style in (("2t2r", "o-"), ("1t1r", "s--")):
            rate_errorbar(ax_b, n, cols, f"ber_{name}", style, floor, label=name.upper())
        ax_b.set_ylabel("Bit-error rate, 95 % CI (zero drawn at half a count)")
        for ax in (ax_r, ax_b):
            ax.set_xlabel("SET/RESET cycles")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8, loc="lower left")
        fig.suptitle(f"{run.title} ({run.status})")
        return fig
