"""The coupling loop's relays on the STNO probe station: an HP 11713A attenuator/switch driver.

The stock pymeasure ``HP11713A`` drives the outputs; this subclass knows what hangs on them in the loop
from the chip's output back into the strip line: a 0-11 dB step attenuator on X (outputs 1-4, HP 8494
sections 1, 2, 4, 4 dB), a 0-110 dB one on Y (outputs 5-8, HP 8496: 10, 20, 40, 40 dB) and the coaxial
switch that closes the loop on output 0. The 11713A only listens (HP-IB, no queries): the properties
read back what this driver last set (None before it set anything).
"""

from __future__ import annotations

from pymeasure.instruments.hp import HP11713A
from pymeasure.instruments.hp.hp11713a import Attenuator_11dB, Attenuator_110dB

MAX_ATTENUATION = 121  # dB: 110 on Y and 11 on X


class CouplingLoopDriver(HP11713A):
    """HP 11713A with the loop's step attenuators (X: 0-11 dB, Y: 0-110 dB) and its switch (output 0)."""

    ATTENUATOR_X = Attenuator_11dB
    ATTENUATOR_Y = Attenuator_110dB
    UNITS = {"total_attenuation": "dB", "attenuation_x.attenuation": "dB", "attenuation_y.attenuation": "dB"}

    def __init__(self, adapter, name="HP 11713A (coupling loop)", **kwargs):
        super().__init__(adapter, name, **kwargs)
        self._attenuation: int | None = None
        self._closed: bool | None = None

    @property
    def total_attenuation(self) -> int | None:
        """Control the attenuation switched into the loop in dB (int, 0 to 121 in 1 dB steps: the tens up
        to 110 on Y, the rest on X)."""
        return self._attenuation

    @total_attenuation.setter
    def total_attenuation(self, value: float) -> None:
        db = round(float(value))
        if not 0 <= db <= MAX_ATTENUATION or abs(db - float(value)) > 1e-9:
            raise ValueError(f"attenuation must be whole dB in [0, {MAX_ATTENUATION}], not {value!r}")
        tens = min(10 * (db // 10), 110)
        self.attenuation_y(tens)
        self.attenuation_x(db - tens)
        self._attenuation = db

    @property
    def loop_closed(self) -> bool | None:
        """Control whether the loop's switch feeds the amplified output into the strip line (bool)."""
        return self._closed

    @loop_closed.setter
    def loop_closed(self, value: bool) -> None:
        self.ch_0.enabled = bool(value)
        self._closed = bool(value)
