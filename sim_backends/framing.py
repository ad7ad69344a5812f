"""Where an IEEE 488.2 program message ends in a stream of bytes (one rule for every transport).

A message ends at its terminator, except inside a definite-length arbitrary block
(``#<n><length><bytes>``, IEEE 488.2 7.7.6.2), whose bytes are data and may hold terminators. What
only looks like a block header is text, as the instrument's parser will read it:

* a ``#`` inside a quoted string (string program data, 7.7.5: ``*IDN? "Run #1 ok"``);
* ``#H1F``, ``#B101``, ``#Q17`` (non-decimal numeric data, 7.7.4) and ``#0`` (an indefinite block,
  which runs to the terminator anyway);
* a header with a non-digit where a length digit belongs (``#1x``);
* a block longer than the instrument accepts: its parser refuses it (-223 "Too much data") and
  drops the rest of the message, so the next terminator ends it.

A terminator inside an unclosed quote still ends the message: only blocks hold a terminator. So a
message waits only for the declared bytes of a block the instrument would accept, never for ever
on a stray ``#``; a device clear (:meth:`EmulatedDevice.clear`) drops even that wait.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

QUOTES = (0x22, 0x27)  # " and '


@dataclass(frozen=True)
class Frame:
    """Outcome of :func:`frame` on a buffer."""

    #: Index just past the terminator of the first whole message; -1 while it is incomplete.
    end: int
    #: Declared length of an accepted block still arriving (only while ``end`` is -1).
    pending_block: int = 0
    #: Largest declared block length refused as longer than the instrument accepts (0: none).
    refused_block: int = 0


@lru_cache(maxsize=8)
def _specials(eom: bytes) -> re.Pattern:
    return re.compile(rb"[\"'#]|" + re.escape(eom))


def frame(buf: bytes | bytearray, eom: bytes, max_block: int) -> Frame:
    """The first program message of ``buf``: where it ends, or what it still waits for.

    ``eom`` is the message terminator; ``max_block`` the largest block (bytes) the instrument
    accepts.
    """
    specials = _specials(eom)
    pos, n, refused = 0, len(buf), 0
    while True:
        m = specials.search(buf, pos)
        if m is None:
            return Frame(-1, 0, refused)
        i = m.start()
        c = buf[i]
        if m.end() - i == len(eom) and buf[i:m.end()] == eom:
            return Frame(m.end(), 0, refused)
        if c in QUOTES:
            close = buf.find(bytes((c,)), i + 1)
            stop = buf.find(eom, i + 1)
            if stop >= 0 and (close < 0 or stop < close):  # an unclosed string: the terminator wins
                return Frame(stop + len(eom), 0, refused)
            if close < 0:
                return Frame(-1, 0, refused)
            pos = close + 1
            continue
        # '#': a block header only as '#', a digit 1-9, that many digits
        if i + 1 >= n:
            return Frame(-1, 0, refused)  # the next byte decides
        ndigits = buf[i + 1] - 0x30
        if not 1 <= ndigits <= 9:
            pos = i + 1
            continue
        digits = bytes(buf[i + 2 : i + 2 + ndigits])
        if digits and not digits.isdigit():
            pos = i + 1  # malformed header: text (the parser answers -161)
            continue
        if len(digits) < ndigits:
            return Frame(-1, 0, refused)  # the header itself is still arriving
        length = int(digits)
        start = i + 2 + ndigits
        if length > max_block:
            refused = max(refused, length)
            pos = start
            continue
        if start + length > n:
            return Frame(-1, length, refused)
        pos = start + length


def take_message(buf: bytearray, eom: bytes, max_block: int) -> tuple[bytes | None, Frame]:
    """Take the first whole program message off the front of ``buf`` (its terminator dropped), with
    what :func:`frame` found; ``None`` while it is incomplete (``buf`` then stays as it is)."""
    framed = frame(buf, eom, max_block)
    if framed.end < 0:
        return None, framed
    message = bytes(buf[: framed.end - len(eom)])
    del buf[: framed.end]
    return message, framed
