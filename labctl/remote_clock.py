"""A clock served on a TCP port, as a run's clock: for stations whose instruments sit on a served bench.

A bench served over the network (``labctl sim serve``) keeps its own clock, which network clients
cannot reach through the instruments. Its control port speaks JSON lines (one object per line each
way: ``{"op": ...}`` -> ``{"ok": true, ...}``); a station whose ``clock:`` key gives that port's
address runs on that clock, so waits cost bench time, not wall time, and the physics sees them exactly
as in-process. Nothing here knows what is behind the port.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

__all__ = ["ControlClient", "ControlError", "RemoteClock", "parse_address"]


class ControlError(RuntimeError):
    """The control port refused a request (the message says why) or cannot be reached."""


def parse_address(address: str | int, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``"127.0.0.1:5024"``, ``"5024"`` or ``5024`` -> (host, port)."""
    text = str(address).strip()
    for prefix in ("tcp://", "labsim://"):
        text = text.removeprefix(prefix)
    host, sep, port = text.rpartition(":")
    try:
        return (host if sep and host else default_host), int(port)
    except ValueError:
        raise ValueError(f"control address {address!r}: expected HOST:PORT or PORT") from None


class ControlClient:
    """Blocking client of a control port; thread-safe; reconnects once if the connection broke."""

    def __init__(self, address: str | int, timeout: float = 30.0):
        self.host, self.port = parse_address(address)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file = None
        self._lock = threading.Lock()

    def _connect(self) -> None:
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise ControlError(f"no bench control port at {self.host}:{self.port} ({exc})") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._file = self._sock.makefile("rb")

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        request = json.dumps({"op": op, **args}).encode() + b"\n"
        with self._lock:
            for attempt in (0, 1):
                try:
                    if self._sock is None:
                        self._connect()
                    self._sock.sendall(request)
                    line = self._file.readline()
                    if not line:
                        raise ConnectionError("control port closed the connection")
                    break
                except (OSError, ConnectionError) as exc:
                    self.close()
                    if attempt or op not in ("clock", "snapshot", "faults", "ping"):
                        raise ControlError(f"control port {self.host}:{self.port}: {exc}") from None
        answer = json.loads(line)
        if not answer.pop("ok", False):
            raise ControlError(answer.get("error", "refused"))
        return answer

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._file.close()
                self._sock.close()
            finally:
                self._sock = self._file = None

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class RemoteClock:
    """A served bench's clock, as a run's clock: ``now``/``sleep`` through the control port."""

    def __init__(self, address: str | int | ControlClient):
        self.client = address if isinstance(address, ControlClient) else ControlClient(address)

    def now(self) -> float:
        return float(self.client.call("clock")["now"])

    def sleep(self, seconds: float) -> None:
        self.client.call("advance", seconds=max(0.0, float(seconds)))

    def sample(self) -> dict[str, Any]:
        """What the served bench says about its sample (the ``sample`` capability)."""
        snap = self.client.call("snapshot")
        return {"bench_file": snap.get("bench_file", ""), "clock_port": self.client.port,
                **(snap.get("bench") or {})}

    def close(self) -> None:
        self.client.close()
