"""The ``@labsim`` pyvisa backend: pyvisa-sim's YAML and sessions, with physics emulators behind them.

A bench YAML is ordinary pyvisa-sim YAML plus ``x-`` keys (stock pyvisa-sim ignores them, so the same
file still opens with ``@sim`` as a static mock)::

    x-bench: {model: labctl.sim_backends.demo_bench:DemoBench, seed: 1, params: {...}}
    devices:
      smu:
        x-model: labctl.sim_backends.keithley2400:Keithley2400Emulator
        x-options: {dut: diode}
        ...stock dialogues for @sim...

Every resource whose device has an ``x-model`` is served by that Python emulator; devices without one
keep pyvisa-sim's dialogue matching. pyvisa caches one library object per library spec, so one bench
(one physical world, one virtual clock) serves every resource of the file. The spec may name a shipped
bench (``rram.yaml@labsim``) and carry overrides of the bench seed and parameters as a query,
``rram.yaml?seed=3&die.offset=0.05@labsim``: another die of the same design, without copying files.
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict, deque
from urllib.parse import parse_qsl

from pyvisa import constants, errors

from labctl.sim_backends import _pyvisa_sim as compat
from labctl.sim_backends.bench_file import BenchFile
from labctl.sim_backends.framing import take_message
from labctl.sim_backends.scpi import ScpiEmulator

log = logging.getLogger(__name__)


class EmulatedDevice:
    """Message framing between a VISA session and one :class:`ScpiEmulator`.

    Collects written bytes until a whole program message has arrived (`labctl.sim_backends.framing`),
    hands it to the emulator and queues its response; :meth:`clear` is the IEEE 488.2 device clear.
    """

    def __init__(self, name: str, emulator: ScpiEmulator, query_eom: bytes, response_eom: bytes):
        self.name = name
        self.emulator = emulator
        self.query_eom = query_eom or b"\n"
        self.response_eom = response_eom or b"\n"
        self.output: deque[bytearray] = deque()
        self._input = bytearray()

    def power_on(self, emulator: ScpiEmulator) -> None:
        """A fresh instrument behind the same session: pending input and responses are gone."""
        self.emulator = emulator
        self.clear()

    def clear(self) -> None:
        """Device clear (IEEE 488.2 5.8, VISA ``viClear``): the input buffer and the output queue
        are emptied and the parser waits for a new message; settings and status stay."""
        self.output.clear()
        self._input.clear()

    @property
    def waiting(self) -> bool:
        """Whether part of a message has arrived and the rest is awaited."""
        return bool(self._input)

    def write(self, data: bytes) -> None:
        eom = self.query_eom
        if not self._input and b"#" not in data and data.find(eom) == len(data) - len(eom) >= 0:
            self.execute(data[: -len(eom)])  # the common case: one whole text message
            return
        self._input += data
        while self._input:
            message, _ = take_message(self._input, eom, self.emulator.max_block)
            if message is None:
                return
            self.execute(message)

    def execute(self, message: bytes) -> None:
        """One whole program message (terminator removed): executed, its response queued."""
        if self.output:  # a new message discards an unread response (IEEE 488.2 6.3.2.3)
            self.output.clear()
            self.emulator.push_error(-410)
        response = self.emulator.process(message)
        if response is not None:
            self.output.append(bytearray(response + self.response_eom))


def _parser_words(exc: Exception) -> str:
    """pyvisa-sim's message without the traceback it pastes in (as text, or repr'd in a KeyError)."""
    text = str(exc.args[0]) if exc.args else str(exc)
    for cut in ("\n", "\\n", "Traceback"):
        text = text.split(cut, 1)[0]
    return text.strip(" '\"") or type(exc).__name__


class LabSimVisaLibrary(compat.SimVisaLibrary):
    """pyvisa-sim's library with emulators, chunked reads and one bench per bench spec."""

    _live: weakref.WeakSet[LabSimVisaLibrary] = weakref.WeakSet()
    #: pyvisa holds its libraries weakly: without these references a bench would power down at the
    #: next garbage collection after its last ResourceManager closes. The most recently opened
    #: benches stay powered (as lab instruments do between scripts); a bound keeps a process that
    #: runs many dies (a campaign worker) from keeping every one of them.
    KEPT = 16
    _kept: OrderedDict[str, LabSimVisaLibrary] = OrderedDict()

    @staticmethod
    def get_debug_info() -> dict[str, str]:
        from labctl import __version__

        info = dict(compat.SimVisaLibrary.get_debug_info())
        info["labctl"] = __version__
        return info

    def _init(self) -> None:
        """Parse ``FILE[?seed=N&param.path=value...]``: a bench path or shipped bench name, with
        overrides of its seed and ``x-bench.params`` (one library, one bench, per distinct spec)."""
        self.sessions = {}
        if self.library_path == "unset":
            super()._init()
            self.bench_file = None
        else:
            path, _, query = str(self.library_path).partition("?")
            self.bench_file = BenchFile.load(path).with_overrides(parse_qsl(query, keep_blank_values=True))
            try:
                self.devices = compat.parse_devices(str(self.bench_file.path))
            except Exception as exc:  # pyvisa-sim embeds its own traceback in the message: keep the words
                raise ValueError(f"{self.bench_file.path}: {_parser_words(exc)}") from None
        self._emulated: dict[str, EmulatedDevice] = {}
        self.reset()
        LabSimVisaLibrary._live.add(self)
        kept = LabSimVisaLibrary._kept
        kept[str(self.library_path)] = self
        while len(kept) > self.KEPT:
            kept.popitem(last=False)

    # -- the physical world ---------------------------------------------------------------------
    def reset(self) -> None:
        """Rebuild the bench and every emulator from the seed: the lab as it was at power-on.

        Open sessions keep working and see the fresh state.
        """
        if self.bench_file is None:
            self.bench = None
            return
        self.bench = self.bench_file.build_bench()
        log.info("bench %s (%s, seed %d) powered up afresh", self.bench_file.path.name,
                 type(self.bench).__name__, self.bench.seed)
        devices = compat.device_map(self.devices)
        for resource, stock in list(devices.items()):
            spec = self.bench_file.device_for(stock.name)
            if spec is None or spec.model is None:
                continue
            try:
                emulator = spec.build_emulator(self.bench, stock.name)
            except ValueError as exc:  # which file, in the error it is (a WiringError stays one)
                exc.args = (f"{self.bench_file.path}: {exc}", *exc.args[1:])
                raise
            if resource in self._emulated:
                self._emulated[resource].power_on(emulator)
            else:
                device = EmulatedDevice(stock.name, emulator, *compat.eoms(stock))
                self._emulated[resource] = device
                devices[resource] = device
                for session in self.sessions.values():
                    if getattr(session, "device", None) is stock:
                        session.device = device

    @property
    def emulated(self) -> dict[str, EmulatedDevice]:
        """Resource name -> emulated instrument, in bench-file order (what a bench server serves)."""
        return dict(self._emulated)

    @property
    def clock(self):
        """The bench's virtual clock: the run's clock for every station on this library
        (the ``clock`` capability, :func:`labctl.capabilities.clock_of`)."""
        return None if self.bench is None else self.bench.clock

    def sample(self) -> dict:
        """The simulated sample as it is now, for the run file (the ``sample`` capability,
        :func:`labctl.capabilities.sample_of`)."""
        if self.bench is None:
            return {}
        return {"bench_file": str(self.bench_file.path), **self.bench_file.overrides_record(),
                **self.bench.snapshot()}

    @classmethod
    def reset_all(cls) -> None:
        """Reset every live bench (state outlives ``ResourceManager.close()``; tests need this)."""
        for lib in list(cls._live):
            lib.reset()

    # -- I/O --------------------------------------------------------------------------------------
    def clear(self, session):
        """Device clear (``viClear``): the instrument drops its pending input and unread replies."""
        try:
            sess = self.sessions[session]
        except KeyError:
            return constants.StatusCode.error_invalid_object
        device = getattr(sess, "device", None)
        if isinstance(device, EmulatedDevice):
            device.clear()
        elif device is not None:
            compat.clear_device(device)
        return constants.StatusCode.success

    def open(self, session, resource_name, *args, **kwargs):
        """Open as pyvisa-sim does, but refuse a resource the bench lacks (stock returns the error
        status without raising, leaving a session that answers nothing), as real VISA does."""
        new_session, status = super().open(session, resource_name, *args, **kwargs)
        if status < 0:
            raise errors.VisaIOError(status)
        return new_session, status

    def read(self, session, count):
        """Chunked read (pyvisa-sim moves one byte per call), with VISA END/termchar semantics."""
        try:
            sess = self.sessions[session]
        except KeyError:
            return b"", constants.StatusCode.error_invalid_object
        device = getattr(sess, "device", None)
        if device is None:
            return b"", constants.StatusCode.error_nonsupported_operation
        attr = constants.ResourceAttribute
        termchar = None
        if compat.session_attribute(sess, attr.termchar_enabled):
            termchar = compat.session_attribute(sess, attr.termchar)
        if isinstance(device, EmulatedDevice):
            buffers = device.output
        else:
            buffers = compat.output_buffers(device)
        if not buffers:
            if isinstance(device, EmulatedDevice):
                device.emulator.query_unterminated()
            raise errors.VisaIOError(constants.VI_ERROR_TMO)
        chunk, end = compat.take_output(buffers, count, termchar)
        if end and not compat.session_attribute(sess, attr.suppress_end_enabled):
            return chunk, constants.StatusCode.success
        if termchar is not None and chunk.endswith(bytes((termchar,))):
            return chunk, constants.StatusCode.success_termination_character_read
        return chunk, constants.StatusCode.success_max_count_read
