"""The control port of a served bench: what network clients cannot reach through the instruments.

One JSON object per line each way, on loopback only (after Lewis's control channel). A request is
``{"op": NAME, ...}``; the answer is ``{"ok": true, ...}`` or ``{"ok": false, "error": TEXT}``.

=================  ================================================  ====================================
op                 arguments                                         answer
=================  ================================================  ====================================
``clock``                                                            ``now`` (s), ``mode``
``advance``        ``seconds`` (>= 0)                                ``now``; in wall mode, answers after
                                                                     that many wall seconds
``clock_mode``     ``mode``: ``"virtual"`` or ``"wall"``             ``now``, ``mode``
``reset``                                                            the bench at power-on (same seed)
``clear``          ``instrument`` (name or ``"*"``)                  ``cleared``: device clear (as on a
                                                                     LAN instrument's control socket),
                                                                     partial messages dropped
``snapshot``                                                         ``bench``, ``clock``, ``instruments``
``faults``         ``instrument`` (name or ``"*"``), ``rates``,      each instrument's seed, rates and
                   ``seed`` (all optional)                           faults injected so far
``ping``                                                             ``{}``
=================  ================================================  ====================================

Clock operations first let every message already sent to an instrument act (see
:meth:`BenchServer.quiesce`), so a client that writes, then advances the clock, sees what an
in-process station sees. :class:`labctl.remote_clock.RemoteClock` is that clock for a station (its
``clock:`` key).
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from labctl.remote_clock import ControlClient
from labctl.sim_backends.faults import FaultRates

if TYPE_CHECKING:
    from labctl.sim_backends.served import BenchServer

MAX_REQUEST = 64 * 1024


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars and arrays to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class ControlPort:
    """Server side: JSON lines on a loopback port, acting on a :class:`BenchServer`."""

    def __init__(self, bench_server: BenchServer):
        self.bs = bench_server
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._serve, host, port, limit=MAX_REQUEST,
                                                 reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    def close_all(self) -> None:
        for w in list(self._writers):
            w.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.bs.tasks.add(task)
        task.add_done_callback(self.bs.tasks.discard)
        self._writers.add(writer)
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.LimitOverrunError:
                    writer.write(b'{"ok": false, "error": "request longer than %d bytes"}\n' % MAX_REQUEST)
                    break
                except (asyncio.IncompleteReadError, asyncio.CancelledError):
                    break
                answer = await self.handle(line)
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def handle(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
            op = str(request.pop("op", ""))
            method = getattr(self, f"op_{op}", None)
            if method is None:
                ops = sorted(n[3:] for n in dir(self) if n.startswith("op_"))
                raise ValueError(f"unknown op {op!r}; ops: {', '.join(ops)}")
            result = await method(**request)
        except TypeError as exc:
            return {"ok": False, "error": f"bad arguments: {exc}"}
        except (ValueError, KeyError) as exc:
            return {"ok": False, "error": str(exc.args[0] if exc.args else exc)}
        return {"ok": True, **_plain(result)}

    # -- operations -------------------------------------------------------------------------------
    async def op_ping(self) -> dict:
        return {}

    async def op_clock(self) -> dict:
        await self.bs.quiesce()
        return {"now": self.bs.clock.now(), "mode": self.bs.clock_mode}

    async def op_advance(self, seconds: float) -> dict:
        seconds = float(seconds)
        if not seconds >= 0 or math.isinf(seconds):
            raise ValueError(f"advance needs a finite number of seconds >= 0, got {seconds}")
        await self.bs.quiesce()
        if self.bs.clock_mode == "wall":  # the clock follows the wall by itself
            await asyncio.sleep(seconds)
        else:
            with self.bs.bench.lock:
                self.bs.clock.advance(seconds)
        return {"now": self.bs.clock.now()}

    async def op_clock_mode(self, mode: str) -> dict:
        if mode not in ("virtual", "wall"):
            raise ValueError(f"clock mode is 'virtual' or 'wall', not {mode!r}")
        await self.bs.quiesce()
        self.bs.set_wall_clock(mode == "wall")
        return {"now": self.bs.clock.now(), "mode": self.bs.clock_mode}

    async def op_reset(self) -> dict:
        await self.bs.quiesce()
        self.bs.reset()
        return {"now": self.bs.clock.now()}

    async def op_clear(self, instrument: str = "*") -> dict:
        await self.bs.quiesce()
        chosen = list(self.bs.instruments.values()) if instrument == "*" else [self.bs.find(instrument)]
        for inst in chosen:
            self.bs.clear(inst)
        return {"cleared": [inst.name for inst in chosen]}

    async def op_snapshot(self) -> dict:
        await self.bs.quiesce()
        with self.bs.bench.lock:
            bench = self.bs.bench.snapshot()
        instruments = []
        for item, inst in zip(self.bs.listing(), self.bs.instruments.values(), strict=True):
            instruments.append({**item, "idn": inst.device.emulator.idn, "sessions": len(inst.sessions),
                                "messages": inst.messages, "closed": dict(inst.closed_sessions),
                                "faults": inst.faults.snapshot()})
        return {"bench_file": str(self.bs.path), "bench": bench, "instruments": instruments,
                "clock": {"now": self.bs.clock.now(), "mode": self.bs.clock_mode}}

    async def op_faults(self, instrument: str = "*", rates: dict | None = None, seed: int | None = None) -> dict:
        chosen = list(self.bs.instruments.values()) if instrument == "*" else [self.bs.find(instrument)]
        if rates is not None or seed is not None:
            if rates is not None and not isinstance(rates, dict):
                raise ValueError("rates: expected a mapping of fault rates")
            for inst in chosen:
                new = inst.faults.rates.update(rates or {})
                inst.faults.configure(new, seed if seed is not None else inst.faults.seed)
        return {"instruments": {inst.name: inst.faults.snapshot() for inst in chosen}}


def set_faults(address: str | int, instrument: str = "*", seed: int | None = None, **rates: float) -> dict:
    """Set fault rates on a served bench (``set_faults(port, "smu1", no_reply=0.01)``)."""
    FaultRates.parse(rates)  # refuse a bad rate here, with its name, before anything is sent
    with ControlClient(address) as c:
        return c.call("faults", instrument=instrument, rates=rates, seed=seed)
