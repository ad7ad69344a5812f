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
