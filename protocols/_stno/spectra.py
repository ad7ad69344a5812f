"""Reading oscillator spectra: peak frequency, power and -3 dB linewidth; separate peaks of several
oscillators. Shared by the STNO protocols and their figures."""

from __future__ import annotations

import numpy as np


def peak(frequencies, trace_dbm, within=None) -> tuple[float, float, float]:
    """(frequency Hz, power dBm, -3 dB full width Hz) of the highest point (optionally among the
    boolean mask `within`), the frequency refined by a parabola through the top three points."""
    f = np.asarray(frequencies, float)
    trace = np.asarray(trace_dbm, float)
    masked = trace if within is None else np.where(within, trace, -np.inf)
    i = int(np.argmax(masked))
    df = f[1] - f[0]
    f_peak = f[i]
    if 0 < i < len(trace) - 1:
        y0, y1, y2 = trace[i - 1:i + 2]
        den = y0 - 2 * y1 + y2
        if den < 0:
            f_peak += 0.5 * (y0 - y2) / den * df
    above = trace >= trace[i] - 3.0103
    lo = i
    while lo > 0 and above[lo - 1]:
        lo -= 1
    hi = i
    while hi < len(trace) - 1 and above[hi + 1]:
        hi += 1
    return float(f_peak), float(trace[i]), float(f[hi] - f[lo] + df)


def separate_peaks(frequencies, trace_dbm, exclusion: float, within_db: float = 15.0,
                   prominence_db: float = 10.0, most: int = 4) -> list[tuple[float, float, float]]:
    """Peaks (as `peak` gives them, strongest first) at least `exclusion` Hz apart, within `within_db`
    of the strongest and `prominence_db` above the trace's median (the noise floor)."""
    f = np.asarray(frequencies, float)
    trace = np.asarray(trace_dbm, float)
    floor = np.median(trace)
    free = np.ones(len(f), bool)
    found: list[tuple[float, float, float]] = []
    while len(found) < most and free.any():
        p = peak(f, trace, within=free)
        if p[1] < floor + prominence_db or (found and p[1] < found[0][1] - within_db):
            break
        found.append(p)
        free &= np.abs(f - p[0]) > exclusion
    return found

