"""The 1-kbit HfO2 RRAM in-memory-computing die: 32 x 32 differential (2T2R) bits, 2048 devices.

Architecture after the hybrid CMOS/RRAM test die of M. Bocquet et al., "In-memory and error-immune
differential RRAM implementation of binarized deep neural networks", IEDM 2018, and T. Hirtzlin et al.,
"Digital biologically plausible implementation of binarized neural networks with differential hafnium
oxide resistive memory arrays", Front. Neurosci. 13, 1383 (2020):

* bit (row r, column c) is stored in two 1T1R devices on the complementary bit lines BL and BLb of
  column c; bit 1 = BL device in LRS and BLb device in HRS;
* one precharge sense amplifier (PCSA, W. Zhao et al., IEEE TCAS-I 61(2), 443 (2014)) per column: both
  branches discharge through their device, the branch with the larger read current (lower
  resistance) wins.  The decision is sign(ln I_left - ln I_right + offset + noise), with a static
  offset per amplifier (transistor mismatch) and a fresh noise draw per decision;
* XNOR inside the PCSA: the input bit x of the column swaps which bit line feeds which branch, so the
  output is XNOR(x, w) - and the amplifier's offset acts with the sign of the swap, as in silicon;
* popcount of a row's 32 XNOR outputs by digital adders;
* a 1T1R read compares a single device with its column's reference: a trimmable resistor behind an
  access transistor like the cells' (its own Pelgrom mismatch), on the same amplifier, so the two
  read modes can be compared on the same die.  The reference is a setting of the die, fixed until
  the controller sets it again: a lab calibrates it once (e.g. between the LRS and HRS medians of a
  calibration write) and keeps it while the devices age, as on silicon.

Bit errors are never injected: they are what the device statistics of
:mod:`labctl.sim_backends.physics.rram` plus the amplifier's offset and noise produce.
Every operation is booked in :attr:`RRAMDie.log` (:class:`OperationLog`): totals per kind of operation
since power-on and a bounded ring of the latest ``(operation, devices, energy_J, duration_s)`` records,
so a die tested for days keeps a constant footprint.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from labctl.sim_backends.physics.rram import AccessTransistor, RRAMArray

ROWS = 32
COLS = 32
SIDES = 2  # 0 = BL, 1 = BLb
N_DEVICES = ROWS * COLS * SIDES


@dataclass
class OperationTotals:
    """Operations booked, devices they addressed, energy (J) and duration (s), summed."""

    count: int = 0
    devices: int = 0
    energy: float = 0.0
    duration: float = 0.0

    def add(self, n: int, energy: float, duration: float) -> None:
        self.count += 1
        self.devices += n
        self.energy += energy
        self.duration += duration


class OperationLog:
    """What a die has done since power-on, in bounded memory.

    ``totals`` sums every operation per kind (``"form"``, ``"set"``, ``"read_pcsa"``, ...);
    ``recent`` keeps the latest records ``(operation, devices, energy_J, duration_s)``, oldest
    dropped first; :meth:`span` sums the operations of one piece of work (a controller command).
    """

    RECENT = 1024

    def __init__(self, recent: int = RECENT):
        self.recent: deque[tuple[str, int, float, float]] = deque(maxlen=recent)
        self.totals: dict[str, OperationTotals] = {}
        self._open: list[OperationTotals] = []

    @property
    def count(self) -> int:
        """Operations booked since power-on."""
        return sum(t.count for t in self.totals.values())

    def record(self, op: str, n: int, energy: float, duration: float) -> None:
        record = (op, int(n), float(energy), float(duration))
        self.recent.append(record)
        self.totals.setdefault(op, OperationTotals()).add(*record[1:])
        for work in self._open:
            work.add(*record[1:])

    @contextmanager
    def span(self) -> Iterator[OperationTotals]:
        """``with log.span() as work:`` -- ``work`` sums the operations booked inside the block."""
        work = OperationTotals()
        self._open.append(work)
        try:
            yield work
        finally:
            self._open.remove(work)


@dataclass(frozen=True)
class SenseAmp:
    """PCSA read conditions and non-idealities."""

    v_read: float = 0.1  # bit-line read bias (V)
    gate: float = 2.5  # word-line voltage during reads (V)
    t_read: float = 20e-9  # branch discharge time (s)
    offset: float = 0.04  # sigma of the static offset, in ln(current ratio)
    noise: float = 0.01  # sigma of the per-decision noise, in ln(current ratio)


@dataclass(frozen=True)
class PulseSpec:
    """A programming pulse: signed amplitude (V, > 0 SET/forming), width (s), word line (V)."""

    amplitude: float
    width: float
    gate: float

    def kwargs(self):
        return {"amplitude": self.amplitude, "width": self.width, "gate": self.gate}


_TR = AccessTransistor()
SET = PulseSpec(1.8, 100e-9, float(_TR.gate_for_current(100e-6)))  # 100 uA compliance
RESET = PulseSpec(-1.4, 100e-9, 3.3)


@dataclass
class ProgramReport:
    """Outcome of a program(-and-verify) of the whole array (arrays shaped (ROWS, COLS, SIDES))."""

    pulses: np.ndarray  # pulses applied per device
    resistance: np.ndarray  # last verify read (ohm)
    ok: np.ndarray  # device met its verify target
    energy: float  # total pulse energy (J)
    duration: float  # total time (s)


@dataclass
class FormReport:
    """Outcome of a forming ramp (arrays shaped (ROWS, COLS, SIDES))."""

    voltage: np.ndarray  # ramp voltage at which the device verified formed (NaN: not formed)
    resistance: np.ndarray
    energy: float
    duration: float


@dataclass
class RRAMDie:
    """One die, reproducible from its seed; every seed is a different die."""

    seed: int = 0
    sense: SenseAmp = field(default_factory=SenseAmp)
    pulse_overhead: float = 50e-9  # decoder/driver settling per row-parallel pulse (s)
    model_kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        dev, sa, noise = np.random.SeedSequence(self.seed).spawn(3)
        self.devices = RRAMArray(N_DEVICES, seed=dev, **self.model_kwargs)
        sa_rng = np.random.default_rng(sa)
        self.sa_offset = self.sense.offset * sa_rng.standard_normal(COLS)
        self.ref_dvth = self.devices.transistor.sigma_vth * sa_rng.standard_normal(COLS)
        self.reference = np.full(COLS, np.nan)  # 1T1R reference resistance per column (ohm)
        self._ref_current = None
        self.rng = np.random.default_rng(noise)
        self.log = OperationLog()
        self._v_form = np.full(N_DEVICES, np.nan)

    @property
    def forming_voltage(self):
        """Ramp voltage at which each device verified formed (NaN: not formed by a ramp)."""
        return self._v_form.reshape(ROWS, COLS, SIDES).copy()

    # ----------------------------------------------------------------- addressing
    @staticmethod
    def index(rows=None, cols=None, sides=None):
        """Flat device indices of the (row x column x side) block; None = all."""
        r = np.arange(ROWS) if rows is None else np.atleast_1d(np.asarray(rows, np.intp))
        c = np.arange(COLS) if cols is None else np.atleast_1d(np.asarray(cols, np.intp))
        s = np.arange(SIDES) if sides is None else np.atleast_1d(np.asarray(sides, np.intp))
        for name, v, hi in (("row", r, ROWS), ("column", c, COLS), ("side", s, SIDES)):
            if v.size and (v.min() < 0 or v.max() >= hi):
                raise IndexError(f"{name} address out of range 0..{hi - 1}")
        return ((r[:, None, None] * COLS + c[None, :, None]) * SIDES + s[None, None, :]).ravel()

    def _record(self, op, n, energy, duration):
        self.log.record(op, n, energy, duration)

    def energy_by_operation(self):
        """Total energy (J) per operation name since power-on."""
        return {op: t.energy for op, t in self.log.totals.items()}

    # ----------------------------------------------------------------- pulses
    def pulse(self, idx, amplitude, width, gate, op=None):
        """One pulse on devices ``idx`` (row-parallel); returns the model's PulseResult."""
        idx = np.asarray(idx, np.intp)
        res = self.devices.apply_pulse(idx, amplitude, width, gate=gate)
        rows = np.unique(idx // (COLS * SIDES)).size
        op = op or ("form" if np.any(res.formed_now) else "set" if amplitude > 0 else "reset")
        self._record(op, idx.size, res.energy.sum(), rows * (width + self.pulse_overhead))
        return res

    def form(self, v_start=2.0, v_stop=4.5, v_step=0.05, width=10e-6, gate=None,
             r_formed=1e5, idx=None):
        """Ramp-and-verify forming: pulse every unformed device at increasing amplitude, read, and
        retire the devices whose resistance fell below ``r_formed``."""
        gate = float(self.devices.transistor.gate_for_current(100e-6)) if gate is None else gate
        idx = np.arange(N_DEVICES) if idx is None else np.asarray(idx, np.intp)
        v_form = np.full(N_DEVICES, np.nan)
        todo = idx.copy()
        with self.log.span() as work:
            for v in np.arange(v_start, v_stop + 1e-9, v_step):
                if todo.size == 0:
                    break
                self.pulse(todo, v, width, gate, op="form")
                r = self.read_resistance(todo)[0]
                done = r < r_formed
                v_form[todo[done]] = v
                self._v_form[todo[done]] = v
                todo = todo[~done]
        return FormReport(v_form.reshape(ROWS, COLS, SIDES),
                          self.devices.resistance().reshape(ROWS, COLS, SIDES), work.energy, work.duration)

    def program(self, bits, set_pulse=SET, reset_pulse=RESET, verify=True, max_pulses=8,
                r_lrs_max=None, r_hrs_min=None, rows=None, reset_first=True):
        """Write a (ROWS, COLS) bit pattern (or the given ``rows`` of it) as complementary pairs.

        RESET the devices that must be HRS and SET those that must be LRS (after a RESET when
        ``reset_first``: a SET pulse never raises a resistance, so without it a device keeps the
        filament of its strongest earlier SET); with ``verify``, read each device back and re-pulse
        the ones outside their target (R > r_lrs_max for LRS, R < r_hrs_min for HRS) up to
        ``max_pulses`` pulses in all.
        """
        bits = np.asarray(bits)
        rows = np.arange(ROWS) if rows is None else np.atleast_1d(np.asarray(rows, np.intp))
        if bits.shape != (rows.size, COLS):
            raise ValueError(f"pattern must be {rows.size} x {COLS} bits, got {bits.shape}")
        idx = self.index(rows).reshape(rows.size, COLS, SIDES)
        want_lrs = np.stack([bits.astype(bool), ~bits.astype(bool)], axis=-1)
        return self.program_devices(idx[want_lrs], idx[~want_lrs], set_pulse, reset_pulse, verify,
                                    max_pulses, r_lrs_max, r_hrs_min, reset_first)

    def program_devices(self, lrs_idx, hrs_idx, set_pulse=SET, reset_pulse=RESET, verify=True,
                        max_pulses=8, r_lrs_max=None, r_hrs_min=None, reset_first=True):
        """Program-and-verify devices ``lrs_idx`` to LRS and ``hrs_idx`` to HRS (see program)."""
        lrs_idx = np.atleast_1d(np.asarray(lrs_idx, np.intp))
        hrs_idx = np.atleast_1d(np.asarray(hrs_idx, np.intp))
        if r_lrs_max is None:  # about twice the median LRS at this compliance (R ~ 1 V / I_c)
            r_lrs_max = 2.0 / float(self.devices.transistor.saturation_current(set_pulse.gate))
        r_hrs_min = 2e5 if r_hrs_min is None else r_hrs_min
        pulses = np.zeros(N_DEVICES, int)
        with self.log.span() as work:
            todo_h, todo_l = hrs_idx, lrs_idx
            if reset_first:
                todo_h = np.concatenate([hrs_idx, lrs_idx])
            for _ in range(max(1, max_pulses) if verify else 1):
                if todo_h.size:
                    self.pulse(todo_h, **reset_pulse.kwargs())
                    pulses[todo_h] += 1
                if todo_l.size:
                    self.pulse(todo_l, **set_pulse.kwargs())
                    pulses[todo_l] += 1
                if not verify:
                    break
                pulsed = np.concatenate([todo_h, todo_l])
                r = np.empty(N_DEVICES)
                r[pulsed] = self.read_resistance(pulsed)[0]
                todo_h = np.intersect1d(todo_h, hrs_idx)
                todo_h = todo_h[r[todo_h] < r_hrs_min]
                todo_l = todo_l[r[todo_l] > r_lrs_max]
                if todo_h.size == 0 and todo_l.size == 0:
                    break
            addressed = np.concatenate([lrs_idx, hrs_idx])
            r_final = np.full(N_DEVICES, np.nan)
            r_final[addressed] = self.read_resistance(addressed)[0]
            ok = np.zeros(N_DEVICES, bool)
            ok[hrs_idx] = r_final[hrs_idx] >= r_hrs_min
            ok[lrs_idx] = r_final[lrs_idx] <= r_lrs_max
        shape = (ROWS, COLS, SIDES)
        return ProgramReport(pulses.reshape(shape), r_final.reshape(shape), ok.reshape(shape),
                             work.energy, work.duration)

    def cycle(self, n_cycles, set_pulse=SET, reset_pulse=RESET, idx=None):
        """Endurance cycling of devices ``idx`` (all by default); see RRAMArray.cycle."""
        idx = np.arange(N_DEVICES) if idx is None else np.asarray(idx, np.intp)
        e = self.devices.cycle(n_cycles, set_pulse.kwargs(), reset_pulse.kwargs(), idx)
        rows = np.unique(idx // (COLS * SIDES)).size
        per_cycle = rows * (set_pulse.width + reset_pulse.width + 2 * self.pulse_overhead)
        self._record("cycle", idx.size, e.sum(), n_cycles * per_cycle)
        return e

    # ----------------------------------------------------------------- reads
    def read_resistance(self, idx=None, n_reads=1):
        """Single-device analog reads (ohm), shape (n_reads, len(idx))."""
        idx = np.arange(N_DEVICES) if idx is None else np.asarray(idx, np.intp)
        r = self.devices.read_resistance(idx, self.sense.v_read, n_reads)
        e = self.sense.v_read**2 / r * self.sense.t_read
        self._record("read_analog", r.size, e.sum(), r.size * 1e-6)
        return r

    def _branch_currents(self, rows, n_reads):
        idx = self.index(rows)
        i = self.devices.read_current(idx, self.sense.v_read, self.sense.gate, n_reads)
        return i.reshape(n_reads, len(rows), COLS, SIDES)

    def _decide(self, i_left, i_right):
        d = np.log(i_left) - np.log(i_right) + self.sa_offset + \
            self.sense.noise * self.rng.standard_normal(i_left.shape)
        return d > 0

    def _rows(self, rows):
        rows = np.arange(ROWS) if rows is None else np.atleast_1d(np.asarray(rows, np.intp))
        self.index(rows, 0, 0)  # range check
        return rows

    def read_pcsa(self, rows=None, n_reads=1):
        """Differential (2T2R) read of ``rows``: bits shaped (n_reads, len(rows), COLS)."""
        return self.xnor(np.ones(COLS, bool), rows, n_reads)

    def xnor(self, x, rows=None, n_reads=1):
        """PCSA outputs XNOR(x[col], w[row, col]) with the input bits swapping the bit lines."""
        x = np.asarray(x, bool)
        if x.shape != (COLS,):
            raise ValueError(f"input vector must have {COLS} bits, got {x.shape}")
        rows = self._rows(rows)
        i = self._branch_currents(rows, n_reads)
        left = np.where(x, i[..., 0], i[..., 1])
        right = np.where(x, i[..., 1], i[..., 0])
        e = self.sense.v_read * i.sum() * self.sense.t_read
        self._record("read_pcsa", i.size, e, n_reads * rows.size * self.sense.t_read)
        return self._decide(left, right)

    def xnor_popcount(self, x, rows=None, n_reads=1):
        """Popcount of the XNOR outputs of each row: shape (n_reads, len(rows))."""
        return self.xnor(x, rows, n_reads).sum(axis=-1)

    def set_reference(self, r_ref):
        """Trim the 1T1R reference of every column (one value) or of each column (COLS values)."""
        r = np.broadcast_to(np.asarray(r_ref, float), (COLS,))
        if not np.all(np.isfinite(r) & (r > 0)):
            raise ValueError("reference resistances must be positive and finite")
        self.reference = r.copy()
        self._ref_current = None

    def reference_current(self):
        """Read current of each column's reference branch (A), shape (COLS,)."""
        if np.isnan(self.reference).any():
            raise RuntimeError("1T1R reference not set: calibrate it with set_reference()")
        if self._ref_current is None:
            self._ref_current = self.devices.reference_current(
                self.reference, self.sense.v_read, self.sense.gate, dvth=self.ref_dvth)
        return self._ref_current

    def read_1t1r(self, r_ref=None, rows=None, side=0, n_reads=1):
        """Single-ended read: the ``side`` device of each bit against its column's reference.

        ``r_ref`` (one value or one per column) trims the reference first and stays set; None
        reads against the reference already set.  Returns bits (device current above the
        reference's = LRS = 1), shaped like read_pcsa.
        """
        if r_ref is not None and not np.array_equal(
                np.broadcast_to(np.asarray(r_ref, float), (COLS,)), self.reference):
            self.set_reference(r_ref)
        rows = self._rows(rows)
        i = self._branch_currents(rows, n_reads)[..., side]
        i_ref = np.broadcast_to(self.reference_current(), i.shape)
        e = self.sense.v_read * (i.sum() + i_ref.sum()) * self.sense.t_read
        self._record("read_1t1r", i.size, e, n_reads * rows.size * self.sense.t_read)
        return self._decide(i, i_ref)

    # ----------------------------------------------------------------- state
    def resistance(self):
        """Noise-free device resistances at the read bias, shaped (ROWS, COLS, SIDES)."""
        return self.devices.resistance(None, self.sense.v_read).reshape(ROWS, COLS, SIDES)
