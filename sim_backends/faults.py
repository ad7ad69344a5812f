"""Faults on purpose for a served bench: what a flaky network or instrument does to a client.

Each served instrument draws, per program message and from its own seeded generator, whether one of
these happens (rates are probabilities per message):

``latency``     the reply (or, for a write, the instrument's readiness) comes ``latency_s`` late
``no_reply``    a query is executed but its reply never comes: the client times out
``garbled``     the reply arrives with bytes no SCPI reply holds (non-ASCII noise in text, a broken
                block header), so a reader can tell; TCP itself never corrupts silently, the
                garbling stands for a serial or GPIB link behind a LAN gateway
``disconnect``  the connection drops, just before or just after the message is executed (the
                client cannot tell which)
``error``       the instrument queues a device-specific error (SCPI -300 class: a condition of the
                instrument, not a fault of the command, which still executes)

Rates come from the bench YAML (``x-faults`` at the top level for every device, or under a device)
or from the control port; for example::

    x-faults: {seed: 1, no_reply: 0.01, garbled: 0.01, disconnect: 0.01, error: 0.01,
               latency: 0.01, latency_s: 0.05}

The same seed, rates and message sequence give the same faults, so a failing run can be replayed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

KINDS = ("latency", "no_reply", "garbled", "disconnect", "error")
#: What the instrument queues for an ``error`` fault (SCPI-99 21.8.11: device-specific error).
DEVICE_ERROR = (-300, "transient instrument condition")


@dataclass(frozen=True)
class FaultRates:
    """Probabilities per program message, and the latency added when ``latency`` strikes."""

    latency: float = 0.0
    no_reply: float = 0.0
    garbled: float = 0.0
    disconnect: float = 0.0
    error: float = 0.0
    latency_s: float = 0.05

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool)):
                raise ValueError(f"fault {f.name!r} must be a number, got {value!r}")
            limit = 60.0 if f.name == "latency_s" else 1.0
            if not 0.0 <= value <= limit:
                raise ValueError(f"fault {f.name!r} must be in [0, {limit:g}], got {value!r}")

    @classmethod
    def parse(cls, spec: Any, where: str = "faults") -> tuple[FaultRates, int | None]:
        """``{kind: rate, ..., latency_s: s, seed: n}`` -> (rates, seed or None)."""
        if spec is None:
            return cls(), None
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: expected a mapping of fault rates")
        spec = dict(spec)
        seed = spec.pop("seed", None)
        unknown = set(spec) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"{where}: unknown fault(s) {sorted(unknown)}; known: {', '.join(KINDS)}, latency_s")
        try:
            rates = cls(**{k: float(v) for k, v in spec.items()})
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        return rates, None if seed is None else int(seed)

    def update(self, spec: dict[str, Any]) -> FaultRates:
        merged, _ = FaultRates.parse({**self.as_dict(), **spec})
        return merged

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def any(self) -> bool:
        return any(getattr(self, k) > 0 for k in KINDS)


@dataclass(frozen=True)
class Draw:
    """The faults that strike one message."""

    latency: float = 0.0
    no_reply: bool = False
    garbled: bool = False
    disconnect: str = ""  # "", "before" or "after" execution
    error: bool = False

    @property
    def any(self) -> bool:
        return bool(self.latency or self.no_reply or self.garbled or self.disconnect or self.error)


NONE = Draw()


class FaultPlan:
    """The seeded fault generator of one served instrument, with counts of what it injected."""

    def __init__(self, name: str, rates: FaultRates | None = None, seed: int = 0):
        self.name = name
        self.counts = dict.fromkeys(KINDS, 0)
        self.configure(rates or FaultRates(), seed)

    def configure(self, rates: FaultRates, seed: int | None = None) -> None:
        self.rates = rates
        if seed is not None:
            self.seed = int(seed)
        self.rng = np.random.default_rng([self.seed, zlib.crc32(self.name.encode())])

    def draw(self, is_query: bool) -> Draw:
        """The faults for the next message (a query may lose or garble its reply)."""
        r = self.rates
        if not r.any:
            return NONE
        u = self.rng.random(6)
        d = replace(
            NONE,
            latency=r.latency_s if u[0] < r.latency else 0.0,
            no_reply=is_query and u[1] < r.no_reply,
            garbled=is_query and u[2] < r.garbled,
            disconnect=("before" if u[5] < 0.5 else "after") if u[3] < r.disconnect else "",
            error=u[4] < r.error,
        )
        return d

    def garble(self, reply: bytes, eom: bytes) -> bytes:
        """``reply`` (terminator included) made unreadable but still terminated."""
        body = bytearray(reply[: len(reply) - len(eom)] if reply.endswith(eom) else reply)
        if body.startswith(b"#") and len(body) > 1:
            body[1] = 0xFF  # a block whose header is broken cannot be parsed
        else:
            for _ in range(1 + len(body) // 16):
                body.insert(int(self.rng.integers(0, len(body) + 1)), int(self.rng.integers(0x80, 0x100)))
        return bytes(body) + eom

    def snapshot(self) -> dict[str, Any]:
        return {"seed": self.seed, "rates": self.rates.as_dict(), "injected": dict(self.counts)}
