"""The shared physical world of a simulated station, and the virtual clock it runs on."""

from __future__ import annotations

import threading

import numpy as np


class VirtualClock:
    """Bench time in seconds. It moves only when instruments work or someone waits.

    Deterministic: nothing here reads the wall clock, so a 30 s magnet ramp costs no wall time
    while the physics still sees 30 s pass.
    """

    def __init__(self, start: float = 0.0):
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if not seconds >= 0:  # also refuses NaN, which would poison every later reading
            raise ValueError(f"time does not run backwards (advance by {seconds})")
        self._now += seconds
        return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance_to(self, t: float) -> None:
        self._now = max(self._now, float(t))


class Bench:
    """Base of every simulated lab: a seed, a random generator, a clock and a lock.

    Subclasses build their sample physics in ``__init__`` from the ``x-bench.params`` of the bench
    file; the library rebuilds the bench from the same seed on reset, giving the same die or chip.
    """

    def __init__(self, seed: int = 0, **params):
        if params:
            raise TypeError(f"{type(self).__name__} takes no parameters {sorted(params)}")
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.clock = VirtualClock()
        self.lock = threading.RLock()

    def snapshot(self) -> dict:
        """Facts about the simulated sample worth recording in a run file (NXsample)."""
        return {"bench": type(self).__name__, "seed": self.seed}


class TwoTerminalDevice:
    """A device under test between the HI and LO terminals of a source-measure unit.

    ``apply`` is all an SMU emulator needs: source a voltage (``"VOLT"``) or current (``"CURR"``)
    with a compliance limit for ``duration`` seconds and return the settled (voltage, current).
    Memoryless devices only define :meth:`current`; compliance is then solved here. Devices with
    state (a resistive switch, an oscillator) override :meth:`apply` and evolve during ``duration``.
    """

    def current(self, v: np.ndarray | float) -> np.ndarray | float:
        raise NotImplementedError

    def apply(self, source: str, level: float, compliance: float, duration: float) -> tuple[float, float]:
        if source == "VOLT":
            i = float(self.current(level))
            if abs(i) <= compliance:
                return level, i
            # In compliance the SMU becomes a current source at the limit: find v with I(v) = limit.
            return self._voltage_at(np.copysign(compliance, i), level), float(np.copysign(compliance, i))
        v = self._voltage_at(level, np.copysign(compliance, level) if level else compliance)
        if abs(v) >= compliance:
            v = float(np.copysign(compliance, v))
            return v, float(self.current(v))
        return v, level

    def _voltage_at(self, i: float, v_bound: float) -> float:
        """Solve I(v) = i for v between 0 and ``v_bound`` by bisection (I rises with v).

        With no root in the interval the answer converges to ``v_bound``: voltage compliance.
        """
        lo, hi = 0.0, float(v_bound)
        f_lo = float(self.current(lo)) - i
        if f_lo == 0.0:  # the root is the interval's end (0 A into a passive device: 0 V)
            return lo
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            f_mid = float(self.current(mid)) - i
            if (f_mid < 0) == (f_lo < 0):
                lo, f_lo = mid, f_mid
            else:
                hi = mid
        return 0.5 * (lo + hi)
