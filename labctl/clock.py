"""The run's clock: how a protocol waits, whatever the hardware.

A station whose VISA library carries a clock (a simulated bench's virtual clock, see
:func:`labctl.capabilities.clock_of`) runs on that clock; any other runs on the wall clock. Protocols
only ever call ``clock.sleep``/``clock.now``, so a 30 s magnet ramp is 30 s on real hardware and no wall time on a
simulated bench, with the same protocol code.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
