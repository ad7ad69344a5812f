"""Hamming SEC and Hsiao SECDED codes of the 1T1R + ECC versus 2T2R comparison (pure numpy)."""

import numpy as np
import pytest

from labctl.protocols._rram.ecc import (
    CODES,
    CORRECTED,
    DETECTED,
    NO_ERROR,
    HammingCode,
    corrected_errors,
    expected_ber,
)

SECDED = [CODES[name] for name in ("(22,16) SECDED", "(39,32) SECDED", "(72,64) SECDED")]
ALL = list(CODES.values())


@pytest.mark.parametrize("k, secded, n", [(16, True, 22), (32, True, 39), (64, True, 72),
                                          (16, False, 21), (32, False, 38), (64, False, 71),
                                          (4, False, 7), (8, True, 13)])
def test_word_sizes_and_overhead(k, secded, n):
    code = HammingCode(k, secded)
    assert (code.n, code.k) == (n, k)
    assert code.overhead == pytest.approx((n - k) / k)
    # columns of H are distinct and non-zero: every single error has its own syndrome
    cols = code.check_matrix.T
    assert len({c.tobytes() for c in cols}) == n and cols.any(axis=1).all()
    if secded:
        assert np.all(cols.sum(axis=1) % 2 == 1)  # Hsiao: odd-weight columns


@pytest.mark.parametrize("code", ALL, ids=lambda c: c.name)
def test_every_single_error_is_corrected(code):
    rng = np.random.default_rng(0)
    data = rng.random((code.n, code.k)) < 0.5
    words = code.encode(data)
    assert words.shape == (code.n, code.n)
    assert np.array_equal(words[:, :code.k], data)  # systematic
    assert np.all(code.syndrome(words) == 0)
    decoded, status = code.decode(words)
    assert np.array_equal(decoded, data) and np.all(status == NO_ERROR)
    flipped = words ^ np.eye(code.n, dtype=np.uint8)  # word i has bit i wrong
    decoded, status = code.decode(flipped)
    assert np.array_equal(decoded, data) and np.all(status == CORRECTED)


@pytest.mark.parametrize("code", SECDED, ids=lambda c: c.name)
def test_secded_detects_every_double_error_and_never_miscorrects_it(code):
    i, j = np.triu_indices(code.n, 1)
    errors = np.zeros((i.size, code.n), np.uint8)
    errors[np.arange(i.size), i] = 1
    errors[np.arange(i.size), j] = 1
    data = np.random.default_rng(1).random((i.size, code.k)) < 0.5
    corrected, status = code.correct(code.encode(data) ^ errors)
    assert np.all(status == DETECTED)
    assert np.array_equal(corrected, code.encode(data) ^ errors)  # left as read
    assert code.miscorrection_pairs == 0.0


def test_sec_miscorrects_most_double_errors():
    code = CODES["(38,32) SEC"]
    rng = np.random.default_rng(2)
    data = rng.random((500, code.k)) < 0.5
    errors = np.zeros((500, code.n), np.uint8)
    for row in range(500):
        errors[row, rng.choice(code.n, 2, replace=False)] = 1
    decoded, status = code.decode(code.encode(data) ^ errors)
    assert np.all(status != NO_ERROR)
    wrong = (decoded != data).any(axis=1)
    assert wrong.mean() > 0.9  # two errors are never repaired by a single-error code
    assert np.mean(status == CORRECTED) == pytest.approx(code.miscorrection_pairs, abs=0.06)


@pytest.mark.parametrize("code", [CODES["(72,64) SECDED"], CODES["(21,16) SEC"]],
                         ids=lambda c: c.name)
def test_decoding_error_maps_equals_decoding_stored_words(code):
    """Linear code: the data errors left depend on the error pattern only, not on the data."""
    rng = np.random.default_rng(3)
    raw = rng.random((64, 4 * code.n)) < 0.02
    result = corrected_errors(code, raw)
    data = rng.random((64 * 4, code.k)) < 0.5
    decoded, _ = code.decode(code.encode(data) ^ raw.reshape(-1, code.n))
    assert result.errors == int((decoded != data).sum())
    assert result.words == 256 and result.data_bits == 256 * code.k
    assert result.raw_errors == int(raw.sum())
    assert result.devices_per_bit == pytest.approx(code.n / code.k)
    assert result.errors < result.raw_errors


@pytest.mark.parametrize("code", ALL, ids=lambda c: c.name)
def test_post_correction_ber_of_independent_errors(code):
    rng = np.random.default_rng(4)
    p = 1e-2
    result = corrected_errors(code, rng.random((3000, 10 * code.n)) < p)
    assert result.raw_ber == pytest.approx(p, rel=0.05)
    assert result.ber == pytest.approx(float(expected_ber(code, p)), rel=0.12)
    # a single-error code turns a raw BER p into about (n - 1) p^2 (or 3/2 of it for SEC)
    assert float(expected_ber(code, 1e-3)) < 0.1 * 1e-3
    assert float(expected_ber(code, 1e-4)) < (1.6 if not code.secded else 1.1) * code.n * 1e-8
    if code.secded:
        assert result.detected > 0


def test_longer_words_cost_less_storage_but_correct_less():
    short, long_ = CODES["(22,16) SECDED"], CODES["(72,64) SECDED"]
    assert long_.overhead < short.overhead
    assert expected_ber(long_, 1e-3) > expected_ber(short, 1e-3)


def test_bad_shapes_are_refused():
    code = CODES["(39,32) SECDED"]
    with pytest.raises(ValueError, match="32 bits"):
        code.encode(np.zeros(31))
    with pytest.raises(ValueError, match="39 bits"):
        code.decode(np.zeros((2, 40)))
    with pytest.raises(ValueError, match="no 39-bit word"):
        corrected_errors(code, np.zeros((4, 20), bool))
    with pytest.raises(ValueError):
        HammingCode(0)
