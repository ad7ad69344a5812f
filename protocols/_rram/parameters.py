"""Parsing of RRAM protocol parameters: comma-separated lists of numbers and the bit patterns to write."""

from __future__ import annotations

import numpy as np

from labctl.protocol import ParameterError
from labctl.protocols._rram.layout import COLS, ROWS


def parse_floats(text: str, name: str) -> list[float]:
    """``"20e-6, 50e-6"`` -> [2e-05, 5e-05] (a comma-separated list parameter)."""
    try:
        values = [float(v) for v in str(text).replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise ParameterError(f"{name}: expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise ParameterError(f"{name}: at least one value needed")
    return values


def pattern_bits(kind: str, seed: int = 0, user_hex: str = "") -> np.ndarray:
    """A 32 x 32 bit pattern: checkerboard, random, ones, zeros, stripes, or 256 hex digits."""
    r, c = np.indices((ROWS, COLS))
    if kind == "checkerboard":
        return (r + c) % 2 == 0
    if kind == "random":
        return np.random.default_rng(seed).random((ROWS, COLS)) < 0.5
    if kind == "ones":
        return np.ones((ROWS, COLS), bool)
    if kind == "zeros":
        return np.zeros((ROWS, COLS), bool)
    if kind == "stripes":
        return r % 2 == 0
    if kind == "user":
        digits = "".join(str(user_hex).split())
        if len(digits) != ROWS * COLS // 4:
            raise ParameterError(f"user_bits: need {ROWS * COLS // 4} hex digits, got {len(digits)}")
        try:
            raw = np.frombuffer(bytes.fromhex(digits), np.uint8)
        except ValueError:
            raise ParameterError("user_bits: not a hexadecimal string") from None
        return np.unpackbits(raw).astype(bool).reshape(ROWS, COLS)
    raise ParameterError(f"unknown pattern {kind!r}")


def parse_codes(text: str, name: str = "codes") -> list:
    """``"SECDED64, SEC32"`` -> Hamming SEC / Hsiao SECDED codes on 64- and 32-bit data words."""
    import re

    from labctl.protocols._rram.ecc import HammingCode

    codes = []
    for word in (w.strip() for w in str(text).replace(";", ",").split(",")):
        if not word:
            continue
        m = re.fullmatch(r"(SECDED|SEC)\s*(\d+)", word, re.IGNORECASE)
        if not m or not 4 <= int(m.group(2)) <= 512:
            raise ParameterError(f"{name}: {word!r} is not a code; write SEC<k> or SECDED<k> with "
                                 "k data bits per word (4 to 512), e.g. SECDED64, SEC32")
        codes.append(HammingCode(int(m.group(2)), m.group(1).upper() == "SECDED"))
    return codes
