"""SCPI emulator of the RRAM die controller (in the lab: an FPGA board driving the test die).

Command set (``LABCTL,RRAM-DIE-CTRL``):

Single device, addressed by ``:ADDRess:ROW``/``:COLumn``/``:SIDE BL|BLB``
    ``:CELL:FORM``, ``:CELL:SET``, ``:CELL:RESet``   one pulse with the FORM/SET/RESet settings
    ``:CELL:PROGram? LRS|HRS``                       program-and-verify; answers the pulse count
    ``:CELL:RESistance?``                            analog read (ohm)
Pulse settings (amplitudes are magnitudes; RESET drives the source line)
    ``:FORM|:SET|:RESet:AMPLitude|:WIDTh|:GATE``, ``:FORM|:SET|:RESet:COMPliance`` (A; sets GATE from
    the board's word-line calibration), ``:FORM:RAMP:STARt|STOP|STEP|RESistance``,
    ``:VERify[:STATe]|:COUNt|:LRS|:HRS``
Whole array, one command each, IEEE 488.2 definite-length blocks
    ``:ARRay:FORM``                    ramp-and-verify forming of every unformed device
    ``:ARRay:FORM:VOLTage?``           <float32 x 2048> forming voltage per device (NaN: none)
    ``:ARRay:PROGram <uint8 x 1024>``  write a bit pattern (row-major), program-and-verify
    ``:ARRay:PROGram:PULSes?``         <uint8 x 2048> pulses used per device by the last write
    ``:ARRay:READ?``                   <uint8 x rows*32> sensed bits of ``:ARRay:ROWS first,last``
                                       (``:SENSe:MODE DIFFerential`` 2T2R, or ``SINGle``: the
                                       ``:SENSe:SIDE`` device against its column's reference)
    ``:ARRay:RESistance?``             <float32 x 2048> analog read of every device
    ``:ARRay:POPCount? <uint8 x 32>``  <uint8 x rows> XNOR-popcount of the input against each row
    ``:ARRay:CYCLe <n>``               n SET/RESET endurance cycles of every device
1T1R reference (a trim of the die, one value per column, kept until set again; 100 kohm at *RST)
    ``:SENSe:REFerence <ohm>``         every column to one value; the query answers the geometric
                                       mean over the columns
    ``:SENSe:REFerence:COLumn <float32 x 32>`` (or 32 numbers), ``:SENSe:REFerence:COLumn?``
                                       one value per column
Energy: ``:ENERgy?`` (J, last operation), ``:ENERgy:TOTal?``, ``:ENERgy:CLEar``.

Compliance currents become word-line voltages through the board's calibration of its die's access
transistors (the bench's ``transistor`` parameters), and the word lines power up at 100 uA.

Device order in blocks: index = (row * 32 + column) * 2 + side (0 = BL, 1 = BLb).
Every error goes through the SCPI error queue and leaves the die untouched: bad addresses and
out-of-range pulses and references are -222, a pattern or reference block of the wrong length -160,
non-binary pattern values -224, conflicting settings -221 (among them a forming ramp longer than the
board's ramp memory, ``RAMP_STEPS`` amplitudes).
"""

from __future__ import annotations

import numpy as np

from labctl.sim_backends.interfaces import MemoryDie
from labctl.sim_backends.physics.rram_die import (
    COLS,
    N_DEVICES,
    RESET,
    ROWS,
    SET,
    PulseSpec,
)
from labctl.sim_backends.scpi import (
    Block,
    Bool,
    Choice,
    Float,
    Int,
    ScpiEmulator,
    ScpiError,
    Setting,
    block_array,
    command,
    ieee_block,
)

V_MAX = 5.0  # pulse drivers' range (V)
WIDTH = Float(10e-9, 1e-3, "S")
AMPLITUDE = Float(0.0, V_MAX, "V")
GATE = Float(0.0, V_MAX, "V")
COMPLIANCE = Float(5e-6, 500e-6, "A")
REFERENCE = Float(1e2, 1e9, "OHM")
DEFAULT_REFERENCE = 1e5  # ohm, every column at power-up
NOMINAL_COMPLIANCE = 100e-6  # A, the word lines' power-up bias
LINK_BYTES_PER_SECOND = 10e6  # gigabit link, protocol overhead included
RAMP_STEPS = 256  # amplitudes the board's forming-ramp memory holds


def ramp_steps(start: float, stop: float, step: float) -> int:
    """Amplitudes of a ramp from ``start`` to ``stop`` (included) by ``step``."""
    return int(np.floor((stop - start + 1e-9) / step)) + 1


def _compliance_commands(pulse: str, gate: str):
    """``:<pulse>:COMPliance`` and its query: a current limit given as the word-line bias ``gate``
    that saturates the access transistor at that current (the board's calibration)."""

    @command(f":{pulse}:COMPliance")
    def set_limit(self, value):
        setattr(self, gate, self._gate_for(COMPLIANCE.parse(value)))

    @command(f":{pulse}:COMPliance?")
    def query_limit(self):
        return float(self._transistor.saturation_current(getattr(self, gate)))

    return set_limit, query_limit


class DieControllerEmulator(ScpiEmulator):
    """The controller board of the bench's part ``die`` (a MemoryDie: an :class:`RRAMDie`), as the
    ``DieController`` driver (`labctl.instruments.die_controller`) sees it."""

    idn = "LABCTL,RRAM-DIE-CTRL,0001,1.0"
    command_time = 20e-6

    row = Setting(":ADDRess:ROW", Int(0, ROWS - 1), 0)
    column = Setting(":ADDRess:COLumn", Int(0, COLS - 1), 0)
    side = Setting(":ADDRess:SIDE", Choice("BL", "BLB"), "BL")

    form_amplitude = Setting(":FORM:AMPLitude", AMPLITUDE, 3.5)
    form_width = Setting(":FORM:WIDTh", WIDTH, 10e-6)
    form_gate = Setting(":FORM:GATE", GATE, round(SET.gate, 4))
    form_start = Setting(":FORM:RAMP:STARt", AMPLITUDE, 2.0)
    form_stop = Setting(":FORM:RAMP:STOP", AMPLITUDE, 4.5)
    form_step = Setting(":FORM:RAMP:STEP", Float(1e-3, 1.0, "V"), 0.05)
    form_resistance = Setting(":FORM:RAMP:RESistance", Float(1e2, 1e9, "OHM"), 1e5)
    set_amplitude = Setting(":SET:AMPLitude", AMPLITUDE, SET.amplitude)
    set_width = Setting(":SET:WIDTh", WIDTH, SET.width)
    set_gate = Setting(":SET:GATE", GATE, round(SET.gate, 4))
    reset_amplitude = Setting(":RESet:AMPLitude", AMPLITUDE, abs(RESET.amplitude))
    reset_width = Setting(":RESet:WIDTh", WIDTH, RESET.width)
    reset_gate = Setting(":RESet:GATE", GATE, RESET.gate)
    verify = Setting(":VERify[:STATe]", Bool(), True)
    verify_count = Setting(":VERify:COUNt", Int(1, 100), 8)
    verify_lrs = Setting(":VERify:LRS", Float(1e2, 1e9, "OHM"), 3e4)
    verify_hrs = Setting(":VERify:HRS", Float(1e2, 1e9, "OHM"), 2e5)
    sense_mode = Setting(":SENSe:MODE", Choice("DIFFerential", "SINGle"), "DIFF")
    sense_side = Setting(":SENSe:SIDE", Choice("BL", "BLB"), "BL")

    def __init__(self, bench, name: str = "", die: str = "die"):
        self.die: MemoryDie = self.wire(bench, name, die, MemoryDie)
        super().__init__(bench, name)

    def reset(self) -> None:
        super().reset()
        self.set_gate = self.form_gate = self._gate_for(NOMINAL_COMPLIANCE)
        self.die.set_reference(DEFAULT_REFERENCE)
        self.rows = (0, ROWS - 1)
        self.last_energy = 0.0
        self.total_energy = 0.0
        self.last_pulses = np.zeros(N_DEVICES, np.uint8)

    # -- helpers --------------------------------------------------------------------------------
    @property
    def _transistor(self):
        """The die's access transistor (the bench file's ``transistor`` parameters)."""
        return self.die.devices.transistor

    def _gate_for(self, current: float) -> float:
        """Word-line voltage that saturates the die's access transistor at ``current``."""
        return round(float(self._transistor.gate_for_current(current)), 4)

    def _run(self, fn, *args, **kwargs):
        """Run a die operation, charge its time to the clock and book its energy."""
        with self.die.log.span() as work:
            out = fn(*args, **kwargs)
        self.last_energy = work.energy
        self.total_energy += self.last_energy
        self.clock.advance(work.duration)
        return out

    def _transfer(self, nbytes: int) -> None:
        self.clock.advance(nbytes / LINK_BYTES_PER_SECOND)

    def _cell(self) -> int:
        return int(self.die.index(self.row, self.column, 0 if self.side == "BL" else 1)[0])

    def _set_pulse(self) -> PulseSpec:
        return PulseSpec(self.set_amplitude, self.set_width, self.set_gate)

    def _reset_pulse(self) -> PulseSpec:
        return PulseSpec(-self.reset_amplitude, self.reset_width, self.reset_gate)

    def _program_kwargs(self) -> dict:
        return {"set_pulse": self._set_pulse(), "reset_pulse": self._reset_pulse(),
                "verify": self.verify, "max_pulses": self.verify_count,
                "r_lrs_max": self.verify_lrs, "r_hrs_min": self.verify_hrs}

    def _row_range(self) -> np.ndarray:
        return np.arange(self.rows[0], self.rows[1] + 1)

    # -- word-line calibration ------------------------------------------------------------------
    set_compliance, set_compliance_query = _compliance_commands("SET", "set_gate")
    form_compliance, form_compliance_query = _compliance_commands("FORM", "form_gate")
    reset_compliance, reset_compliance_query = _compliance_commands("RESet", "reset_gate")

    # -- single device --------------------------------------------------------------------------
    @command(":CELL:FORM")
    def cell_form(self):
        self._run(self.die.pulse, [self._cell()], self.form_amplitude, self.form_width,
                  self.form_gate, "form")

    @command(":CELL:SET")
    def cell_set(self):
        self._run(self.die.pulse, [self._cell()], **self._set_pulse().kwargs())

    @command(":CELL:RESet")
    def cell_reset(self):
        self._run(self.die.pulse, [self._cell()], **self._reset_pulse().kwargs())

    @command(":CELL:PROGram?")
    def cell_program(self, state):
        lrs = Choice("LRS", "HRS").parse(state) == "LRS"
        cell = [self._cell()]
        rep = self._run(self.die.program_devices, cell if lrs else [], [] if lrs else cell,
                        **self._program_kwargs())
        return int(rep.pulses.ravel()[cell[0]])

    @command(":CELL:RESistance?")
    def cell_resistance(self):
        return float(self._run(self.die.read_resistance, [self._cell()])[0, 0])

    # -- whole array ----------------------------------------------------------------------------
    @command(":ARRay:ROWS")
    def set_rows(self, first, last):
        a, b = Int(0, ROWS - 1).parse(first), Int(0, ROWS - 1).parse(last)
        if a > b:
            raise ScpiError(-221, "first row after last row")
        self.rows = (a, b)

    @command(":ARRay:ROWS?")
    def get_rows(self):
        return f"{self.rows[0]},{self.rows[1]}"

    @command(":ARRay:FORM")
    def array_form(self):
        if self.form_stop < self.form_start:
            raise ScpiError(-221, "forming ramp stop below start")
        steps = ramp_steps(self.form_start, self.form_stop, self.form_step)
        if steps > RAMP_STEPS:
            raise ScpiError(-221, f"forming ramp of {steps} steps, the ramp memory holds {RAMP_STEPS}")
        self._run(self.die.form, self.form_start, self.form_stop, self.form_step,
                  self.form_width, self.form_gate, self.form_resistance,
                  np.flatnonzero(~self.die.devices.formed))

    @command(":ARRay:FORM:VOLTage?")
    def array_form_voltage(self):
        v = self.die.forming_voltage.ravel().astype("<f4")
        self._transfer(v.nbytes)
        return ieee_block(v, "<f4")

    @command(":ARRay:PROGram")
    def array_program(self, block):
        bits = block_array(block, "u1")
        if bits.size != ROWS * COLS:
            raise ScpiError(-160, f"pattern must be {ROWS * COLS} bytes, got {bits.size}")
        if np.any(bits > 1):
            raise ScpiError(-224, "pattern bytes must be 0 or 1")
        self._transfer(bits.nbytes)
        rep = self._run(self.die.program, bits.reshape(ROWS, COLS).astype(bool),
                        **self._program_kwargs())
        self.last_pulses = np.minimum(rep.pulses.ravel(), 255).astype(np.uint8)

    @command(":ARRay:PROGram:PULSes?")
    def array_pulses(self):
        self._transfer(self.last_pulses.nbytes)
        return ieee_block(self.last_pulses, "u1")

    @command(":ARRay:READ?")
    def array_read(self):
        rows = self._row_range()
        if self.sense_mode == "DIFF":
            bits = self._run(self.die.read_pcsa, rows)[0]
        else:
            side = 0 if self.sense_side == "BL" else 1
            bits = self._run(self.die.read_1t1r, None, rows, side)[0]
        out = bits.astype(np.uint8).ravel()
        self._transfer(out.nbytes)
        return ieee_block(out, "u1")

    @command(":ARRay:RESistance?")
    def array_resistance(self):
        r = self._run(self.die.read_resistance)[0].astype("<f4")
        self._transfer(r.nbytes)
        return ieee_block(r, "<f4")

    @command(":ARRay:POPCount?")
    def array_popcount(self, block):
        x = block_array(block, "u1")
        if x.size != COLS:
            raise ScpiError(-160, f"input vector must be {COLS} bytes, got {x.size}")
        if np.any(x > 1):
            raise ScpiError(-224, "input bytes must be 0 or 1")
        counts = self._run(self.die.xnor_popcount, x.astype(bool), self._row_range())[0]
        out = counts.astype(np.uint8)
        self._transfer(out.nbytes)
        return ieee_block(out, "u1")

    @command(":ARRay:CYCLe")
    def array_cycle(self, n):
        self._run(self.die.cycle, Int(1, 10**10).parse(n), self._set_pulse(), self._reset_pulse())

    # -- 1T1R reference --------------------------------------------------------------------------
    @command(":SENSe:REFerence")
    def set_reference(self, value):
        self.die.set_reference(REFERENCE.parse(value))

    @command(":SENSe:REFerence?")
    def reference(self):
        return float(np.exp(np.mean(np.log(self.die.reference))))

    @command(":SENSe:REFerence:COLumn")
    def set_column_references(self, *values):
        if len(values) == 1 and isinstance(values[0], Block):
            r = block_array(values[0], "<f4").astype(float)
            if r.size != COLS:
                raise ScpiError(-160, f"reference block must hold {COLS} float32, got {r.size}")
        elif len(values) == COLS:
            r = np.array([REFERENCE.parse(v) for v in values])
        else:
            raise ScpiError(-109 if len(values) < COLS else -108,
                            f"{COLS} references needed (a float32 block or {COLS} numbers), "
                            f"got {len(values)}")
        bad = ~(np.isfinite(r) & (r >= REFERENCE.minimum) & (r <= REFERENCE.maximum))
        if bad.any():
            raise ScpiError(-222, f"column {int(np.argmax(bad))}: reference {r[bad][0]:g} outside "
                                  f"[{REFERENCE.minimum:g}, {REFERENCE.maximum:g}] ohm")
        self.die.set_reference(r)

    @command(":SENSe:REFerence:COLumn?")
    def column_references(self):
        r = self.die.reference.astype("<f4")
        self._transfer(r.nbytes)
        return ieee_block(r, "<f4")

    # -- energy ---------------------------------------------------------------------------------
    @command(":ENERgy?")
    def energy(self):
        return self.last_energy

    @command(":ENERgy:TOTal?")
    def energy_total(self):
        return self.total_energy

    @command(":ENERgy:CLEar")
    def energy_clear(self):
        self.last_energy = self.total_energy = 0.0
