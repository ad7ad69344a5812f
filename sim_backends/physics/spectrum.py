"""What a swept spectrum analyzer displays for a complex voltage envelope on its 50 ohm input.

The analyzer's resolution-bandwidth (RBW) filter is Gaussian (as in swept analyzers such as the Agilent
E4400 ESA series). Its output power at centre frequency f equals the power of the input passed through the
filter; in the time domain that is a windowed Fourier transform with the Gaussian window
w(t) = exp(-t^2 / 2 tau^2), whose power response |W(f)|^2 has FWHM = sqrt(ln 2) / (pi tau) = RBW. Hence:

    P(f) = |sum_n v_n w_n exp(2 pi i (f - f_ref) t_n) dt|^2 / |sum_n w_n dt|^2 / (2 Z0)

shows a pure tone of amplitude |v| at exactly |v|^2 / 2 Z0, and white noise of density S at S x ENBW with
ENBW = sum w^2 / (dt (sum w)^2) = 1.065 RBW. Records longer than one window are cut into 50 %-overlapping
windows and averaged (Welch), as are independent realizations and video averages. The displayed average
noise level (DANL) is added as exponentially distributed power (one sample per point per sweep), averaged
over the sweeps. Powers are returned in dBm. Spectral content outside the envelope's sampled band
(f_ref +- 1/(2 dt)) is not represented; `max_sample_interval` gives the dt that covers a span.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_WINDOW_SIGMAS = 3.0  # the Gaussian window is cut at +- 3 tau (leakage below -40 dB)
_FFT_VALUES = 1 << 20  # complex values one FFT pass may hold: windows are transformed in groups
_FFT_WORK = 1 << 23  # complex values all the windows of one trace may transform together


@dataclass(frozen=True)
class AnalyzerSettings:
    """Sweep settings: start/stop (Hz), points, RBW (Hz), video averages, DANL (dBm/Hz), input impedance."""

    start: float
    stop: float
    points: int = 1001
    rbw: float = 1e6
    averages: int = 1
    danl_dbm_per_hz: float = -150.0
    impedance: float = 50.0

    @property
    def frequencies(self) -> np.ndarray:
        return np.linspace(self.start, self.stop, self.points)

    @property
    def noise_floor_w(self) -> float:
        """Mean displayed noise power (W) in one RBW."""
        return 1e-3 * 10 ** (self.danl_dbm_per_hz / 10) * enbw(self.rbw)


def window_tau(rbw: float) -> float:
    """Gaussian window time constant (s) whose power response has FWHM = rbw."""
    return np.sqrt(np.log(2)) / (np.pi * rbw)


def enbw(rbw: float) -> float:
    """Equivalent noise bandwidth (Hz) of the Gaussian RBW filter."""
    return rbw * np.pi / (2 * np.sqrt(np.pi * np.log(2)))


def window_duration(rbw: float) -> float:
    """Record length (s) one RBW window needs: what a caller must simulate per spectrum."""
    return 2 * _WINDOW_SIGMAS * window_tau(rbw)


def max_sample_interval(settings: AnalyzerSettings, f_ref: float) -> float:
    """Largest envelope sampling step (s) whose band f_ref +- 1/(2 dt) covers the whole span."""
    half_band = max(abs(settings.start - f_ref), abs(settings.stop - f_ref), settings.rbw) * 1.1
    return 1.0 / (2.0 * half_band)


def to_dbm(power_w):
    return 10.0 * np.log10(np.maximum(power_w, 1e-30) / 1e-3)


def signal_power(envelope: np.ndarray, dt: float, f_ref: float, settings: AnalyzerSettings
                 ) -> np.ndarray:
    """Noise-free filter output power (W) of the envelope (n,) or (n, R) at the settings' frequencies."""
    x = np.asarray(envelope)
    x = x.reshape(len(x), -1)
    n = len(x)
    tau = window_tau(settings.rbw)
    length = min(n, int(np.ceil(2 * _WINDOW_SIGMAS * tau / dt)) + 1)
    hop = max(length // 2, 1)
    starts = np.arange(0, n - length + 1, hop)
    t = (np.arange(length) - (length - 1) / 2) * dt
    w = np.exp(-0.5 * (t / tau) ** 2)
    segments = np.stack([x[s:s + length] for s in starts], axis=1)  # (length, n_seg, R)
    segments = np.conj(segments.reshape(length, -1)) * w[:, None]  # conj: c ~ exp(-i w t) -> +f
    resolution = min(settings.rbw / 5, abs(settings.stop - settings.start) / max(settings.points - 1, 1))
    # the grid resolves the RBW filter (rbw / 5) always, the point spacing as far as bounded work allows
    n_rbw = max(length, 1.0 / (dt * max(settings.rbw / 5, 1.0)))
    n_points = max(length, 1.0 / (dt * max(resolution, 1.0)))
    n_want = max(n_rbw, min(n_points, _FFT_WORK / segments.shape[1]))
    n_fft = min(1 << int(np.ceil(np.log2(n_want))), 1 << 20)
    total = np.zeros(n_fft)
    group = max(1, _FFT_VALUES // n_fft)
    for first in range(0, segments.shape[1], group):
        spec = np.fft.fftshift(np.fft.fft(segments[:, first:first + group], n=n_fft, axis=0), axes=0)
        total += np.sum(np.abs(spec) ** 2, axis=1)
    power = total / segments.shape[1] / (np.sum(w) ** 2) / (2 * settings.impedance)
    grid = f_ref + np.fft.fftshift(np.fft.fftfreq(n_fft, dt))
    return np.interp(settings.frequencies, grid, power, left=0.0, right=0.0)


def displayed_noise(settings: AnalyzerSettings, rng) -> np.ndarray:
    """The analyzer's own noise (W, settings.points values): exponential power per point and sweep,
    averaged over `averages` sweeps. What an idle input shows."""
    rng = np.random.default_rng(rng)
    return settings.noise_floor_w * rng.gamma(settings.averages, 1.0 / settings.averages, settings.points)


def analyzer_trace(envelope: np.ndarray, dt: float, f_ref: float, settings: AnalyzerSettings,
                   rng) -> np.ndarray:
    """Displayed trace (dBm, settings.points values): filtered signal power plus averaged DANL noise."""
    return to_dbm(signal_power(envelope, dt, f_ref, settings) + displayed_noise(settings, rng))
