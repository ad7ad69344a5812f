"""Bit-error rates of the 2T2R (PCSA) and 1T1R reads versus programming current and cycling.

For every (cycle count, compliance) condition, random patterns are written (a RESET then one SET at
the given compliance for the LRS device of each pair, one RESET for its partner; verify optional) and read
back twice: differentially by the PCSA of each column (2T2R), and single-ended, the BL device alone
against a reference resistor calibrated on the pattern just written (1T1R). Errors are counted per
bit position; the programming energy per bit puts each condition on a BER-versus-energy curve
(Bocquet et al., IEDM 2018: the differential read brings benefits comparable to an error-correcting
code, and lets the die be programmed at lower current and energy).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from labctl.plotting import rate_errorbar
from labctl.protocol import Array, Column, IntegerParameter, Parameter, ParameterError, Plot, Sweep
from labctl.protocols._rram.base import FormsFirst, RRAMDieProtocol, VerifyParameters
from labctl.protocols._rram.figures import bit_map
from labctl.protocols._rram.layout import BIT_AXES, COLS, ROWS
from labctl.protocols._rram.parameters import parse_floats

CONDITION = (Column("compliance", "A", "SET compliance current"),
             Column("cycles", "", "Endurance cycles before the test"))


class BitErrorRate(FormsFirst, VerifyParameters, RRAMDieProtocol):
    """Bit-error rate of 2T2R and 1T1R reads versus compliance current and cycles."""

    NAME = "rram_bit_error_rate"
    COLUMNS = (Column("compliance", "A", "SET compliance current", axis=True),
               Column("ber_2t2r", "", "Bit-error rate, 2T2R (PCSA)", count="errors_2t2r", trials="bits"),
               Column("ber_1t1r", "", "Bit-error rate, 1T1R (reference read)", count="errors_1t1r",
                      trials="bits"),
               Column("cycles", "", "Endurance cycles before the test", axis=True),
               Column("errors_2t2r", "", "Errors, 2T2R"),
               Column("errors_1t1r", "", "Errors, 1T1R"),
               Column("bits", "", "Bits tested"),
               Column("energy_per_bit", "J", "Programming energy per bit"),
               Column("r_lrs_median", "ohm", "Median LRS resistance"),
               Column("r_hrs_median", "ohm", "Median HRS resistance"),
               Column("reference", "ohm", "1T1R reference resistance"))
    PLOTS = (Plot("ber", "ber_2t2r", ("ber_1t1r",), interpretation="spectrum",
                  title="Bit-error rate vs SET compliance current"),
             Plot("energy", "energy_per_bit", interpretation="spectrum", title="Programming energy per bit"),
             Plot("resistance_medians", "r_hrs_median", ("r_lrs_median", "reference"), interpretation="spectrum",
                  title="Median HRS, LRS and 1T1R reference resistance"))
    DEFAULT = "ber"

    compliances = Parameter("SET compliance currents (A, comma-separated)",
                            default="20e-6, 30e-6, 50e-6, 100e-6, 200e-6")
    cycle_points = Parameter("Cumulative endurance cycles before each BER set (comma-separated)",
                             default="0")
    repeats = IntegerParameter("Random patterns per condition", default=4, minimum=1,
                               maximum=10_000)
    seed = IntegerParameter("Seed of the random patterns", default=0, minimum=0,
                            maximum=2**31 - 1)

    def conditions(self) -> tuple[list[float], list[int]]:
        """(compliance currents, cumulative cycle counts), in the order they are measured."""
        currents = parse_floats(self.compliances, "compliances")
        cycle_targets = sorted(int(c) for c in parse_floats(self.cycle_points, "cycle_points"))
        if cycle_targets[0] < 0:
            raise ParameterError("cycle_points: cycle counts cannot be negative")
        return currents, cycle_targets

    def scan(self):
        currents, cycle_targets = self.conditions()
        return (Sweep("cycles", cycle_targets), Sweep("compliance", currents))

    def arrays(self):
        return tuple(Array(f"error_map_{name}", (ROWS, COLS), "", f"Error count per bit, {name.upper()}",
                           axes=BIT_AXES, index=CONDITION, dtype="i4", grid=self.scan())
                     for name in ("2t2r", "1t1r"))

    def startup(self):
        self.currents, self.cycle_targets = self.conditions()
        super().startup()
        self.configure_verify()

    def execute(self):
        d = self.die
        rng = np.random.default_rng(self.seed)
        done_cycles, k, total = 0, 0, len(self.cycle_targets) * len(self.currents)
        for target in self.cycle_targets:
            if target > done_cycles:
                d.set_compliance = self.compliance  # cycle under the nominal condition
                d.cycle(target - done_cycles)
                done_cycles = target
            for i_c in self.currents:
                d.set_compliance = i_c
                maps = {"2t2r": np.zeros((ROWS, COLS), int), "1t1r": np.zeros((ROWS, COLS), int)}
                energy, lrs, hrs, refs = 0.0, [], [], []
                for _ in range(self.repeats):
                    bits = rng.random((ROWS, COLS)) < 0.5
                    d.program_array(bits)
                    energy += d.energy
                    res = self.read_errors(bits)
                    maps["2t2r"] += res["errors_2t2r"]
                    maps["1t1r"] += res["errors_1t1r"]
                    lrs.append(res["r_lrs"])
                    hrs.append(res["r_hrs"])
                    refs.append(res["reference"])
                bits_total = self.repeats * ROWS * COLS
                for name, m in maps.items():
                    self.emit_array(f"error_map_{name}", m, compliance=i_c, cycles=done_cycles)
                self.emit_point(compliance=i_c, cycles=done_cycles,
                                ber_2t2r=maps["2t2r"].sum() / bits_total,
                                ber_1t1r=maps["1t1r"].sum() / bits_total,
                                errors_2t2r=maps["2t2r"].sum(), errors_1t1r=maps["1t1r"].sum(),
                                bits=bits_total, energy_per_bit=energy / bits_total,
                                r_lrs_median=np.median(lrs), r_hrs_median=np.median(hrs),
                                reference=np.median(refs))
                k += 1
                self.progress(k, total)

    @classmethod
    def figure(cls, run):
        import matplotlib.pyplot as plt

        cols = run.columns()
        i_c, cyc = cols["compliance"].values, cols["cycles"].values
        bits = cols["bits"].values
        fig, axes = plt.subplots(1, 4, figsize=(16, 3.8), layout="constrained")
        floor = 0.5 / np.max(bits)  # zero errors drawn at half a count; bars: 95 % intervals
        axes[0].set_yscale("log")
        axes[1].set(xscale="log", yscale="log")
        for c in np.unique(cyc):
            sel = cyc == c
            tag = f" ({c:.0e} cycles)" if np.unique(cyc).size > 1 else ""
            part = {k: replace(f, values=f.values[sel]) for k, f in cols.items()}
            for name, style in (("2t2r", "o-"), ("1t1r", "s--")):
                rate_errorbar(axes[0], i_c[sel] * 1e6, part, f"ber_{name}", style, floor,
                              label=name.upper() + tag)
                rate_errorbar(axes[1], part["energy_per_bit"].values, part, f"ber_{name}", style, floor,
                              label=name.upper() + tag)
        axes[0].set_xlabel("SET compliance current (uA)")
        axes[1].set_xlabel("Programming energy per bit (J)")
        for ax in axes[:2]:
            ax.set_ylabel("Bit-error rate")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        worst = int(np.argmax(cols["ber_1t1r"].values))
        for ax, name in zip(axes[2:], ("2t2r", "1t1r"), strict=True):
            m = run.columns(f"error_map_{name}")[f"error_map_{name}"].values[worst]
            im = bit_map(ax, m, f"{name.upper()} errors at {i_c[worst] * 1e6:.0f} uA: {m.sum()}",
                         cmap="Reds")
            fig.colorbar(im, ax=ax)
        fig.suptitle(f"{run.title} ({run.status})")
        return fig
