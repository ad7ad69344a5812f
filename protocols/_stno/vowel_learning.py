"""How four coupled oscillators learn vowels: their dc currents tuned from measured frequency differences,
online, after each training vowel (the principle of Romera et al., Nature 563, 230 (2018)). Pure numpy,
no instruments: the protocol measures, these functions decide the next currents.

* Calibration: each oscillator's free-running frequency versus its dc current, a quadratic fit of peaks
  measured with the oscillator alone; it gives f_k(I) and df_k/dI.
* Initial placement: the currents that put the free-running frequencies where the design wants them
  (:mod:`labctl.protocols._stno.vowel_design`), from the calibration.
* Learning rule: an oscillator that should be locked to an input but is not moves toward it,
  dI_k = eta (f_in - f_k) / (df_k/dI); one locked to an input it should not follow moves away until it is
  `lock_range` from it, dI_k = -eta sign(f_in - f_k) (lock_range - |f_in - f_k|) / (df_k/dI).
  `lock_range` must exceed the real locking half-widths (about 6 MHz at -10 dBm mid-band, about 10 MHz
  near threshold, where the oscillation power is small), or the pushes stop short of unlocking. f_k is
  the oscillator's measured peak when it is free, its calibrated free-running frequency when it is locked.
  eta = learning_rate / epoch^decay, so the placement settles; currents stay within [i_min, i_max].
"""

from __future__ import annotations

import numpy as np

from labctl.protocols._stno.vowel_readout import N_OSC


class Calibration:
    """Free-running frequency of each oscillator vs its dc current: quadratic fits of measured peaks."""

    def __init__(self, currents: np.ndarray, frequencies: np.ndarray):
        self.currents, self.frequencies = np.asarray(currents, float), np.asarray(frequencies, float)
        self.coef = [np.polyfit(self.currents, f, 2) for f in self.frequencies]

    def frequency(self, currents) -> np.ndarray:
        return np.array([np.polyval(c, i) for c, i in zip(self.coef, currents, strict=True)])

    def slope(self, currents) -> np.ndarray:
        """df/dI (Hz/A), kept positive (the vortex frequency rises with current)."""
        s = np.array([np.polyval(np.polyder(c), i) for c, i in zip(self.coef, currents, strict=True)])
        return np.maximum(s, 1e9)


def currents_for(calibration: Calibration, frequencies, i_min: float, i_max: float) -> np.ndarray:
    """The currents within [i_min, i_max] that put the free-running frequencies at `frequencies` (4,) Hz,
    from the calibration (the nearest end where a frequency is out of reach)."""
    grid = np.linspace(i_min, i_max, 512)
    freqs = calibration.frequency(np.broadcast_to(grid, (N_OSC, len(grid))))
    return np.array([np.interp(w, np.maximum.accumulate(f), grid)
                     for w, f in zip(np.asarray(frequencies, float), freqs, strict=True)])


def epoch_rate(learning_rate: float, decay: float, epoch: int) -> float:
    """eta of an epoch: `learning_rate` / epoch^`decay` (epochs 0 and 1 at full rate)."""
    return learning_rate / max(epoch, 1) ** decay


def learning_step(sync: np.ndarray, target: np.ndarray, freqs: np.ndarray, f_in: tuple[float, float],
                  slope: np.ndarray, rate: float, lock_range: float) -> np.ndarray:
    """Current changes (4,) A of the learning rule (module docstring) for one presented vowel."""
    df = np.zeros(N_OSC)
    for j, f in enumerate(f_in):
        gap = f - freqs
        missing = target[:, j] & ~sync[:, j]
        df += np.where(missing, rate * gap, 0.0)
        wrong = sync[:, j] & ~target[:, j]
        away = np.where(gap != 0, -np.sign(gap), 1.0) * np.maximum(lock_range - np.abs(gap), 0.0)
        df += np.where(wrong, rate * away, 0.0)
    return df / slope


def next_currents(currents: np.ndarray, calibration: Calibration, sync: np.ndarray, target: np.ndarray,
                  freqs: np.ndarray, f_in: tuple[float, float], rate: float, lock_range: float,
                  i_min: float, i_max: float) -> np.ndarray:
    """The currents (4,) A after one presented vowel: `learning_step` from the measured map `sync` and
    frequencies `freqs` (locked oscillators counted at their calibrated free-running frequency), kept
    within [i_min, i_max]."""
    free = calibration.frequency(currents)
    d_i = learning_step(sync, target, np.where(sync.any(axis=1), free, freqs), f_in,
                        calibration.slope(currents), rate, lock_range)
    return np.clip(currents + d_i, i_min, i_max)
