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

For each SET compliance current the weights are written once (every device RESET, then one SET for
the LRS device of each pair; or program-and-verify), read back by the PCSA to measure the weights'
bit-error rate, and the test set is classified on the die. Bit errors are whatever the devices and
sense amplifiers produce: a low compliance leaves weak filaments whose resistance overlaps the
high-resistance state.
"""

from __future__ import annotations

import numpy as np

from labctl.protocol import Array, Axis, Column, IntegerParameter, Parameter, ParameterError, Plot, Sweep
from labctl.protocols._rram import bnn
from labctl.protocols._rram.base import FormsFirst, RRAMDieProtocol, VerifyParameters
from labctl.protocols._rram.figures import bit_map
from labctl.protocols._rram.layout import BIT_AXES, COLS, ROWS
from labctl.protocols._rram.parameters import parse_floats

N_IN, N_CLASSES = 64, 10
N_HIDDEN = ROWS * COLS // N_IN  # 16 neurons of 64 weights fill the die
SEGMENTS = N_IN // COLS  # input segments (one XNOR-popcount each) per image
CONDITION = (Column("compliance", "A", "SET compliance current"),
             Column("repeat", "", "Programming of the weights at this current"))
IMAGE = Axis("image", "", "test image")
NEURON = Axis("neuron", "", "hidden neuron")
CLASS = Axis("class", "", "digit class")


def _test_size() -> int:
    return len(bnn.load_digits_binary().y_test)


class BNNInference(FormsFirst, VerifyParameters, RRAMDieProtocol):
    """Binarized neural network inference on the 2T2R die versus programming current."""

    NAME = "rram_bnn_inference"
    COLUMNS = (Column("compliance", "A", "SET compliance current", axis=True),
               Column("accuracy_die", "", "Test accuracy, on-die hidden layer", trials="test_images"),
               Column("accuracy_software", "", "Test accuracy, error-free (software)", trials="test_images"),
               Column("repeat", "", "Programming of the weights at this current", axis=True),
               Column("ber", "", "Weight bit-error rate (PCSA read-back)", count="weight_errors",
                      trials=ROWS * COLS),
               Column("weight_errors", "", "Weight bits read back wrong"),
               Column("test_images", "", "Test images classified"),
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
             Plot("lrs_median", "r_lrs_median", title="Median LRS resistance"))
    DEFAULT = "accuracy"

    compliances = Parameter("SET compliance currents for the weights (A, comma-separated)",
                            default="6e-6, 8e-6, 10e-6, 12e-6, 15e-6, 20e-6, 30e-6, 100e-6")
    seed = IntegerParameter("Seed of the training (initial weights, batches)", default=0,
                            minimum=0, maximum=2**31 - 1)
    data_seed = IntegerParameter("Seed of the train/test split of the digits", default=0,
                                 minimum=0, maximum=2**31 - 1)
    epochs = IntegerParameter("Training epochs", default=30, minimum=1, maximum=1000)
    test_images = IntegerParameter("Test images classified on the die (0 = all)", default=0,
                                   minimum=0, maximum=10_000)
    repeats = IntegerParameter("Programmings of the weights per current (fresh bit errors each)",
                               default=1, minimum=1, maximum=1000)

    def scan(self):
        currents = parse_floats(self.compliances, "compliances")
        return (Sweep("compliance", currents), Sweep("repeat", range(self.repeats)))

    def arrays(self):
        n = self._n_test()
        scan = self.scan()
        return (
            Array("weights", (ROWS, COLS), "", "Hidden-layer weight bits as laid on the die",
                  axes=BIT_AXES, dtype="i1", grid=()),
            Array("thresholds", (N_HIDDEN,), "", "Hidden neuron popcount thresholds",
                  axes=(NEURON,), dtype="i2", grid=()),
            Array("output_weights", (N_CLASSES, N_HIDDEN), "", "Output-layer weight bits",
                  axes=(CLASS, NEURON), dtype="i1", grid=()),
            Array("output_scale", (N_CLASSES,), "", "Output batch-norm scale", axes=(CLASS,), grid=()),
            Array("output_bias", (N_CLASSES,), "", "Output batch-norm offset", axes=(CLASS,), grid=()),
            Array("test_inputs", (n, N_IN), "", "Test images (binarized pixels)",
                  axes=(IMAGE, Axis("pixel")), dtype="i1", grid=()),
            Array("labels", (n,), "", "Test labels", axes=(IMAGE,), dtype="i1", grid=()),
            Array("software_predictions", (n,), "", "Error-free predictions", axes=(IMAGE,),
                  dtype="i1", grid=()),
            Array("weight_error_map", (ROWS, COLS), "", "Weight bits read back wrong",
                  axes=BIT_AXES, index=CONDITION, dtype="i1", grid=scan),
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
        self.currents = parse_floats(self.compliances, "compliances")
        n = self._n_test()
        data = bnn.load_digits_binary(self.data_seed)
        self.net = bnn.train_bnn(data.x_train, data.y_train, n_hidden=N_HIDDEN,
                                 n_classes=N_CLASSES, epochs=self.epochs, seed=self.seed)
        self.x, self.y = data.x_test[:n], data.y_test[:n]
        self.pattern = bnn.to_rows(self.net.hidden_weights, COLS)
        super().startup()
        self.configure_verify()

    def execute(self):
        net, d = self.net, self.die
        ideal = bnn.hidden_popcounts(net, self.x)
        soft = bnn.infer(net, ideal)
        acc_soft = bnn.accuracy(soft, self.y)
        self.emit_array("weights", self.pattern.astype(np.int8))
        self.emit_array("thresholds", net.hidden_thresholds.astype(np.int16))
        self.emit_array("output_weights", net.output_weights.astype(np.int8))
        self.emit_array("output_scale", net.output_scale)
        self.emit_array("output_bias", net.output_bias)
        self.emit_array("test_inputs", self.x.astype(np.int8))
        self.emit_array("labels", self.y.astype(np.int8))
        self.emit_array("software_predictions", soft.astype(np.int8))
        segments = self.x.reshape(len(self.x), SEGMENTS, COLS)
        want_lrs = np.stack([self.pattern, ~self.pattern], axis=-1)
        conditions = [(i_c, k) for i_c in self.currents for k in range(self.repeats)]
        for n, (i_c, k) in enumerate(conditions):
            d.set_compliance = i_c
            d.program_array(self.pattern)
            energy = d.energy
            errors = d.read_array() != self.pattern
            r = d.array_resistance()
            d.clear_energy()
            counts = np.empty((len(self.x), SEGMENTS, ROWS), int)
            for i, image in enumerate(segments):
                for s, x in enumerate(image):
                    counts[i, s] = d.xnor_popcount(x)
                self.checkpoint()
            energy_read = d.total_energy
            measured = bnn.row_popcounts_to_neurons(counts, N_HIDDEN)
            predicted = bnn.infer(net, measured)
            self.emit_array("weight_error_map", errors.astype(np.int8), compliance=i_c, repeat=k)
            self.emit_array("popcounts", measured.astype(np.int16), compliance=i_c, repeat=k)
            self.emit_array("predictions", predicted.astype(np.int8), compliance=i_c, repeat=k)
            flips = (measured >= net.hidden_thresholds) != (ideal >= net.hidden_thresholds)
            self.emit_point(compliance=i_c, repeat=k, test_images=len(self.y),
                            accuracy_die=bnn.accuracy(predicted, self.y),
                            accuracy_software=acc_soft, ber=errors.mean(),
                            weight_errors=int(errors.sum()),
                            agreement=float(np.mean(predicted == soft)),
                            hidden_flips=float(flips.mean()),
                            popcount_error=float(np.abs(measured - ideal).mean()),
                            energy_per_bit=energy / errors.size,
                            energy_per_image=energy_read / len(self.x),
                            r_lrs_median=float(np.median(r[want_lrs])))
            self.progress(n + 1, len(conditions))

    @classmethod
    def figure(cls, run):
        import matplotlib.pyplot as plt

        i_c, ber = run["compliance"].values, run["ber"].values
        acc, soft = run["accuracy_die"].values, run["accuracy_software"].values[0]
        floor = 0.5 / (ROWS * COLS)  # zero errors drawn at half a count, as open markers
        shown, zero = np.maximum(ber, floor), ber == 0
        currents = np.unique(i_c)
        mean_acc = np.array([acc[i_c == c].mean() for c in currents])
        mean_ber = np.array([ber[i_c == c].mean() for c in currents])
        fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
        ax = axes[0]
        ax.semilogx(i_c * 1e6, acc, ".", color="tab:blue", alpha=0.4)
        ax.semilogx(currents * 1e6, mean_acc, "o-", color="tab:blue", label="on die")
        ax.axhline(soft, color="k", ls="--", label="software (error-free)")
        ax.set_xlabel("SET compliance current (uA)")
        ax.set_ylabel("Test accuracy")
        ax.legend(fontsize=8, loc="lower right")
        twin = ax.twinx()
        twin.semilogy(currents * 1e6, np.maximum(mean_ber, floor), "s:", color="tab:red")
        twin.set_ylabel("Weight bit-error rate", color="tab:red")
        ax = axes[1]
        cols = run.columns()
        yerr = np.array([acc - cols["accuracy_die_ci_low"].values, cols["accuracy_die_ci_high"].values - acc])
        ax.set_xscale("log")
        ax.errorbar(shown[~zero], acc[~zero], yerr=yerr[:, ~zero], fmt="o", capsize=2, color="tab:blue",
                    label="on die (95 % CI)")
        ax.errorbar(shown[zero], acc[zero], yerr=yerr[:, zero], fmt="o", mfc="none", capsize=2,
                    color="tab:blue", label="on die, no error read")
        ax.axhline(soft, color="k", ls="--", label="software (error-free)")
        ax.axvline(1e-3, color="gray", ls=":", label="BER 1e-3")
        ax.set_xlabel("Weight bit-error rate")
        ax.set_ylabel("Test accuracy")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
        worst = int(np.argmax(ber))
        m = run.columns("weight_error_map")["weight_error_map"].values[worst]
        bit_map(axes[2], m, f"Weight errors at {i_c[worst] * 1e6:.0f} uA: {int(m.sum())}",
                cmap="Reds", vmin=0, vmax=1)
        fig.suptitle(f"{run.title} ({run.status})")
        return fig
