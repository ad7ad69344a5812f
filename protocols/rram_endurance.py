"""Endurance of the 2T2R die: SET/RESET cycling with 2T2R and 1T1R bit-error and resistance tracking.

Before any cycling the 1T1R reference is calibrated once at the protocol's compliance
(:class:`~labctl.protocols._rram.base.FixedReference`) and then left alone, as on silicon.  The
controller cycles every device in blocks (one command per block, however many cycles); at log-spaced
checkpoints ``repeats`` random patterns are written and read back both ways, 2T2R (PCSA) and 1T1R
(BL device against the fixed reference), and every device's resistance is read.  Cycling wears the
devices gradually (residual defects lower the HRS, blocking ions raise the LRS: Chen et al., IEEE TED
59, 3243 (2012)); the window closes, the HRS tail crosses the fixed reference long before it crosses
the partner device's LRS, and the comparison of the two reads over cycles comes out of that.  Counts
are stored with 95 % intervals (:mod:`~labctl.protocols._rram.statistics`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from labctl.plotting import legend_below
from labctl.protocol import Array, Column, FloatParameter, IntegerParameter, Plot, Sweep
from labctl.protocols._rram.base import FixedReference, FormsFirst, RRAMDieProtocol
from labctl.protocols._rram.figures import rate_plot, upper_bound_legend
from labctl.protocols._rram.layout import COLS, DEVICE_AXES, DEVICE_SHAPE, ROWS, SIDES, planes
from labctl.protocols._rram.statistics import rate_columns, rate_values


def checkpoints(max_cycles: float, per_decade: int) -> np.ndarray:
    """1, then ``per_decade`` log-spaced cycle counts per decade up to ``max_cycles``."""
    n = int(np.ceil(np.log10(max(max_cycles, 1)) * per_decade)) + 1
    return np.unique(np.round(np.logspace(0, np.log10(max(max_cycles, 1)), n)).astype(np.int64))


class Endurance(FixedReference, FormsFirst, RRAMDieProtocol):
    """Endurance cycling with 2T2R / 1T1R bit-error and resistance-window tracking."""

    NAME = "rram_endurance"
    COLUMNS = (Column("cycles", "", "SET/RESET cycles", axis=True),
               Column("bits", "", "Bits tested", dtype="i8"),
               *rate_columns("2t2r", "2T2R (PCSA)"),
               *rate_columns("1t1r", "1T1R (BL device against the fixed reference)"),
               Column("r_lrs_median", "ohm", "Median LRS resistance"),
               Column("r_hrs_median", "ohm", "Median HRS resistance"),
               Column("window", "", "Resistance window (median HRS / median LRS)"),
               Column("energy_per_cycle", "J", "Energy per device and cycle"),
               Column("writes", "", "Pattern writes so far, calibration included (each RESETs "
                                    "every device once)", dtype="i8"))
    PLOTS = (Plot("ber", "ber_2t2r", ("ber_1t1r",),
                  title="Bit-error rate vs SET/RESET cycles, 2T2R and 1T1R (fixed reference)"),
             Plot("resistance_medians", "r_hrs_median", ("r_lrs_median",),
                  title="Median HRS and LRS resistance vs cycles"),
             Plot("window", "window", title="Resistance window vs cycles"),
             Plot("energy", "energy_per_cycle", title="Energy per device and cycle"))
    DEFAULT = "ber"

    max_cycles = FloatParameter("Cycles in all", default=1e6, minimum=1, maximum=1e10)
    per_decade = IntegerParameter("Checkpoints per decade", default=2, minimum=1, maximum=20)
    repeats = IntegerParameter("Random patterns per checkpoint (1024 bits each)", default=40,
                               minimum=1, maximum=100_000)
    seed = IntegerParameter("Seed of the test patterns", default=0, minimum=0, maximum=2**31 - 1)

    def scan(self):
        return (Sweep("cycles", checkpoints(self.max_cycles, self.per_decade)),)

    def arrays(self):
        return (replace(self.REFERENCE_ARRAY, grid=()),
                Array("resistance", DEVICE_SHAPE, "ohm", "Resistance after the first test write",
                      axes=DEVICE_AXES, index=self.scan_columns(), grid=self.scan()))

    def startup(self):
        super().startup()
        self.die.verify_enabled = False

    def execute(self):
        d = self.die
        rng = np.random.default_rng(self.seed)
        points = checkpoints(self.max_cycles, self.per_decade)
        self.calibrate_reference(self.compliance)
        writes, done = self.calibration_writes, 0
        for k, n in enumerate(points):
            energy = 0.0
            if n > done:
                d.cycle(int(n - done))
                energy = d.energy / (ROWS * COLS * SIDES * (n - done))
                done = int(n)
            errors = {"2t2r": 0, "1t1r": 0}
            lrs, hrs = [], []
            for rep in range(self.repeats):
                bits = rng.random((ROWS, COLS)) < 0.5
                d.program_array(bits)
                res = self.read_errors(bits, resistance=rep == 0)
                writes += 1
                errors["2t2r"] += int(res["errors_2t2r"].sum())
                errors["1t1r"] += int(res["errors_1t1r"].sum())
                if rep == 0:
                    self.emit_array("resistance", planes(res["resistance"]), cycles=done)
                    lrs, hrs = res["r_lrs"], res["r_hrs"]
                self.checkpoint()  # an abort lands within one pattern
            bits_total = self.repeats * ROWS * COLS
            self.emit_point(cycles=done, bits=bits_total,
                            **rate_values("2t2r", errors["2t2r"], bits_total),
                            **rate_values("1t1r", errors["1t1r"], bits_total),
                            r_lrs_median=lrs, r_hrs_median=hrs, window=hrs / lrs,
                            energy_per_cycle=energy if energy else np.nan, writes=writes)
            self.progress(k + 1, points.size)

    @classmethod
    def figure(cls, run):
        import matplotlib.pyplot as plt

        cols = run.columns()
        n, bits = cols["cycles"].values, cols["bits"].values
        fig, (ax_r, ax_b) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
        ax_r.loglog(n, cols["r_hrs_median"].values, "o-", label="HRS median")
        ax_r.loglog(n, cols["r_lrs_median"].values, "s-", label="LRS median")
        ref = np.asarray(run.data("reference_1t1r").signal.values, float)
        if np.isfinite(ref).all():
            ax_r.axhline(float(np.exp(np.mean(np.log(ref)))), color="k", ls="--", lw=1,
                         label="1T1R reference (fixed)")
        ax_w = ax_r.twinx()
        ax_w.semilogx(n, cols["window"].values, "k:", label="window (right axis)")
        ax_w.set_ylabel("HRS / LRS")
        ax_r.set_ylabel("Resistance (ohm)")
        handles = [h for ax in (ax_r, ax_w) for h in ax.get_legend_handles_labels()[0]]
        legend_below(ax_r, handles, ncol=2)
        for name, style, label, dodge in (("2t2r", "o-", "2T2R (PCSA)", 0.85),
                                          ("1t1r", "s--", "1T1R (fixed reference)", 1.0)):
            rate_plot(ax_b, n, cols[f"errors_{name}"].values, bits, style, label=label, dodge=dodge)
        ax_b.set_ylabel("Bit-error rate")
        ax_b.set_title(f"{int(bits[0])} bits per checkpoint; bars: 95 % interval", fontsize=9)
        ax_b.margins(y=0.12)  # markers at the ends of the range stay inside the axes
        upper_bound_legend(ax_b, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
                           frameon=False)
        for ax in (ax_r, ax_b):
            ax.set_xscale("log")
            ax.set_xlabel("SET/RESET cycles")
            ax.grid(True, which="both", alpha=0.3)
        fig.suptitle(f"{run.title} ({run.status})")
        return fig
