"""On-chip binarized neural network inference on the 1-kbit 2T2R die, versus programming current.

The experiment of M. Bocquet et al., IEDM 2018, and T. Hirtzlin et al., Front. Neurosci. 13, 1383
(2020): the weights of a binarized neural network are stored as 2T2R bits, the precharge sense
amplifiers compute XNOR(input bit, weight bit) on every column, digital adders count the ones, and a
threshold on the count is the binary neuron. No error correction: a BNN tolerates weight bit errors
(no accuracy loss up to a bit-error rate of about 1e-3), so the die can be programmed at low current
and energy.

Mapping (see :mod:`labctl.protocols._rram.bnn`): 8 x 8 binarized digits (64 input bits) -> 16 hidden neurons of 64
weights -> 10 classes. The hidden layer fills the die exactly: neuron j keeps weights 0-31 on row j
and weights 32-63 on row 16 + j. Each image takes two XNOR-popcounts over all 32 rows, one with
input bits 0-31 (rows 0-15 count) and one with bits 32-63 (rows 16-31 count); the adders sum the two
counts of each neuron, and the neuron fires when the sum reaches its folded batch-norm threshold.
The output layer (16 x 10 binary weights and a per-class scale and offset, 160 bits that do not fit
beside the hidden layer) is evaluated off the die, digitally.

For every programming condition (SET amplitude x SET compliance) the weights are written
``repeats`` times (every device RESET, then one SET for the LRS device of each pair; or
program-and-verify), each programming read back ``weight_reads`` times by the PCSA to measure the
weights' bit-error rate (errors over all reads, with its 95 % interval), and the test set classified
on the die.  Accuracy is reported per programming and, in the figure, as the mean over programmings
with its 95 % t interval: one programming can be lucky.  Bit errors are whatever the devices and sense
amplifiers produce: a low compliance leaves weak filaments whose resistance overlaps the
high-resistance state, a low SET amplitude leaves devices that did not switch within the pulse.

``training_ber`` lists networks to compare: 0 is standard training, a rate p > 0 error-aware training
(hidden weights flipped at rate p in every training pass; Hirtzlin et al., arXiv:1904.03652, see
:mod:`labctl.protocols._rram.bnn`).  Each network is programmed and evaluated at every condition, and
its software error tolerance (accuracy with independent random weight flips, averaged over draws) is
stored next to the die's points.
"""

from __future__ import annotations

import numpy as np

from labctl.headline import Headline, Rate
from labctl.plan import Planned
from labctl.protocol import (
    Array,
    Axis,
    Column,
    FloatListParameter,
    IntegerParameter,
    ParameterError,
    Plot,
    Sweep,
    Table,
)
from labctl.protocols._rram import bnn
from labctl.protocols._rram.base import FormsFirst, RRAMDieProtocol, VerifyParameters
from labctl.protocols._rram.figures import bit_map, upper_bound_legend
from labctl.protocols._rram.layout import BIT_AXES, COLS, ROWS
from labctl.protocols._rram.parameters import parse_floats
from labctl.stats import t_interval

N_IN, N_CLASSES = 64, 10
N_HIDDEN = ROWS * COLS // N_IN  # 16 neurons of 64 weights fill the die
SEGMENTS = N_IN // COLS  # input segments (one XNOR-popcount each) per image
NETWORK = (Column("training_ber", "", "Weight bit-error rate of the training (0 = standard)"),)
CONDITION = (Column("set_voltage", "V", "SET pulse amplitude"),
             Column("compliance", "A", "SET compliance current"),
             Column("repeat", "", "Programming of the weights at this condition"),
             *NETWORK)
TOLERANCE_RATES = (0.0, 1e-3, 3e-3, 1e-2, 2e-2, 4e-2, 6e-2, 1e-1)
TOLERANCE_DRAWS = 40
IMAGE = Axis("image", "", "test image")
NEURON = Axis("neuron", "", "hidden neuron")
CLASS = Axis("class", "", "digit class")


def _test_size() -> int:
    return len(bnn.load_digits_binary().y_test)


class BNNInference(FormsFirst, VerifyParameters, RRAMDieProtocol):
    """Binarized neural network inference on the 2T2R die versus programming conditions."""

    NAME = "rram_bnn_inference"
    COLUMNS = (Column("compliance", "A", "SET compliance current", axis=True),
               Column("accuracy_die", "", "Test accuracy, on-die hidden layer", trials="test_images"),
               Column("accuracy_software", "", "Test accuracy, error-free (software)",
                      trials="test_images"),
               Column("set_voltage", "V", "SET pulse amplitude", axis=True),
               Column("repeat", "", "Programming of the weights at this condition", axis=True),
               Column("training_ber", "", "Weight bit-error rate of the training (0 = standard)",
                      axis=True),
               Column("ber", "", "Weight bit-error rate (PCSA read-back, all reads)",
                      count="weight_errors", trials="weight_bits_read"),
               Column("weight_errors", "", "Weight bits read back wrong, summed over the reads",
                      dtype="i8"),
               Column("weight_bits_read", "", "Weight bits read (bits x reads)", dtype="i8"),
               Column("test_images", "", "Test images classified", dtype="i8"),
               Column("agreement", "", "Fraction of predictions equal to software's"),
               Column("hidden_flips", "", "Fraction of hidden activations differing from software"),
               Column("popcount_error", "", "Mean |on-die - error-free| hidden popcount"),
               Column("energy_per_bit", "J", "Programming energy per weight bit"),
               Column("energy_per_image", "J", "XNOR-popcount read energy per image"),
               Column("r_lrs_median", "ohm", "Median LRS resistance"))
    PLOTS = (Plot("accuracy", "accuracy_die", ("accuracy_software",),
                  title="Test accuracy vs SET compliance current of the weights"),
             Plot("weight_ber", "ber", title="Weight bit-error rate vs SET compliance current"),
             Plot("agreement", "agreement", title="Predictions equal to software's"),
             Plot("hidden_flips", "hidden_flips", title="Hidden activations differing from software"),
             Plot("popcount_error", "popcount_error", title="Mean popcount error"),
             Plot("programming_energy", "energy_per_bit", title="Programming energy per weight bit"),
             Plot("inference_energy", "energy_per_image", title="Read energy per image"),
             Plot("lrs_median", "r_lrs_median", title="Median LRS resistance"),
             Plot("accuracy_mean", "accuracy_mean", ("accuracy_software",), channel="summary",
                  title="Test accuracy, mean over programmings, vs programming condition"))
    DEFAULT = "accuracy"
    HEADLINES = (Headline("accuracy_die", "", "Test accuracy, on-die hidden layer", rate=True),
                 Headline("ber", "", "Weight bit-error rate (PCSA read-back)", rate=True),
                 Headline("accuracy_software", "", "Test accuracy, error-free (software)"),
                 Headline("energy_per_bit", "J", "Programming energy per weight bit"))

    compliances = FloatListParameter("SET compliance currents for the weights (comma-separated)",
                                     units="A", minimum=5e-6, maximum=500e-6,
                                     default="5e-6, 8e-6, 10e-6, 15e-6, 20e-6, 100e-6")
    set_voltages = FloatListParameter("SET amplitudes for the weights (comma-separated; empty = "
                                      "set_voltage)", units="V", minimum=0, maximum=5, allow_empty=True,
                                      default="")
    seed = IntegerParameter("Seed of the training (initial weights, batches)", default=0,
                            minimum=0, maximum=2**31 - 1)
    data_seed = IntegerParameter("Seed of the train/test split of the digits", default=0,
                                 minimum=0, maximum=2**31 - 1)
    epochs = IntegerParameter("Training epochs", default=30, minimum=1, maximum=1000)
    test_images = IntegerParameter("Test images classified on the die (0 = all)", default=0,
                                   minimum=0, maximum=10_000)
    repeats = IntegerParameter("Programmings of the weights per condition (fresh bit errors each)",
                               default=5, minimum=1, maximum=1000)
    weight_reads = IntegerParameter("PCSA reads of the weights after each programming",
                                    default=10, minimum=1, maximum=1000)
    training_ber = FloatListParameter("Networks to compare, by the weight bit-error rate of their "
                                      "training (0 = standard, p > 0 = error-aware; comma-separated)",
                                      minimum=0, maximum=0.499, default="0")

    def conditions(self) -> tuple[list[float], list[float], list[float]]:
        """(SET amplitudes, compliance currents, training bit-error rates) from the parameters."""
        voltages = (parse_floats(self.set_voltages, "set_voltages")
                    if str(self.set_voltages).strip() else [self.set_voltage])
        currents = parse_floats(self.compliances, "compliances")
        rates = parse_floats(self.training_ber, "training_ber")
        if any(not 0 <= p < 0.5 for p in rates):
            raise ParameterError("training_ber: rates must lie in [0, 0.5)")
        return voltages, currents, rates

    def scan(self):
        voltages, currents, rates = self.conditions()
        return (Sweep("set_voltage", voltages), Sweep("compliance", currents),
                Sweep("repeat", range(self.repeats)), Sweep("training_ber", rates))

    def plan(self):
        out = super().plan()
        voltages, currents, _ = self.conditions()
        out["die.set_amplitude"] = Planned(voltages, source=("set_voltages", "set_voltage"), units="V")
        out["die.set_compliance"] = Planned(currents, source=("compliances",), units="A")
        return out

    def tables(self):
        v, i_c, _, nets = self.scan()
        return (Table("summary", (
            *(c for c in CONDITION if c.name != "repeat"),
            Column("programmings", "", "Programmings averaged", dtype="i8"),
            Column("accuracy_mean", "", "Test accuracy on die, mean over programmings"),
            Column("accuracy_low", "", "Mean test accuracy: low end of the 95 % t interval"),
            Column("accuracy_high", "", "Mean test accuracy: high end of the 95 % t interval"),
            Column("accuracy_sd", "", "Test accuracy on die, standard deviation over programmings"),
            Column("accuracy_software", "", "Test accuracy, error-free (software)"),
            Column("accuracy_loss", "", "Error-free minus mean on-die accuracy"),
            Column("ber", "", "Weight bit-error rate, pooled over programmings and reads",
                   count="weight_errors", trials="weight_bits_read"),
            Column("weight_errors", "", "Weight bits read back wrong, all programmings and reads",
                   dtype="i8"),
            Column("weight_bits_read", "", "Weight bits read, all programmings and reads",
                   dtype="i8")), grid=(v, i_c, nets)),)

    def arrays(self):
        n = self._n_test()
        scan = self.scan()
        nets = (scan[-1],)
        return (
            Array("weights", (ROWS, COLS), "", "Hidden-layer weight bits as laid on the die",
                  axes=BIT_AXES, index=NETWORK, dtype="i1", grid=nets),
            Array("thresholds", (N_HIDDEN,), "", "Hidden neuron popcount thresholds",
                  axes=(NEURON,), index=NETWORK, dtype="i2", grid=nets),
            Array("output_weights", (N_CLASSES, N_HIDDEN), "", "Output-layer weight bits",
                  axes=(CLASS, NEURON), index=NETWORK, dtype="i1", grid=nets),
            Array("output_scale", (N_CLASSES,), "", "Output batch-norm scale", axes=(CLASS,),
                  index=NETWORK, grid=nets),
            Array("output_bias", (N_CLASSES,), "", "Output batch-norm offset", axes=(CLASS,),
                  index=NETWORK, grid=nets),
            Array("software_tolerance", (len(TOLERANCE_RATES),), "",
                  f"Test accuracy with independent random hidden-weight errors (software, mean "
                  f"of {TOLERANCE_DRAWS} draws)",
                  axes=(Axis("injected_ber", "", "Injected weight bit-error rate"),),
                  index=NETWORK, grid=nets),
            Array("test_inputs", (n, N_IN), "", "Test images (binarized pixels)",
                  axes=(IMAGE, Axis("pixel")), dtype="i1", grid=()),
            Array("labels", (n,), "", "Test labels", axes=(IMAGE,), dtype="i1", grid=()),
            Array("software_predictions", (n,), "", "Error-free predictions", axes=(IMAGE,),
                  index=NETWORK, dtype="i1", grid=nets),
            Array("weight_error_map", (ROWS, COLS), "",
                  "Reads in which each weight bit came back wrong", axes=BIT_AXES,
                  index=CONDITION, dtype="i2", grid=scan),
            Array("popcounts", (n, N_HIDDEN), "", "Hidden popcounts measured on the die",
                  axes=(IMAGE, NEURON), index=CONDITION, dtype="i2", grid=scan),
            Array("predictions", (n,), "", "On-die predictions", axes=(IMAGE,),
                  index=CONDITION, dtype="i1", grid=scan),
        )

    def _n_test(self) -> int:
        available = _test_size()
        if self.test_images > available:
            raise ParameterError(f"test_images: the test set has {available} images, "
                                 f"asked for {self.test_images}")
        return self.test_images or available

    def startup(self):
        self.voltages, self.currents, self.training_rates = self.conditions()
        n = self._n_test()
        data = bnn.load_digits_binary(self.data_seed)
        self.nets = {p: bnn.train_bnn(data.x_train, data.y_train, n_hidden=N_HIDDEN,
                                      n_classes=N_CLASSES, epochs=self.epochs, seed=self.seed,
                                      weight_error_rate=p)
                     for p in self.training_rates}
        self.x, self.y = data.x_test[:n], data.y_test[:n]
        super().startup()
        self.configure_verify()

    def execute(self):
        d = self.die
        self.emit_array("test_inputs", self.x.astype(np.int8))
        self.emit_array("labels", self.y.astype(np.int8))
        self.set_axis("software_tolerance", "injected_ber", np.array(TOLERANCE_RATES))
        ideal, soft = {}, {}
        for p, net in self.nets.items():
            ideal[p] = bnn.hidden_popcounts(net, self.x)
            soft[p] = bnn.infer(net, ideal[p])
            self.emit_array("weights", bnn.to_rows(net.hidden_weights, COLS).astype(np.int8),
                            training_ber=p)
            self.emit_array("thresholds", net.hidden_thresholds.astype(np.int16), training_ber=p)
            self.emit_array("output_weights", net.output_weights.astype(np.int8), training_ber=p)
            self.emit_array("output_scale", net.output_scale, training_ber=p)
            self.emit_array("output_bias", net.output_bias, training_ber=p)
            self.emit_array("software_predictions", soft[p].astype(np.int8), training_ber=p)
            self.emit_array("software_tolerance", bnn.accuracy_with_weight_errors(
                net, self.x, self.y, TOLERANCE_RATES, TOLERANCE_DRAWS, seed=self.seed),
                training_ber=p)
        total, n = len(self.voltages) * len(self.currents) * self.repeats * len(self.nets), 0
        for v in self.voltages:
            for i_c in self.currents:
                d.set_amplitude = v
                d.set_compliance = i_c
                taken = {p: [] for p in self.nets}
                for k in range(self.repeats):
                    for p, net in self.nets.items():
                        taken[p].append(self.run_network(net, ideal[p], soft[p], v, i_c, k, p))
                        n += 1
                        self.progress(n, total)
                for p, points in taken.items():
                    self.emit_summary(v, i_c, p, points, bnn.accuracy(soft[p], self.y))

    def emit_summary(self, v, i_c, p, points, accuracy_software):
        """One row of table ``summary``: accuracy averaged over the programmings of a condition
        (95 % t interval: programming-to-programming spread) and the weight errors pooled over
        programmings and reads."""
        acc = np.array([q["accuracy_die"] for q in points])
        mean, low, high = t_interval(acc)
        k = sum(q["weight_errors"] for q in points)
        n = sum(q["weight_bits_read"] for q in points)
        self.emit_row("summary", set_voltage=v, compliance=i_c, training_ber=p,
                      programmings=len(points), accuracy_mean=mean, accuracy_low=low,
                      accuracy_high=high, accuracy_sd=float(np.std(acc, ddof=1)) if len(acc) > 1
                      else np.nan, accuracy_software=accuracy_software,
                      accuracy_loss=accuracy_software - mean, ber=k / n, weight_errors=k,
                      weight_bits_read=n)

    def run_network(self, net, ideal, soft, v, i_c, k, p):
        """Program ``net``'s hidden weights once, read them back, classify the test set on die."""
        d = self.die
        pattern = bnn.to_rows(net.hidden_weights, COLS)
        d.program_array(pattern)
        energy = d.energy
        errors = np.zeros((ROWS, COLS), int)
        for _ in range(self.weight_reads):
            errors += d.read_array() != pattern
        r = d.array_resistance()
        d.clear_energy()
        segments = self.x.reshape(len(self.x), SEGMENTS, COLS)
        counts = np.empty((len(self.x), SEGMENTS, ROWS), int)
        for i, image in enumerate(segments):
            for s, x in enumerate(image):
                counts[i, s] = d.xnor_popcount(x)
            self.checkpoint()
        energy_read = d.total_energy
        measured = bnn.row_popcounts_to_neurons(counts, N_HIDDEN)
        predicted = bnn.infer(net, measured)
        index = {"compliance": i_c, "set_voltage": v, "repeat": k, "training_ber": p}
        self.emit_array("weight_error_map", errors.astype(np.int16), **index)
        self.emit_array("popcounts", measured.astype(np.int16), **index)
        self.emit_array("predictions", predicted.astype(np.int8), **index)
        flips = (measured >= net.hidden_thresholds) != (ideal >= net.hidden_thresholds)
        n_read = errors.size * self.weight_reads
        want_lrs = np.stack([pattern, ~pattern], axis=-1)
        point = dict(accuracy_die=bnn.accuracy(predicted, self.y),
                     weight_errors=int(errors.sum()), weight_bits_read=n_read)
        self.emit_point(**index, **point, accuracy_software=bnn.accuracy(soft, self.y),
                        ber=errors.sum() / n_read,
                        test_images=len(self.y),
                        agreement=float(np.mean(predicted == soft)),
                        hidden_flips=float(flips.mean()),
                        popcount_error=float(np.abs(measured - ideal).mean()),
                        energy_per_bit=energy / errors.size,
                        energy_per_image=energy_read / len(self.x),
                        r_lrs_median=float(np.median(r[want_lrs])))
        return point

    @staticmethod
    def summary(run) -> list[dict]:
        """The ``summary`` table of a run, one dict per (SET amplitude, compliance, network)."""
        cols = run.columns("summary")
        names = ("set_voltage", "compliance", "training_ber", "programmings", "accuracy_mean",
                 "accuracy_low", "accuracy_high", "accuracy_software", "ber", "ber_ci_low",
                 "ber_ci_high", "weight_errors", "weight_bits_read")
        n = len(cols["accuracy_mean"].values)
        return [{k: float(np.asarray(cols[k].values).ravel()[i]) for k in names} for i in range(n)]

    @classmethod
    def headline(cls, run):
        """Over every point of the run (a campaign grids over `compliances`, one condition and one
        network per run): accuracy pooled over programmings, BER over every read."""
        c = run.columns()
        images = c["test_images"].values
        correct = np.rint(c["accuracy_die"].values * images)
        return {"accuracy_die": Rate(int(correct.sum()), int(images.sum())),
                "ber": Rate(int(c["weight_errors"].values.sum()), int(c["weight_bits_read"].values.sum())),
                "accuracy_software": float(c["accuracy_software"].values.mean()),
                "energy_per_bit": float(c["energy_per_bit"].values.mean())}

    @classmethod
    def figure(cls, run):
        import matplotlib.pyplot as plt

        rows = cls.summary(run)
        nets = sorted({r["training_ber"] for r in rows})
        tolerance = run.columns("software_tolerance")
        injected = tolerance["injected_ber"].values
        soft_acc = {p: a for p, a in zip(np.atleast_1d(tolerance["training_ber"].values),
                                         tolerance["software_tolerance"].values, strict=True)}
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), layout="constrained")
        ax_b, ax_i, ax_m = axes
        for j, p in enumerate(nets):
            mine = [r for r in rows if r["training_ber"] == p]
            ber = np.array([r["ber"] for r in mine])
            acc = np.array([r["accuracy_mean"] for r in mine])
            a_err = np.nan_to_num([[r["accuracy_mean"] - r["accuracy_low"] for r in mine],
                                   [r["accuracy_high"] - r["accuracy_mean"] for r in mine]])
            b_err = np.array([[r["ber"] - r["ber_ci_low"] for r in mine],
                              [r["ber_ci_high"] - r["ber"] for r in mine]])
            zero = ber == 0
            shown = np.where(zero, [r["ber_ci_high"] for r in mine], ber)
            name = "standard training" if p == 0 else f"error-aware training (p = {p:g})"
            c = f"C{j}"
            ax_b.errorbar(shown[~zero], acc[~zero], xerr=b_err[:, ~zero], yerr=a_err[:, ~zero],
                          fmt="o", color=c, capsize=2, label=f"on die, {name}")
            if zero.any():
                ax_b.errorbar(shown[zero], acc[zero], yerr=a_err[:, zero], xerr=0.6 * shown[zero],
                              xuplims=True, fmt="o", mfc="white", color=c, capsize=2)
            x = np.where(injected == 0, 1e-4, injected)
            ax_b.plot(x, soft_acc[p], "-", color=c, alpha=0.6,
                      label=f"software, random weight flips, {name}")
            ax_i.axhline(soft_acc[p][0], color=c, ls="--", lw=1,
                         label=f"software, error-free, {name}")
            voltages = sorted({r["set_voltage"] for r in mine})
            for j_v, v in enumerate(voltages):
                style = ("o-", "s--", "^:", "D-.", "v-", "P--")[j_v % 6]
                at_v = [r for r in mine if r["set_voltage"] == v]
                i_c = np.array([r["compliance"] for r in at_v]) * 1e6
                tag = f", SET {v:g} V" if len({r["set_voltage"] for r in rows}) > 1 else ""
                ax_i.errorbar(i_c, [r["accuracy_mean"] for r in at_v],
                              yerr=np.nan_to_num([[r["accuracy_mean"] - r["accuracy_low"] for r in at_v],
                                                  [r["accuracy_high"] - r["accuracy_mean"]
                                                   for r in at_v]]),
                              fmt=style, color=c, capsize=2, label=f"on die, {name}{tag}")
        ax_b.axvline(1e-3, color="gray", ls=":", label="BER 1e-3")
        ax_b.set_xscale("log")
        ax_b.set_xlabel("Weight bit-error rate (95 % CI; no-error points: upper bound)")
        ax_b.set_ylabel("Test accuracy (mean over programmings, 95 % CI)")
        ax_b.grid(True, which="both", alpha=0.3)
        upper_bound_legend(ax_b, fontsize=7, loc="lower left")
        currents = np.unique(run["compliance"].values) * 1e6
        ax_i.set_xscale("log")
        ax_i.set_xticks(currents, [f"{c:g}" for c in currents])
        ax_i.minorticks_off()
        ax_i.set_xlabel("SET compliance current (uA)")
        ax_i.set_ylabel("Test accuracy (mean over programmings, 95 % CI)")
        for ax in (ax_b, ax_i):
            ax.set_ylim(top=1.0)
        ax_i.grid(True, which="both", alpha=0.3)
        ax_i.legend(fontsize=7, loc="lower right")
        ber = run["ber"].values
        worst = int(np.argmax(ber))
        m = run.columns("weight_error_map")["weight_error_map"].values[worst]
        reads = int(run["weight_bits_read"].values[worst] // (ROWS * COLS))
        bit_map(ax_m, m, f"Weight errors at {run['compliance'].values[worst] * 1e6:g} uA, "
                         f"SET {run['set_voltage'].values[worst]:g} V ({reads} reads)",
                cmap="Reds", vmin=0, vmax=max(reads, 1))
        fig.suptitle(f"{run.title} ({run.status})")
        return fig
