"""SCPI instrument emulation: header trees, IEEE 488.2 common commands, the error queue.

An emulator declares its command set as data, the way a pymeasure driver does, and is named after the
driver it answers (``Keithley2400Emulator`` answers pymeasure's ``Keithley2400``)::

    class Keithley2400Emulator(ScpiEmulator):
        source_voltage = Setting("[:SOURce]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", Float(-210, 210))

        @command(":READ?")
        def read(self): ...

Header patterns use SCPI notation: upper case is the short form, lower case the optional rest of
the long form, ``[...]`` an optional node. Matching, ``;``-separated message units with the
"same subsystem" path rule, quoted strings, definite-length binary blocks (``#<n><len><bytes>``),
numeric suffixes and MIN/MAX/DEF are handled here once for every instrument.

Errors follow SCPI-99 vol. 2 ch. 21: a bad unit queues an error (``SYST:ERR?``), sets the matching
``*ESR`` bit, abandons the rest of the message and changes nothing. A handler that raises a Python
exception instead of a :class:`ScpiError` has a bug: it still only queues a -200, but one whose
detail opens with ``internal error``, and the exception is kept in ``internal_errors``.
"""

from __future__ import annotations

import inspect
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from labctl.sim_backends.bench import Bench

ERROR_MESSAGES = {
    0: "No error",
    -100: "Command error",
    -101: "Invalid character",
    -102: "Syntax error",
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -131: "Invalid suffix",
    -160: "Block data error",
    -161: "Invalid block data",
    -200: "Execution error",
    -221: "Settings conflict",
    -222: "Data out of range",
    -223: "Too much data",
    -224: "Illegal parameter value",
    -350: "Queue overflow",
    -410: "Query INTERRUPTED",
    -420: "Query UNTERMINATED",
}

#: Opens the detail of the -200 an emulator queues when a handler raises a Python exception (a bug).
INTERNAL_ERROR = "internal error"

# *ESR bits (IEEE 488.2 11.5.1): OPC, query error, device-dependent, execution, command error.
ESR_OPC, ESR_QYE, ESR_DDE, ESR_EXE, ESR_CME = 1, 4, 8, 16, 32


class ScpiError(Exception):
    """Raised by handlers and parsers; becomes an error-queue entry, never a crash."""

    def __init__(self, code: int, detail: str = ""):
        self.code = code
        self.detail = detail
        super().__init__(f"{code},{ERROR_MESSAGES.get(code, 'Error')}" + (f"; {detail}" if detail else ""))

    @property
    def entry(self) -> str:
        text = ERROR_MESSAGES.get(self.code, "Error")
        if self.detail:
            text += f"; {self.detail}"
        return f'{self.code},"{text}"'


# -- argument parsers (validators) ------------------------------------------------------------------

_NUMBER = re.compile(rb"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)\s*$")

_MULTIPLIERS = {"": 1.0, "K": 1e3, "M": 1e-3, "U": 1e-6, "N": 1e-9, "P": 1e-12, "G": 1e9, "MA": 1e6}


def _suffix_scale(suffix: str, units: str | None) -> float:
    s = suffix.upper()
    if not s:
        return 1.0
    if units is None:
        raise ScpiError(-131, suffix)
    u = units.upper()
    if s == u:
        return 1.0
    if not s.endswith(u):
        raise ScpiError(-131, suffix)
    prefix = s[: -len(u)]
    if u == "HZ" and prefix == "M":  # SCPI: MHZ is mega, not milli
        return 1e6
    if u == "OHM" and prefix == "M":
        return 1e6
    if prefix not in _MULTIPLIERS:
        raise ScpiError(-131, suffix)
    return _MULTIPLIERS[prefix]


@dataclass(frozen=True)
class Float:
    """A numeric parameter: ``5``, ``-3``, ``1e-3``, ``+2.5``, ``.5``, ``10 MHZ``, MIN, MAX, DEF."""

    minimum: float = -np.inf
    maximum: float = np.inf
    units: str | None = None
    default: float | None = None

    def parse(self, arg: Any) -> float:
        if isinstance(arg, bytes) and not arg.startswith(b"#"):
            arg = arg.decode("ascii", "replace")
        if not isinstance(arg, str):
            raise ScpiError(-104, "numeric value expected")
        word = arg.strip().upper()
        if word in ("MIN", "MINIMUM"):
            return float(self.minimum)
        if word in ("MAX", "MAXIMUM"):
            return float(self.maximum)
        if word in ("DEF", "DEFAULT") and self.default is not None:
            return float(self.default)
        m = _NUMBER.match(arg.encode("ascii", "replace"))
        if not m:
            raise ScpiError(-104, f"numeric value expected, got {arg.strip()!r}")
        value = float(m.group(1)) * _suffix_scale(m.group(2).decode(), self.units)
        if not self.minimum <= value <= self.maximum:
            raise ScpiError(-222, f"{value:g} outside [{self.minimum:g}, {self.maximum:g}]")
        return value

    def format(self, value: float) -> str:
        return f"{value:.10g}"


@dataclass(frozen=True)
class Int(Float):
    def parse(self, arg: Any) -> int:
        value = super().parse(arg)
        if value != int(value):
            raise ScpiError(-104, "integer expected")
        return int(value)

    def format(self, value: float) -> str:
        return str(int(value))


@dataclass(frozen=True)
class Bool:
    """ON/OFF/1/0 (any non-zero number is ON, as IEEE 488.2 <Boolean program data> says)."""

    def parse(self, arg: Any) -> bool:
        word = _text(arg).upper()
        if word == "ON":
            return True
        if word == "OFF":
            return False
        try:
            return round(float(word)) != 0
        except (ValueError, OverflowError):  # words, NaN, INF
            raise ScpiError(-104, f"boolean expected, got {word!r}") from None

    def format(self, value: bool) -> str:
        return "1" if value else "0"


class Choice:
    """A character-data parameter given as SCPI mnemonics, e.g. ``Choice("VOLTage", "CURRent")``.

    Accepts the short or long form in any case, quoted or not; queries answer the short form.
    """

    def __init__(self, *mnemonics: str):
        self.mnemonics = mnemonics
        self._lookup = {}
        for m in mnemonics:
            short = "".join(c for c in m if not c.islower())
            self._lookup[short.upper()] = short.upper()
            self._lookup[m.upper()] = short.upper()

    def parse(self, arg: Any) -> str:
        word = _text(arg).strip("'\"").upper()
        try:
            return self._lookup[word]
        except KeyError:
            raise ScpiError(-224, f"{word!r} not in {', '.join(self.mnemonics)}") from None

    def format(self, value: str) -> str:
        return value


def _text(arg: Any) -> str:
    if isinstance(arg, bytes):
        arg = arg.decode("ascii", "replace")
    if not isinstance(arg, str):
        raise ScpiError(-104)
    return arg.strip()


def ieee_block(values: np.ndarray | bytes, dtype: str = "<f4") -> bytes:
    """IEEE 488.2 definite-length arbitrary block: ``#`` + digit count + length + data."""
    data = values if isinstance(values, bytes) else np.ascontiguousarray(values, dtype=dtype).tobytes()
    length = str(len(data)).encode()
    return b"#" + str(len(length)).encode() + length + data


class Block(bytes):
    """Binary block argument received from the client (the payload, header stripped)."""


def block_array(arg: Any, dtype: str = "<f4") -> np.ndarray:
    """A received binary block as a numpy array (-104 if the argument was not a block)."""
    if not isinstance(arg, Block):
        raise ScpiError(-104, "binary block expected")
    if len(arg) % np.dtype(dtype).itemsize:
        raise ScpiError(-160, "block length is not a whole number of values")
    return np.frombuffer(arg, dtype=dtype)


# -- header patterns --------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> str:
    """``[:SOURce]:VOLTage[:LEVel]`` -> a regex accepting exactly the SCPI short and long forms."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "[":
            out.append("(?:")
        elif c == "]":
            out.append(")?")
        elif c in ":*?":
            out.append(re.escape(c))
        elif c.isalnum():
            j = i
            while j < len(pattern) and pattern[j].isalnum():
                j += 1
            word = pattern[i:j]
            short = "".join(ch for ch in word if not ch.islower())
            rest = word[len(short) :]
            if rest and word[: len(short)] == short:
                out.append(re.escape(short) + "(?:" + re.escape(rest.upper()) + ")?")
            else:
                out.append(re.escape(word.upper()))
            i = j
            continue
        else:
            raise ValueError(f"bad character {c!r} in SCPI pattern {pattern!r}")
        i += 1
    return "".join(out)


def command(*patterns: str):
    """Mark a method as the handler of SCPI headers (a query pattern ends with ``?``).

    The handler gets the unit's arguments (``str``, or :class:`Block` for binary blocks) and may
    return ``None`` (no response), ``str``, a number, ``bool`` or ``bytes`` (sent verbatim).
    """

    def mark(fn):
        fn.__scpi_patterns__ = getattr(fn, "__scpi_patterns__", ()) + patterns
        return fn

    return mark


class Setting:
    """A stored instrument setting with its set and query forms (``HEADER value`` / ``HEADER?``).

    ``on_change(emulator, value)`` runs after a write that changed the value; if it raises, the
    setting keeps its old value and the error is queued. Being a plain function (define it above the
    setting in the class body), it is found by name checkers and not looked up again in subclasses.
    """

    def __init__(self, pattern: str, parser, default: Any = None,
                 on_change: Callable[[Any, Any], None] | None = None):
        if on_change is not None and not callable(on_change):
            raise TypeError(f"on_change of {pattern!r} must be a function (emulator, value), not {on_change!r}")
        self.pattern = pattern
        if isinstance(parser, Float) and parser.default is None and default is not None:
            parser = replace(parser, default=default)  # ``HEADER DEF`` restores the *RST value
        self.parser = parser
        self.default = default
        self.on_change = on_change

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return obj.settings[self.name]

    def __set__(self, obj, value):
        obj.settings[self.name] = value


@dataclass
class _Handler:
    fn: Callable
    min_args: int
    max_args: float  # inf for *args


class _CommandTable:
    """Compiled header patterns of one emulator class, with a cache of headers seen."""

    def __init__(self, entries: list[tuple[str, _Handler]]):
        self.entries = [(re.compile(_pattern_regex(p) + r"\Z"), p, h) for p, h in entries]
        self.cache: dict[str, _Handler | None] = {}

    def lookup(self, header: str) -> _Handler | None:
        try:
            return self.cache[header]
        except KeyError:
            pass
        found = None
        candidates = (header, ":" + header) if not header.startswith((":", "*")) else (header,)
        for regex, _, handler in self.entries:
            if any(regex.match(c) for c in candidates):
                found = handler
                break
        if len(self.cache) < 4096:
            self.cache[header] = found
        return found


def _arity(fn: Callable) -> tuple[int, float]:
    params = list(inspect.signature(fn).parameters.values())[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return sum(p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD for p in params), np.inf
    required = sum(p.default is p.empty for p in params)
    return required, len(params)


# -- message splitting ------------------------------------------------------------------------------


def _split_units(message: bytes) -> list[bytes]:
    """Split a program message at ``;`` outside quotes and binary blocks (a malformed block header
    is text; its unit fails when its arguments are parsed)."""
    if b"#" not in message and b'"' not in message and b"'" not in message:
        return message.split(b";")
    units, start, i, n = [], 0, 0, len(message)
    while i < n:
        c = message[i]
        if c in b"\"'":
            j = message.find(bytes((c,)), i + 1)
            i = n if j < 0 else j + 1
            continue
        if c == 0x23 and i + 1 < n and 0x31 <= message[i + 1] <= 0x39:  # '#1'..'#9'
            nd = message[i + 1] - 0x30
            length = message[i + 2 : i + 2 + nd]
            if len(length) == nd and length.isdigit():
                i = i + 2 + nd + int(length)
                continue
        if c == 0x3B:  # ';'
            units.append(message[start:i])
            start = i + 1
        i += 1
    units.append(message[start:])
    return units


def _split_args(text: bytes, max_block: int = 2**31) -> list[Any]:
    """Comma-separated program data: strings, or :class:`Block` for ``#<n><len><data>``.

    A block longer than ``max_block`` bytes is refused (-223) before its data is looked at.
    """
    args: list[Any] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in b" \t":
            i += 1
        if i >= n:
            args.append("")
            break
        if text[i] == 0x23 and i + 1 < n and 0x31 <= text[i + 1] <= 0x39:
            nd = text[i + 1] - 0x30
            length = text[i + 2 : i + 2 + nd]
            if len(length) != nd or not length.isdigit():
                raise ScpiError(-161, "malformed block header")
            if int(length) > max_block:
                raise ScpiError(-223, f"block of {int(length)} bytes, at most {max_block} accepted")
            start = i + 2 + nd
            end = start + int(length)
            if end > n:
                raise ScpiError(-161, "block shorter than its header says")
            args.append(Block(text[start:end]))
            i = end
        else:
            j, quote = i, None
            while j < n and (quote or text[j] != 0x2C):
                if text[j] in b"\"'":
                    quote = None if quote == text[j] else (quote or text[j])
                j += 1
            args.append(text[i:j].decode("ascii", "replace").strip())
            i = j
        while i < n and text[i] in b" \t":
            i += 1
        if i < n:
            if text[i] != 0x2C:
                raise ScpiError(-102, "expected ',' between parameters")
            i += 1
            if i >= n:
                raise ScpiError(-109, "missing parameter after ','")
    return args


# -- the emulator base ------------------------------------------------------------------------------


class ScpiEmulator:
    """Base class of every simulated instrument: IEEE 488.2 common commands and the error queue.

    Subclasses declare :class:`Setting` attributes and :func:`command` handlers, act on the parts of
    the bench they are wired to (:meth:`wire`, before ``super().__init__`` as ``*RST`` may use them)
    and charge their work to ``self.clock`` (virtual time).
    """

    idn = "LABCTL,EMULATOR,0,1.0"
    #: Bench time one program message costs (bus transfer + parsing on a real instrument).
    command_time = 1e-4
    error_queue_size = 10
    #: Largest binary block (bytes) the instrument takes in one message; a longer one is refused
    #: with -223 as soon as its header arrives (framing: `labctl.sim_backends.framing`).
    max_block = 64 * 1024

    _table: _CommandTable

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        entries: list[tuple[str, _Handler]] = []
        seen: set[str] = set()
        for klass in cls.__mro__:
            for attr, value in vars(klass).items():
                if attr in seen:
                    continue
                seen.add(attr)
                if isinstance(value, Setting):
                    entries.append((value.pattern + "?", _Handler(_setting_query(value), 0, 0)))
                    entries.append((value.pattern, _Handler(_setting_write(value), 1, 1)))
                for pattern in getattr(value, "__scpi_patterns__", ()):
                    entries.append((pattern, _Handler(value, *_arity(value))))
        cls._table = _CommandTable(entries)

    def __init__(self, bench: Bench, name: str = "", **options):
        if options:
            raise TypeError(f"{type(self).__name__} got unknown options {sorted(options)}")
        self.bench = bench
        self.name = name
        self.clock = bench.clock
        self.errors: deque[str] = deque()
        #: Python exceptions raised by handlers (bugs, not SCPI errors), latest last, with tracebacks.
        self.internal_errors: deque[Exception] = deque(maxlen=16)
        self.esr = 0
        self.ese = 0
        self.sre = 0
        self.busy_until = 0.0
        self.settings: dict[str, Any] = {}
        self.reset()

    def wire(self, bench: Bench, name: str, part: str, interface: type) -> Any:
        """The part of ``bench`` this emulator is wired to (a bench file's ``x-options``), checked
        against the interface the emulator needs (`labctl.sim_backends.interfaces`)."""
        return bench.part(part, interface, wanted_by=f"for {type(self).__name__} {name!r}")

    @property
    def serial(self) -> str:
        """The serial number ``*IDN?`` gives (its third field)."""
        return self.idn.split(",")[2].strip()

    @serial.setter
    def serial(self, value: str) -> None:
        """This unit's serial number: two instruments of one model on a bench answer apart."""
        fields = self.idn.split(",")
        old = fields[2]
        fields[2] = old[: len(old) - len(old.lstrip())] + str(value)  # keep the field's spacing
        self.idn = ",".join(fields)

    # -- state ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """``*RST``: every declared setting back to its default."""
        for klass in reversed(type(self).__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, Setting):
                    self.settings[attr] = value.default

    def push_error(self, code: int, detail: str = "") -> None:
        self.push(ScpiError(code, detail))

    def push(self, err: ScpiError) -> None:
        if err.code <= -400:
            self.esr |= ESR_QYE
        elif err.code <= -300:
            self.esr |= ESR_DDE
        elif err.code <= -200:
            self.esr |= ESR_EXE
        elif err.code <= -100:
            self.esr |= ESR_CME
        if len(self.errors) >= self.error_queue_size:
            self.errors[-1] = ScpiError(-350).entry
        else:
            self.errors.append(err.entry)

    def query_unterminated(self) -> None:
        """The client read with no response pending (-420): queued, and the read times out."""
        with self.bench.lock:
            self.push_error(-420)

    def complete_pending(self) -> None:
        """Let bench time run until the instrument's pending operation ends (``*OPC?``, ``*WAI``)."""
        self.clock.advance_to(self.busy_until)

    # -- message processing --------------------------------------------------------------------
    def process(self, message: bytes) -> bytes | None:
        """Execute one program message; the joined responses, or None if it contained no query."""
        with self.bench.lock:
            self.clock.advance(self.command_time)
            responses: list[bytes] = []
            path = ""
            for unit in _split_units(message):
                unit = unit.strip()
                if not unit:
                    continue
                try:
                    path, response = self._execute(unit, path)
                except ScpiError as err:
                    self.push(err)
                    break  # the rest of the message is abandoned
                except Exception as err:  # a bug must not take the bench down, nor pass unseen
                    self.internal_errors.append(err)
                    self.push(ScpiError(-200, f"{INTERNAL_ERROR} {type(err).__name__}: {err}"))
                    break
                if response is not None:
                    responses.append(response)
            return b";".join(responses) if responses else None

    def _execute(self, unit: bytes, path: str) -> tuple[str, bytes | None]:
        head, _, rest = unit.partition(b" ")
        if b"\t" in head:
            head, _, more = head.partition(b"\t")
            rest = more + b" " + rest
        try:
            header = head.decode("ascii").upper()
        except UnicodeDecodeError:
            raise ScpiError(-101) from None
        handler = None
        if path and not header.startswith((":", "*")):
            handler = self._table.lookup(path + header)
        if handler is None:
            handler = self._table.lookup(header)
        if handler is None:
            raise ScpiError(-113, header)
        args = _split_args(rest, self.max_block) if rest.strip() else []
        if len(args) < handler.min_args:
            raise ScpiError(-109, header)
        if len(args) > handler.max_args:
            raise ScpiError(-108, header)
        result = handler.fn(self, *args)
        if not header.startswith("*"):
            full = header if header.startswith(":") else ":" + header
            path = full[: full.rfind(":") + 1]
        return path, _encode(result)

    # -- IEEE 488.2 common commands and the SYSTem:ERRor subsystem --------------------------------
    @command("*IDN?")
    def _idn(self):
        return self.idn

    @command("*RST")
    def _rst(self):
        self.reset()

    @command("*CLS")
    def _cls(self):
        self.errors.clear()
        self.esr = 0

    @command("*ESR?")
    def _esr_query(self):
        value, self.esr = self.esr, 0
        return value

    @command("*ESE")
    def _ese(self, value):
        self.ese = Int(0, 255).parse(value)

    @command("*ESE?")
    def _ese_query(self):
        return self.ese

    @command("*SRE")
    def _sre(self, value):
        self.sre = Int(0, 255).parse(value)

    @command("*SRE?")
    def _sre_query(self):
        return self.sre

    @command("*STB?")
    def _stb(self):
        eav = 4 if self.errors else 0
        esb = 32 if self.esr & self.ese else 0
        return eav | esb

    @command("*OPC")
    def _opc(self):
        self.complete_pending()
        self.esr |= ESR_OPC

    @command("*OPC?")
    def _opc_query(self):
        self.complete_pending()
        return 1

    @command("*WAI")
    def _wai(self):
        self.complete_pending()

    @command("*TST?")
    def _tst(self):
        return 0

    @command(":SYSTem:ERRor[:NEXT]?")
    def _next_error(self):
        return self.errors.popleft() if self.errors else '0,"No error"'

    @command(":SYSTem:ERRor:ALL?")
    def _all_errors(self):
        entries = list(self.errors) or ['0,"No error"']
        self.errors.clear()
        return ",".join(entries)

    @command(":SYSTem:ERRor:COUNt?")
    def _error_count(self):
        return len(self.errors)


def _encode(result: Any) -> bytes | None:
    if result is None:
        return None
    if isinstance(result, bytes):
        return result
    if isinstance(result, bool | np.bool_):
        return b"1" if result else b"0"
    if isinstance(result, int | np.integer):
        return str(int(result)).encode()
    if isinstance(result, float | np.floating):
        return f"{float(result):.10g}".encode()
    return str(result).encode()


def _setting_query(setting: Setting):
    def query(self):
        value = self.settings[setting.name]
        return setting.parser.format(value) if value is not None else ""

    return query


def _setting_write(setting: Setting):
    def write(self, arg):
        value = setting.parser.parse(arg)
        old = self.settings[setting.name]
        self.settings[setting.name] = value
        if setting.on_change is not None and value != old:
            try:
                setting.on_change(self, value)
            except Exception:  # refused (or a bug, queued as -200): the setting stays as it was
                self.settings[setting.name] = old
                raise

    return write
