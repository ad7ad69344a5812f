"""Figures of a run: the protocol's own figure if it registered one, else one per NXdata group."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from labctl.results import Data, Field, Run

MAX_MAPS = 4
MAX_LINES = 8
MAX_TITLE = 70


def _x(axis: Field | None, n: int) -> tuple[np.ndarray, str]:
    if axis is None or axis.values.shape != (n,):
        return np.arange(n), "index"
    return axis.values, axis.label


def _monotonic(v: np.ndarray) -> bool:
    d = np.diff(v)
    return v.size > 1 and np.all(np.isfinite(v)) and (np.all(d > 0) or np.all(d < 0))


def plot_data(data: Data, title: str = ""):
    """A matplotlib Figure for one NXdata group, chosen by the signal's dimensionality."""
    import matplotlib.pyplot as plt

    sig = data.signal
    vals = np.asarray(sig.values)
    if vals.ndim == 1:
        signals = [sig, *data.auxiliary]
        fig, axs = plt.subplots(len(signals), 1, sharex=True, squeeze=False,
                                figsize=(6.4, 2.2 + 1.6 * len(signals)), layout="constrained")
        x, xlabel = _x(data.axes[0], len(vals))
        for ax, s in zip(axs[:, 0], signals, strict=True):
            ax.plot(x, s.values, ".-", ms=3)
            ax.set_ylabel(s.label)
            ax.grid(True, alpha=0.3)
        axs[-1, 0].set_xlabel(xlabel)
    elif vals.ndim == 2 and vals.shape[0] <= MAX_LINES:  # a few traces: overlay them
        fig, ax = plt.subplots(layout="constrained")
        x, xlabel = _x(data.axes[1], vals.shape[1])
        index = data.axes[0]
        for k, row in enumerate(vals):
            label = f"{index.name} = {index.values[k]:.4g} {index.units}" if index else f"#{k}"
            ax.plot(x, row, label=label.rstrip())
        ax.set(xlabel=xlabel, ylabel=sig.label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    elif vals.ndim == 2:
        fig, ax = plt.subplots(layout="constrained")
        y, ylabel = _x(data.axes[0], vals.shape[0])
        x, xlabel = _x(data.axes[1], vals.shape[1])
        if _monotonic(x) and _monotonic(y):
            mesh = ax.pcolormesh(x, y, vals, shading="nearest")
        else:
            mesh = ax.imshow(vals, aspect="auto", origin="lower")
            xlabel, ylabel = "index", "record"
        ax.set(xlabel=xlabel, ylabel=ylabel)
        fig.colorbar(mesh, ax=ax, label=sig.label)
    else:  # a stack of maps: show a few records
        n = vals.shape[0]
        picks = sorted(set(np.linspace(0, n - 1, min(n, MAX_MAPS)).round().astype(int)))
        fig, axs = plt.subplots(1, max(1, len(picks)), squeeze=False,
                                figsize=(3.2 * max(1, len(picks)), 3.2), layout="constrained")
        for ax, k in zip(axs[0], picks, strict=False):
            im = ax.imshow(vals[k].reshape(vals.shape[1], -1), origin="lower")
            ax.set_title(f"record {k + 1}/{n}", fontsize=9)
            if vals.ndim == 3:
                ax.set_xlabel(_x(data.axes[2], vals.shape[2])[1])
        if vals.ndim == 3:
            axs[0, 0].set_ylabel(_x(data.axes[1], vals.shape[1])[1])
        if picks:
            fig.colorbar(im, ax=axs[0].tolist(), label=sig.label)
        else:
            axs[0, 0].text(0.5, 0.5, "no records", ha="center")
    title = title or data.name
    fig.suptitle(title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 3] + "...")
    return fig


def run_figures(run: Run, protocol_cls=None) -> dict[str, object]:
    """``name -> Figure``: the protocol's figure when it gives one, else every NXdata group."""
    if protocol_cls is not None:
        try:
            fig = protocol_cls.figure(run)
        except Exception as exc:  # e.g. a run aborted before its data made sense: still plot it
            warnings.warn(f"{protocol_cls.__name__}.figure failed ({type(exc).__name__}: {exc}); "
                          "plotting every NXdata instead", stacklevel=2)
            fig = None
        if fig is not None:
            return {"figure": fig}
    return {name: plot_data(run.data(name), f"{name} ({run.status}): {run.title}")
            for name in run.data_names}


def save_figures(run: Run, out_dir: str | Path, protocol_cls=None, stem: str = "") -> list[Path]:
    """Write every figure of ``run`` as PNG into ``out_dir``; returns the paths.

    The session's matplotlib backend is left as it is (a notebook keeps its inline figures, a
    desktop session its windows); the figures are drawn with interactive mode off and closed once
    saved, so none pops up. Command-line tools choose a non-interactive backend themselves.
    """
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or run.path.stem
    paths = []
    with plt.ioff():
        for name, fig in run_figures(run, protocol_cls).items():
            path = out_dir / f"{stem}_{run.entry_name}_{name}.png"
            try:
                fig.savefig(path, dpi=110)
            finally:
                plt.close(fig)
            paths.append(path)
    return paths


def use_file_backend() -> None:
    """For command-line tools: draw into files only (Agg), unless pyplot is already in use."""
    import sys

    if "matplotlib.pyplot" not in sys.modules:
        import matplotlib

        matplotlib.use("Agg")
