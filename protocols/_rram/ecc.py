"""Single-error-correcting codes for the 1T1R versus 2T2R comparison (pure numpy, no instrument).

The 2T2R bit is claimed to bring "benefits similar to the use of single error correcting codes"
(Querlioz et al., BioCAS 2019; Bocquet et al., IEDM 2018).  The comparison needs the codes a memory
designer would actually use on 1T1R bits:

* Hamming SEC codes (R. W. Hamming, Bell Syst. Tech. J. 29, 147 (1950)), shortened to a data word of
  ``k`` bits: ``r`` check bits with 2^r >= k + r + 1, e.g. (38,32), (21,16), (71,64);
* SECDED codes in M. Y. Hsiao's odd-weight-column form (IBM J. Res. Dev. 14, 395 (1970)), the
  standard memory ECC: one more check bit, every column of the parity-check matrix of odd weight,
  so a single error gives an odd-weight syndrome (corrected) and a double error a non-zero
  even-weight one (detected, not corrected): (72,64), (39,32), (22,16).

Both are systematic, ``codeword = [data | check]``, with parity-check matrix ``H = [A | I_r]``.
Encoding, decoding and syndromes are vectorized over any leading shape of words.

Because the codes are linear, what a decoder does to a word depends only on its error pattern:
:func:`corrected_errors` decodes measured raw error maps directly (the bits the die read wrong),
so the post-correction bit-error rate comes out of the device statistics, error for error, without
assuming independent errors.  :func:`expected_ber` gives the textbook estimate for independent
errors, to compare with.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from math import comb

import numpy as np

NO_ERROR, CORRECTED, DETECTED = 0, 1, 2


def _columns(r: int, weights, k: int) -> np.ndarray:
    """The first ``k`` r-bit column vectors of the given Hamming weights, shape (r, k)."""
    cols = []
    for w in weights:
        for ones in combinations(range(r), w):
            v = np.zeros(r, np.uint8)
            v[list(ones)] = 1
            cols.append(v)
            if len(cols) == k:
                return np.stack(cols, axis=1)
    raise ValueError(f"no {k} distinct columns of weights {list(weights)} with {r} check bits")


@dataclass(frozen=True)
class HammingCode:
    """Systematic (n, k) Hamming SEC code, or Hsiao SECDED code when ``secded``."""

    k: int
    secded: bool = False

    def __post_init__(self):
        if self.k < 1:
            raise ValueError("a code needs at least one data bit")

    @cached_property
    def r(self) -> int:
        """Check bits: the smallest r with 2^r >= k + r + 1, plus one for SECDED."""
        r = 2
        while 2**r < self.k + r + 1:
            r += 1
        return r + int(self.secded)

    @property
    def n(self) -> int:
        return self.k + self.r

    @property
    def name(self) -> str:
        return f"({self.n},{self.k}) {'SECDED' if self.secded else 'SEC'}"

    @property
    def overhead(self) -> float:
        """Check bits per data bit (storage overhead of the code)."""
        return self.r / self.k

    @cached_property
    def parity(self) -> np.ndarray:
        """A, the (r, k) data part of H = [A | I]: distinct columns of weight >= 2 (SEC) or of odd
        weight >= 3 (SECDED), lowest weights first."""
        if self.secded:
            weights = range(3, self.r + 1, 2)
        else:
            weights = range(2, self.r + 1)
        return _columns(self.r, weights, self.k)

    @cached_property
    def check_matrix(self) -> np.ndarray:
        """H, shape (r, n)."""
        return np.concatenate([self.parity, np.eye(self.r, dtype=np.uint8)], axis=1)

    @cached_property
    def _position(self) -> np.ndarray:
        """Syndrome (as an integer) -> bit position it points to, -1 where none."""
        table = np.full(2**self.r, -1, np.int64)
        table[_pack(self.check_matrix.T)] = np.arange(self.n)
        return table

    @cached_property
    def miscorrection_pairs(self) -> float:
        """Fraction of double errors whose syndrome points at a column (they are miscorrected)."""
        i, j = np.triu_indices(self.n, 1)
        s = _pack(self.check_matrix.T[i] ^ self.check_matrix.T[j])
        hit = self._position[s] >= 0
        if self.secded:
            hit &= _popcount(s) % 2 == 1
        return float(hit.mean())

    # ------------------------------------------------------------------ coding
    def encode(self, data) -> np.ndarray:
        """Codewords [data | check] of data bits shaped (..., k); returns (..., n) uint8."""
        d = np.asarray(data).astype(np.uint8)
        if d.shape[-1:] != (self.k,):
            raise ValueError(f"{self.name}: data words must have {self.k} bits, got {d.shape}")
        check = (d @ self.parity.T.astype(np.int64)) % 2
        return np.concatenate([d, check.astype(np.uint8)], axis=-1)

    def syndrome(self, words) -> np.ndarray:
        """Syndromes H w (mod 2) of words shaped (..., n), as integers (..., )."""
        w = np.asarray(words).astype(np.uint8)
        if w.shape[-1:] != (self.n,):
            raise ValueError(f"{self.name}: words must have {self.n} bits, got {w.shape}")
        return _pack((w @ self.check_matrix.T.astype(np.int64)) % 2)

    def correct(self, words) -> tuple[np.ndarray, np.ndarray]:
        """Decoded words (..., n) and a status per word: NO_ERROR, CORRECTED, or DETECTED (an
        error pattern the code sees but cannot correct: SECDED even-weight syndromes, or a
        syndrome matching no column)."""
        w = np.asarray(words).astype(np.uint8)
        s = self.syndrome(w)
        pos = self._position[s]
        if self.secded:
            pos = np.where(_popcount(s) % 2 == 1, pos, -1)  # even weight: double error
        fix = (s != 0) & (pos >= 0)
        out = w.copy()
        flat, where = out.reshape(-1, self.n), np.flatnonzero(fix.ravel())
        flat[where, pos.ravel()[where]] ^= 1
        status = np.where(s == 0, NO_ERROR, np.where(fix, CORRECTED, DETECTED))
        return out, status

    def decode(self, words) -> tuple[np.ndarray, np.ndarray]:
        """Data bits (..., k) after correction, and the status per word (see :meth:`correct`)."""
        out, status = self.correct(words)
        return out[..., :self.k], status


def _pack(bits: np.ndarray) -> np.ndarray:
    """Bit vectors (..., r) -> integers, bit j of the integer = element j."""
    return (np.asarray(bits, np.int64) << np.arange(bits.shape[-1])).sum(axis=-1)


def _popcount(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.int64)
    count = np.zeros_like(x)
    while np.any(x):
        count += x & 1
        x = x >> 1
    return count


CODES = {"(22,16) SECDED": HammingCode(16, True), "(39,32) SECDED": HammingCode(32, True),
         "(72,64) SECDED": HammingCode(64, True), "(21,16) SEC": HammingCode(16),
         "(38,32) SEC": HammingCode(32), "(71,64) SEC": HammingCode(64)}


# ---------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class CorrectedErrors:
    """Errors left in the data bits after decoding measured raw errors."""

    code: str
    words: int  # codewords decoded
    data_bits: int
    raw_errors: int  # raw errors over all stored bits (data and check)
    raw_ber: float
    errors: int  # data-bit errors after correction
    ber: float  # post-correction data bit-error rate
    word_errors: int  # words whose data came out wrong
    detected: int  # words flagged uncorrectable (SECDED)
    overhead: float  # check bits per data bit
    devices_per_bit: float  # 1T1R devices per data bit (n / k)


def corrected_errors(code: HammingCode, raw_errors) -> CorrectedErrors:
    """Decode measured error maps: ``raw_errors`` (bool, any shape) says which stored bits were
    read wrong; consecutive groups of ``n`` along the last axis are codewords (a trailing partial
    word is dropped).  Only the error pattern matters for a linear code, so the data written is not
    needed.  Returns the data-bit errors left after correction."""
    e = np.asarray(raw_errors, bool)
    e = e.reshape(-1, e.shape[-1]) if e.ndim else e.reshape(1, 1)
    per_row = e.shape[-1] // code.n
    if per_row == 0:
        raise ValueError(f"{code.name}: rows of {e.shape[-1]} bits hold no {code.n}-bit word")
    words = e[:, :per_row * code.n].reshape(-1, code.n).astype(np.uint8)
    fixed, status = code.correct(words)
    left = fixed[:, :code.k].astype(bool)  # the decoded error pattern on the data bits
    errors = int(left.sum())
    n_words = words.shape[0]
    raw = int(words.sum())
    return CorrectedErrors(code.name, n_words, n_words * code.k, raw, raw / words.size, errors,
                           errors / (n_words * code.k), int(left.any(axis=1).sum()),
                           int((status == DETECTED).sum()), code.overhead, code.n / code.k)


def expected_ber(code: HammingCode, p) -> np.ndarray:
    """Post-correction data BER for independent raw errors of probability ``p`` per stored bit.

    A word with j >= 2 errors keeps them, and the decoder flips one more bit when the syndrome
    points at a column (a miscorrection): for j = 2 the fraction of error pairs that do so is
    counted on H (none for SECDED, whose double errors give even-weight syndromes), for j >= 3 a
    syndrome is taken as random among those the code can produce.  Data bits carry a fraction k / n
    of the wrong bits:  BER = sum_j C(n,j) p^j (1-p)^(n-j) (j + m_j) / n  (e.g. S. Lin,
    D. J. Costello, Error Control Coding, 2nd ed., ch. 4).
    """
    p = np.asarray(p, float)
    n, r = code.n, code.r
    total = np.zeros_like(p)
    for j in range(2, n + 1):
        if j == 2:
            m = code.miscorrection_pairs
        elif code.secded:
            m = 0.0 if j % 2 == 0 else n / 2 ** (r - 1)
        else:
            m = n / (2**r - 1)
        total = total + comb(n, j) * p**j * (1 - p) ** (n - j) * (j + m)
    return total / n
