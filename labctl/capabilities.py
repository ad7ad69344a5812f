"""What a VISA library may offer beyond VISA, by name: its clock and its sample.

The core never asks which backend it talks to. A library object that carries a ``clock`` (with
``now``/``sleep``) gives the run its time; one with a ``sample()`` method describes the sample behind
it for the run file (a simulated backend describes its bench: seed, die state, ...). Any other library,
a real lab's among them, offers neither, and the run uses the wall clock and the station's own words.
"""

from __future__ import annotations

from typing import Any

from labctl.clock import Clock, WallClock

__all__ = ["clock_of", "library_of", "sample_of"]


def library_of(obj: Any):
    """The VISA library object behind a pyvisa library, ``ResourceManager``, resource or
    pymeasure instrument (``None`` when there is none, e.g. pymeasure's fake adapters)."""
    conn = getattr(getattr(obj, "adapter", None), "connection", None)
    if conn is not None:
        obj = conn
    return getattr(obj, "visalib", obj)


def clock_of(visa_library: Any) -> Clock:
    """The clock a VISA library provides, or the wall clock."""
    clock = getattr(library_of(visa_library), "clock", None)
    return clock if isinstance(clock, Clock) else WallClock()


def sample_of(visa_library: Any) -> dict[str, Any]:
    """What a VISA library says about the sample behind it (``{}`` when it says nothing)."""
    sample = getattr(library_of(visa_library), "sample", None)
    if not callable(sample):
        return {}
    facts = sample()
    return dict(facts) if isinstance(facts, dict) else {}
