"""Electromagnet on the STNO probe: a Kepco BOP 36-12 supply driving the coil, a Lake Shore 421 reading it.

The coil and the field it makes are physics (`labctl.sim_backends.physics.magnet`); these emulators are
their SCPI faces. They speak the SCPI of the stock pymeasure ``KepcoBOP3612`` driver (BOP operator
manual, SCPI section: ``FUNC:MODE``, ``CURR``, ``VOLT``, ``OUTP``, ``MEAS:CURR?``/``MEAS:VOLT?``) and the
command set of ``LakeShore421`` (model 421 manual, ch. 6: ``FIELD?``, ``FIELDM?``, ``UNIT``, ...); the
gaussmeter adds its Hall probe's offset and noise to the field.
"""

from __future__ import annotations

import numpy as np

from labctl.sim_backends.bench import Bench
from labctl.sim_backends.interfaces import Magnet
from labctl.sim_backends.scpi import Bool, Choice, Float, Int, ScpiEmulator, ScpiError, Setting, command

I_MAX, V_MAX = 12.0, 36.0  # BOP 36-12
#: Longest a move keeps the supply busy for ``*OPC?`` (a move with no drive voltage never ends).
MAX_SETTLE = 3600.0


class KepcoBOP3612Emulator(ScpiEmulator):
    """Kepco BOP 36-12 bipolar supply driving the bench's part ``magnet`` (a Magnet)."""

    idn = "KEPCO,BOP 36-12,E123456,3.06"
    command_time = 2e-3

    def _update(self, _value=None) -> None:
        """Command the magnet from the output state, mode and setpoints (on any change of them)."""
        if not self.output_enabled:
            self.magnet.command(0.0, V_MAX)  # output off: the coil discharges through the output stage
        elif self.mode == "CURR":
            self.magnet.command(self.current_setpoint, self.voltage_setpoint)
        else:  # voltage mode into an inductor: steady current V / R, limited by the current setpoint
            i = np.clip(self.voltage_setpoint / self.magnet.resistance, -abs(self.current_setpoint),
                        abs(self.current_setpoint))
            self.magnet.command(i, self.voltage_setpoint)
        self.busy_until = self.clock.now() + min(self.magnet.time_to_target(), MAX_SETTLE)

    output_enabled = Setting(":OUTPut[:STATe]", Bool(), False, on_change=_update)
    current_setpoint = Setting("[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPLitude]",
                               Float(-I_MAX, I_MAX, "A"), 0.0, on_change=_update)
    voltage_setpoint = Setting("[:SOURce]:VOLTage[:LEVel][:IMMediate][:AMPLitude]",
                               Float(-V_MAX, V_MAX, "V"), 0.0, on_change=_update)

    def __init__(self, bench: Bench, name: str = "", magnet: str = "magnet"):
        self.magnet: Magnet = self.wire(bench, name, magnet, Magnet)
        super().__init__(bench, name)

    def reset(self) -> None:
        super().reset()
        self.mode = "VOLT"
        self._update()

    @command(":FUNCtion:MODE")
    def set_mode(self, mode):
        self.mode = Choice("VOLTage", "CURRent").parse(mode)
        self._update()

    @command(":FUNCtion:MODE?")
    def get_mode(self):
        return 1 if self.mode == "CURR" else 0  # the BOP answers 0 (VOLT) or 1 (CURR)

    @command(":MEASure[:SCALar]:CURRent[:DC]?")
    def measure_current(self):
        return f"{self.magnet.current():.5E}"

    @command(":MEASure[:SCALar]:VOLTage[:DC]?")
    def measure_voltage(self):
        return f"{self.magnet.voltage():.5E}"

    @command(":SYSTem:BEEP", ":SYSTem:REMote")
    def accepted(self, *_):
        """Front-panel housekeeping."""

    @command(":DIAGnostic:TST?")
    def diagnostic(self):
        return 0


class LakeShore421Emulator(ScpiEmulator):
    """Lake Shore 421 gaussmeter with its Hall probe at the sample in the bench's part ``magnet``."""

    idn = "LSCI,MODEL421,0,010516"
    command_time = 5e-3
    RANGES_G = (30e3, 3e3, 300.0, 30.0)

    unit = Setting("UNIT", Choice("G", "T"), "G")
    range_index = Setting("RANGE", Int(0, 3), 0)
    auto_range = Setting("AUTO", Int(0, 1), 0)
    fast_mode = Setting("FAST", Int(0, 1), 0)
    field_mode = Setting("ACDC", Int(0, 1), 0)
    display_filter = Setting("FILT", Int(0, 1), 0)
    front_panel_locked = Setting("LOCK", Int(0, 1), 0)
    brightness = Setting("BRIGT", Int(0, 7), 4)
    max_hold = Setting("MAX", Int(0, 1), 0)

    def __init__(self, bench: Bench, name: str = "", magnet: str = "magnet", probe_offset_gauss: float = 0.3,
                 noise_gauss: float = 0.05):
        self.magnet: Magnet = self.wire(bench, name, magnet, Magnet)
        self.rng = bench.rng
        self.offset = probe_offset_gauss
        self.noise = noise_gauss
        super().__init__(bench, name)

    def reset(self) -> None:
        super().reset()
        self.max_gauss = 0.0
        self.multiplier: str | None = None  # of the last reading sent, for FIELDM?

    def _gauss(self) -> float:
        if self.auto_range:
            fitting = [i for i, r in enumerate(self.RANGES_G) if abs(self.magnet.field()) * 1e4 < r]
            self.settings["range_index"] = fitting[-1] if fitting else 0
        g = self.magnet.field() * 1e4 + self.offset + self.noise * self.rng.standard_normal()
        self.max_gauss = max(self.max_gauss, abs(g))
        return g

    def _reading(self, gauss: float) -> tuple[float, str]:
        if abs(gauss) > self.RANGES_G[self.range_index]:
            return float("nan"), ""
        value = gauss if self.unit == "G" else gauss * 1e-4
        # multiplier letters as the stock driver maps them ("n" stands for 1e-6 there)
        for mult, name in ((1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "n")):
            if abs(value) >= mult or mult == 1e-6:
                return value / mult, name
        return value, ""

    def _send(self, gauss: float) -> str:
        raw, self.multiplier = self._reading(gauss)
        return "OL" if np.isnan(raw) else f"{raw:.4f}"

    @command("FIELD?")
    def field(self):
        return self._send(self._gauss())

    @command("FIELDM?")
    def field_multiplier(self):
        """The multiplier of the last reading sent (a fresh one with none yet): a field that moved or
        a noise sample across a decade in between must not scale that reading by 1000."""
        if self.multiplier is None:
            return self._reading(self.magnet.field() * 1e4 + self.offset)[1]
        return self.multiplier

    @command("MAXR?")
    def max_reading(self):
        return self._send(self.max_gauss)

    @command("MAXC")
    def max_clear(self):
        self.max_gauss = 0.0

    @command("TYPE?")
    def probe_type(self):
        return 0

    @command("SNUM?")
    def serial_number(self):
        return "H12345"

    @command("ZCAL", "ZPRB")
    def zero_probe(self):
        if abs(self.magnet.field()) > 1e-3:
            raise ScpiError(-221, "zero the probe in a zero-gauss chamber")
        self.offset = 0.0
