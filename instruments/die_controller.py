"""pymeasure driver of the RRAM die controller (FPGA board driving the 1-kbit 2T2R test die).

Settings are declarative ``control`` lines with validators; bulk transfers (a whole pattern, the
whole array's bits or resistances, an XNOR input vector) are IEEE 488.2 binary blocks, one command
each. Any error the controller queues is raised as :class:`DieControllerError`.

Device order in arrays: ``[row, column, side]`` with side 0 = BL, 1 = BLb; a bit is 1 when its BL
device is in the low-resistance state.
"""

from __future__ import annotations

import logging

import numpy as np
from pymeasure.instruments import Instrument, SCPIMixin
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from labctl.link import InDoubtWrite

ROWS, COLS, SIDES = 32, 32, 2
V_MAX = 5.0
RAMP_STEPS = 256  # amplitudes the board's forming-ramp memory holds (a longer ramp is refused, -221)
_BOOL = {True: 1, False: 0}


def _row_range(value, values):
    first, last = (int(strict_range(v, values)) for v in value)
    if first > last:
        raise ValueError(f"first row {first} after last row {last}")
    return first, last


_faults = logging.getLogger("labctl.faults")


class DieControllerError(RuntimeError):
    """The controller refused a command (the SCPI error-queue entries are in the message)."""


def _volts(command, doc, maximum=V_MAX):
    return Instrument.control(f"{command}?", f"{command} %g", f"Control the {doc} in V.",
                              validator=strict_range, values=(0, maximum),
                              check_set_errors=True)


def _seconds(command, doc):
    return Instrument.control(f"{command}?", f"{command} %g",
                              f"Control the {doc} in s (10 ns to 1 ms).",
                              validator=strict_range, values=(10e-9, 1e-3), check_set_errors=True)


def _ohms(command, doc):
    return Instrument.control(f"{command}?", f"{command} %g", f"Control the {doc} in ohm.",
                              validator=strict_range, values=(1e2, 1e9), check_set_errors=True)


class DieController(SCPIMixin, Instrument):
    """RRAM die controller: single-device pulses and reads, whole-array operations."""

    #: Safe to send again after a dropped connection: forming skips formed devices, a cleared
    #: energy counter cleared twice is cleared once, the per-column references (a binary block,
    #: so not re-read like a plain setting) written twice hold the same values (see :mod:`labctl.link`).
    REPEATABLE_COMMANDS = (":ARR:FORM", ":ENER:CLE", ":SENS:REF:COL")
    #: Queries that act: a program-and-verify answers its pulse count.
    NON_REPEATABLE_QUERIES = (":CELL:PROG",)
    #: Units of the controls, for station limits given in other units (see labctl.driver_facts).
    UNITS = {
        **dict.fromkeys(("form_amplitude", "form_start", "form_stop", "form_step", "form_gate",
                         "set_amplitude", "set_gate", "reset_amplitude", "reset_gate"), "V"),
        **dict.fromkeys(("form_width", "set_width", "reset_width"), "s"),
        **dict.fromkeys(("form_compliance", "set_compliance"), "A"),
        **dict.fromkeys(("form_resistance", "verify_lrs", "verify_hrs", "sense_reference",
                         "sense_reference_columns", "cell_resistance"), "ohm"),
    }
    #: Controls that set one quantity: a station limiting one must limit all. The word line sets
    #: the compliance current through the access transistor, whichever of the two is written.
    LIMIT_GROUPS = {
        "SET compliance current (word-line voltage)": ("set_compliance", "set_gate"),
        "forming compliance current (word-line voltage)": ("form_compliance", "form_gate"),
        "forming amplitude": ("form_amplitude", "form_start", "form_stop"),
        "1T1R reference resistance": ("sense_reference", "sense_reference_columns"),
    }

    def __init__(self, adapter, name="RRAM die controller", **kwargs):
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        kwargs.setdefault("timeout", 60_000)
        super().__init__(adapter, name, **kwargs)

    # -- addressing -----------------------------------------------------------------------------
    row = Instrument.control(":ADDR:ROW?", ":ADDR:ROW %d", "Control the addressed row (0-31).",
                             validator=strict_range, values=(0, ROWS - 1), cast=int,
                             check_set_errors=True)
    column = Instrument.control(":ADDR:COL?", ":ADDR:COL %d",
                                "Control the addressed column (0-31).",
                                validator=strict_range, values=(0, COLS - 1), cast=int,
                                check_set_errors=True)
    side = Instrument.control(":ADDR:SIDE?", ":ADDR:SIDE %s",
                              "Control the addressed bit line: 'BL' or 'BLB'.",
                              validator=strict_discrete_set, values=("BL", "BLB"), cast=str,
                              check_set_errors=True)

    # -- pulse settings -------------------------------------------------------------------------
    form_amplitude = _volts(":FORM:AMPL", "forming pulse amplitude (bit line)")
    form_width = _seconds(":FORM:WIDT", "forming pulse width")
    form_gate = _volts(":FORM:GATE", "word-line voltage during forming")
    form_compliance = Instrument.control(
        ":FORM:COMP?", ":FORM:COMP %g",
        "Control the forming compliance current in A (5 uA to 500 uA), via the word line.",
        validator=strict_range, values=(5e-6, 500e-6), check_set_errors=True)
    form_start = _volts(":FORM:RAMP:STAR", "first amplitude of the forming ramp")
    form_stop = _volts(":FORM:RAMP:STOP", "last amplitude of the forming ramp")
    form_step = Instrument.control(":FORM:RAMP:STEP?", ":FORM:RAMP:STEP %g",
                                   "Control the forming ramp step in V (1 mV to 1 V).",
                                   validator=strict_range, values=(1e-3, 1.0),
                                   check_set_errors=True)
    form_resistance = _ohms(":FORM:RAMP:RES", "resistance below which a device counts as formed")
    set_amplitude = _volts(":SET:AMPL", "SET pulse amplitude (bit line)")
    set_width = _seconds(":SET:WIDT", "SET pulse width")
    set_gate = _volts(":SET:GATE", "word-line voltage during SET (sets the compliance)")
    set_compliance = Instrument.control(
        ":SET:COMP?", ":SET:COMP %g",
        """Control the SET compliance current in A (5 uA to 500 uA); the controller converts it
        to a word-line voltage with its access-transistor calibration.""",
        validator=strict_range, values=(5e-6, 500e-6), check_set_errors=True)
    reset_amplitude = _volts(":RES:AMPL", "RESET pulse amplitude (source line)")
    reset_width = _seconds(":RES:WIDT", "RESET pulse width")
    reset_gate = _volts(":RES:GATE", "word-line voltage during RESET")
    verify_enabled = Instrument.control(":VER?", ":VER %d",
                                        "Control whether programming verifies and re-pulses.",
                                        validator=strict_discrete_set, values=_BOOL,
                                        map_values=True, check_set_errors=True)
    verify_max_pulses = Instrument.control(":VER:COUN?", ":VER:COUN %d",
                                           "Control the maximum pulses per device (1-100).",
                                           validator=strict_range, values=(1, 100), cast=int,
                                           check_set_errors=True)
    verify_lrs = _ohms(":VER:LRS", "highest resistance accepted as LRS by verify")
    verify_hrs = _ohms(":VER:HRS", "lowest resistance accepted as HRS by verify")

    # -- sensing --------------------------------------------------------------------------------
    sense_mode = Instrument.control(
        ":SENS:MODE?", ":SENS:MODE %s",
        """Control the array read: 'DIFF' (2T2R, the PCSA compares BL and BLb) or 'SING' (1T1R, one
        device against the reference resistor).""",
        validator=strict_discrete_set, values=("DIFF", "SING"), cast=str, check_set_errors=True)
    sense_reference = Instrument.control(
        ":SENS:REF?", ":SENS:REF %g",
        """Control the reference resistance of single-ended (1T1R) reads in ohm: setting trims every
        column to the value, the query answers the geometric mean over the columns (see
        ``sense_reference_columns``).""",
        validator=strict_range, values=(1e2, 1e9), check_set_errors=True)
    sense_side = Instrument.control(":SENS:SIDE?", ":SENS:SIDE %s",
                                    "Control which device a 1T1R read senses: 'BL' or 'BLB'.",
                                    validator=strict_discrete_set, values=("BL", "BLB"), cast=str,
                                    check_set_errors=True)
    rows = Instrument.control(
        ":ARR:ROWS?", ":ARR:ROWS %d,%d",
        "Control the row range (first, last) of array reads and XNOR-popcounts.",
        validator=_row_range, values=(0, ROWS - 1),
        get_process_list=lambda v: tuple(int(x) for x in v), check_set_errors=True)

    @property
    def sense_reference_columns(self):
        """Control the 1T1R reference of each column in ohm, an array of 32 (1e2 to 1e9 ohm).

        The reference is a trim of the die: it stays until set again, so a calibration done once
        holds for every later single-ended read."""
        r = self._visa.query_binary_values(":SENS:REF:COL?", datatype="f", container=np.array)
        self.check_set_errors()
        return r.astype(float)

    @sense_reference_columns.setter
    def sense_reference_columns(self, values):
        r = np.asarray(values, float)
        if r.shape not in ((), (COLS,)):
            raise ValueError(f"one reference or {COLS} (one per column), got shape {r.shape}")
        r = np.broadcast_to(r, (COLS,))
        if not np.all(np.isfinite(r) & (r >= 1e2) & (r <= 1e9)):
            raise ValueError("references must lie in [1e2, 1e9] ohm")
        self._visa.write_binary_values(":SENS:REF:COL ", r.astype("<f4"), datatype="f")
        self.check_set_errors()

    # -- measurements ---------------------------------------------------------------------------
    cell_resistance = Instrument.measurement(":CELL:RES?",
                                             "Measure the addressed device's resistance (ohm).")
    energy = Instrument.measurement(":ENER?", "Get the pulse and read energy of the last "
                                    "operation (J).")
    total_energy = Instrument.measurement(":ENER:TOT?", "Get the energy since the last clear (J).")

    # -- errors ---------------------------------------------------------------------------------
    def check_set_errors(self):
        """Raise the errors the last command caused; record (not raise) device-specific ones.

        SCPI's -300 class and positive codes report a condition of the controller, not a refused
        command (which still executed): they go to the ``labctl.faults`` log, and so to the run file.
        """
        errors = self.check_errors()
        caused = [e for e in errors if -300 < int(float(e[0])) < 0 or int(float(e[0])) <= -400]
        for e in errors:
            if e not in caused:
                text = f"{int(float(e[0]))},{','.join(map(str, e[1:]))}"
                _faults.warning("%s: instrument error %s", self.name, text, extra={"fault": {
                    "role": self.name, "resource": self.adapter.connection.resource_name,
                    "kind": "instrument error", "command": text, "outcome": "recorded (device-specific)"}})
        if caused:
            raise DieControllerError("; ".join(f"{int(float(e[0]))},{','.join(map(str, e[1:]))}"
                                               for e in caused))
        return errors

    def _done(self):
        """Wait for the operation to complete, then raise any queued error."""
        self.ask("*OPC?")
        self.check_set_errors()

    @property
    def _visa(self):
        return self.adapter.connection

    # -- single device --------------------------------------------------------------------------
    def select(self, row, column, side="BL"):
        """Address one device."""
        self.row, self.column, self.side = row, column, side

    def form_cell(self):
        self.write(":CELL:FORM")
        self._done()

    def set_cell(self):
        self.write(":CELL:SET")
        self._done()

    def reset_cell(self):
        self.write(":CELL:RES")
        self._done()

    def program_cell(self, state):
        """Program-and-verify the addressed device to 'LRS' or 'HRS'; returns the pulses used."""
        state = strict_discrete_set(state, ("LRS", "HRS"))
        pulses = int(float(self.ask(f":CELL:PROG? {state}")))
        self.check_set_errors()
        return pulses

    # -- whole array ----------------------------------------------------------------------------
    def form_array(self):
        """Ramp-and-verify every unformed device; returns forming voltages [row, col, side]."""
        self.write(":ARR:FORM")
        self._done()
        return self.forming_voltages()

    def forming_voltages(self):
        v = self._visa.query_binary_values(":ARR:FORM:VOLT?", datatype="f", container=np.array)
        return v.reshape(ROWS, COLS, SIDES)

    def program_array(self, bits):
        """Write a 32 x 32 bit pattern (program-and-verify per the VERify settings); returns the
        pulses each device received, [row, col, side]."""
        bits = np.asarray(bits)
        if bits.shape != (ROWS, COLS) or not np.isin(bits, (0, 1)).all():
            raise ValueError(f"pattern must be {ROWS} x {COLS} zeros and ones, got {bits.shape}")
        try:
            self._visa.write_binary_values(":ARR:PROG ", bits.astype(np.uint8).ravel(), datatype="B")
            self._done()
        except InDoubtWrite:  # the link dropped: programmed or not? Read the die rather than guess.
            if not self._holds(bits):
                self._visa.write_binary_values(":ARR:PROG ", bits.astype(np.uint8).ravel(), datatype="B")
                self._done()
        self._pattern = bits.astype(bool)
        p = self._visa.query_binary_values(":ARR:PROG:PULS?", datatype="B", container=np.array)
        return p.reshape(ROWS, COLS, SIDES)

    def _holds(self, bits) -> bool:
        """Whether the die reads (2T2R, whole array) closer to ``bits`` than to the pattern written
        before: a program that did not happen leaves the old pattern, bit errors aside."""
        mode, rows = self.sense_mode, self.rows
        self.sense_mode, self.rows = "DIFF", (0, ROWS - 1)
        try:
            sensed = self.read_array()
        finally:
            self.sense_mode, self.rows = mode, rows
        new = float(np.mean(sensed == bits.astype(bool)))
        old = getattr(self, "_pattern", None)
        return new > (0.75 if old is None else max(float(np.mean(sensed == old)), 0.5))

    def read_array(self):
        """Sensed bits of the row range (``sense_mode``), shape (rows, 32)."""
        b = self._visa.query_binary_values(":ARR:READ?", datatype="B", container=np.array)
        self.check_set_errors()
        return b.reshape(-1, COLS).astype(bool)

    def array_resistance(self):
        """Analog read of all 2048 devices (ohm), [row, col, side]."""
        r = self._visa.query_binary_values(":ARR:RES?", datatype="f", container=np.array)
        return r.astype(float).reshape(ROWS, COLS, SIDES)

    def xnor_popcount(self, x):
        """Popcount of XNOR(x, row bits) for each row of the row range."""
        x = np.asarray(x)
        if x.shape != (COLS,) or not np.isin(x, (0, 1)).all():
            raise ValueError(f"input must be {COLS} zeros and ones, got {x.shape}")
        self._visa.write_binary_values(":ARR:POPC? ", x.astype(np.uint8), datatype="B")
        counts = self._visa.read_binary_values(datatype="B", container=np.array)
        return counts.astype(int)

    def cycle(self, cycles):
        """Run ``cycles`` SET/RESET cycles on every device (SET and RESet settings)."""
        cycles = int(strict_range(cycles, (1, 10**10)))
        self.write(f":ARR:CYCL {cycles}")
        self._done()

    def clear_energy(self):
        self.write(":ENER:CLE")
