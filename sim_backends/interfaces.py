"""What an instrument emulator needs from its bench, declared: the seams between emulators and physics.

An emulator is wired to a named *part* of its bench (a bench file's ``x-options``, e.g.
``{dut: pillar1}``) and asks for it with the interface it needs, ``self.part("pillar1", Terminal)``;
it never reaches into the bench by attribute. The bench says which parts it has
(:meth:`labctl.sim_backends.bench.Bench.parts`), and a part is usable by an emulator when it satisfies
the interface (structural typing: no base class needed). A bench file that wires an emulator to a part
the bench lacks, or to a part of the wrong kind, fails when the bench is built, naming the part and
what the bench offers (:class:`WiringError`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from labctl.sim_backends.physics.spectrum import AnalyzerSettings


class WiringError(ValueError):
    """An emulator is wired to a part its bench does not have, or to a part of the wrong kind."""


@runtime_checkable
class Terminal(Protocol):
    """A device between the HI and LO terminals of a source-measure unit (a diode, a pillar, a cell)."""

    def apply(self, source: str, level: float, compliance: float, duration: float) -> tuple[float, float]:
        """Source ``"VOLT"`` or ``"CURR"`` at ``level`` within ``compliance`` for ``duration`` s: the
        settled (voltage, current)."""
        ...

    def release(self) -> None:
        """The source's output is off: the device sees an open circuit."""
        ...


@runtime_checkable
class Magnet(Protocol):
    """An electromagnet's coil as its supply drives it and its field as a probe at the sample reads it."""

    resistance: float  # ohm, of the coil (a supply in voltage mode settles at V / R)

    def command(self, target: float, v_limit: float) -> None:
        """New current setpoint (A) under the supply's voltage limit (V)."""
        ...

    def current(self) -> float: ...

    def voltage(self) -> float: ...

    def field(self) -> float:
        """Field at the sample now (T)."""
        ...

    def time_to_target(self) -> float:
        """Bench seconds until the present move ends."""
        ...


@runtime_checkable
class SpectrumSource(Protocol):
    """What a spectrum analyzer's input is connected to: it answers a trace for the analyzer's settings."""

    def spectrum(self, settings: AnalyzerSettings) -> np.ndarray:
        """One displayed trace (dBm per point), measured now."""
        ...


@runtime_checkable
class ToneSource(Protocol):
    """An rf generator as the line it feeds sees it."""

    def tone(self) -> tuple[float, float] | None:
        """(frequency Hz, delivered power W), or None with the output off."""
        ...


@runtime_checkable
class RFLine(Protocol):
    """A line rf generators plug into (the strip line over the oscillators)."""

    def connect(self, source: ToneSource) -> None:
        """From now on the source's tone drives the line."""
        ...


@runtime_checkable
class SwitchBank(Protocol):
    """Relays a switch driver throws, one per driver output: the sections of step attenuators and
    coaxial switches (an HP 11713A's outputs 1-9 and 0)."""

    def set_position(self, output: int, position: str) -> None:
        """Drive output ``output`` (0-9) to position ``"A"`` or ``"B"``."""
        ...


@runtime_checkable
class MemoryDie(Protocol):
    """An in-memory-computing RRAM die as its controller board drives it
    (`labctl.sim_backends.physics.rram_die.RRAMDie`): device addressing, pulses, program-and-verify,
    forming, reads and XNOR-popcount, each operation booked in its log (an
    `labctl.sim_backends.physics.rram_die.OperationLog`: totals per operation, recent records, and
    ``log.span()`` summing the energy and duration of one piece of work); the 1T1R reference is a
    trim of the die, one resistance per column, kept until set again."""

    log: object
    devices: object  # the device array: ``devices.formed``, ``devices.transistor`` (access device)
    forming_voltage: np.ndarray
    reference: np.ndarray  # 1T1R reference per column (ohm)

    def index(self, rows=None, cols=None, sides=None) -> np.ndarray: ...

    def pulse(self, idx, amplitude, width, gate, op=None): ...

    def form(self, v_start, v_stop, v_step, width, gate, r_formed, idx): ...

    def program(self, bits, **settings): ...

    def program_devices(self, lrs_idx, hrs_idx, **settings): ...

    def cycle(self, n_cycles, set_pulse, reset_pulse, idx=None): ...

    def read_resistance(self, idx=None, n_reads=1): ...

    def read_pcsa(self, rows=None, n_reads=1): ...

    def set_reference(self, r_ref) -> None: ...

    def read_1t1r(self, r_ref, rows=None, side=0, n_reads=1): ...

    def xnor_popcount(self, x, rows=None, n_reads=1): ...


#: Every interface a part may offer, in the order a bench lists them.
INTERFACES: tuple[type, ...] = (Terminal, Magnet, SpectrumSource, RFLine, SwitchBank, MemoryDie)


def kinds(part: object) -> list[str]:
    """Names of the interfaces ``part`` satisfies."""
    return [i.__name__ for i in INTERFACES if isinstance(part, i)]
