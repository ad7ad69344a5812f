"""Electromagnet on the STNO probe: a Kepco BOP 36-12 supply driving the coil, a Lake Shore 421 reading it.

Physics: the coil is an inductor L (with winding resistance R). A bipolar supply in current mode moves its
output current toward the setpoint only as fast as its voltage limit allows, dI/dt = (V_lim - I R) / L, so
a field change takes bench time; the field at the sample is B = k I (+ the gaussmeter's probe offset and
noise when read). The emulators speak the SCPI of the stock pymeasure ``KepcoBOP3612`` driver (BOP
operator manual, SCPI section: ``FUNC:MODE``, ``CURR``, ``VOLT``, ``OUTP``, ``MEAS:CURR?``/``MEAS:VOLT?``)
and the command set of ``LakeShore421`` (model 421 manual, ch. 6: ``FIELD?``, ``FIELDM?``, ``UNIT``, ...).
"""

from __future__ import annotations

import numpy as np

from labctl.sim_backends.bench import Bench
from labctl.sim_backends.scpi import Bool, Choice, Float, Int, ScpiEmulator, ScpiError, Setting, command

I_MAX, V_MAX = 12.0, 36.0  # BOP 36-12


#: Distance (A) from an asymptotic end current at which a move counts as done (well below the BOP's
#: setpoint resolution).
SETTLED = 1e-6
#: Longest a move keeps the supply busy for ``*OPC?`` (a move with no drive voltage never ends).
MAX_SETTLE = 3600.0


class Electromagnet:
    """Coil current driven by a supply at its voltage limit until it reaches the setpoint, in bench time.

    While the current differs from the setpoint the supply sits at +-V_lim, so
    L dI/dt = +-V_lim - I R: an exponential approach (time constant L/R) toward +-V_lim/R, stopped at the
    setpoint. A setpoint beyond V_lim/R is never reached: the current settles at V_lim/R with the
    supply in voltage limit, as on the bench.
    """

    def __init__(self, clock, field_per_amp: float = 0.05, inductance: float = 0.5,
                 resistance: float = 0.2, remanence: float = 0.0):
        self.clock = clock
        self.field_per_amp = field_per_amp  # T/A at the sample
        self.inductance = inductance  # H
        self.resistance = resistance  # ohm
        self.remanence = remanence  # T
        self._t, self._i, self._target, self._v_limit = clock.now(), 0.0, 0.0, 0.0

    def _drive(self) -> float:
        """Supply voltage while moving: the voltage limit, toward the setpoint."""
        return float(np.copysign(self._v_limit, self._target - self._i))

    def _beyond_reach(self) -> bool:
        """True when the setpoint lies past the current the voltage limit can hold (V_lim / R)."""
        v = self._drive()
        return v == 0 or (self.resistance > 0 and np.sign(self._target - v / self.resistance) == np.sign(v))

    def _after(self, dt: float) -> float:
        """Current ``dt`` seconds on, still driven at the voltage limit."""
        v = self._drive()
        if self.resistance == 0:
            return self._i + v / self.inductance * dt
        i_end = v / self.resistance
        return float(i_end + (self._i - i_end) * np.exp(-dt * self.resistance / self.inductance))

    def time_to_target(self) -> float:
        """Bench seconds from now until the move ends: the setpoint reached, or, when the setpoint lies
        at or beyond V_lim/R, the current settled within ``SETTLED`` of V_lim/R (inf with no drive)."""
        self._advance()
        return self._time_left()

    def _time_left(self) -> float:
        if self._i == self._target:
            return 0.0
        v = self._drive()
        if v == 0:
            return float("inf")
        if self.resistance == 0:
            return abs(self._target - self._i) * self.inductance / abs(v)
        i_end = v / self.resistance
        start = abs(self._i - i_end)
        left = SETTLED if self._beyond_reach() else max(abs(self._target - i_end), SETTLED)
        return float(self.inductance / self.resistance * np.log(start / left)) if start > left else 0.0

    def _advance(self) -> None:
        now = self.clock.now()
        dt = now - self._t
        if dt > 0 and self._i != self._target:
            done = dt >= self._time_left() and not self._beyond_reach()
            self._i = self._target if done else self._after(dt)
        self._t = now

    def command(self, target: float, v_limit: float) -> None:
        """New current setpoint (A) and compliance voltage (V) from the supply."""
        self._advance()
        self._target, self._v_limit = float(target), abs(float(v_limit))

    def current(self) -> float:
        self._advance()
        return self._i

    def voltage(self) -> float:
        """Terminal voltage: the supply sits at its voltage limit while ramping, else I R."""
        i = self.current()
        if i != self._target:
            return float(np.copysign(self._v_limit, self._target - i))
        return i * self.resistance

    def field(self) -> float:
        """Out-of-plane field at the sample, T."""
        return self.remanence + self.field_per_amp * self.current()


class KepcoBOP(ScpiEmulator):
    """Kepco BOP 36-12 bipolar supply on the bench's electromagnet (``bench.magnet``)."""

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

    def __init__(self, bench: Bench, name: str = ""):
        self.magnet: Electromagnet = bench.magnet
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


class LakeShore421Meter(ScpiEmulator):
    """Lake Shore 421 gaussmeter with its Hall probe at the sample (reads ``bench.magnet``)."""

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

    def __init__(self, bench: Bench, name: str = "", probe_offset_gauss: float = 0.3,
                 noise_gauss: float = 0.05):
        self.magnet: Electromagnet = bench.magnet
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
