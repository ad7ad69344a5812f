"""Vowel recognition with four coupled spin-torque nano-oscillators (Romera et al., Nature 563, 230 (2018)).

The experiment of the paper's Figs. 3-4, on the station's chip of four vortex STNOs in series:

* Data (:mod:`labctl.protocols._stno.vowel_data`): the first two formants (F1, F2, steady state) of seven
  vowels spoken by the 37 women of Hillenbrand et al., J. Acoust. Soc. Am. 97, 3099 (1995) who have F1, F2
  and F3 measured for all seven, split by talker into training and test halves (seeded). Romera et al. use
  37 women and seven Hillenbrand vowels; the exact seven are our choice: /ae/ "had", /ah/ "hod", /aw/
  "hawed", /er/ "heard", /iy/ "heed", /uh/ "hud", /uw/ "who'd" (vowels that span the F1-F2 plane).
* Encoding (paper, Fig. 1): F1 and F2 are mapped linearly onto two input bands and sent as two microwave
  tones f_A (generator rf_a) and f_B (generator rf_b) through the strip line. The formant ranges are those
  of the training talkers (nothing about the test talkers enters the encoding).
* Design (:mod:`labctl.protocols._stno.vowel_design`): where the oscillators start and which
  synchronization map stands for which vowel, fitted on the training tokens with an idealized picture of
  the chip; learning then works on the real one.
* Coupling: the oscillators are in series, so each one's microwave current flows through the others; an
  amplified loop (station role ``loop``: step attenuators and a switch thrown by an HP 11713A) sends part
  of the chip's output back into the strip line, so that every oscillator also feels the others' emission
  as a field (Singh et al., Phys. Rev. Applied 10, 024001 (2018)). Its attenuation and state are
  parameters.
* Output (paper, Fig. 3): the synchronization map, which oscillator is locked to which input, read from
  one spectrum, and the vowel whose target map is nearest (:mod:`labctl.protocols._stno.vowel_readout`).
* Learning: after each training vowel the oscillators' dc currents move by the measured frequency
  differences to the inputs they should, or should not, lock to (:mod:`labctl.protocols._stno.vowel_learning`),
  from a frequency-vs-current calibration of each oscillator taken at startup with the coupling loop in the
  state it learns in: through the loop an oscillator also feels its own emission, which shifts its
  free-running frequency (self-injection; Tsunegi et al., Sci. Rep. 6, 26849 (2016)), and the readout
  attributes peaks and the rule counts locked oscillators by these frequencies.

Epoch 0 presents the training and the test set before any learning. Each epoch then presents the
training set in a new seeded order (learning on; a vowel is classified before its update, so the
training rate is counted while learning); the test set is presented (learning off) after the last epoch
(after every epoch with ``test_every_epoch``). The file holds every presentation (vowel, decision, map,
currents), the accuracy per epoch, the test confusion matrices, the encoding, the design, the
calibration, the final test spectra, and the trained network's classification over a grid of the (f_A,
f_B) plane, measured with the coupling loop closed and open (its synchronization regions; the other
loop state's maps are read with a calibration taken in that state).
Romera et al. report 89 % (train) and 88 % (test).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labctl.headline import Headline, Rate
from labctl.protocol import (
    Array,
    Axis,
    BooleanParameter,
    Column,
    FloatParameter,
    IntegerParameter,
    ParameterError,
    Plot,
    Role,
    Sweep,
    Table,
)
from labctl.protocols._stno.base import STNOSpectra
from labctl.protocols._stno.spectra import peak
from labctl.protocols._stno.vowel_data import fit_encoding, talker_split, vowel_tokens
from labctl.protocols._stno.vowel_design import fit_design
from labctl.protocols._stno.vowel_figure import vowel_figure
from labctl.protocols._stno.vowel_learning import Calibration, currents_for, epoch_rate, next_currents
from labctl.protocols._stno.vowel_mlp import mlp_parameters, mlp_rates
from labctl.protocols._stno.vowel_readout import N_OSC, VOWELS, classify, map_code, read_spectrum

N_TALKERS = 37


@dataclass
class VowelRun:
    """What a vowel-recognition run carries from one presentation to the next."""

    calibration: Calibration
    currents: np.ndarray  # A, one per oscillator: what learning moves
    total: int  # traces in the whole run after the calibration (progress)
    rate: float = 0.0  # eta of the current epoch
    presentation: int = 0  # presentations so far
    traces: int = 0  # traces taken after the calibration (presentations and plane-grid points)


class VowelRecognition(STNOSpectra):
    """Vowel recognition by four coupled STNOs locked to two formant-encoding microwave inputs."""

    NAME = "stno_vowel_recognition"
    SMU_ROLES = ("smu1", "smu2", "smu3", "smu4")
    RF_ROLES = ("rf_a", "rf_b")
    COLUMNS = (Column("presentation", "", "Presentation number", axis=True),
               Column("epoch", "", "Epoch"),
               Column("test", "", "Test set (1) or training set (0)"),
               Column("token", "", "Token index in the data set"),
               Column("vowel", "", "True vowel (index in VOWELS)"),
               Column("predicted", "", "Classified vowel (-1: unclassified)"),
               Column("correct", "", "Correct (1) or not (0)"),
               Column("sync_code", "", "Synchronization map (bit k: osc k on A; bit 4+k: on B)"),
               Column("f_a", "Hz", "Input A frequency (F1)"),
               Column("f_b", "Hz", "Input B frequency (F2)"),
               *(Column(f"current_{k + 1}", "A", f"DC current of oscillator {k + 1}") for k in range(N_OSC)),
               *(Column(f"frequency_{k + 1}", "Hz", f"Frequency of oscillator {k + 1}") for k in range(N_OSC)))
    PLOTS = (Plot("recognition", "test_accuracy", ("train_accuracy",), channel="accuracy",
                  title="Recognition rate vs epoch (test; training while learning)"),
             Plot("currents", "current_1", tuple(f"current_{k + 1}" for k in range(1, N_OSC)),
                  title="DC currents of the oscillators along learning"),
             Plot("frequencies", "frequency_1", tuple(f"frequency_{k + 1}" for k in range(1, N_OSC)),
                  title="Frequencies of the oscillators along learning"))
    DEFAULT = "recognition"
    HEADLINES = (Headline("train_rate", "", "Recognition rate, training set (last epoch)", rate=True),
                 Headline("test_rate", "", "Recognition rate, test set (last epoch)", rate=True),
                 Headline("mlp_train_rate", "", "Recognition rate, MLP reference, training set", rate=True),
                 Headline("mlp_test_rate", "", "Recognition rate, MLP reference, test set", rate=True))

    # learning keeps every current within [i_min, i_max] (calibration sweeps it); both tones at rf_power
    SETPOINTS = {**{f"smu{k}.source_current": ("i_min", "i_max") for k in range(1, 5)},
                 "rf_a.power": "rf_power", "rf_b.power": "rf_power", "loop.total_attenuation": "loop_attenuation"}

    smu1 = Role("source-measure unit biasing oscillator 1")
    smu2 = Role("source-measure unit biasing oscillator 2")
    smu3 = Role("source-measure unit biasing oscillator 3")
    smu4 = Role("source-measure unit biasing oscillator 4")
    rf_a = Role("microwave generator of input A (F1) on the strip line")
    rf_b = Role("microwave generator of input B (F2) on the strip line")
    loop = Role("switch driver of the coupling loop's step attenuators and switch (HP 11713A)")

    f_start = FloatParameter("Analyzer start frequency", units="Hz", default=300e6, minimum=1e6, maximum=26e9)
    f_stop = FloatParameter("Analyzer stop frequency", units="Hz", default=385e6, minimum=1e6, maximum=26.5e9)
    points = IntegerParameter("Analyzer points", default=851, minimum=101, maximum=8192)
    settle = FloatParameter("Settling time per presentation", units="s", default=1e-3, minimum=0, maximum=60)

    epochs = IntegerParameter("Training epochs", default=8, minimum=0, maximum=1000)
    test_every_epoch = BooleanParameter("Present the test set after every epoch (else after epochs 0 and "
                                        "the last)", default=False)
    speakers = IntegerParameter(f"Talkers used (seeded draw among the {N_TALKERS} women)", default=N_TALKERS,
                                minimum=2, maximum=N_TALKERS)
    train_fraction = FloatParameter("Fraction of talkers in the training set", default=0.5, minimum=0.1,
                                    maximum=0.9)
    seed = IntegerParameter("Seed of the talker split, the design fit and the presentation order", default=0,
                            minimum=0)
    rf_power = FloatParameter("Power of each input tone", units="dBm", default=-10.0, minimum=-60, maximum=10)
    learning_rate = FloatParameter("Learning rate eta (fraction of the frequency gap)", default=0.6,
                                   minimum=0.0, maximum=1.0)
    decay = FloatParameter("Learning-rate decay exponent (eta = learning_rate / epoch^decay)", default=1.0,
                           minimum=0.0, maximum=4.0)
    lock_range = FloatParameter("Distance a wrongly locked oscillator is pushed to", units="Hz", default=15e6,
                                minimum=0.0, maximum=50e6)
    lock_tolerance = FloatParameter("Input locked when a peak is this close", units="Hz", default=0.3e6,
                                    minimum=1e3, maximum=5e6)
    separation = FloatParameter("Peaks closer than this count as one", units="Hz", default=1.5e6, minimum=1e3,
                                maximum=20e6)
    i_init = FloatParameter("Initial current of every oscillator (0 = the fitted design's placement)",
                            units="A", default=0.0, minimum=0, maximum=0.1)
    i_min = FloatParameter("Lowest current learning may set", units="A", default=4.8e-3, minimum=0,
                           maximum=0.1)
    i_max = FloatParameter("Highest current learning may set", units="A", default=9.8e-3, minimum=0,
                           maximum=0.1)
    cal_points = IntegerParameter("Calibration currents per oscillator", default=6, minimum=3, maximum=101)
    band_low = FloatParameter("Lowest free-running frequency the design places an oscillator at", units="Hz",
                              default=315e6, minimum=1e6, maximum=26e9)
    band_high = FloatParameter("Highest free-running frequency the design places an oscillator at",
                               units="Hz", default=370e6, minimum=1e6, maximum=26e9)
    a_low = FloatParameter("Input A frequency of the training talkers' lowest F1", units="Hz", default=320.5e6,
                           minimum=1e6, maximum=26e9)
    a_high = FloatParameter("Input A frequency of the training talkers' highest F1", units="Hz",
                            default=363.2e6, minimum=1e6, maximum=26e9)
    b_low = FloatParameter("Input B frequency of the training talkers' lowest F2", units="Hz", default=309.6e6,
                           minimum=1e6, maximum=26e9)
    b_high = FloatParameter("Input B frequency of the training talkers' highest F2", units="Hz",
                            default=374.4e6, minimum=1e6, maximum=26e9)
    range_margin = FloatParameter("Formant range widened by this fraction of itself on each side", default=0.0,
                                  minimum=0.0, maximum=1.0)
    design_halfwidth = FloatParameter("Locking half-width the design fit assumes", units="Hz", default=6e6,
                                      minimum=0.1e6, maximum=50e6)
    loop_attenuation = IntegerParameter("Step attenuation in the coupling loop", units="dB", default=5,
                                        minimum=0, maximum=121)
    loop_closed = BooleanParameter("Coupling loop closed while learning and testing", default=True)
    map_points = IntegerParameter("Grid points per axis of the final synchronization maps", default=11,
                                  minimum=2, maximum=201)
    mlp_hidden = IntegerParameter("Hidden units of the software MLP reference on the same split (0 = none)",
                                  default=0, minimum=0, maximum=64)

    # -- parameters and data --------------------------------------------------------------------
    def check_parameters(self):
        super().check_parameters()
        problems = []
        if not (self.i_min < self.i_max and (self.i_init == 0 or self.i_min <= self.i_init <= self.i_max)):
            problems.append("need i_min < i_max and i_init = 0 or within [i_min, i_max]")
        if not self.band_low < self.band_high:
            problems.append("need band_low < band_high")
        low, high = self.plane()
        if not (self.f_start < min(low, self.band_low) and max(high, self.band_high) < self.f_stop):
            problems.append("the input bands and the design band must lie within f_start < ... < f_stop")
        if self.a_low == self.a_high or self.b_low == self.b_high:
            problems.append("input bands must not be empty")
        if problems:
            raise ParameterError("; ".join(problems))

    def plane(self) -> tuple[float, float]:
        """The span of both input bands: the (f_A, f_B) plane the final maps cover."""
        ends = (self.a_low, self.a_high, self.b_low, self.b_high)
        return min(ends), max(ends)

    def tested_epochs(self) -> list[int]:
        return list(range(self.epochs + 1)) if self.test_every_epoch else sorted({0, self.epochs})

    def startup(self):
        super().startup()
        self.loop.loop_closed = False
        self.loop.total_attenuation = self.loop_attenuation  # the station's limit applies here, before any trace
        for rf in (self.rf_a, self.rf_b):
            rf.power = self.rf_power  # the station's power limit applies here, before any measurement

    def shutdown(self):
        try:
            self.loop.loop_closed = False
        finally:
            super().shutdown()

    def scan(self):
        return (Sweep("presentation"),)  # a log: one point per vowel presented

    def epochs_scan(self):
        return (Sweep("epoch", range(self.epochs + 1)),)

    def tables(self):
        reference = Table("reference", (
            Column("network_parameters", "", "Trainable values of the oscillator network (4 currents, 7 x 2 "
                   "target oscillators)"),
            Column("mlp_hidden", "", "Hidden units of the MLP reference (0: none)"),
            Column("mlp_parameters", "", "Weights and biases of the MLP reference"),
            Column("mlp_train_accuracy", "", "MLP reference, training set", trials="mlp_train_tokens"),
            Column("mlp_test_accuracy", "", "MLP reference, test set", trials="mlp_test_tokens"),
            Column("mlp_train_tokens", "", "Training vowels (MLP)"),
            Column("mlp_test_tokens", "", "Test vowels (MLP)")), grid=())
        return (reference, Table("accuracy", (
            Column("epoch", "", "Epoch", axis=True),
            Column("train_accuracy", "", "Recognition rate, training set (while learning)", trials="train_tokens"),
            Column("test_accuracy", "", "Recognition rate, test set", trials="test_tokens"),
            Column("train_tokens", "", "Training vowels presented"),
            Column("test_tokens", "", "Test vowels presented")), grid=self.epochs_scan()),)

    def arrays(self):
        n_v = len(VOWELS)
        plane = (Axis("grid_f_a", "Hz", "Input A frequency"), Axis("grid_f_b", "Hz", "Input B frequency"))
        loop_states = (Sweep("loop_closed", (1, 0)),)
        loop_index = (Column("loop_closed", "", "Coupling loop closed (1) or open (0)"),)
        return (
            Array("calibration", (self.cal_points,), "Hz", "Free-running frequency",
                  axes=(Axis("calibration_current", "A", "DC current"),),
                  index=(Column("oscillator", "", "Oscillator"),),
                  grid=(Sweep("oscillator", range(1, N_OSC + 1)),)),
            Array("formant_range", (2, 2), "Hz", "Formant range of the training talkers, sent at the band ends",
                  axes=(Axis("formant", "", "Formant (1: F1 -> f_A, 2: F2 -> f_B)"),
                        Axis("end", "", "Low (0) and high (1) end")), grid=()),
            Array("design_frequency", (N_OSC,), "Hz", "Free-running frequency the design starts each "
                  "oscillator at", axes=(Axis("design_oscillator", "", "Oscillator"),), grid=()),
            Array("target_map", (N_OSC, 2), "", "Target synchronization map",
                  axes=(Axis("oscillator", "", "Oscillator"), Axis("input", "", "Input (0: A, 1: B)")),
                  index=(Column("target_vowel", "", "Vowel"),),
                  grid=(Sweep("target_vowel", range(n_v)),)),
            Array("confusion", (n_v, n_v + 1), "", "Test confusion matrix (last column: unclassified)",
                  axes=(Axis("true_vowel", "", "True vowel"), Axis("predicted_vowel", "", "Classified vowel")),
                  index=(Column("epoch", "", "Epoch"),), grid=(Sweep("epoch", self.tested_epochs()),)),
            Array("spectrum", (self.points,), "dBm", "Power spectrum (final test pass)",
                  axes=(Axis("frequency", "Hz", "Frequency"),), index=(Column("token", "", "Token"),)),
            Array("sync_map", (self.map_points, self.map_points), "", "Classified vowel over the input plane",
                  axes=plane, index=loop_index, grid=loop_states),
            Array("sync_code_map", (self.map_points, self.map_points), "", "Synchronization map code",
                  axes=plane, index=loop_index, grid=loop_states),
        )

    # -- the experiment -----------------------------------------------------------------------------
    def sweep(self):
        tokens, labels = vowel_tokens()
        train, test = talker_split(tokens.talker, self.seed, self.train_fraction, self.speakers)
        encoding = fit_encoding(tokens.formants[train], (self.a_low, self.a_high), (self.b_low, self.b_high),
                                self.range_margin)
        f_a, f_b = encoding.encode(tokens.formants)
        placement, targets, _ = fit_design(f_a[train], f_b[train], labels[train], (self.band_low, self.band_high),
                                           self.design_halfwidth, self.seed)
        self.reference(tokens.formants[:, :2], labels, train, test)
        self.emit_array("formant_range", np.array([encoding.f1, encoding.f2]))
        self.emit_array("design_frequency", placement)
        for v, m in enumerate(targets):
            self.emit_array("target_map", m.astype(float), target_vowel=v)
        self.go_to_field(self.field)
        self.loop.loop_closed = self.loop_closed  # the loop shifts every frequency: calibrate as it will learn
        calibration = self.calibrate()
        tested = self.tested_epochs()
        total = ((self.epochs + 1) * len(train) + len(tested) * len(test) + 2 * self.map_points**2
                 + N_OSC * self.cal_points)
        currents = (np.full(N_OSC, self.i_init) if self.i_init
                    else currents_for(calibration, placement, self.i_min, self.i_max))
        run = VowelRun(calibration, currents, total)
        self.apply_currents(run.currents)
        for rf in (self.rf_a, self.rf_b):
            rf.enable()
        rng = np.random.default_rng(self.seed)
        for epoch in range(self.epochs + 1):
            order = rng.permutation(train)
            run.rate = epoch_rate(self.learning_rate, self.decay, epoch)
            acc_train = self.present(run, order, epoch, f_a, f_b, labels, targets, learn=epoch > 0)[0]
            acc_test, n_test = float("nan"), 0
            if epoch in tested:
                acc_test, confusion = self.present(run, test, epoch, f_a, f_b, labels, targets, learn=False,
                                                   is_test=True, keep_spectra=epoch == self.epochs)
                n_test = len(test)
                self.emit_array("confusion", confusion, epoch=epoch)
            self.emit_row("accuracy", epoch=epoch, train_accuracy=acc_train, test_accuracy=acc_test,
                          train_tokens=len(order), test_tokens=n_test)
        learned = run.calibration
        for closed in (True, False):
            self.loop.loop_closed = closed  # the other loop state's maps are read with its own calibration
            run.calibration = learned if closed == self.loop_closed else self.recalibrate(run)
            self.scan_plane(run, closed, targets)
        for rf in (self.rf_a, self.rf_b):
            rf.disable()

    def reference(self, formants, labels, train, test):
        """The software MLP on the same split (module `vowel_mlp`), when `mlp_hidden` asks for one."""
        rates, n = (float("nan"), float("nan")), (0, 0)
        if self.mlp_hidden:
            rates = mlp_rates(formants[train], labels[train], formants[test], labels[test], self.mlp_hidden,
                              self.seed)
            n = (len(train), len(test))
        self.emit_row("reference", network_parameters=N_OSC + 2 * len(VOWELS), mlp_hidden=self.mlp_hidden,
                      mlp_parameters=mlp_parameters(self.mlp_hidden) if self.mlp_hidden else 0,
                      mlp_train_accuracy=rates[0], mlp_test_accuracy=rates[1], mlp_train_tokens=n[0],
                      mlp_test_tokens=n[1])

    def calibrate(self, record: bool = True) -> Calibration:
        """Each oscillator alone (the others unbiased), in the coupling loop's present state: peak frequency
        at `cal_points` currents; into the run file when `record`."""
        currents = np.linspace(self.i_min, self.i_max, self.cal_points)
        if record:
            self.set_axis("calibration", "calibration_current", currents)
        smus = [getattr(self, name) for name in self.SMU_ROLES]
        for smu in smus:
            smu.source_current = 0.0
        freqs = np.empty((N_OSC, self.cal_points))
        for k, smu in enumerate(smus):
            for n, i in enumerate(currents):
                smu.source_current = i
                self.wait(self.settle)
                freqs[k, n] = peak(self.frequencies, self.analyzer.trace())[0]
            smu.source_current = 0.0
            if record:
                self.emit_array("calibration", freqs[k], oscillator=k + 1)
        return Calibration(currents, freqs)

    def recalibrate(self, run: VowelRun) -> Calibration:
        """A calibration (inputs off, not recorded) in the loop's present state; `run`'s currents restored."""
        for rf in (self.rf_a, self.rf_b):
            rf.disable()
        calibration = self.calibrate(record=False)
        run.traces += N_OSC * self.cal_points
        self.apply_currents(run.currents)
        for rf in (self.rf_a, self.rf_b):
            rf.enable()
        return calibration

    def apply_currents(self, currents: np.ndarray):
        for smu, i in zip((getattr(self, n) for n in self.SMU_ROLES), currents, strict=True):
            smu.source_current = float(i)

    def measure_map(self, run: VowelRun, f_a: float, f_b: float):
        """Send the two inputs, take a spectrum, read its synchronization map: (map, frequencies, trace)."""
        self.rf_a.frequency = f_a
        self.rf_b.frequency = f_b
        self.wait(self.settle)
        trace = self.analyzer.trace()
        run.traces += 1
        sync, freqs = read_spectrum(self.frequencies, trace, f_a, f_b, run.calibration.frequency(run.currents),
                                    self.separation, self.lock_tolerance, match=2 * self.lock_range)
        return sync, freqs, trace

    def present(self, run: VowelRun, order, epoch, f_a, f_b, labels, targets, learn, is_test=False,
                keep_spectra=False):
        """Present tokens `order`; learn after each when `learn`. (accuracy, confusion matrix)."""
        confusion = np.zeros((len(VOWELS), len(VOWELS) + 1))
        for t in order:
            sync, freqs, trace = self.measure_map(run, f_a[t], f_b[t])
            predicted = classify(sync, targets)
            confusion[labels[t], predicted] += 1  # UNCLASSIFIED = -1: the last column
            if keep_spectra:
                self.emit_array("spectrum", trace, token=t)
            run.presentation += 1
            self.emit_point(presentation=run.presentation, epoch=epoch, test=float(is_test), token=t,
                            vowel=labels[t], predicted=predicted, correct=float(predicted == labels[t]),
                            sync_code=map_code(sync), f_a=f_a[t], f_b=f_b[t],
                            **{f"current_{k + 1}": run.currents[k] for k in range(N_OSC)},
                            **{f"frequency_{k + 1}": freqs[k] for k in range(N_OSC)})
            if learn:
                new = next_currents(run.currents, run.calibration, sync, targets[labels[t]], freqs,
                                    (f_a[t], f_b[t]), run.rate, self.lock_range, self.i_min, self.i_max)
                if np.any(new != run.currents):
                    run.currents = new
                    self.apply_currents(new)
            self.progress(run.traces, run.total)
        n = max(len(order), 1)
        return float(np.trace(confusion[:, :len(VOWELS)]) / n), confusion

    def scan_plane(self, run: VowelRun, closed: bool, targets):
        """The trained network's synchronization maps over a grid of the (f_A, f_B) plane."""
        grid = np.linspace(*self.plane(), self.map_points)
        for name in ("sync_map", "sync_code_map"):
            self.set_axis(name, "grid_f_a", grid)
            self.set_axis(name, "grid_f_b", grid)
        classes = np.empty((self.map_points, self.map_points))
        codes = np.empty_like(classes)
        for i, fa in enumerate(grid):
            for j, fb in enumerate(grid):
                sync = self.measure_map(run, fa, fb)[0]
                classes[i, j], codes[i, j] = classify(sync, targets), map_code(sync)
                self.checkpoint()
            self.progress(run.traces, run.total)
        self.emit_array("sync_map", classes, loop_closed=int(closed))
        self.emit_array("sync_code_map", codes, loop_closed=int(closed))

    @classmethod
    def headline(cls, run):
        c = run.columns()
        epoch, test, correct = (c[k].values for k in ("epoch", "test", "correct"))
        last = epoch == epoch.max()
        out = {name: Rate(int(correct[last & (test == flag)].sum()), int(np.sum(last & (test == flag))))
               for name, flag in (("train_rate", 0), ("test_rate", 1))}
        ref = run.columns("reference")
        for part in ("train", "test"):
            rate, n = ref[f"mlp_{part}_accuracy"].values[0], int(ref[f"mlp_{part}_tokens"].values[0])
            out[f"mlp_{part}_rate"] = Rate(int(round(rate * n)) if n else 0, n)
        return out

    @classmethod
    def figure(cls, run):
        return vowel_figure(run)
