"""Link faults between a driver and its instrument, handled the way a careful experimenter would.

Network links to instruments drop, stall and (behind serial or GPIB gateways) garble. A station
wraps the VISA resource of each such role in a :class:`ResilientResource`, below the driver, so
stock pymeasure drivers get the same handling as ours:

* A query whose reply times out, arrives garbled (not text, or a broken binary block) or is lost with
  the connection is asked again, up to ``retries`` times with exponential backoff, on a fresh
  connection (a late reply can never be read as the answer to a later question). Queries that
  change or consume state (``SYST:ERR?`` pops an entry, ``*ESR?`` clears the register, a driver's
  own ``NON_REPEATABLE_QUERIES``) are asked again only if ``consuming`` says so, the loss recorded.
* A write is never sent again blindly. When the connection drops, every write since the last reply
  is in doubt (TCP may have carried it, or not): a setting (``HEADER value``) is re-read with
  ``HEADER?`` and written again only if the instrument does not hold it; an action that the driver
  declares repeatable (``REPEATABLE_COMMANDS``, e.g. forming that skips formed devices) is sent
  again; any other action raises :class:`InDoubtWrite`, for the driver (which may know how to read
  the state back) or the run to decide.
* When retries run out, :class:`LinkError` says what was asked, of which role, and what went wrong.

Every fault seen is logged on the ``labctl.faults`` logger with a ``fault`` record (role, resource,
kind, command, outcome); the runner puts them in the run file.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyvisa import constants, errors

logger = logging.getLogger("labctl.faults")
logger.setLevel(logging.WARNING)  # recorded in run files whatever the application's logging level

#: Queries that consume what they read: asked again after a loss, which is recorded.
CONSUMING_QUERIES = ("SYST:ERR", "SYSTEM:ERROR", "*ESR?", "STAT:QUES:EVEN", "STAT:OPER:EVEN")
#: Actions that act the same when repeated.
REPEATABLE_ACTIONS = ("*CLS", "*RST", "*WAI", "*OPC", "*TRG", "INIT", "ABOR")
_NUMBER = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*[A-Za-z]*\s*$")
_BOOLS = {"ON": "1", "OFF": "0", "TRUE": "1", "FALSE": "0"}


class LinkError(RuntimeError):
    """Talking to an instrument failed for good (retries exhausted, or a state-changing write lost)."""


class InDoubtWrite(LinkError):
    """A state-changing write may or may not have reached the instrument; it was not repeated."""

    def __init__(self, message: str, command: str):
        super().__init__(message)
        self.command = command


@dataclass(frozen=True)
class LinkPolicy:
    retries: int = 3
    backoff: float = 0.05  # s before the first retry; doubled for each next one
    consuming: bool = True  # ask consuming queries again (recording the possible loss)

    @classmethod
    def parse(cls, spec: Any, where: str) -> LinkPolicy:
        if spec is None or spec is True:
            return cls()
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: 'link' must map retries/backoff/consuming to values")
        unknown = set(spec) - {"retries", "backoff", "consuming"}
        if unknown:
            raise ValueError(f"{where}: link has unknown key(s) {sorted(unknown)}")
        try:
            policy = cls(int(spec.get("retries", cls.retries)), float(spec.get("backoff", cls.backoff)),
                         bool(spec.get("consuming", cls.consuming)))
        except (TypeError, ValueError):
            raise ValueError(f"{where}: link retries and backoff must be numbers") from None
        if policy.retries < 0 or not policy.backoff >= 0:
            raise ValueError(f"{where}: link retries and backoff cannot be negative")
        return policy


def _header(unit: str) -> str:
    return unit.strip().split(None, 1)[0].upper() if unit.strip() else ""


def _units(message: str) -> list[str]:
    """A text program message's units (``;`` outside quotes), with SCPI's path rule applied:
    a unit without a leading ``:`` continues the previous unit's subsystem."""
    parts, quote, start = [], "", 0
    for i, c in enumerate(message):
        if c in "\"'":
            quote = "" if quote == c else (quote or c)
        elif c == ";" and not quote:
            parts.append(message[start:i])
            start = i + 1
    parts.append(message[start:])
    units, path = [], ""
    for raw in (p.strip() for p in parts):
        if not raw:
            continue
        head = _header(raw)
        if path and not head.startswith((":", "*")):
            raw = path + raw
            head = path + head
        if not head.startswith("*"):
            full = head if head.startswith(":") else ":" + head
            path = full[: full.rfind(":") + 1]
        units.append(raw)
    return units


def _matches(header: str, names) -> bool:
    h = header.lstrip(":")
    return any(h.startswith(n.lstrip(":").upper()) for n in names)


def _same_value(written: str, read: str, loose: bool = False) -> bool:
    """Whether an instrument reading back ``read`` holds the ``written`` value: numbers compared as
    numbers, ON/OFF as 1/0, words exactly (or, ``loose``, one a prefix of the other: a mnemonic's
    short and long forms; ``BL`` and ``BLB`` too, hence only after a rewrite)."""
    w = [a.strip().strip("\"'").upper() for a in written.split(",")]
    r = [a.strip().strip("\"'").upper() for a in read.split(",")]
    if loose:
        r = r[: len(w)]  # FORM ASCII reads back ASC,8
    if len(w) != len(r):
        return False
    for a, b in zip(w, r, strict=True):
        na, nb = _NUMBER.match(_BOOLS.get(a, a)), _NUMBER.match(_BOOLS.get(b, b))
        if na and nb:
            if not math.isclose(float(na.group(1)), float(nb.group(1)), rel_tol=1e-6, abs_tol=1e-12):
                return False
        elif a != b and not (loose and a and b and (a.startswith(b) or b.startswith(a))):
            return False
    return True


def _kind(exc: BaseException) -> str:
    if isinstance(exc, errors.VisaIOError) and exc.error_code == constants.StatusCode.error_timeout:
        return "no reply"
    if isinstance(exc, (UnicodeDecodeError, ValueError)):
        return "garbled reply"
    return "connection lost"


_FAULTS = (errors.VisaIOError, OSError, UnicodeDecodeError, ValueError)


class ResilientResource:
    """A pyvisa message-based resource with the fault handling described in the module docstring.

    Everything not handled here passes through to the wrapped resource.
    """

    def __init__(self, resource, role: str = "", policy: LinkPolicy | None = None, driver: Any = None,
                 sleep: Callable[[float], None] = time.sleep):
        d = type(driver) if driver is not None else None
        self.__dict__.update(
            _res=resource, _role=role or resource.resource_name, _policy=policy or LinkPolicy(),
            _repeatable=REPEATABLE_ACTIONS + tuple(getattr(d, "REPEATABLE_COMMANDS", ())),
            _non_repeatable=tuple(getattr(d, "NON_REPEATABLE_QUERIES", ())),
            _sleep=sleep, _unconfirmed=[], _pending_query=None, faults=[])

    # -- pass-through ---------------------------------------------------------------------------
    def __getattr__(self, name):
        return getattr(self._res, name)

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._res, name, value)

    @property
    def wrapped(self):
        return self._res

    # -- writes ---------------------------------------------------------------------------------
    def write(self, message: str, *args, **kwargs):
        return self._send(message, lambda: self._res.write(message, *args, **kwargs))

    def write_raw(self, message: bytes, *args, **kwargs):
        text = bytes(message).split(b"#", 1)[0].decode("ascii", "replace").strip()
        return self._send(text, lambda: self._res.write_raw(message, *args, **kwargs), raw=message)

    def write_binary_values(self, message: str, values, *args, **kwargs):
        return self._send(message, lambda: self._res.write_binary_values(message, values, *args, **kwargs),
                          binary=True)

    def write_ascii_values(self, message: str, values, *args, **kwargs):
        return self._send(message, lambda: self._res.write_ascii_values(message, values, *args, **kwargs),
                          binary=True)

    def _send(self, message: str, send: Callable[[], Any], raw: bytes | None = None, binary: bool = False):
        units = _units(message)
        is_query = bool(units) and _header(units[-1]).endswith("?")
        entry = (message, send, binary or raw is not None)
        if is_query:
            self._pending_query = entry
        else:
            self._unconfirmed.append(entry)
        try:
            return send()
        except _FAULTS as exc:
            if not is_query:
                self._recover(exc, message)  # this write is among those in doubt
                return None
            self._pending_query = entry
            return self._retry_query(exc, lambda: None)

    # -- reads ----------------------------------------------------------------------------------
    def read(self, *args, **kwargs):
        return self._receive(lambda: self._res.read(*args, **kwargs))

    def read_raw(self, *args, **kwargs):
        return self._receive(lambda: self._res.read_raw(*args, **kwargs))

    def read_bytes(self, *args, **kwargs):
        return self._receive(lambda: self._res.read_bytes(*args, **kwargs))

    def read_binary_values(self, *args, **kwargs):
        return self._receive(lambda: self._res.read_binary_values(*args, **kwargs))

    def read_ascii_values(self, *args, **kwargs):
        return self._receive(lambda: self._res.read_ascii_values(*args, **kwargs))

    def query(self, message: str, *args, **kwargs):
        self.write(message)
        return self.read()

    def query_binary_values(self, message: str, *args, **kwargs):
        self.write(message)
        return self.read_binary_values(*args, **kwargs)

    def query_ascii_values(self, message: str, *args, **kwargs):
        self.write(message)
        return self.read_ascii_values(*args, **kwargs)

    def _receive(self, read: Callable[[], Any]):
        try:
            result = read()
        except _FAULTS as exc:
            if self._pending_query is None:
                raise  # nothing was asked: not a link fault to hide
            result = self._retry_query(exc, read)
        self._confirmed()
        return result

    def _confirmed(self) -> None:
        self._unconfirmed.clear()
        self._pending_query = None

    def _retry_query(self, exc: BaseException, read: Callable[[], Any]):
        """Ask the pending query again on a fresh connection until it is answered or retries run out."""
        message, send, _ = self._pending_query
        header = _header(_units(message)[-1]) if _units(message) else message
        consuming = _matches(header, CONSUMING_QUERIES)
        repeatable = not _matches(header, self._non_repeatable) and (self._policy.consuming or not consuming)
        for attempt in range(1, self._policy.retries + 1):
            if not repeatable:
                break
            self._note(_kind(exc), message, "asked again" + (" (an entry it held may be lost)" if consuming else ""),
                       attempt=attempt)
            self._sleep(self._policy.backoff * 2 ** (attempt - 1))
            try:
                self._recover(None, message)
                send()
                return read()
            except InDoubtWrite:
                raise
            except _FAULTS as again:
                exc = again
        why = "it changes state" if not repeatable else f"{self._policy.retries} retries"
        self._note(_kind(exc), message, f"failed ({why})")
        self._pending_query = None
        raise LinkError(f"{self._role}: {message!r} got no usable reply ({_kind(exc)}: {exc}); "
                        + ("not asked again: it changes state" if not repeatable else
                           f"gave up after {self._policy.retries} retries")) from exc

    # -- recovery -------------------------------------------------------------------------------
    def _reconnect(self) -> None:
        res = self._res
        timeout, term = res.timeout, getattr(res, "read_termination", None)
        try:
            res.close()
        except Exception:  # the old session is gone either way
            pass
        res.open()
        res.timeout = timeout
        if term is not None:
            res.read_termination = term

    def _recover(self, exc: BaseException | None, during: str) -> None:
        """Fresh connection; then settle, in order, every write that may have been lost with the old
        one (a fault while settling starts over on another fresh connection, within the retries)."""
        if exc is not None:
            self._note(_kind(exc), during, "reconnected")
        for attempt in range(self._policy.retries + 1):
            try:
                self._reconnect()
                while self._unconfirmed:
                    self._settle(*self._unconfirmed[0])
                    self._unconfirmed.pop(0)
                return
            except InDoubtWrite:
                self._unconfirmed.clear()
                raise
            except _FAULTS as again:
                exc = again
                self._note(_kind(again), during, "fault while recovering", attempt=attempt + 1)
                self._sleep(self._policy.backoff * 2 ** attempt)
        self._unconfirmed.clear()
        raise LinkError(f"{self._role}: could not get the link back after {during!r} "
                        f"({_kind(exc)}: {exc})") from exc

    def _settle(self, message: str, send: Callable[[], Any], binary: bool) -> None:
        units = _units(message)
        settings = [u for u in units if not binary and not _header(u).startswith("*")
                    and not _header(u).endswith("?") and len(u.split(None, 1)) == 2
                    and not _matches(_header(u), self._repeatable)]
        actions = [u for u in units if u not in settings]
        if any(not _matches(_header(u), self._repeatable) for u in actions):
            self._note("connection lost", message, "in doubt, not repeated")
            raise InDoubtWrite(f"{self._role}: the connection dropped after {message!r} was sent; it may or "
                               "may not have acted, and it changes state: not repeated", message)
        if actions:
            send()
            self._note("connection lost", message, "repeated (a repeatable action)")
            return
        for rewritten in (False, True):
            stale = []
            for unit in settings:
                head, value = unit.split(None, 1)
                self._res.write(head + "?")
                held = self._res.read()
                if not _same_value(value, held, loose=rewritten):
                    stale.append(f"{head}? = {held.strip()!r}")
            if not stale:
                self._note("connection lost", message, "re-read: written again, now held" if rewritten
                           else "re-read: the instrument holds it")
                return
            if rewritten:  # delivered (a reply came after it on the same connection), not echoed
                self._note("connection lost", message, f"written again; reads back {', '.join(stale)}")
                return
            send()

    def _note(self, kind: str, command: str, outcome: str, **extra) -> None:
        record = {"role": self._role, "resource": getattr(self._res, "resource_name", ""), "kind": kind,
                  "command": command[:200], "outcome": outcome, "time": time.time(), **extra}
        self.faults.append(record)
        logger.warning("%s: %s on %r: %s", self._role, kind, command[:80], outcome, extra={"fault": record})


def make_resilient(instrument: Any, role: str, policy: LinkPolicy | None = None) -> ResilientResource | None:
    """Wrap a pymeasure instrument's VISA resource (in place); None if it has none to wrap."""
    adapter = getattr(instrument, "adapter", None)
    conn = getattr(adapter, "connection", None)
    if conn is None or isinstance(conn, ResilientResource) or not hasattr(conn, "read_termination"):
        return None
    adapter.connection = ResilientResource(conn, role, policy, instrument)
    return adapter.connection
