"""Electromagnet: a coil driven by a bipolar supply, and the field it makes at the sample.

The coil is an inductor L with winding resistance R. A bipolar supply in current mode moves its output
current toward the setpoint only as fast as its voltage limit allows, L dI/dt = +-V_lim - I R, so a field
change takes time; the field at the sample is B = B_r + k I (k in T/A from the pole-piece geometry, B_r
the remanence): a series RL circuit behind a supply in current mode with a voltage limit (Kepco BOP
operator manual, "current mode": the output voltage rises to the limit while the load current lags the
setpoint). Time is read from a clock (anything with ``now()`` in seconds: the bench's virtual
clock), and the state is brought up to date lazily whenever it is asked for.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Clock(Protocol):
    def now(self) -> float: ...


#: Distance (A) from an asymptotic end current at which a move counts as done (well below the BOP's
#: setpoint resolution).
SETTLED = 1e-6


class Electromagnet:
    """Coil current driven by a supply at its voltage limit until it reaches the setpoint, in bench time.

    While the current differs from the setpoint the supply sits at +-V_lim, so
    L dI/dt = +-V_lim - I R: an exponential approach (time constant L/R) toward +-V_lim/R, stopped at the
    setpoint. A setpoint beyond V_lim/R is never reached: the current settles at V_lim/R with the
    supply in voltage limit, as on the bench.
    """

    def __init__(self, clock: Clock, field_per_amp: float = 0.05, inductance: float = 0.5,
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
