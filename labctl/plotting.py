"""Figures of a run: the protocol's own figure if it registered one, else one per NXdata group."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from labctl.results import Data, Field, Run
from labctl.units import takes_prefix

MAX_MAPS = 4
MAX_LINES = 8
MAX_TITLE = 70



def legend_below(ax, handles=None, labels=None, ncol: int | None = None, **kwargs):
    """A legend under the axes, outside them: it never covers data, however many series there are
    (constrained layout makes room for it)."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    elif labels is None:
        labels = [h.get_label() for h in handles]
    if not handles:
        return None
    ncol = ncol or min(len(handles), 3)
    kwargs.setdefault("fontsize", 8)
    return ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol,
                     frameon=False, **kwargs)


def integral(values) -> bool:
    """Whether every finite value is a whole number (counts, codes, flags): such colour bars get
    whole-number ticks, and few distinct values one colour each."""
    v = np.asarray(values)
    if v.dtype.kind in "iub":
        return True
    if v.dtype.kind != "f":
        return False
    finite = v[np.isfinite(v)]
    return finite.size > 0 and bool(np.all(finite == np.round(finite)))


def color_scale(values, cmap=None):
    """``(cmap, norm)`` for an image of ``values``, one scale for every frame drawn from them:
    whole-number values in a range of at most 12 get a colour each (0, 1 or 2 errors read as three
    colours, not as a ramp), others a linear scale over their finite range."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, Normalize

    v = np.asarray(values, float)
    finite = v[np.isfinite(v)]
    if not finite.size:
        return plt.get_cmap(cmap), None
    lo, hi = float(finite.min()), float(finite.max())
    if integral(values) and hi - lo < 12:
        scale = plt.get_cmap(cmap, int(hi - lo) + 1)
        return scale, BoundaryNorm(np.arange(lo - 0.5, hi + 1.5), scale.N)
    return plt.get_cmap(cmap), Normalize(lo, hi if hi > lo else lo + 1)


def colorbar(fig, mappable, values, **kwargs):
    """A colour bar whose ticks are whole numbers when ``values`` are (counts, codes, flags)."""
    from matplotlib.ticker import MaxNLocator

    bar = fig.colorbar(mappable, **kwargs)
    if integral(values):
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    return bar


def label_axis(axis, field: Field | None, fallback: str = "index") -> None:
    """Label a matplotlib axis (``ax.xaxis``) for ``field``: units with SI prefixes on the ticks where
    they scale (Hz, V, A, ...: :func:`labctl.units.takes_prefix`; ``330 MHz`` rather than an offset or
    a power of ten beside the axis that a reader misses), else ``long name (units)``."""
    if field is None:
        axis.set_label_text(fallback)
        return
    if takes_prefix(field.units) and axis.get_scale() == "linear":
        from matplotlib.ticker import EngFormatter, MaxNLocator

        axis.set_major_locator(MaxNLocator(nbins=5))  # prefixed labels are long: fewer of them
        axis.set_major_formatter(EngFormatter(unit=field.units))
        axis.set_label_text(field.long_name or field.name)
    else:
        axis.set_label_text(field.label)


def _x(axis: Field | None, n: int) -> tuple[np.ndarray, str]:
    if axis is None or axis.values.shape != (n,):
        return np.arange(n), "index"
    return axis.values, axis.label


def _monotonic(v: np.ndarray) -> bool:
    d = np.diff(v)
    return v.size > 1 and np.all(np.isfinite(v)) and (np.all(d > 0) or np.all(d < 0))


def error_bars(data: Data, sig: Field) -> np.ndarray | None:
    """Error bars of a signal: its confidence interval (asymmetric) when recorded, else its
    NeXus ``*_errors`` (symmetric), else None."""
    interval = data.interval(sig.name)
    if interval is not None:
        lo, hi = interval
        v = np.asarray(sig.values, float)
        return np.array([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)])
    err = data.errors.get(sig.name)
    return None if err is None else np.asarray(err.values, float)


def rate_errorbar(ax, x, cols: dict[str, Field], name: str, fmt: str = "o-", floor: float = 0.0, **kwargs):
    """Draw rate ``name`` of flat columns ``cols`` against ``x`` with its 95 % interval as error
    bars (when recorded); values below ``floor`` (zero errors on a log axis) are drawn at it."""
    y = np.maximum(np.asarray(cols[name].values, float), floor)
    lo, hi = cols.get(f"{name}_ci_low"), cols.get(f"{name}_ci_high")
    if lo is None or hi is None:
        return ax.plot(x, y, fmt, **kwargs)
    lower = y - np.clip(np.maximum(lo.values, floor), None, y)
    upper = np.clip(np.maximum(hi.values, y) - y, 0, None)
    return ax.errorbar(x, y, yerr=[lower, upper], fmt=fmt, capsize=2, **kwargs)


def _curves(ax, x, data: Data, signals: list[Field], index: Field | None = None) -> None:
    """One curve per signal (and per row of a 2-D signal), with error bars where recorded."""
    for s in signals:
        vals = np.asarray(s.values, float)
        yerr = error_bars(data, s)
        rows = vals.reshape(-1, vals.shape[-1])
        errs = None if yerr is None else np.asarray(yerr).reshape(*np.shape(yerr)[:-vals.ndim], -1, vals.shape[-1])
        for k, row in enumerate(rows[:MAX_LINES]):
            label = s.long_name or s.name
            if len(rows) > 1:  # one signal's rows: the row's setting names it (the signal is on the y axis)
                value = index.values[k] if index is not None and k < len(index.values) else k
                units = f" {index.units}" if index is not None and index.units else ""
                row_label = f"{index.name if index is not None else 'row'} = {value:.4g}{units}"
                label = row_label if len(signals) == 1 else f"{label}, {row_label}"
            if errs is None:
                ax.plot(x, row, ".-", ms=4, label=label)
            else:
                e = errs[..., k, :] if errs.ndim == 3 else errs[k]
                ax.errorbar(x, row, yerr=e, fmt=".-", ms=4, capsize=2, label=label)


def _label(axis, field: Field | None, n: int) -> None:
    """Label a plot axis drawn over ``field`` (or over an index, when it is not an axis of length n)."""
    label_axis(axis, field if field is not None and field.values.shape == (n,) else None)


def _label_signals(ax, sig: Field, auxiliary: list[Field]) -> None:
    """The y axis of curves: the signal's label, with prefixed ticks when every curve shares its units."""
    if all(a.units == sig.units for a in auxiliary):
        label_axis(ax.yaxis, sig)
        if auxiliary:
            ax.set_ylabel(sig.label if not takes_prefix(sig.units) else (sig.long_name or sig.name))
    else:
        ax.set_ylabel(sig.label)


def _legend(ax) -> None:
    """The legend under the axes, where it covers no data."""
    legend_below(ax, ncol=2)


def plot_data(data: Data, title: str = ""):
    """A matplotlib Figure for one NXdata group, drawn as silx or h5web would: a 1-D signal (or a
    2-D one marked ``spectrum``) as curves with the auxiliary signals and error bars, a 2-D
    signal as an image over its axes, more dimensions as a few frames of images."""
    import matplotlib.pyplot as plt

    sig = data.signal
    vals = np.asarray(sig.values)
    spectrum = vals.ndim == 2 and data.interpretation == "spectrum"
    if vals.ndim == 0:
        fig, ax = plt.subplots(figsize=(5, 1.6), layout="constrained")
        ax.axis("off")
        ax.text(0.5, 0.5, f"{sig.long_name or sig.name} = {vals.item():.6g} {sig.units}".rstrip(),
                ha="center", va="center", fontsize=12)
    elif vals.ndim == 1 or spectrum:
        fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
        x, _ = _x(data.axes[-1], vals.shape[-1])
        _curves(ax, x, data, [sig, *data.auxiliary], data.axes[0] if spectrum else None)
        _label(ax.xaxis, data.axes[-1], vals.shape[-1])
        _label_signals(ax, sig, data.auxiliary)
        ax.grid(True, alpha=0.3)
        if data.auxiliary or spectrum:
            _legend(ax)
    elif vals.ndim == 2 and vals.shape[0] <= MAX_LINES and data.interpretation != "image" and vals.shape[0] > 1:
        fig, ax = plt.subplots(layout="constrained")  # a few traces: overlay them
        x, _ = _x(data.axes[1], vals.shape[1])
        _curves(ax, x, data, [sig], data.axes[0])
        _label(ax.xaxis, data.axes[1], vals.shape[1])
        _label_signals(ax, sig, [])
        ax.grid(True, alpha=0.3)
        _legend(ax)
    elif vals.ndim == 2:
        fig, ax = plt.subplots(layout="constrained")
        y, _ = _x(data.axes[0], vals.shape[0])
        x, _ = _x(data.axes[1], vals.shape[1])
        cmap, norm = color_scale(vals)
        if _monotonic(x) and _monotonic(y):
            mesh = ax.pcolormesh(x, y, vals, shading="nearest", cmap=cmap, norm=norm)
            _label(ax.xaxis, data.axes[1], vals.shape[1])
            _label(ax.yaxis, data.axes[0], vals.shape[0])
        else:
            mesh = ax.imshow(vals, aspect="auto", origin="lower", cmap=cmap, norm=norm)
            ax.set(xlabel="index", ylabel="record")
        colorbar(fig, mesh, vals, ax=ax, label=sig.label)
    else:  # a stack of images: show a few frames (leading dimensions unrolled), on one colour scale
        frames = vals.reshape(-1, *vals.shape[-2:])
        taken = [k for k in range(len(frames)) if np.isfinite(np.asarray(frames[k], float)).any()]
        n = len(taken)
        spread = sorted(set(np.linspace(0, n - 1, min(n, MAX_MAPS)).round().astype(int))) if n else []
        picks = [taken[i] for i in spread]
        fig, axs = plt.subplots(1, max(1, len(picks)), squeeze=False,
                                figsize=(3.2 * max(1, len(picks)), 3.2), layout="constrained")
        lead = vals.shape[:-2]
        cmap, norm = color_scale(frames[picks] if picks else frames)
        for ax, k in zip(axs[0], picks, strict=False):
            im = ax.imshow(frames[k], origin="lower", cmap=cmap, norm=norm)
            where = np.unravel_index(k, lead)
            names = [a.name if a is not None else f"dim{d}" for d, a in enumerate(data.axes[: len(lead)])]
            ax.set_title(", ".join(f"{nm}[{i}]" for nm, i in zip(names, where, strict=True)), fontsize=8)
            ax.set_xlabel(_x(data.axes[-1], vals.shape[-1])[1])
        axs[0, 0].set_ylabel(_x(data.axes[-2], vals.shape[-2])[1])
        if picks:
            colorbar(fig, im, frames[picks], ax=axs[0].tolist(), label=sig.label)
        else:
            axs[0, 0].text(0.5, 0.5, "no records", ha="center")
    title = title or data.title or data.name
    fig.suptitle(title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 3] + "...")
    return fig


def default_figure(run: Run):
    """The entry's default plot (its ``@default`` NXdata) drawn as a NeXus viewer draws it."""
    data = run.data()
    return plot_data(data, f"{data.title or data.name} ({run.status})")


def run_figures(run: Run, protocol_cls=None) -> dict[str, object]:
    """``name -> Figure``: the protocol's figure when it gives one, with the file's default plot
    beside it; else every NXdata group."""
    if protocol_cls is not None:
        try:
            fig = protocol_cls.figure(run)
        except Exception as exc:  # e.g. a run aborted before its data made sense: still plot it
            warnings.warn(f"{protocol_cls.__name__}.figure failed ({type(exc).__name__}: {exc}); "
                          "plotting every NXdata instead", stacklevel=2)
            fig = None
        if fig is not None:
            return {"figure": fig, "default": default_figure(run)}
    figures = {}
    for name in run.data_names:
        try:
            data = run.data(name)
        except (KeyError, ValueError) as exc:  # e.g. an @signal that names no field: plot the others
            warnings.warn(f"{name} not plotted: {exc.args[0] if exc.args else exc}", stacklevel=2)
            continue
        figures[name] = plot_data(data, f"{name} ({run.status}): {run.title}")
    return figures


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
