"""Figures of the STNO protocols for `labctl plot`."""

from __future__ import annotations

import numpy as np

from labctl.plotting import legend_below


def spectra_figure(run, sweep: str, scale: float, label: str, second: str = ""):
    """Spectral map (frequency vs the swept quantity) with the peak frequency and power beside it
    (and the second peak's frequency, column ``second``, where the run records one), legend below."""
    import matplotlib.pyplot as plt

    data = run.data("spectrum")
    x = data.axes[0].values * scale
    f = data.axes[1].values / 1e6
    fig, (ax_map, ax_f) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    mesh = ax_map.pcolormesh(x, f, data.signal.values.T, shading="nearest", cmap="magma")
    fig.colorbar(mesh, ax=ax_map, label="Power (dBm)")
    ax_map.set_xlabel(label)
    ax_map.set_ylabel("Frequency (MHz)")
    pts = run[sweep].values * scale
    lines = ax_f.plot(pts, run["peak_frequency"].values / 1e6, "o-", ms=3, color="C0",
                      label="peak frequency (left axis)")
    if second:
        lines += ax_f.plot(pts, run[second].values / 1e6, "o", ms=3, color="C0", mfc="none",
                           label="second peak, while two oscillate apart (left axis)")
    ax_f.set_xlabel(label)
    ax_f.set_ylabel("Peak frequency (MHz)", color="C0")
    ax_p = ax_f.twinx()
    lines += ax_p.plot(pts, run["peak_power"].values, "s-", ms=3, color="C3", label="peak power (right axis)")
    ax_p.set_ylabel("Peak power (dBm)", color="C3")
    ax_f.grid(True, alpha=0.3)
    legend_below(ax_f, lines, ncol=2 if second else 3)
    fig.suptitle(f"{run.title} ({run.status})")
    return fig


def tongue_figure(run, halfwidths):
    """Arnold tongue (locked region in the rf frequency x rf amplitude plane) and the linear fit of
    the locking half-width versus rf amplitude. `halfwidths` = (amplitudes V, half-widths Hz, fit)."""
    import matplotlib.pyplot as plt

    f_rf = run["rf_frequency"].values / 1e6
    amp = run["rf_amplitude"].values * 1e3
    pull = (run["peak_frequency"].values - run["rf_frequency"].values) / 1e6
    fig, (ax_t, ax_w) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    sc = ax_t.scatter(f_rf, amp, c=pull, cmap="coolwarm", s=18, vmin=-np.nanmax(np.abs(pull)),
                      vmax=np.nanmax(np.abs(pull)))
    locked = run["locked"].values > 0.5
    ax_t.plot(f_rf[locked], amp[locked], "k.", ms=3, label="locked (peak on the rf frequency)")
    fig.colorbar(sc, ax=ax_t, label="f_osc - f_rf (MHz)")
    ax_t.set_xlabel("RF frequency (MHz)")
    ax_t.set_ylabel("RF amplitude on 50 ohm (mV)")
    legend_below(ax_t)
    a, hw, (slope, intercept) = halfwidths
    ax_w.plot(a * 1e3, hw / 1e6, "o", label="measured")
    xs = np.linspace(0, a.max() * 1.05, 50)
    ax_w.plot(xs * 1e3, (slope * xs + intercept) / 1e6, "-",
              label=f"linear fit (Adler): {slope / 1e6 * 1e-3:.3g} MHz/mV, {intercept / 1e6:+.2g} MHz at 0")
    ax_w.set_xlabel("RF amplitude on 50 ohm (mV)")
    ax_w.set_ylabel("Locking half-width (MHz)")
    ax_w.set_xlim(left=0)
    ax_w.set_ylim(bottom=0)
    legend_below(ax_w, ncol=1)
    ax_w.grid(True, alpha=0.3)
    fig.suptitle(f"{run.title} ({run.status})")
    return fig
