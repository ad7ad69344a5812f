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

import numpy as np

from labctl.protocol import Array, Column, IntegerParameter, Parameter, ParameterError
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
               Column("ber_2t2r", "", "Bit-error rate, 2T2R (PCSA)"),
               Column("ber_1t1r", "", "Bit-error rate, 1T1R (reference read)"),
               Column("cycles", "", "Endurance cycles before the test"),
               Column("errors_2t2r", "", "Errors, 2T2R"),
               Column("errors_1t1r", "", "Errors, 1T1R"),
               Column("bits", "", "Bits tested"),
               Column("energy_per_bit", "J", "Programming energy per bit"),
               Column("r_lrs_median", "ohm", "Median LRS resistance"),
               Column("r_hrs_median", "ohm", "Median HRS resistance"),
               Column("reference", "ohm", "1T1R reference resistance"))
    ARRAYS = (Array("error_map_2t2r", (ROWS, COLS), "", "Error count per bit, 2T2R",
                    axes=BIT_AXES, index=CONDITION, dtype="i4"),
              Array("error_map_1t1r", (ROWS, COLS), "", "Error count per bit, 1T1R",
                    axes=BIT_AXES, index=CONDITION, dtype="i4"))

    compliances = Parameter("SET compliance currents (A, comma-separated)",
                            default="20e-6, 30e-6, 50e-6, 100e-6, 200e-6")
    cycle_points = Parameter("Cumulative endurance cycles before each BER set (comma-separated)",
                             default="0")
    repeats = IntegerParameter("Random patterns per condition", default=4, minimum=1,
                               maximum=10_000)
    seed = IntegerParameter("Seed of the random patterns", default=0, minimum=0,
                            maximum=2**31 - 1)

    def startup(self):
        self.currents = parse_floats(self.compliances, "compliances")
        self.cycle_targets = sorted(int(c) for c in parse_floats(self.cycle_points, "cycle_points"))
        if self.cycle_targets[0] < 0:
            raise ParameterError("cycle_points: cycle counts cannot be negative")
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

        i_c, cyc = run["compliance"].values, run["cycles"].values
        bits = run["bits"].values
        fig, axes = plt.subplots(1, 4, figsize=(16, 3.8), layout="constrained")
        floor = 0.5 / bits  # zero errors drawn at half a count
        for c in np.unique(cyc):
            sel = cyc == c
            tag = f" ({c:.0e} cycles)" if np.unique(cyc).size > 1 else ""
            for name, style in (("2t2r", "o-"), ("1t1r", "s--")):
                ber = np.maximum(run[f"ber_{name}"].values[sel], floor[sel])
                axes[0].semilogy(i_c[sel] * 1e6, ber, style, label=name.upper() + tag)
                axes[1].loglog(run["energy_per_bit"].values[sel], ber, style,
                               label=name.upper() + tag)
        axes[0].set_xlabel("SET compliance current (uA)")
        axes[1].set_xlabel("Programming energy per bit (J)")
        for ax in axes[:2]:
            ax.set_ylabel("Bit-error rate")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        worst = int(np.argmax(run["ber_1t1r"].values))
        for ax, name in zip(axes[2:], ("2t2r", "1t1r"), strict=True):
            m = run.data(f"error_map_{name}").signal.values[worst]
            im = bit_map(ax, m, f"{name.upper()} errors at {i_c[worst] * 1e6:.0f} uA: {m.sum()}",
                         cmap="Reds")
            fig.colorbar(im, ax=ax)
        fig.suptitle(f"{run.title} ({run.status})")
        return fig
