"""Figure pieces shared by the RRAM protocols: bit maps of the die and resistance histograms."""

from __future__ import annotations

import numpy as np


def bit_map(ax, values, title, cmap="viridis", **kwargs):
    im = ax.imshow(values, origin="upper", cmap=cmap, interpolation="nearest", **kwargs)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    return im


def log_histogram(ax, values, label, bins=40):
    values = np.asarray(values, float)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size:
        edges = np.logspace(np.log10(values.min()), np.log10(values.max()) + 1e-9, bins)
        ax.hist(values, bins=edges, histtype="step", label=label)
    ax.set_xscale("log")


def rate_plot(ax, x, errors, bits, style="o-", label=None, color=None, dodge=1.0, **kwargs):
    """Bit-error rates ``errors / bits`` against ``x`` on a log axis, with their 95 % intervals
    (those the run file records) as error bars.  A condition with no error is an upper bound, not a
    point: an open marker at the interval's high end with a downward arrow, left out of the line;
    ``dodge`` multiplies its x so that equal bounds of several series stay visible side by side.
    Returns the colour used."""
    from labctl.protocols._rram.statistics import interval

    x, k, n = (np.atleast_1d(np.asarray(v, float)) for v in (x, errors, bits))
    order = np.argsort(x, kind="stable")
    x, k, n = x[order], k[order], n[order]
    valid = np.isfinite(k) & np.isfinite(n) & (n > 0)
    seen, zero = valid & (k > 0), valid & (k == 0)
    rate = np.where(seen, k / np.where(valid, n, 1), np.nan)
    low, high = (np.atleast_1d(v) for v in interval(np.where(valid, k, 0), np.where(valid, n, 1)))
    (line,) = ax.plot(x[seen], rate[seen], style, label=label, color=color, **kwargs)
    color = line.get_color()
    if seen.any():
        ax.errorbar(x[seen], rate[seen], yerr=[rate[seen] - low[seen], high[seen] - rate[seen]],
                    fmt="none", ecolor=color, elinewidth=1, capsize=2)
    if zero.any():
        xz, bound = x[zero] * dodge, high[zero]
        ax.errorbar(xz, bound, yerr=0.6 * bound, uplims=True, fmt="none", ecolor=color,
                    elinewidth=1)
        ax.plot(xz, bound, line.get_marker() or "o", ls="none", mfc="white", mec=color)
    ax.set_yscale("log")
    return color


def log_ticks_125(ax, axis="x"):
    """Label a log axis at 1, 2 and 5 of each decade (energies span less than a decade or two)."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

    a = getattr(ax, f"{axis}axis")
    a.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    a.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=False))
    a.set_minor_formatter(NullFormatter())


def upper_bound_legend(ax, **kwargs):
    """Legend with an entry explaining the open markers with arrows (no error seen)."""
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], ls="none", marker="v", mfc="white", mec="gray"))
    labels.append("no error: high end of the 95 % interval")
    ax.legend(handles, labels, **kwargs)
