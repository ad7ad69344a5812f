"""Instruments' own account of what went wrong: their SCPI error queues.

A VISA timeout says only that no answer came; the instrument's error queue (``SYST:ERR?``) says why
(``-113 Undefined header``, ``-221 Settings conflict``). The runner reads every instrument's queue when
a run fails, before shutdown sends anything new, and once more at the end of a run that completed (an
instrument may have refused a setting without anyone asking). The reading is pymeasure's
``check_errors()`` (``next_error`` until code 0), bounded so that a queue that never empties cannot
hang a run; drivers that do not speak SCPI raise ``NotImplementedError`` there and are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["error_queues", "read_error_queue", "summary"]

log = logging.getLogger(__name__)

#: Most entries read from one queue (SCPI queues hold a few tens; an endless one is a broken link).
MAX_ENTRIES = 32


def _entry(err: Any) -> tuple[int, str]:
    """``[-113.0, '"Undefined header"']`` (pymeasure's reply) -> ``(-113, "Undefined header")``."""
    if isinstance(err, str):
        code, _, text = err.partition(",")
    else:
        code, text = (list(err) + [""])[:2]
    return int(float(code)), str(text).strip().strip('"')


def read_error_queue(instrument: Any) -> list[str] | None:
    """The entries of one instrument's error queue (``"-113 Undefined header"``), emptying it;
    ``None`` when the driver has no error queue or the queue cannot be read."""
    if not hasattr(type(instrument), "next_error"):
        return None
    out = []
    try:
        for _ in range(MAX_ENTRIES):
            code, text = _entry(instrument.next_error)
            if code == 0:
                break
            out.append(f"{code} {text}".rstrip())
    except NotImplementedError:  # pymeasure's answer for a driver that does not speak SCPI
        return None
    except Exception as exc:  # a dead link: say so, the run's own error matters more
        log.debug("error queue of %s unreadable: %s: %s", type(instrument).__name__, type(exc).__name__, exc)
        return out or None
    return out


def error_queues(instruments: Mapping[str, Any]) -> dict[str, list[str]]:
    """Role -> the non-empty error queues of ``instruments``, each logged as a warning."""
    out = {}
    for role, inst in instruments.items():
        entries = read_error_queue(inst)
        if entries:
            out[role] = entries
            log.warning("%s error queue: %s", role, "; ".join(entries))
    return out


def summary(queues: Mapping[str, list[str]]) -> str:
    """``'instrument error queue: smu: "-221 Settings conflict; output is off", "-420 Query UNTERMINATED"'``."""
    if not queues:
        return ""
    per_role = (f"{role}: " + ", ".join(f'"{e}"' for e in entries) for role, entries in queues.items())
    return "instrument error queue: " + "; ".join(per_role)
