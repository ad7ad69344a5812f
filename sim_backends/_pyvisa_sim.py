"""Every private detail of pyvisa-sim that labctl relies on, in one place.

pyvisa-sim has no public extension point. We reuse its YAML parser, its session classes and its
dialogue/property matching (``parser.get_devices``), and touch these internals: ``Session.attrs`` (attribute cache),
``Devices._internal`` (resource -> device map), ``Device._output_buffers`` (pending responses),
``Device._input_buffer`` (a partly received message) and
``Device._query_eom``/``_response_eom`` (message terminators). The pyvisa-sim minor version is pinned in
pyproject.toml; ``tests/test_labsim_backend.py`` fails loudly if these names move.
"""

from __future__ import annotations

from collections import deque

from pyvisa_sim import parser
from pyvisa_sim.devices import Device, Devices
from pyvisa_sim.highlevel import SimVisaLibrary

__all__ = ["Device", "Devices", "SimVisaLibrary", "clear_device", "device_map", "eoms", "output_buffers",
           "parse_devices", "session_attribute", "take_output"]


def parse_devices(path: str) -> Devices:
    """pyvisa-sim's devices of a YAML file (what ``SimVisaLibrary._init`` does with its path)."""
    return parser.get_devices(path, False)


def device_map(devices: Devices) -> dict[str, Device]:
    """The live resource-name -> device mapping of a parsed bench."""
    return devices._internal


def eoms(device: Device) -> tuple[bytes, bytes]:
    """(query terminator, response terminator) chosen by pyvisa-sim for the device's interface."""
    return device._query_eom, device._response_eom


def session_attribute(session, attribute):
    """A session attribute's value: from the session's ``attrs`` cache once set, else through
    ``get_attribute`` (which validates and caches the VISA default). Saves its checks on every read."""
    try:
        return session.attrs[attribute]
    except KeyError:
        return session.get_attribute(attribute)[0]


def output_buffers(device: Device) -> deque[bytearray]:
    """The pending responses of a dialogue-only (YAML) device."""
    return device._output_buffers


def clear_device(device: Device) -> None:
    """Device clear of a dialogue-only (YAML) device: pending input and responses dropped."""
    device._output_buffers.clear()
    device._input_buffer = bytearray()


def take_output(buffers: deque[bytearray], count: int, termchar: int | None) -> tuple[bytes, bool]:
    """Chunked replacement for pyvisa-sim's byte-per-call ``Device.read``.

    Returns up to ``count`` bytes of the oldest pending response, stopping after ``termchar`` when
    it is given, and whether the response's end (the VISA END indicator) was reached.
    """
    if not buffers:
        return b"", False
    head = buffers[0]
    n = min(count, len(head))
    if termchar is not None:
        stop = head.find(termchar, 0, n)
        if stop >= 0:
            n = stop + 1
    chunk = bytes(head[:n])
    del head[:n]
    if head:
        return chunk, False
    buffers.popleft()
    return chunk, True
