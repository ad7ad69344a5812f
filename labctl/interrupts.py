"""Signal handlers for the length of a block: installed on entry, the previous ones restored on exit.

Python runs signal handlers in the main thread only and refuses to install them from another; a block
entered elsewhere (a notebook's worker thread, a test runner's) runs with the handlers it has.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def signals_handled(handler: Callable[[int, Any], Any] | int, signals=STOP_SIGNALS) -> Iterator[None]:
    """``handler`` (a function or ``signal.SIG_IGN``) for ``signals`` while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, previous in old.items():
            signal.signal(s, previous)
