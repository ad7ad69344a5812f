"""Bit-error rates of the 2T2R (PCSA) and 1T1R reads, and of 1T1R memories with an error-correcting
code, versus programming current, programming energy and cycling.

The claim tested (Bocquet et al., IEDM 2018; Querlioz et al., BioCAS 2019): the differential 2T2R read
brings "benefits similar to the use of single error correcting codes", without their CMOS overhead,
and lets the die be programmed at lower current and energy.

1. Reference.  Before any cycling, the 1T1R reference is calibrated once per compliance current (or
   once, at ``compliance``, with ``calibrate_per_condition`` off): see
   :class:`~labctl.protocols._rram.base.FixedReference`.  Each condition's trim is restored before its
   reads and never recalculated, so the 1T1R read ages with the devices as it would on silicon.
2. Conditions.  For every (cycle count, compliance) pair, ``repeats`` random patterns are written (a
   RESET of every device, then one SET at the compliance for the LRS device of each pair; verify
   optional) and read back twice: differentially by each column's PCSA (2T2R), and single-ended, the
   BL device alone against its column's reference (1T1R).  The defaults test 40 x 1024 = 40,960 bits
   per condition, enough to resolve 1e-4; every rate is stored with its count and 95 % interval
   (:mod:`~labctl.protocols._rram.statistics`).
3. Codes.  A 1T1R memory with ECC stores each k-bit data word with its r check bits in n = k + r
   devices.  Each pattern's 1T1R error map, taken in row-major order as consecutive n-bit codewords,
   is decoded (:mod:`~labctl.protocols._rram.ecc`): a linear code's decoding depends only on the error
   pattern, so the post-correction rate comes out of the measured errors, clustered or not, with no
   independence assumed.  Storage: 2 devices per bit for 2T2R, 1 for raw 1T1R, n / k with a code.
   Energy: every device write of a random pattern costs on average what the die measured per device
   (``energy_per_device``), so a data bit costs ``devices_per_bit x energy_per_device``; the
   encoder/decoder logic and the check-bit reads are not counted (they favour the code).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from labctl.headline import Headline, Rate
from labctl.plan import Planned
from labctl.protocol import (
    Array,
    BooleanParameter,
    Column,
    FloatListParameter,
    IntegerParameter,
    Parameter,
    ParameterError,
    Plot,
    Sweep,
    Table,
)
from labctl.protocols._rram import ecc
from labctl.protocols._rram.base import FixedReference, FormsFirst, RRAMDieProtocol, VerifyParameters
from labctl.protocols._rram.figures import bit_map, log_ticks_125, rate_plot, upper_bound_legend
from labctl.protocols._rram.layout import BIT_AXES, COLS, ROWS
from labctl.protocols._rram.parameters import parse_codes, parse_floats
from labctl.protocols._rram.statistics import rate_columns, rate_values

CONDITION = (Column("cycles", "", "Endurance cycles before the test"),
             Column("compliance", "A", "SET compliance current"))


def code_name(code) -> str:
    return f"{'SECDED' if code.secded else 'SEC'}{code.k}"


class BitErrorRate(FixedReference, FormsFirst, VerifyParameters, RRAMDieProtocol):
    """Bit-error rate of 2T2R, 1T1R and 1T1R + ECC versus compliance current, energy and cycles."""

    NAME = "rram_bit_error_rate"
    COLUMNS = (Column("compliance", "A", "SET compliance current", axis=True),
               Column("cycles", "", "Endurance cycles before the test", axis=True),
               Column("bits", "", "Bits tested", dtype="i8"),
               *rate_columns("2t2r", "2T2R (PCSA)"),
               *rate_columns("1t1r", "1T1R (BL device against the fixed reference)"),
               Column("energy_per_bit", "J", "Programming energy per 2T2R bit"),
               Column("energy_per_device", "J", "Programming energy per device write"),
               Column("r_lrs_median", "ohm", "Median LRS resistance"),
               Column("r_hrs_median", "ohm", "Median HRS resistance"),
               Column("reference", "ohm", "1T1R reference (geometric mean over the columns)"))
    PLOTS = (Plot("ber", "ber_2t2r", ("ber_1t1r",), interpretation="spectrum",
                  title="Bit-error rate vs SET compliance current, 2T2R and 1T1R"),
             Plot("ber_ecc", "ber", channel="ecc", interpretation="spectrum",
                  title="Bit-error rate of 1T1R + code, after decoding"),
             Plot("energy", "energy_per_bit", interpretation="spectrum",
                  title="Programming energy per 2T2R bit"),
             Plot("resistance_medians", "r_hrs_median", ("r_lrs_median", "reference"),
                  interpretation="spectrum", title="Median HRS, LRS and 1T1R reference resistance"))
    DEFAULT = "ber"
    HEADLINES = (Headline("ber_2t2r", "", "Bit-error rate, 2T2R (PCSA)", rate=True),
                 Headline("ber_1t1r", "", "Bit-error rate, 1T1R (fixed reference)", rate=True),
                 Headline("energy_per_bit", "J", "Programming energy per 2T2R bit"),
                 Headline("r_lrs_median", "ohm", "Median LRS resistance"))

    compliances = FloatListParameter("SET compliance currents (comma-separated)", units="A",
                                     minimum=5e-6, maximum=500e-6,
                                     default="5e-6, 8e-6, 10e-6, 15e-6, 20e-6, 30e-6, 50e-6, 100e-6")
    cycle_points = FloatListParameter("Cumulative endurance cycles before each BER set (comma-separated)",
                                      minimum=0, maximum=1e10, integer=True, default="0")
    repeats = IntegerParameter("Random patterns per condition (1024 bits each)", default=40,
                               minimum=1, maximum=100_000)
    seed = IntegerParameter("Seed of the random patterns", default=0, minimum=0,
                            maximum=2**31 - 1)
    codes = Parameter("Codes on 1T1R data words (SEC<k> Hamming, SECDED<k> Hsiao; comma-separated, "
                      "empty for none)", default="SECDED64, SECDED32, SEC32, SECDED16")
    calibrate_per_condition = BooleanParameter(
        "Calibrate the 1T1R reference at each compliance (off = once, at `compliance`)",
        default=True)

    def conditions(self) -> tuple[list[float], list[int]]:
        """(compliance currents, cumulative cycle counts), in the order they are measured."""
        currents = parse_floats(self.compliances, "compliances")
        cycle_targets = sorted(int(c) for c in parse_floats(self.cycle_points, "cycle_points"))
        if cycle_targets[0] < 0:
            raise ParameterError("cycle_points: cycle counts cannot be negative")
        return currents, cycle_targets

    def code_list(self) -> list:
        codes = parse_codes(self.codes) if str(self.codes).strip() else []
        if any(c.n > ROWS * COLS for c in codes):
            raise ParameterError(f"codes: a codeword must fit in the die's {ROWS * COLS} bits")
        return codes

    def calibrations(self) -> list[float]:
        """The compliance currents at which the 1T1R reference is calibrated."""
        return self.conditions()[0] if self.calibrate_per_condition else [self.compliance]

    def scan(self):
        currents, cycle_targets = self.conditions()
        return (Sweep("cycles", cycle_targets), Sweep("compliance", currents))

    def plan(self):
        out = super().plan()
        out["die.set_compliance"] = Planned([self.compliance, *self.conditions()[0]],
                                            source=("compliance", "compliances"), units="A")
        return out

    def arrays(self):
        reference = self.REFERENCE_ARRAY
        return (replace(reference, grid=(Sweep("compliance", self.calibrations()),)),
                *(Array(f"error_map_{name}", (ROWS, COLS), "", f"Error count per bit, {name.upper()}",
                        axes=BIT_AXES, index=CONDITION, dtype="i4", grid=self.scan())
                  for name in ("2t2r", "1t1r")))

    def tables(self):
        codes = self.code_list()
        if not codes:
            return ()
        names = ", ".join(f"{k} = {code_name(c)} {c.name}" for k, c in enumerate(codes))
        return (Table("ecc", (
            *CONDITION,
            Column("code", "", f"Code ({names})", axis=True),
            Column("devices_per_bit", "", "Devices per data bit, n / k"),
            Column("data_bits", "", "Data bits decoded", dtype="i8"),
            Column("ber", "", "Bit-error rate after decoding, 1T1R + code", count="errors",
                   trials="data_bits"),
            Column("errors", "", "Data-bit errors after decoding", dtype="i8"),
            Column("raw_errors", "", "Errors in the stored bits of the decoded words", dtype="i8"),
            Column("word_errors", "", "Codewords whose data came out wrong", dtype="i8"),
            Column("detected_words", "", "Codewords flagged uncorrectable", dtype="i8"),
            Column("energy_per_bit", "J", "Programming energy per data bit (devices per bit x "
                                          "energy per device write)")),
            grid=(*self.scan(), Sweep("code", range(len(codes))))),)

    def plots(self):
        """Without codes (``codes=``) there is no ``ecc`` table, so no plot of it."""
        return tuple(p for p in self.PLOTS if p.channel != "ecc" or self.code_list())

    def startup(self):
        self.currents, self.cycle_targets = self.conditions()
        self.codes_used = self.code_list()
        super().startup()
        self.configure_verify()

    def execute(self):
        d = self.die
        rng = np.random.default_rng(self.seed)
        calibrations = self.calibrations()
        total = len(calibrations) + len(self.cycle_targets) * len(self.currents)
        references = {}
        for k, i_c in enumerate(calibrations):
            d.set_compliance = i_c
            references[i_c] = self.calibrate_reference(i_c)
            self.progress(k + 1, total)
        if not self.calibrate_per_condition:
            references = dict.fromkeys(self.currents, references[self.compliance])
        done_cycles, k = 0, len(calibrations)
        for target in self.cycle_targets:
            if target > done_cycles:
                d.set_compliance = self.compliance  # cycle under the nominal condition
                d.cycle(target - done_cycles)
                done_cycles = target
            for i_c in self.currents:
                d.set_compliance = i_c
                d.sense_reference_columns = references[i_c]  # the calibrated trim, restored
                self.measure(i_c, done_cycles, rng, references[i_c])
                k += 1
                self.progress(k, total)

    def measure(self, i_c, cycles, rng, reference):
        """``repeats`` random patterns at one condition: counts, intervals, maps, decoded codes."""
        d = self.die
        maps = {"2t2r": np.zeros((ROWS, COLS), int), "1t1r": np.zeros((ROWS, COLS), int)}
        raw_1t1r = np.zeros((self.repeats, ROWS * COLS), bool)
        energy, lrs, hrs = 0.0, [], []
        for rep in range(self.repeats):
            bits = rng.random((ROWS, COLS)) < 0.5
            d.program_array(bits)
            energy += d.energy
            res = self.read_errors(bits)
            maps["2t2r"] += res["errors_2t2r"]
            maps["1t1r"] += res["errors_1t1r"]
            raw_1t1r[rep] = res["errors_1t1r"].ravel()
            lrs.append(res["r_lrs"])
            hrs.append(res["r_hrs"])
            self.checkpoint()  # an abort lands within one pattern
        bits_total = self.repeats * ROWS * COLS
        for name, m in maps.items():
            self.emit_array(f"error_map_{name}", m, compliance=i_c, cycles=cycles)
        e_device = energy / (2 * bits_total)
        for j, code in enumerate(self.codes_used):
            x = ecc.corrected_errors(code, raw_1t1r)
            self.emit_row("ecc", cycles=cycles, compliance=i_c, code=j,
                          devices_per_bit=x.devices_per_bit, data_bits=x.data_bits,
                          ber=x.ber, errors=x.errors, raw_errors=x.raw_errors,
                          word_errors=x.word_errors, detected_words=x.detected,
                          energy_per_bit=x.devices_per_bit * e_device)
        self.emit_point(compliance=i_c, cycles=cycles, bits=bits_total,
                        **rate_values("2t2r", maps["2t2r"].sum(), bits_total),
                        **rate_values("1t1r", maps["1t1r"].sum(), bits_total),
                        energy_per_bit=energy / bits_total,
                        energy_per_device=e_device,
                        r_lrs_median=np.median(lrs), r_hrs_median=np.median(hrs),
                        reference=float(np.exp(np.mean(np.log(reference)))))

    @classmethod
    def headline(cls, run):
        """Over every condition of the run (a campaign grids over `compliances`, one per run)."""
        c = run.columns()
        bits = int(c["bits"].values.sum())
        return {"ber_2t2r": Rate(int(c["errors_2t2r"].values.sum()), bits),
                "ber_1t1r": Rate(int(c["errors_1t1r"].values.sum()), bits),
                "energy_per_bit": float(np.sum(c["energy_per_bit"].values * c["bits"].values) / bits),
                "r_lrs_median": float(np.median(c["r_lrs_median"].values))}

    @classmethod
    def figure(cls, run):
        import matplotlib.pyplot as plt

        cols = run.columns()
        i_c, cyc, bits = (cols[k].values for k in ("compliance", "cycles", "bits"))
        e_dev = cols["energy_per_device"].values
        cycle_counts = np.unique(cyc)
        fresh = cyc == cycle_counts[0]
        ecc = run.columns("ecc")
        codes = cls._code_names(run)
        fig, axes = plt.subplots(2, 3, figsize=(16, 8.5), layout="constrained")
        ax_i, ax_e, ax_s = axes[0]
        reads = (("2t2r", "o-", "2T2R (2 devices/bit)", 2.0, 0.94),
                 ("1t1r", "s--", "1T1R (1 device/bit)", 1.0, 1.0))
        for name, style, label, per_bit, dodge in reads:
            k = cols[f"errors_{name}"].values[fresh]
            c = rate_plot(ax_i, i_c[fresh] * 1e6, k, bits[fresh], style, label=label, dodge=dodge)
            rate_plot(ax_e, per_bit * e_dev[fresh], k, bits[fresh], style, label=label, color=c)
        if codes:
            at = ecc["cycles"].values == cycle_counts[0]
            for j, name in enumerate(codes):
                sel = at & (ecc["code"].values == j)
                per_bit = float(ecc["devices_per_bit"].values[sel][0])
                label = f"1T1R + {name} ({per_bit:.3g} devices/bit)"
                style = ("^:", "v:", "D:", "P:", "X:", "*:")[j % 6]
                k, n = ecc["errors"].values[sel], ecc["data_bits"].values[sel]
                c = rate_plot(ax_i, ecc["compliance"].values[sel] * 1e6, k, n, style, label=label,
                              dodge=1.04 + 0.04 * j)
                rate_plot(ax_e, ecc["energy_per_bit"].values[sel], k, n, style, label=label,
                          color=c)
            cls._storage_panel(ax_s, cols, ecc, cycle_counts[0])
        else:
            ax_s.set_visible(False)
        ax_i.set_xscale("log")
        ax_e.set_xscale("log")
        if np.unique(i_c).size == 1:
            ax_i.set_xlim(i_c[0] * 1e6 / 2, i_c[0] * 1e6 * 2)
            ax_e.set_xlim(e_dev[0] / 2, e_dev[0] * 4)
        ax_i.set_xlabel("SET compliance current (uA)")
        log_ticks_125(ax_e)
        ax_e.set_xlabel("Programming energy per data bit (J)")
        tag = f" ({cycle_counts[0]:.0f} cycles)" if cycle_counts.size > 1 else ""
        for ax in (ax_i, ax_e):
            ax.set_ylabel("Bit-error rate (95 % interval)")
            ax.set_title(f"Fresh die{tag}" if tag else "Bit-error rate, 2T2R against 1T1R and codes",
                         fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            upper_bound_legend(ax, fontsize=7, loc="upper right")
        ax_c, ax_m2, ax_m1 = axes[1]
        if cycle_counts.size > 1:
            for j, i in enumerate(np.unique(i_c)):
                sel = i_c == i
                x = np.maximum(cyc[sel], 1)
                for name, style, _, _, dodge in reads:
                    rate_plot(ax_c, x, cols[f"errors_{name}"].values[sel], bits[sel], style,
                              label=f"{name.upper()}, {i * 1e6:g} uA", color=f"C{j}",
                              dodge=dodge ** 3)
            ax_c.set_xscale("log")
            ax_c.set_xlabel("Endurance cycles before the test (0 drawn at 1)")
            ax_c.set_ylabel("Bit-error rate (95 % interval)")
            ax_c.set_title("Ageing, reference fixed before cycling", fontsize=9)
            ax_c.grid(True, which="both", alpha=0.3)
            upper_bound_legend(ax_c, fontsize=7, loc="upper left")
        else:
            cls._calibration_panel(ax_c, run)
        worst = int(np.argmax(cols["ber_1t1r"].values))
        for ax, name in ((ax_m2, "2t2r"), (ax_m1, "1t1r")):
            m = run.columns(f"error_map_{name}")[f"error_map_{name}"].values[worst]
            im = bit_map(ax, m, f"{name.upper()} errors at {i_c[worst] * 1e6:g} uA, "
                                f"{cyc[worst]:.0f} cycles: {int(m.sum())} in {bits[worst]} bits",
                         cmap="Reds")
            fig.colorbar(im, ax=ax, label="errors per bit")
        fig.suptitle(f"{run.title} ({run.status})")
        return fig

    @staticmethod
    def _code_names(run) -> list[str]:
        if "ecc" not in run.data_names:
            return []
        return [code_name(c) for c in parse_codes(run.parameter_values()["codes"])]

    @staticmethod
    def _calibration_panel(ax, run):
        """Where the fixed 1T1R references sit between the calibration writes' LRS and HRS."""
        cal = run.columns("reference_1t1r")
        i_c = np.atleast_1d(cal["compliance"].values) * 1e6
        ref = np.exp(np.mean(np.log(np.reshape(cal["reference_1t1r"].values, (len(i_c), -1))),
                             axis=-1))
        for name, style, label in (("calibration_hrs", "o-", "HRS median"),
                                   ("calibration_lrs", "s-", "LRS median")):
            median = np.atleast_1d(cal[name].values)
            sigma = np.atleast_1d(cal[name.replace("_", "_sigma_")].values)
            c = ax.plot(i_c, median, style, label=f"{label} (band: +-2 sigma of ln R)")[0].get_color()
            ax.fill_between(i_c, median * np.exp(-2 * sigma), median * np.exp(2 * sigma),
                            color=c, alpha=0.15)
        ax.plot(i_c, ref, "k^--", label="1T1R reference (calibrated once)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("SET compliance of the calibration writes (uA)")
        ax.set_ylabel("BL resistance (ohm)")
        ax.set_title("1T1R reference calibration (before any cycling)", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)

    @staticmethod
    def _storage_panel(ax, cols, ecc, cycles):
        """BER against devices per data bit, one line per compliance: what the code's overhead and
        the second device of 2T2R buy."""
        i_c, bits = cols["compliance"].values, cols["bits"].values
        for j in np.flatnonzero(cols["cycles"].values == cycles):
            sel = (ecc["cycles"].values == cycles) & (ecc["compliance"].values == i_c[j])
            x = np.concatenate([[1.0], ecc["devices_per_bit"].values[sel], [2.0]])
            k = np.concatenate([[cols["errors_1t1r"].values[j]], ecc["errors"].values[sel],
                                [cols["errors_2t2r"].values[j]]])
            n = np.concatenate([[bits[j]], ecc["data_bits"].values[sel], [bits[j]]])
            rate_plot(ax, x, k, n, "o-", label=f"{i_c[j] * 1e6:g} uA", lw=0.8)
        ax.set_xlabel("Devices per data bit (1 = 1T1R, codes, 2 = 2T2R)")
        ax.set_ylabel("Bit-error rate (95 % interval)")
        ax.set_title("What each device per bit buys", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        upper_bound_legend(ax, fontsize=7, loc="lower left", ncol=2)
