"""Which run writers are alive: the question behind a run's "running" status, ``labctl recover``
refusing a live file, and a second run refused a file being written.

A writer names itself in every entry it writes (``@writer_host``, ``@writer_pid``). Another process
on this host is alive while its pid is; this process knows its own writers exactly (a writer that
failed or was finished is not alive, though its process is). A writer on another host cannot be
asked from here: :func:`alive` returns None for it.
"""

from __future__ import annotations

import os
import socket
import weakref
from pathlib import Path
from typing import Any

__all__ = ["alive", "process_alive", "register"]

_MINE: weakref.WeakSet = weakref.WeakSet()


def register(writer: Any) -> None:
    """Count ``writer`` (with ``path``, ``entry_name`` and an ``active`` flag) as this process's."""
    _MINE.add(writer)


def alive(host: str | None, pid: int | None, path: str | Path, entry: str) -> bool | None:
    """Whether the writer of ``path``'s ``entry`` that named itself ``host``/``pid`` is alive
    (None: on another host, so it cannot be told)."""
    if pid is None:
        return False
    if host != socket.gethostname():
        return None
    pid = int(pid)
    if pid == os.getpid():
        where = _resolved(path)
        return any(w.active and w.entry_name == entry and _resolved(w.path) == where for w in list(_MINE))
    return process_alive(pid)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _resolved(path: str | Path) -> Path:
    try:
        return Path(path).resolve()
    except OSError:
        return Path(os.path.abspath(path))
