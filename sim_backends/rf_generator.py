"""Microwave signal generator (Agilent/Keysight E8257D PSG) feeding the STNO chip's strip line.

Speaks the PSG SCPI the stock pymeasure ``Agilent8257D`` driver uses (PSG programming guide:
``:FREQ``, ``:POW``, ``:OUTP``, ``:OUTP:MOD``, ``:LFO``, AM/pulse modulation state). The bench reads
frequency, power and output state of every generator when it computes the oscillators' drive; the
strip line turns the delivered power into an rf field (``StripLine.field``).
"""

from __future__ import annotations

from labctl.sim_backends.bench import Bench
from labctl.sim_backends.interfaces import RFLine
from labctl.sim_backends.scpi import Bool, Choice, Float, ScpiEmulator, Setting, command

F_MIN, F_MAX = 250e3, 20e9  # option 520
P_MIN, P_MAX = -135.0, 25.0


class Agilent8257DEmulator(ScpiEmulator):
    """One PSG whose output feeds the bench's part ``strip_line`` (an RFLine)."""

    idn = "Agilent Technologies, E8257D, US00000001, C.06.28"
    command_time = 1e-3

    frequency = Setting("[:SOURce]:FREQuency[:CW]", Float(F_MIN, F_MAX, "HZ"), 1e9)
    power = Setting("[:SOURce]:POWer[:LEVel][:IMMediate][:AMPLitude]", Float(P_MIN, P_MAX, "DBM"), -135.0)
    output = Setting(":OUTPut[:STATe]", Bool(), False)
    modulation = Setting(":OUTPut:MODulation[:STATe]", Bool(), True)
    am_state = Setting("[:SOURce]:AM[:STATe]", Bool(), False)
    am_depth = Setting("[:SOURce]:AM[:DEPTh]", Float(0, 100), 0.1)
    am_source = Setting("[:SOURce]:AM:SOURce", Choice("INTernal", "EXTernal", "EXT2"), "INT")
    pulse_state = Setting("[:SOURce]:PULM:STATe", Bool(), False)
    pulse_source = Setting("[:SOURce]:PULM:SOURce", Choice("INTernal", "EXTernal", "SCALar"), "INT")
    lfo_state = Setting("[:SOURce]:LFOutput:STATe", Bool(), False)
    lfo_source = Setting("[:SOURce]:LFOutput:SOURce", Choice("INTernal", "FUNCtion1", "FUNCtion2"), "INT")
    lfo_amplitude = Setting("[:SOURce]:LFOutput:AMPLitude", Float(0, 3.5, "VP"), 0.0)

    def __init__(self, bench: Bench, name: str = "", strip_line: str = "strip_line"):
        line: RFLine = self.wire(bench, name, strip_line, RFLine)
        super().__init__(bench, name)
        line.connect(self)

    def tone(self) -> tuple[float, float] | None:
        """(frequency Hz, power W) delivered to the strip line, None with the output off (a CW tone:
        modulation settings are stored and answered but do not shape the drive)."""
        if not self.output:
            return None
        return self.frequency, 1e-3 * 10 ** (self.power / 10)

    @command("[:SOURce]:TSWeep", "[:SOURce]:LIST:RETRace")
    def accepted(self, *_):
        """Sweep housekeeping: accepted, continuous-wave operation only."""
