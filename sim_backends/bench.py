"""The shared physical world of a simulated station, the virtual clock it runs on, and its named parts.

A bench is built from a bench file's ``x-bench.params`` (unknown names refused, :func:`build` for
nested mappings) and offers emulators its parts by name and interface (:meth:`Bench.part`).
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np

from labctl.sim_backends import interfaces

T = TypeVar("T")


#: Clock modes a bench file (``x-bench: {clock: wall}``) or a library spec (``FILE?clock=wall@labsim``) may ask for.
CLOCK_MODES = ("virtual", "wall")


class VirtualClock:
    """Bench time in seconds. Virtual (the default), it moves only when instruments work or someone
    waits through it (:meth:`sleep`).

    Deterministic: nothing here reads the wall clock, so a 30 s magnet ramp costs no wall time
    while the physics still sees 30 s pass. Protocols wait through it (the run's clock); a plain
    script reaches it with ``labctl.clock_of(resource_manager_or_instrument)``.

    In wall mode (:meth:`follow_wall`) the bench never runs behind the wall clock: whatever time
    passes outside (a script's ``time.sleep``) has passed for the physics at the next reading, and
    :meth:`sleep` really sleeps. Instrument work still charges its time at once, so the bench may run
    ahead of the wall by what the instruments did; the wall catches up during the next wait.
    """

    def __init__(self, start: float = 0.0):
        self._now = float(start)
        self._wall: tuple[float, float] | None = None  # (wall, bench) times when wall mode began
        self._wall_now: Callable[[], float] = time.monotonic
        self._wall_sleep: Callable[[float], None] = time.sleep

    @property
    def mode(self) -> str:
        return "virtual" if self._wall is None else "wall"

    def follow_wall(self, on: bool = True, *, now: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> None:
        """Follow the wall clock from here on (``on=False``: back to virtual, from the time reached).
        ``now``/``sleep`` are the wall clock's (a test gives a fake one)."""
        lead = self.lead()  # kept: a bench ahead of the wall stays ahead by as much
        if on:
            self._wall_now, self._wall_sleep = now, sleep
            self._wall = (now(), self._now - lead)
        else:
            self._wall = None

    def _wall_time(self) -> float:
        """Bench time the wall clock has reached (wall mode only)."""
        wall0, bench0 = self._wall
        return bench0 + self._wall_now() - wall0

    def _sync(self) -> None:
        if self._wall is not None:
            self._now = max(self._now, self._wall_time())

    def lead(self) -> float:
        """How far the bench runs ahead of the wall clock (0 in virtual mode): what instrument work
        charged beyond the wall time passed, which a client in real time waits out."""
        return 0.0 if self._wall is None else self.now() - self._wall_time()

    def now(self) -> float:
        self._sync()
        return self._now

    def advance(self, seconds: float) -> float:
        if not seconds >= 0:  # also refuses NaN, which would poison every later reading
            raise ValueError(f"time does not run backwards (advance by {seconds})")
        self._sync()
        self._now += seconds
        return self._now

    def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        if self._wall is None:
            self.advance(seconds)
        else:  # wait until the wall clock reaches bench time + seconds
            target = self.now() + seconds
            self._wall_sleep(max(0.0, target - self._wall_time()))
            self.advance_to(target)

    def advance_to(self, t: float) -> None:
        self._sync()
        self._now = max(self._now, float(t))


class Bench:
    """Base of every simulated lab: a seed, a random generator, a clock, a lock and named parts.

    Subclasses build their sample physics in ``__init__`` from the ``x-bench.params`` of the bench
    file (its keyword arguments: a name the signature lacks is refused, listing the names it takes);
    the library rebuilds the bench from the same seed on reset, giving the same die or chip.
    Emulators reach the sample only through :meth:`part`.
    """

    def __new__(cls, *args, **params):
        _refuse_unknown(cls, params)
        return super().__new__(cls)

    def __init__(self, seed: int = 0):
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.clock = VirtualClock()
        self.lock = threading.RLock()

    def snapshot(self) -> dict:
        """Facts about the simulated sample worth recording in a run file (NXsample)."""
        facts = {"bench": type(self).__name__, "seed": (self.seed, "1")}
        if self.clock.mode != "virtual":
            facts["clock"] = self.clock.mode
        return facts

    def parts(self) -> dict[str, Any]:
        """The parts an emulator may be wired to, by name: the bench's public attributes that satisfy
        an interface of :mod:`labctl.sim_backends.interfaces`. A bench whose parts are not attributes
        (one per oscillator, the bench itself as a signal source) adds them here."""
        return {name: value for name, value in vars(self).items()
                if not name.startswith("_") and interfaces.kinds(value)}

    def part(self, name: str, interface: type, wanted_by: str = "") -> Any:
        """The part ``name``, checked to satisfy ``interface``; :class:`WiringError` if not."""
        parts = self.parts()
        who = f" ({wanted_by})" if wanted_by else ""
        if name not in parts:
            raise interfaces.WiringError(
                f"{type(self).__name__} has no part {name!r}{who}; it offers {self.offer()}")
        found = parts[name]
        if not isinstance(found, interface):
            raise interfaces.WiringError(
                f"part {name!r} of {type(self).__name__} is a {type(found).__name__}, not a "
                f"{interface.__name__}{who}; the bench offers {self.offer()}")
        return found

    def offer(self) -> str:
        """The parts as a line of text: ``name (Interface), ...``."""
        listed = [f"{n} ({', '.join(interfaces.kinds(p)) or type(p).__name__})" for n, p in self.parts().items()]
        return ", ".join(listed) or "no parts"


def _refuse_unknown(cls: type, params: dict) -> None:
    """A parameter the bench's ``__init__`` does not take is an error naming the ones it does."""
    taken = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind is p.VAR_KEYWORD for p in taken):
        return
    names = [p.name for p in taken if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(params) - set(names))
    if unknown:
        allowed = ", ".join(n for n in names if n != "seed") or "none"
        raise TypeError(f"{cls.__name__} has no parameter {', '.join(map(repr, unknown))}; "
                        f"its parameters (x-bench.params): {allowed}")


def build(kind: Callable[..., T], given: Mapping[str, Any] | T | None, where: str, **fixed) -> T:
    """``kind(**fixed, **given)`` from a mapping of a bench file (or an instance of ``kind`` as is).

    Names ``kind`` does not take are refused, listing the ones it does; values that should be
    numbers (their default is a float or int) are converted, so ``1e-5`` read as text still counts.
    """
    if given is None:
        given = {}
    if not fixed and isinstance(kind, type) and isinstance(given, kind):
        return given
    if not isinstance(given, Mapping):
        raise TypeError(f"{where} must be a mapping of parameters, got {given!r}")
    params = {n: p for n, p in inspect.signature(kind).parameters.items() if n not in fixed}
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise TypeError(f"{where} has no parameter {', '.join(map(repr, unknown))}; "
                        f"its parameters: {', '.join(params)}")
    values = {}
    for name, value in given.items():
        default = params[name].default
        if isinstance(default, float | int) and not isinstance(default, bool):
            try:
                value = type(default)(value) if isinstance(value, str) else value
                if not isinstance(value, float | int) or isinstance(value, bool):
                    raise ValueError
            except ValueError:
                raise TypeError(f"{where}: {name} must be a number, got {value!r}") from None
        values[name] = value
    return kind(**fixed, **values)


class TwoTerminalDevice:
    """A device under test between the HI and LO terminals of a source-measure unit: a
    :class:`~labctl.sim_backends.interfaces.Terminal`.

    ``apply`` is all an SMU emulator needs: source a voltage (``"VOLT"``) or current (``"CURR"``)
    with a compliance limit for ``duration`` seconds and return the settled (voltage, current).
    Memoryless devices only define :meth:`current`; compliance is then solved here. Devices with
    state (a resistive switch, an oscillator) override :meth:`apply` and evolve during ``duration``.
    """

    def current(self, v: np.ndarray | float) -> np.ndarray | float:
        raise NotImplementedError

    def release(self) -> None:
        """Output off: a memoryless device has nothing to forget."""

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
