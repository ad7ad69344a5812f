"""Where the oscillators start and which synchronization map stands for which vowel, fitted on the
training tokens only. Pure numpy, no instruments.

The fit uses an idealized picture of the chip, only to choose a starting point that the learning rule then
refines on the real oscillators: each oscillator k at its free-running frequency f_k locks an input within
`halfwidth` of it (the nearest oscillator takes the input); an oscillator reached by both inputs follows
the nearer one. A vowel's target is one oscillator (or none) on f_A and one (or none) on f_B, as in
`labctl.protocols._stno.vowel_readout`. For a placement f_1 < ... < f_4 in the band, every training token
gives such a pair; the seven targets are the distinct pairs that the most training tokens of each vowel
give (an assignment problem), and the placement is the one whose targets classify the most training
tokens with the protocol's readout (nearest target), searched from seeded random placements by coordinate
ascent (`fit_designs`). Nothing here decides a lock during the experiment: the maps are read from spectra.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import linear_sum_assignment

from labctl.protocols._stno.vowel_readout import N_OSC, VOWELS, classify

#: Every (oscillator on A, oscillator on B) pair, -1 = none; one oscillator cannot hold both inputs.
PAIRS = np.array([(a, b) for a, b in itertools.product(range(-1, N_OSC), repeat=2) if a < 0 or a != b])


def pair_maps(pairs: np.ndarray = PAIRS) -> np.ndarray:
    """(P, 4, 2) bool synchronization maps of (A oscillator, B oscillator) pairs."""
    maps = np.zeros((len(pairs), N_OSC, 2), bool)
    for i, (a, b) in enumerate(pairs):
        if a >= 0:
            maps[i, a, 0] = True
        if b >= 0:
            maps[i, b, 1] = True
    return maps


_PAIR_CODE = (PAIRS[:, 0] + 1) * (N_OSC + 1) + (PAIRS[:, 1] + 1)
_CODE_TO_PAIR = np.full((N_OSC + 1) ** 2, -1)
_CODE_TO_PAIR[_PAIR_CODE] = np.arange(len(PAIRS))


def idealized_pairs(f_a: np.ndarray, f_b: np.ndarray, placement: np.ndarray, halfwidth: float) -> np.ndarray:
    """Index into `PAIRS` of each token's idealized map (module docstring) for oscillators at `placement`."""
    placement = np.asarray(placement, float)
    d_a, d_b = np.abs(f_a[:, None] - placement), np.abs(f_b[:, None] - placement)
    a, b = np.argmin(d_a, axis=1), np.argmin(d_b, axis=1)
    dist_a, dist_b = d_a[np.arange(len(a)), a], d_b[np.arange(len(b)), b]
    a = np.where(dist_a < halfwidth, a, -1)
    b = np.where(dist_b < halfwidth, b, -1)
    shared = (a >= 0) & (a == b)
    a = np.where(shared & (dist_a > dist_b), -1, a)
    b = np.where(shared & (dist_a <= dist_b), -1, b)
    return _CODE_TO_PAIR[(a + 1) * (N_OSC + 1) + (b + 1)]


def _targets_for(pairs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """(target pair index per vowel, training accuracy with the nearest-target readout)."""
    n_v = len(VOWELS)
    counts = np.zeros((n_v, len(PAIRS)))
    np.add.at(counts, (labels, pairs), 1)
    rows, cols = linear_sum_assignment(-counts)
    chosen = cols[np.argsort(rows)]
    maps = pair_maps(PAIRS[chosen])
    used = np.flatnonzero(counts.sum(axis=0))
    decided = np.array([classify(m, maps) for m in pair_maps(PAIRS[used])])
    hits = sum(counts[v, p] for v, p in zip(decided, used, strict=True) if v >= 0)
    return chosen, hits / len(labels)


def design_at(f_a: np.ndarray, f_b: np.ndarray, labels: np.ndarray, placement: np.ndarray, halfwidth: float
              ) -> tuple[np.ndarray, float]:
    """(target maps (7, 4, 2) bool, idealized training accuracy) of oscillators at `placement` (Hz)."""
    chosen, acc = _targets_for(idealized_pairs(f_a, f_b, placement, halfwidth), np.asarray(labels, int))
    return pair_maps(PAIRS[chosen]), acc


def fit_designs(f_a: np.ndarray, f_b: np.ndarray, labels: np.ndarray, band: tuple[float, float],
                halfwidth: float, seed: int, count: int = 1, distance: float = 5e6, candidates: int = 600,
                starts: int = 8, step: float = 0.5e6) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The `count` best designs, best first, each (placement (4,) Hz, target maps (7, 4, 2) bool, idealized
    training accuracy), from the training tokens' input frequencies `f_a`, `f_b` and vowel indices `labels`
    (module docstring). Two designs differ by more than `distance` for at least one oscillator.

    Search: the even spread and `candidates` seeded random placements; from the `starts` best distinct
    ones, coordinate ascent (each oscillator in turn to its best position on a `step` grid of the band,
    the others held) until no move helps. The accuracy is piecewise constant in the placement, with many
    local optima: local moves around one random point do not reach the best placement reliably.
    """
    rng = np.random.default_rng(seed)
    low, high = band
    f_a, f_b, labels = np.asarray(f_a, float), np.asarray(f_b, float), np.asarray(labels, int)
    seen: dict[tuple, tuple[float, np.ndarray, np.ndarray]] = {}

    def score(placement) -> float:
        placement = np.sort(np.clip(placement, low, high))
        key = tuple(np.round(placement / 1e3).astype(int))  # kHz: the same design seen again
        if key not in seen:
            chosen, acc = _targets_for(idealized_pairs(f_a, f_b, placement, halfwidth), labels)
            seen[key] = (acc, placement, chosen)
        return seen[key][0]

    def distinct(ranked, n):
        kept = []
        for acc, placement, chosen in ranked:
            if all(np.max(np.abs(placement - other[1])) > distance for other in kept):
                kept.append((acc, placement, chosen))
            if len(kept) == n:
                break
        return kept

    def ranked():
        return sorted(seen.values(), key=lambda d: -d[0])  # stable: ties keep the order found

    score(low + (np.arange(N_OSC) + 0.5) / N_OSC * (high - low))  # the even spread first
    for _ in range(candidates):
        score(rng.uniform(low, high, N_OSC))
    grid = np.arange(low, high + step / 2, step)
    for _, start, _ in distinct(ranked(), starts):
        placement, best = start.copy(), score(start)
        improved = True
        while improved:
            improved = False
            for k in range(N_OSC):
                trial = np.repeat(placement[None], len(grid), axis=0)
                trial[:, k] = grid
                accs = np.array([score(t) for t in trial])
                if accs.max() > best:
                    best, placement = float(accs.max()), trial[int(np.argmax(accs))]
                    improved = True
    return [(placement, pair_maps(PAIRS[chosen]), acc) for acc, placement, chosen in distinct(ranked(), count)]


def fit_design(f_a: np.ndarray, f_b: np.ndarray, labels: np.ndarray, band: tuple[float, float],
               halfwidth: float, seed: int, **search) -> tuple[np.ndarray, np.ndarray, float]:
    """The best design of `fit_designs`: (placement (4,) Hz, target maps (7, 4, 2) bool, idealized training
    accuracy)."""
    return fit_designs(f_a, f_b, labels, band, halfwidth, seed, **search)[0]
