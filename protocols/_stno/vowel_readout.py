"""What four coupled oscillators answer to a vowel: synchronization maps read from spectra, and the vowel
they stand for (Romera et al., Nature 563, 230 (2018), Fig. 3). Pure numpy, no instruments.

* The synchronization map is a 4 x 2 table of which oscillator is locked to which input (f_A, f_B), read
  from one spectrum: an input is locked when an emission peak sits on its frequency (within a tolerance);
  the oscillators locked there are found by attributing every peak to the oscillator whose free-running
  frequency (from a per-oscillator frequency-vs-current calibration) explains it best (`read_sync_map`;
  an oscillator with no peak of its own counts as hidden in the noise rather than locked more than
  `match` away from its free-running frequency). Locking itself is never decided here: it emerges in the oscillators'
  dynamics, we only read spectra, as in the lab.
* The classified vowel is the one whose target map is nearest (Hamming distance). Among equally near
  ones the target holding more of the measured locks wins: a lock is a positive observation (a peak
  exactly on an input), whereas an oscillator at the edge of its locking range slips in and out of lock
  with thermal noise, so a missing lock is the weaker evidence. A tie left after that is "unclassified".
* Target maps: each vowel has one oscillator (or none) that must lock to f_A and one (or none) that must
  lock to f_B; which ones is fitted on the training tokens (:mod:`labctl.protocols._stno.vowel_design`).
"""

from __future__ import annotations

import itertools

import numpy as np

from labctl.protocols._stno.spectra import separate_peaks

VOWELS = ("ae", "ah", "aw", "er", "iy", "uh", "uw")
N_OSC = 4
UNCLASSIFIED = -1
_STATES = np.array(list(itertools.product((0, 1, 2), repeat=N_OSC)))  # per oscillator: 0 free, 1 A, 2 B


def classify(sync_map: np.ndarray, targets: np.ndarray) -> int:
    """Index of the vowel whose target map (`targets`: (7, 4, 2) bool) is nearest the measured one
    (Hamming distance); among equally near ones, the one whose target holds more of the measured locks
    (fewer extra locks); UNCLASSIFIED if that still ties."""
    m = np.asarray(sync_map, bool)[None]
    extra = np.sum(m & ~targets, axis=(1, 2))
    score = (2 * N_OSC + 1) * np.sum(targets != m, axis=(1, 2)) + extra  # Hamming first; extra locks break ties
    best = np.flatnonzero(score == score.min())
    return int(best[0]) if len(best) == 1 else UNCLASSIFIED


def map_code(sync_map: np.ndarray) -> int:
    """The map as an integer: bit k = oscillator k locked to A, bit 4 + k = locked to B."""
    m = np.asarray(sync_map, bool)
    return int(np.sum(m[:, 0] << np.arange(N_OSC)) + np.sum(m[:, 1] << np.arange(N_OSC, 2 * N_OSC)))


def read_sync_map(peaks, f_a: float, f_b: float, free: np.ndarray, tolerance: float, match: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Synchronization map (4, 2) and the oscillators' frequencies (4,) from the peaks of one spectrum.

    An input is locked when a peak lies within `tolerance` of its frequency. Which oscillators are: the
    attribution (free / locked to A / locked to B for each oscillator) consistent with that which best
    explains the peaks: a locked oscillator costs its free-running frequency's distance to its input, a
    free one the distance to the nearest remaining peak (at most `match`), and a remaining peak that no
    free oscillator claims costs `match`. Frequencies: the claimed peak for free oscillators, the input's
    frequency for locked ones.
    """
    pf = np.array([p[0] for p in peaks], float)
    on_a, on_b = np.abs(pf - f_a) < tolerance, np.abs(pf - f_b) < tolerance
    locked_a, locked_b = bool(on_a.any()), bool(on_b.any())
    rest = pf[~(on_a | on_b)]
    states = _STATES[(np.any(_STATES == 1, axis=1) == locked_a) & (np.any(_STATES == 2, axis=1) == locked_b)]
    free = np.asarray(free, float)
    if rest.size:
        dist = np.abs(free[:, None] - rest[None, :])  # (4, n_rest)
        near = np.argmin(dist, axis=1)
        free_cost = np.minimum(dist.min(axis=1), match)
    else:
        near = np.full(N_OSC, -1)
        free_cost = np.full(N_OSC, match)
    cost = np.where(states == 1, np.abs(f_a - free), np.where(states == 2, np.abs(f_b - free), free_cost))
    total = cost.sum(axis=1)
    for s, row in enumerate(states):
        claimed = {int(near[k]) for k in range(N_OSC) if row[k] == 0 and free_cost[k] < match}
        total[s] += match * (rest.size - len(claimed))
    best = states[int(np.argmin(total))]
    sync = np.stack([best == 1, best == 2], axis=1)
    freqs = np.where(best == 1, f_a, np.where(best == 2, f_b, free))
    if rest.size:
        freqs = np.where((best == 0) & (free_cost < match), rest[near], freqs)
    return sync, freqs


def read_spectrum(frequencies, trace_dbm, f_a: float, f_b: float, free: np.ndarray, separation: float,
                  tolerance: float, match: float) -> tuple[np.ndarray, np.ndarray]:
    """`read_sync_map` of the separate peaks (at least `separation` Hz apart) of one spectrum."""
    found = separate_peaks(frequencies, trace_dbm, exclusion=separation, most=6)
    return read_sync_map(found, f_a, f_b, free, tolerance, match)
