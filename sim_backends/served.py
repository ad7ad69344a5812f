"""A simulated bench on the network: every emulated instrument as raw SCPI over TCP.

``labctl sim serve BENCH.yaml`` puts each instrument of a bench behind its own TCP port (from a base
port, in bench-file order), so that any VISA a lab owns reaches it as ``TCPIP::HOST::PORT::SOCKET``:
pyvisa-py, NI-VISA, LabVIEW, MATLAB. The instruments live on one bench with one clock, built by the
same :class:`LabSimVisaLibrary` as in-process ``@labsim``; bytes from a socket are cut into program
messages as in-process (:func:`labctl.sim_backends.framing.take_message`) and handed, one whole
message at a time, to an :class:`EmulatedDevice` of the same emulators. A separate loopback
control port (:mod:`labctl.sim_backends.control`) reaches what the instruments cannot: the clock, a reset, the
bench snapshot, fault rates (:mod:`labctl.sim_backends.faults`).

Like a real instrument, each one executes one message at a time, whoever sent it: sessions of several
clients interleave whole messages, each client gets its own replies, and all of them share the
instrument's settings and error queue. A client cannot hurt the others: a message longer than the
line or block bound, a message left unfinished for too long (slow-loris), or more connections than an
instrument accepts close that client's connection only, and a client that vanishes mid-message
leaves nothing behind.

The bench clock is virtual by default: it moves with instrument work and with ``advance`` on the
control port (a station reaches it with its ``clock:`` key). Switched to wall time
(:meth:`VirtualClock.follow_wall`), it follows the wall clock and replies wait until the wall has
caught up with what the instrument did, so clients that know nothing of bench time see a lab running
in real time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labctl.sim_backends.bench_file import BenchFile, resolve
from labctl.sim_backends.faults import DEVICE_ERROR, NONE, FaultPlan, FaultRates
from labctl.sim_backends.framing import Frame, take_message
from labctl.sim_backends.visa_library import EmulatedDevice, LabSimVisaLibrary

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 5025  # the customary port of raw-socket SCPI
MAX_LINE = 64 * 1024  # longest text message accepted (bytes)
MAX_BLOCK = 16 * 1024 * 1024  # largest binary block accepted (bytes)
MESSAGE_TIMEOUT = 10.0  # s a started message may take to arrive whole
MAX_SESSIONS = 16  # connections per instrument


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def socket_resource(host: str, port: int) -> str:
    return f"TCPIP::{host}::{port}::SOCKET"


def served_resources(bench: str | Path, host: str = LOOPBACK, base_port: int = DEFAULT_PORT) -> list[dict]:
    """Which resource of ``bench`` is served where: resource, device, model, port, socket resource."""
    bf = BenchFile.load(bench)
    out = []
    for resource, device in bf.resources.items():
        spec = bf.devices.get(device)
        if spec is None or spec.model is None:
            continue
        port = base_port + len(out) if base_port else 0
        out.append({"resource": resource, "device": device, "model": spec.model, "port": port,
                    "socket": socket_resource(host, port) if port else ""})
    return out


class _PrivateLibrary(LabSimVisaLibrary):
    """The served bench's own library: never shared through pyvisa's per-path cache, so a server
    and an in-process ``@labsim`` station in one process are two separate labs."""

    @classmethod
    def build(cls, path: str) -> LabSimVisaLibrary:
        lib = cls(path)
        cls._registry.pop((cls, lib.library_path), None)
        return lib


@dataclass(eq=False)
class Session:
    """One client connection to one instrument."""

    peer: str
    framer: EmulatedDevice
    writer: asyncio.StreamWriter
    buffer: bytearray = field(default_factory=bytearray)
    started: float = 0.0  # wall time the pending partial message began
    closed: bool = False


@dataclass(eq=False)
class ServedInstrument:
    resource: str
    device: EmulatedDevice  # the library's: its ``emulator`` is the instrument now powered on
    faults: FaultPlan
    port: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sessions: set[Session] = field(default_factory=set)
    server: asyncio.AbstractServer | None = None
    messages: int = 0
    closed_sessions: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.device.name


class BenchServer:
    """Serve one bench file over TCP (start with :meth:`start` inside a running event loop)."""

    def __init__(self, bench: str | Path, *, host: str = LOOPBACK, base_port: int = DEFAULT_PORT,
                 control_port: int | None = None, max_line: int = MAX_LINE, max_block: int = MAX_BLOCK,
                 message_timeout: float = MESSAGE_TIMEOUT, max_sessions: int = MAX_SESSIONS,
                 log: Callable[[str], None] | None = None):
        self.path = resolve(bench)
        self.host = host
        self.base_port = base_port
        self.control_port = control_port if control_port is not None else max(base_port - 1, 0)
        self.max_line, self.max_block = max_line, max_block
        self.message_timeout, self.max_sessions = message_timeout, max_sessions
        self.log = log or (lambda text: None)
        self.library = _PrivateLibrary.build(str(self.path))
        bench_file = self.library.bench_file
        self.instruments: dict[str, ServedInstrument] = {}
        for resource, device in self.library.emulated.items():
            rates, fseed = FaultRates.parse(bench_file.faults_of(device.name), f"x-faults of {device.name}")
            plan = FaultPlan(device.name, rates, bench_file.seed if fseed is None else fseed)
            self.instruments[resource] = ServedInstrument(resource, device, plan)
        self._in_flight = 0  # whole messages received and not yet answered
        self._control = None
        self.tasks: set[asyncio.Task] = set()  # every connection's handler, awaited on stop
        self.stopped = asyncio.Event()

    # -- the bench -----------------------------------------------------------------------------
    @property
    def bench(self):
        return self.library.bench

    @property
    def clock(self):
        return self.library.bench.clock

    def find(self, name: str) -> ServedInstrument:
        """An instrument by device name, bench resource or socket resource."""
        for inst in self.instruments.values():
            if name in (inst.name, inst.resource, socket_resource(self.host, inst.port)):
                return inst
        raise KeyError(f"no served instrument {name!r}; known: {', '.join(i.name for i in self.instruments.values())}")

    def reset(self) -> None:
        """Power the whole bench off and on: fresh physics and instruments from the seed; faults
        restart their sequences; sessions stay connected with nothing pending; the clock keeps its
        mode."""
        mode = self.clock_mode
        with self.bench.lock:
            self.library.reset()
            self.set_wall_clock(mode == "wall")
        for inst in self.instruments.values():
            inst.faults.configure(inst.faults.rates, inst.faults.seed)
            for s in inst.sessions:
                s.framer.power_on(inst.device.emulator)
                s.buffer.clear()

    def clear(self, inst: ServedInstrument) -> None:
        """Device clear of one instrument (raw sockets have none in-band; LAN instruments take it on
        a control connection): every session's partial message and pending input are dropped."""
        for s in inst.sessions:
            s.framer.clear()
            s.buffer.clear()

    def set_wall_clock(self, on: bool) -> None:
        with self.bench.lock:
            self.clock.follow_wall(on)

    @property
    def clock_mode(self) -> str:
        return self.clock.mode

    async def quiesce(self, limit: float = 10.0) -> None:
        """Let every message already sent to an instrument be executed before a clock operation.

        A client writes to an instrument, then advances the clock on the control port: the write
        must act first, as it does in-process. Bytes already received are read by a few turns of the
        event loop; messages still arriving or waiting for their instrument are awaited (bounded).
        """
        for _ in range(3):
            await asyncio.sleep(0)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and (self._in_flight or self._arriving()):
            await asyncio.sleep(0.0005)

    def _arriving(self) -> bool:
        now = time.monotonic()
        return any(s.buffer and now - s.started < 0.05 for inst in self.instruments.values() for s in inst.sessions)

    # -- serving -------------------------------------------------------------------------------
    async def start(self) -> None:
        from labctl.sim_backends.control import ControlPort

        for k, inst in enumerate(self.instruments.values()):
            port = self.base_port + k if self.base_port else 0
            inst.server = await asyncio.start_server(
                lambda r, w, inst=inst: self._serve(inst, r, w), self.host, port, reuse_address=True)
            inst.port = inst.server.sockets[0].getsockname()[1]
        self._control = ControlPort(self)
        await self._control.start(LOOPBACK, self.control_port)
        self.control_port = self._control.port

    async def stop(self) -> None:
        servers = [i.server for i in self.instruments.values() if i.server] + [self._control.server]
        for srv in servers:
            srv.close()
        for inst in self.instruments.values():
            for s in list(inst.sessions):
                s.writer.transport.abort()
        self._control.close_all()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)
        for srv in servers:
            await srv.wait_closed()
        self.stopped.set()

    def listing(self) -> list[dict[str, Any]]:
        return [{"resource": i.resource, "device": i.name, "port": i.port,
                 "socket": socket_resource(self.host, i.port), "model": type(i.device.emulator).__name__,
                 "read_termination": i.device.response_eom.decode()}
                for i in self.instruments.values()]

    async def _serve(self, inst: ServedInstrument, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        peer = "{}:{}".format(*writer.get_extra_info("peername")[:2])
        if len(inst.sessions) >= self.max_sessions:
            self._close(inst, None, writer, "too many connections")
            return
        d = inst.device
        session = Session(peer, EmulatedDevice(d.name, d.emulator, d.query_eom, d.response_eom), writer)
        inst.sessions.add(session)
        try:
            while not session.closed:
                timeout = self.message_timeout - (time.monotonic() - session.started) if session.buffer else None
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), timeout)
                except asyncio.TimeoutError:
                    self._close(inst, session, writer, "message not finished in time")
                    break
                if not chunk:
                    break
                if not session.buffer:
                    session.started = time.monotonic()
                session.buffer += chunk
                while not session.closed:
                    cap = min(self.max_block, d.emulator.max_block)
                    message, framed = take_message(session.buffer, d.query_eom, cap)
                    if message is None:
                        break
                    session.started = time.monotonic()
                    self._in_flight += 1
                    try:
                        await self._execute(inst, session, message)
                    finally:
                        self._in_flight -= 1
                if not session.closed and (why := self._oversized(session.buffer, framed, cap)):
                    self._close(inst, session, writer, why)
        except (ConnectionError, OSError):
            pass  # the client went away: its partial message goes with it
        except Exception as exc:  # a bug must cost one session, never the server
            self.log(f"{inst.name}: session {peer} ended by {type(exc).__name__}: {exc}")
        finally:
            inst.sessions.discard(session)
            session.closed = True
            writer.close()

    def _oversized(self, buf: bytearray, framed: Frame, cap: int) -> str:
        """Why a partial message is more than this server buffers ("" if it is not)."""
        if len(buf) <= self.max_line:
            return ""
        if framed.refused_block:
            return f"binary block larger than {cap} bytes"
        if not framed.pending_block:
            return f"message longer than {self.max_line} bytes"
        if len(buf) > framed.pending_block + self.max_line:
            return f"message longer than {framed.pending_block + self.max_line} bytes"
        return ""

    def _close(self, inst: ServedInstrument, session: Session | None, writer, why: str, abort: bool = False) -> None:
        inst.closed_sessions[why] = inst.closed_sessions.get(why, 0) + 1
        self.log(f"{inst.name}: closed {writer.get_extra_info('peername')}: {why}")
        if session is not None:
            session.closed = True
        if abort:  # an abrupt drop: RST, not an orderly FIN
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        else:
            writer.close()

    async def _execute(self, inst: ServedInstrument, session: Session, message: bytes) -> None:
        """One whole message: faults drawn, executed on the instrument, the reply sent."""
        async with inst.lock:
            if session.closed:
                return
            inst.messages += 1
            fault = inst.faults.draw(b"?" in message) if inst.faults.rates.any else NONE
            if fault.latency:
                inst.faults.counts["latency"] += 1
                await asyncio.sleep(fault.latency)
            if fault.disconnect == "before":
                return self._drop(inst, session)
            framer = session.framer
            framer.emulator = inst.device.emulator  # the instrument as powered on now (resets)
            framer.execute(message)
            if fault.error:
                inst.faults.counts["error"] += 1
                with self.bench.lock:
                    framer.emulator.push_error(*DEVICE_ERROR)
            reply = b"".join(framer.output)
            framer.output.clear()
            if fault.disconnect == "after":
                return self._drop(inst, session)
            if not reply:
                return
            if fault.no_reply:
                inst.faults.counts["no_reply"] += 1
                return
            if fault.garbled:
                inst.faults.counts["garbled"] += 1
                reply = inst.faults.garble(reply, framer.response_eom)
            lead = self.clock.lead()  # in wall mode: until the wall catches up with the work done
            if lead > 0:
                await asyncio.sleep(lead)
            if not session.closed:
                session.writer.write(reply)
                await session.writer.drain()

    def _drop(self, inst: ServedInstrument, session: Session) -> None:
        inst.faults.counts["disconnect"] += 1
        self._close(inst, session, session.writer, "dropped on purpose (fault)", abort=True)


# -- running a server ---------------------------------------------------------------------------
async def serve(server: BenchServer, ready: Callable[[BenchServer], None] | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Start ``server``, call ``ready(server)``, serve until ``stop`` is set, then stop cleanly."""
    await server.start()
    try:
        if ready is not None:
            ready(server)
        await (stop or asyncio.Event()).wait()
    finally:
        await server.stop()


class ServerThread:
    """A bench server on its own event loop in a background thread (tests, benchmarks, scripts)::

        with ServerThread("rram.yaml") as srv:
            rm.open_resource(srv.resource("die"))
    """

    def __init__(self, bench: str | Path, **options):
        options.setdefault("base_port", 0)
        options.setdefault("control_port", 0)
        self.bench, self.options = bench, options
        self.server: BenchServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bench-server", daemon=True)

    def _run(self) -> None:
        async def main():
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self.server = BenchServer(self.bench, **self.options)
            await serve(self.server, lambda s: self._ready.set(), self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
        finally:
            self._ready.set()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def call(self, fn: Callable[[BenchServer], Any]) -> Any:
        """Run ``fn(server)`` on the server's loop and return its result (inspection in tests)."""
        async def run():
            return fn(self.server)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    # -- addresses -------------------------------------------------------------------------------
    @property
    def control_port(self) -> int:
        return self.server.control_port

    def port(self, name: str) -> int:
        return self.server.find(name).port

    def resource(self, name: str) -> str:
        return socket_resource(self.server.host, self.port(name))


def socket_station(station: str | Path, listing: list[dict[str, Any]], control_port: int,
                   host: str = LOOPBACK, **driver_kwargs) -> dict[str, Any]:
    """A station file's content with every role moved onto a served bench: each bench resource
    replaced by its ``TCPIP::HOST::PORT::SOCKET`` (``listing`` as from :meth:`BenchServer.listing`),
    pyvisa-py as the VISA library, the reply terminator set, and the run's clock the bench's.
    ``driver_kwargs`` go to every driver (``timeout=300``, say)."""
    import yaml

    from labctl.station import resolve_station

    doc = yaml.safe_load(resolve_station(station).read_text(encoding="utf-8"))
    by_resource = {item["resource"]: item for item in listing}
    doc.pop("visa_library", None)
    for role, spec in doc["roles"].items():
        item = by_resource.get(spec["resource"])
        if item is None:
            raise KeyError(f"role {role!r}: {spec['resource']!r} is not served here")
        spec["resource"] = socket_resource(host, item["port"])
        spec["visa_library"] = "@py"
        kwargs = {**(spec.get("kwargs") or {}), **driver_kwargs}
        if not _fixes_termination(spec["driver"]):
            kwargs.setdefault("read_termination", item.get("read_termination", "\n"))
        spec["kwargs"] = kwargs
    doc["clock"] = f"{LOOPBACK}:{control_port}"
    return doc


def _fixes_termination(driver: str) -> bool:
    """Whether a driver class passes its own ``read_termination`` to its base (giving another fails)."""
    import importlib
    import inspect

    module, sep, name = driver.partition(":")
    if not sep:
        module, _, name = driver.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass.__module__.startswith("pymeasure.instruments.instrument"):
            continue
        if "read_termination" in inspect.signature(init).parameters:
            return False
        try:
            if "read_termination=" in inspect.getsource(init):
                return True
        except (OSError, TypeError):
            pass
    return False
