"""Keithley 2400 SourceMeter emulator, wired to a two-terminal device of the bench.

Speaks the 2400's SCPI (Keithley 2400 Series SourceMeter User's Manual, rev. G, ch. 18) as far as
the stock :class:`pymeasure.instruments.keithley.Keithley2400` uses it: source function and levels,
compliance, sense ranges and NPLC, ``:READ?``/``:MEASure?`` with ``:FORMat:ELEMents``, trigger and
arm counts (their product at most the 2500-reading buffer, else -221), output on/off. Each reading
costs its integration time (NPLC / line frequency) plus the source delay on the bench clock and
carries the instrument's noise (specification-sheet accuracy: 0.012 % of reading + 0.05 % of range for
voltage, 0.029 % + 0.03 % of range for current, scaled by 1/sqrt(NPLC) as integration averages white
noise).
"""

from __future__ import annotations

import numpy as np

from labctl.sim_backends.bench import Bench
from labctl.sim_backends.interfaces import Terminal
from labctl.sim_backends.scpi import Bool, Choice, Float, Int, ScpiEmulator, ScpiError, Setting, command

V_MAX, I_MAX = 210.0, 1.05
V_RANGES = (0.2, 2.0, 20.0, 200.0)
I_RANGES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
ELEMENTS = Choice("VOLTage", "CURRent", "RESistance", "TIME", "STATus")
SENSE_FUNCTIONS = Choice("VOLTage", "CURRent", "RESistance")

# Status word bits (manual, :FORMat:ELEMents STATus): compliance and range compliance.
STATUS_COMPLIANCE = 1 << 3
#: Readings buffer of the 2400: the product of the (finite) arm and trigger counts cannot exceed it
#: (User's Manual, Triggering, "Counters").
BUFFER_READINGS = 2500


def _fits_buffer(emulator: Keithley2400Emulator, _value) -> None:
    """Refuse a trigger or arm count whose product with the other exceeds the readings buffer."""
    if emulator.trigger_count * emulator.arm_count > BUFFER_READINGS:
        raise ScpiError(-221, f"trigger count x arm count exceeds {BUFFER_READINGS} readings")


def _sense_function(arg) -> str:
    """``"CURR:DC"``, ``'VOLTage'``, ``RES`` -> the function's short name."""
    if not isinstance(arg, str):
        raise ScpiError(-104, "function name expected")
    return SENSE_FUNCTIONS.parse(arg.strip().strip("'\"").upper().removesuffix(":DC"))


def _auto_range(value: float, ranges: tuple[float, ...]) -> float:
    for r in ranges:
        if abs(value) <= r * 1.05:
            return r
    return ranges[-1]


class Keithley2400Emulator(ScpiEmulator):
    """A 2400 whose HI/LO terminals see the bench's part ``dut`` (a Terminal; none: open terminals)."""

    idn = "KEITHLEY INSTRUMENTS INC.,MODEL 2400,4000001,C32   Oct  4 2010 14:20:11/A02  /S/K"
    command_time = 2e-4

    output = Setting(":OUTPut[:STATe]", Bool(), False)
    output_off_mode = Setting(":OUTPut:SMODe", Choice("HIMPedance", "NORMal", "ZERO", "GUARd"), "NORM")
    source_function = Setting("[:SOURce]:FUNCtion[:MODE]", Choice("VOLTage", "CURRent"), "VOLT")
    source_voltage = Setting("[:SOURce]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", Float(-V_MAX, V_MAX, "V"), 0.0)
    source_current = Setting("[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPLitude]", Float(-I_MAX, I_MAX, "A"), 0.0)
    source_voltage_range = Setting("[:SOURce]:VOLTage:RANGe", Float(-V_MAX, V_MAX, "V"), 20.0)
    source_voltage_range_auto = Setting("[:SOURce]:VOLTage:RANGe:AUTO", Bool(), True)
    source_current_range = Setting("[:SOURce]:CURRent:RANGe", Float(-I_MAX, I_MAX, "A"), 1e-4)
    source_current_range_auto = Setting("[:SOURce]:CURRent:RANGe:AUTO", Bool(), True)
    source_delay = Setting("[:SOURce]:DELay", Float(0, 9999.999, "S"), 0.001)
    source_delay_auto = Setting("[:SOURce]:DELay:AUTO", Bool(), True)
    auto_output_off = Setting("[:SOURce]:CLEar:AUTO", Bool(), False)
    compliance_current = Setting(":SENSe:CURRent[:DC]:PROTection[:LEVel]", Float(-I_MAX, I_MAX, "A"), 1.05e-4)
    compliance_voltage = Setting(":SENSe:VOLTage[:DC]:PROTection[:LEVel]", Float(-V_MAX, V_MAX, "V"), 21.0)
    current_range = Setting(":SENSe:CURRent[:DC]:RANGe[:UPPer]", Float(-I_MAX, I_MAX, "A"), 1.05e-4)
    current_range_auto = Setting(":SENSe:CURRent[:DC]:RANGe:AUTO", Bool(), True)
    voltage_range = Setting(":SENSe:VOLTage[:DC]:RANGe[:UPPer]", Float(-V_MAX, V_MAX, "V"), 21.0)
    voltage_range_auto = Setting(":SENSe:VOLTage[:DC]:RANGe:AUTO", Bool(), True)
    resistance_range = Setting(":SENSe:RESistance:RANGe[:UPPer]", Float(0, 2.1e8, "OHM"), 2.1e5)
    resistance_range_auto = Setting(":SENSe:RESistance:RANGe:AUTO", Bool(), True)
    resistance_mode = Setting(":SENSe:RESistance:MODE", Choice("MANual", "AUTO"), "MAN")
    current_nplc = Setting(":SENSe:CURRent[:DC]:NPLCycles", Float(0.01, 10), 1.0)
    voltage_nplc = Setting(":SENSe:VOLTage[:DC]:NPLCycles", Float(0.01, 10), 1.0)
    resistance_nplc = Setting(":SENSe:RESistance:NPLCycles", Float(0.01, 10), 1.0)
    filter_enabled = Setting(":SENSe:AVERage[:STATe]", Bool(), False)
    filter_type = Setting(":SENSe:AVERage:TCONtrol", Choice("REPeat", "MOVing"), "REP")
    filter_count = Setting(":SENSe:AVERage:COUNt", Int(1, 100), 10)
    auto_zero = Setting(":SYSTem:AZERo[:STATe]", Choice("ON", "OFF", "ONCE", "1", "0"), "1")
    line_frequency = Setting(":SYSTem:LFRequency", Choice("50", "60"), "50")
    line_frequency_auto = Setting(":SYSTem:LFRequency:AUTO", Bool(), True)
    trigger_count = Setting(":TRIGger:COUNt", Int(1, BUFFER_READINGS), 1, on_change=_fits_buffer)
    trigger_delay = Setting(":TRIGger:DELay", Float(0, 999.9999, "S"), 0.0)
    trigger_source = Setting(":TRIGger:SOURce", Choice("IMMediate", "TLINk"), "IMM")
    arm_count = Setting(":ARM:COUNt", Int(1, BUFFER_READINGS), 1, on_change=_fits_buffer)
    arm_source = Setting(":ARM:SOURce", Choice("IMMediate", "TIMer", "MANual", "BUS", "TLINk",
                                               "NSTest", "PSTest", "BSTest"), "IMM")
    arm_timer = Setting(":ARM:TIMer", Float(0.001, 99999.99, "S"), 0.1)
    terminals = Setting(":ROUTe:TERMinals", Choice("FRONt", "REAR"), "FRON")
    display_enabled = Setting(":DISPlay:ENABle", Bool(), True)
    data_format = Setting(":FORMat[:DATA]", Choice("ASCii", "REAL", "SREal"), "ASC")
    beeper_enabled = Setting(":SYSTem:BEEPer:STATe", Bool(), True)

    def __init__(self, bench: Bench, name: str = "", dut: str | None = None):
        self.dut: Terminal | None = self.wire(bench, name, dut, Terminal) if dut else None
        super().__init__(bench, name)

    def reset(self) -> None:
        super().reset()
        self.elements = ["VOLT", "CURR", "RES", "TIME", "STAT"]
        self.sense_functions = {"CURR"}

    def _bias(self) -> tuple | None:
        """What the terminals impose now: (function, level, compliance), or None with the output off."""
        if not self.output:
            return None
        src = self.source_function
        level = self.source_voltage if src == "VOLT" else self.source_current
        return src, level, abs(self.compliance_current if src == "VOLT" else self.compliance_voltage)

    def process(self, message: bytes) -> bytes | None:
        """Execute the message; a DUT feels a new bias at once, not only when a reading is taken."""
        before = self._bias()
        response = super().process(message)
        after = self._bias()
        if after != before and self.dut is not None:
            with self.bench.lock:
                if after is None:
                    self._release()
                else:
                    self.dut.apply(*after, 0.0)
        return response

    def _release(self) -> None:
        """Output off: the DUT sees an open circuit."""
        if self.dut is not None:
            self.dut.release()

    # -- measurement ----------------------------------------------------------------------------
    def _reading(self) -> tuple[float, float, float, float, int]:
        src = self.source_function
        level = self.source_voltage if src == "VOLT" else self.source_current
        limit = abs(self.compliance_current if src == "VOLT" else self.compliance_voltage)
        nplc = self.current_nplc if "CURR" in self.sense_functions else self.voltage_nplc
        aperture = nplc / float(self.line_frequency)
        delay = self.source_delay + self.trigger_delay
        if self.dut is None:
            # open terminals: no current flows; a current source rises to its compliance voltage
            v, i = (level, 0.0) if src == "VOLT" else (np.copysign(limit, level) if level else 0.0, 0.0)
        else:
            v, i = self.dut.apply(src, level, limit, delay + aperture)
        self.clock.advance(delay + aperture)
        in_compliance = (abs(i) >= limit * 0.999) if src == "VOLT" else (abs(v) >= limit * 0.999)
        status = STATUS_COMPLIANCE if in_compliance else 0
        rng = self.bench.rng
        scale = 1.0 / np.sqrt(nplc)
        v_range = _auto_range(v, V_RANGES) if self.voltage_range_auto else abs(self.voltage_range)
        i_range = _auto_range(i, I_RANGES) if self.current_range_auto else abs(self.current_range)
        v_meas = v + rng.normal(0.0, (1.2e-4 * abs(v) + 5e-4 * v_range) * scale / 3)
        i_meas = i + rng.normal(0.0, (2.9e-4 * abs(i) + 3e-4 * i_range) * scale / 3)
        if src == "VOLT":
            v_meas = v if not in_compliance else v_meas
        else:
            i_meas = i if not in_compliance else i_meas
        r = v_meas / i_meas if i_meas != 0 else 9.91e37  # 9.91e37 is the 2400's NaN
        return v_meas, i_meas, r, self.clock.now(), status

    def _read(self) -> str:
        if not self.output:
            if not self.auto_output_off:
                raise ScpiError(-221, "output is off (+803 Output disabled)")
            self.output = True
        readings = []
        for _ in range(self.trigger_count * self.arm_count):
            v, i, r, t, status = self._reading()
            values = {"VOLT": v, "CURR": i, "RES": r, "TIME": t, "STAT": float(status)}
            readings.extend(f"{values[e]:+.6E}" for e in self.elements)
        if self.auto_output_off:
            self.output = False
            self._release()
        return ",".join(readings)

    @command(":READ?", ":MEASure[:CURRent][:DC]?", ":MEASure:VOLTage[:DC]?", ":MEASure:RESistance?",
             ":FETCh?")
    def read(self):
        return self._read()

    @command(":INITiate[:IMMediate]")
    def initiate(self):
        if self.output:
            self._reading()

    @command(":ABORt")
    def abort(self):
        pass

    @command(":FORMat:ELEMents[:SENSe[1]]")
    def set_elements(self, *names):
        if not names:
            raise ScpiError(-109)
        self.elements = [ELEMENTS.parse(n) for n in names]

    @command(":FORMat:ELEMents[:SENSe[1]]?")
    def get_elements(self):
        return ",".join(self.elements)

    @command(":SENSe:FUNCtion[:ON]")
    def set_sense(self, *functions):
        if not functions:
            raise ScpiError(-109)
        self.sense_functions = {_sense_function(f) for f in functions}

    @command(":SENSe:FUNCtion[:ON]?")
    def get_sense(self):
        return ",".join(f'"{f}:DC"' if f != "RES" else '"RES"' for f in sorted(self.sense_functions))

    @command(":SENSe:FUNCtion[:ON]:ALL", ":SENSe:FUNCtion:CONCurrent")
    def sense_all(self, *_):
        self.sense_functions = {"VOLT", "CURR", "RES"}

    @command(":SYSTem:BEEPer[:IMMediate]")
    def beep(self, frequency, duration):
        Float(65, 2e6).parse(frequency)
        self.clock.advance(Float(0, 7.9).parse(duration))

    @command(":STATus:PRESet", ":TRACe:CLEar", ":TRACe:FEED", ":TRACe:FEED:CONTrol", ":SYSTem:KEY")
    def accepted(self, *_):
        """Buffer and status-model housekeeping: accepted; readings are returned by :READ?."""

    @command(":SOURce:VOLTage:MODE", ":SOURce:CURRent:MODE")
    def source_mode(self, mode):
        if Choice("FIXed", "SWEep", "LIST").parse(mode) != "FIX":
            raise ScpiError(-221, "only FIXed source mode is emulated")
