"""labctl's logging: what the command line shows, and the lines every run keeps in its file.

Everything in labctl logs under the ``labctl`` logger (run start and end, stations connected, limits
refused, instrument error queues, benches reset). The CLI shows warnings on stderr, more with
``-v``/``-vv`` (:func:`to_stderr`); ``--quiet`` drops progress bars and chatter, never warnings.

A run keeps its own records from INFO up, whatever the application shows (:class:`RunLog`): while a
run is being kept, the ``labctl`` logger lets INFO through, and a relay passes on to the application's
handlers only the records it asked for, so a script's ``logging.basicConfig()`` sees what it saw before.
"""

from __future__ import annotations

import datetime as _dt
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["RunLog", "to_stderr", "verbosity_level"]

LOGGER = "labctl"
_lock = threading.Lock()


def verbosity_level(verbose: int = 0, quiet: bool = False) -> int:
    """Nothing or ``--quiet`` -> WARNING (what the user must see: limits refused, instrument errors,
    aborts acknowledged; quiet only drops bars and chatter), ``-v`` -> INFO, ``-vv`` -> DEBUG."""
    if quiet:
        return logging.WARNING
    return (logging.WARNING, logging.INFO)[verbose] if verbose < 2 else logging.DEBUG


class _Stderr(logging.StreamHandler):
    """The CLI's handler: on whatever ``sys.stderr`` is at the time of the record."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


@contextmanager
def to_stderr(level: int = logging.WARNING) -> Iterator[None]:
    """Show labctl's records at ``level`` and above on stderr (plain messages for warnings, the level
    and logger below); on exit, the ``labctl`` logger is left as it was found."""
    logger = logging.getLogger(LOGGER)
    handler = _Stderr()
    fmt = "%(message)s" if level >= logging.WARNING else "%(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    handler.setLevel(level)
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)


class _Relay(logging.Handler):
    """While runs keep INFO records, hands to the application's handlers (the root logger's, or
    Python's last resort when there are none) only the records they would have had anyway."""

    active: _Relay | None = None
    users = 0

    def __init__(self, logger: logging.Logger):
        self.saved_level, self.saved_propagate = logger.level, logger.propagate
        super().__init__(logger.getEffectiveLevel())
        self.logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        if not self.saved_propagate:
            return
        root = self.logger.parent
        found = [h for h in self.logger.handlers if not isinstance(h, (_Relay, RunLog))]
        node = root
        while node is not None:
            for h in node.handlers:
                found.append(h)
                if record.levelno >= h.level:
                    h.handle(record)
            node = node.parent if node.propagate else None
        if not found and logging.lastResort and record.levelno >= logging.lastResort.level:
            logging.lastResort.handle(record)

    @classmethod
    def join(cls, level: int) -> None:
        with _lock:
            logger = logging.getLogger(LOGGER)
            if cls.users == 0 and logger.getEffectiveLevel() > level:
                relay = cls(logger)
                logger.setLevel(level)
                logger.propagate = False
                logger.addHandler(relay)
                cls.active = relay
            cls.users += 1

    @classmethod
    def leave(cls) -> None:
        with _lock:
            cls.users -= 1
            relay = cls.active
            if cls.users == 0 and relay is not None:
                logger = relay.logger
                logger.removeHandler(relay)
                logger.setLevel(relay.saved_level)
                logger.propagate = relay.saved_propagate
                cls.active = None


class RunLog(logging.Handler):
    """The records of one run (logged from the thread that runs it), as lines for its file.

    :meth:`start` before the run, :meth:`stop` after; :attr:`lines` are ``time LEVEL logger: message``.
    """

    def __init__(self, level: int = logging.INFO):
        super().__init__(level)
        self.lines: list[str] = []
        self._thread = threading.get_ident()
        self._started = False

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self._thread:  # another run in another thread keeps its own
            return
        stamp = _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc).isoformat(timespec="milliseconds")
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        self.lines.append(f"{stamp} {record.levelname} {record.name}: {text}")

    def start(self) -> RunLog:
        if not self._started:
            self._thread = threading.get_ident()
            _Relay.join(self.level)
            logging.getLogger(LOGGER).addHandler(self)
            self._started = True
        return self

    def stop(self) -> list[str]:
        if self._started:
            logging.getLogger(LOGGER).removeHandler(self)
            _Relay.leave()
            self._started = False
        return self.lines
