"""Swept spectrum analyzer (Agilent E4408B, ESA-L series) on the STNO chip's rf output.

Speaks the ESA SCPI used by the stock pymeasure ``AgilentE4408B`` driver and by our subclass
(``labctl.instruments.spectrum_analyzer``): start/stop/center/span, sweep points and time, resolution and
video bandwidth (with the ESA's auto coupling: RBW ~ span / 106 on a 1-3-10 sequence, sweep time
~ 2.5 span / RBW^2, at most 2000 s: beyond it the real instrument sweeps uncalibrated), 101 to 8192
sweep points, video averaging, trace format and ``:TRACe:DATA? TRACE1`` in dBm. Each trace is a fresh
measurement of the bench: the oscillators integrated at the present currents, field and rf drive, seen
through the RBW filter (`labctl.sim_backends.physics.spectrum`); it costs its sweep time x averages on
the bench clock, and bounded work whatever the settings (`labctl.sim_backends.stno_bench`).
"""

from __future__ import annotations

import numpy as np

from labctl.sim_backends.bench import Bench
from labctl.sim_backends.interfaces import SpectrumSource
from labctl.sim_backends.physics.spectrum import AnalyzerSettings
from labctl.sim_backends.scpi import (
    Bool,
    Choice,
    Float,
    Int,
    ScpiEmulator,
    ScpiError,
    Setting,
    command,
    ieee_block,
)

F_MAX = 26.5e9
SWEEP_TIME_MIN, SWEEP_TIME_MAX = 1e-3, 2000.0  # s, swept spans
RBW_STEPS = np.array([1e3, 3e3, 10e3, 30e3, 100e3, 300e3, 1e6, 3e6, 5e6])
SPAN_RBW_RATIO = 106.0


class AgilentE4408BEmulator(ScpiEmulator):
    """E4408B whose input is connected to the bench's part ``source`` (a SpectrumSource)."""

    idn = "Agilent Technologies,E4408B,US00000001,A.14.01"
    command_time = 1e-3

    # start and stop stay ordered: moving one past the other drags the other along
    def _start_changed(self, value):
        if value > self.stop:
            self.settings["stop"] = value

    def _stop_changed(self, value):
        if value < self.start:
            self.settings["start"] = value

    start = Setting("[:SENSe]:FREQuency:STARt", Float(0, F_MAX, "HZ"), 0.0, on_change=_start_changed)
    stop = Setting("[:SENSe]:FREQuency:STOP", Float(0, F_MAX, "HZ"), F_MAX, on_change=_stop_changed)
    step = Setting("[:SENSe]:FREQuency:CENTer:STEP[:INCRement]", Float(1, F_MAX, "HZ"), 1e6)
    points = Setting("[:SENSe]:SWEep:POINts", Int(101, 8192), 401)
    sweep_time_auto = Setting("[:SENSe]:SWEep:TIME:AUTO", Bool(), True)
    rbw_auto = Setting("[:SENSe]:BANDwidth[:RESolution]:AUTO", Bool(), True)
    vbw = Setting("[:SENSe]:BANDwidth:VIDeo", Float(30, 3e6, "HZ"), 3e6)
    averages = Setting("[:SENSe]:AVERage:COUNt", Int(1, 8192), 100)
    averaging = Setting("[:SENSe]:AVERage[:STATe]", Bool(), False)
    continuous = Setting(":INITiate:CONTinuous", Bool(), True)
    reference_level = Setting(":DISPlay:WINDow:TRACe:Y[:SCALe]:RLEVel", Float(-170, 30, "DBM"), 0.0)

    def __init__(self, bench: Bench, name: str = "", source: str = "rf_output"):
        self.source: SpectrumSource = self.wire(bench, name, source, SpectrumSource)
        super().__init__(bench, name)

    def reset(self) -> None:
        super().reset()
        self.data_format = "ASC"
        self.sweep_time_manual = 1e-2
        self.rbw_manual = 3e6

    # -- frequency coupling: start/stop stored, center/span derived -----------------------------
    @command("[:SENSe]:SWEep:TIME")
    def set_sweep_time(self, value):
        self.sweep_time_manual = Float(SWEEP_TIME_MIN, SWEEP_TIME_MAX, "S").parse(value)
        self.settings["sweep_time_auto"] = False

    @command("[:SENSe]:BANDwidth[:RESolution]")
    def set_rbw(self, value):
        value = Float(1e3, 5e6, "HZ").parse(value)
        self.rbw_manual = float(RBW_STEPS[np.argmin(np.abs(np.log(RBW_STEPS / value)))])
        self.settings["rbw_auto"] = False

    @command("[:SENSe]:FREQuency:CENTer")
    def set_center(self, value):
        self._set_window(Float(0, F_MAX, "HZ").parse(value), self.stop - self.start)

    @command("[:SENSe]:FREQuency:CENTer?")
    def get_center(self):
        return 0.5 * (self.start + self.stop)

    @command("[:SENSe]:FREQuency:SPAN")
    def set_span(self, value):
        self._set_window(0.5 * (self.start + self.stop), Float(0, F_MAX, "HZ").parse(value))

    @command("[:SENSe]:FREQuency:SPAN?")
    def get_span(self):
        return self.stop - self.start

    def _set_window(self, center, span):
        span = min(span, 2 * center, 2 * (F_MAX - center))  # the ESA narrows the span to fit
        self.settings["start"], self.settings["stop"] = center - span / 2, center + span / 2

    # -- coupled bandwidth and sweep time ------------------------------------------------------
    @property
    def rbw(self) -> float:
        if not self.rbw_auto:
            return self.rbw_manual
        wanted = max(self.stop - self.start, 1.0) / SPAN_RBW_RATIO
        i = np.searchsorted(RBW_STEPS, wanted)
        return float(RBW_STEPS[min(i, len(RBW_STEPS) - 1)])

    @property
    def sweep_time(self) -> float:
        if not self.sweep_time_auto:
            return self.sweep_time_manual
        return float(np.clip(2.5 * (self.stop - self.start) / self.rbw**2, SWEEP_TIME_MIN, SWEEP_TIME_MAX))

    @command("[:SENSe]:BANDwidth[:RESolution]?")
    def get_rbw(self):
        return self.rbw

    @command("[:SENSe]:SWEep:TIME?")
    def get_sweep_time(self):
        return self.sweep_time

    # -- traces ----------------------------------------------------------------------------------
    @command(":FORMat[:TRACe][:DATA]")
    def set_format(self, kind, bits="32"):
        kind = Choice("ASCii", "REAL", "INTeger", "UINTeger").parse(kind)
        if kind not in ("ASC", "REAL") or (kind == "REAL" and bits.strip() not in ("32", "64")):
            raise ScpiError(-224, "ASCii, REAL,32 or REAL,64")
        self.data_format = "ASC" if kind == "ASC" else f"REAL{bits.strip()}"

    @command(":FORMat[:TRACe][:DATA]?")
    def get_format(self):
        return "ASC,8" if self.data_format == "ASC" else f"REAL,{self.data_format[4:]}"

    def settings_now(self) -> AnalyzerSettings:
        return AnalyzerSettings(self.start, self.stop, self.points, self.rbw,
                                self.averages if self.averaging else 1)

    def measure(self) -> np.ndarray:
        settings = self.settings_now()
        if settings.stop <= settings.start:
            raise ScpiError(-221, "zero span traces are not emulated")
        trace = self.source.spectrum(settings)
        self.clock.advance(self.sweep_time * settings.averages)
        return trace

    @command(":TRACe[:DATA]?")
    def trace(self, which="TRACE1"):
        Choice("TRACE1", "TRACE2", "TRACE3").parse(which)
        data = self.measure()
        if self.data_format == "ASC":
            return ",".join(f"{v:.3f}" for v in data)
        return ieee_block(data, dtype=">f4" if self.data_format == "REAL32" else ">f8")

    @command(":INITiate[:IMMediate]")
    def initiate(self):
        self.busy_until = self.clock.now() + self.sweep_time * (self.averages if self.averaging else 1)

    @command(":CALCulate:MARKer[1]:MAXimum", ":CALCulate:MARKer[1]:STATe", ":DISPlay:ENABle")
    def accepted(self, *_):
        """Marker/display housekeeping: accepted (traces carry the data)."""
