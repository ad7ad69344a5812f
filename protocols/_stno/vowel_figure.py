"""The figure of the vowel-recognition protocol for `labctl plot`."""

from __future__ import annotations

import numpy as np

from labctl.protocols._stno.vowel_readout import N_OSC, VOWELS


def _not_reached(ax, what: str, run) -> None:
    """A panel whose data the run never took (aborted or failed before it): say so, draw nothing."""
    ax.text(0.5, 0.5, f"{what}:\nnot reached (run {run.status})", ha="center", va="center",
            transform=ax.transAxes, color="grey")
    ax.set(xticks=[], yticks=[])


def vowel_figure(run):
    """Accuracy per epoch, test confusion matrix, the oscillators' dc currents along training, and the
    trained network's synchronization regions over the input plane with the coupling loop closed and
    open (test tokens on top), with the points where they differ. A run that stopped early draws what
    it took; each missing panel says it was not reached."""
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(2, 3, figsize=(16, 9), layout="constrained")
    panels = ((axs[0, 0], "Recognition rate per epoch", _accuracy_panel),
              (axs[0, 1], "Test set, last epoch", _confusion_panel),
              (axs[0, 2], "Learning", _learning_panel),
              (axs[1, 0], "Synchronization regions, loop closed", lambda ax, r: _map_panel(ax, r, 1)),
              (axs[1, 1], "Synchronization regions, loop open", lambda ax, r: _map_panel(ax, r, 0)),
              (axs[1, 2], "Map changed by the loop", _difference_panel))
    for ax, what, draw in panels:
        try:
            draw(ax, run)
        except (KeyError, IndexError, ValueError):  # the run ended before this panel's data
            ax.clear()
            _not_reached(ax, what, run)
    fig.suptitle(f"{run.title} ({run.status})")
    return fig


def _accuracy_panel(ax, run) -> None:
    from matplotlib.ticker import MaxNLocator

    acc = run.data("accuracy")
    epochs = acc["epoch"].values
    if not np.isfinite(acc["train_accuracy"].values).any():
        raise IndexError("no epoch finished")
    for label in ("train", "test"):
        rate = acc[f"{label}_accuracy"].values
        lo, hi = acc.interval(f"{label}_accuracy")
        ok = np.isfinite(rate)  # the test set is presented at some epochs only
        ax.errorbar(epochs[ok], 100 * rate[ok], yerr=100 * np.array([rate - lo, hi - rate])[:, ok], fmt="o-",
                    capsize=3, label=f"{label} (95 % CI)")
    ax.axhline(100 / len(VOWELS), color="grey", ls=":", label="chance")
    ax.set(xlabel="Epoch", ylabel="Recognition rate (%)", ylim=(0, 100))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    ax.grid(True, alpha=0.3)


def _confusion_panel(ax, run) -> None:
    conf = run.columns("confusion")["confusion"].values[-1]
    ax.imshow(conf, cmap="Blues")
    for (i, j), n in np.ndenumerate(conf):
        if n:
            ax.text(j, i, f"{n:.0f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(VOWELS) + 1), [*VOWELS, "?"])
    ax.set_yticks(range(len(VOWELS)), VOWELS)
    ax.set(xlabel="Classified", ylabel="Spoken", title="Test set, last epoch")


def _learning_panel(ax, run) -> None:
    n = run["presentation"].values
    if not len(n):
        raise IndexError("no presentation")
    for k in range(N_OSC):
        ax.plot(n, run[f"current_{k + 1}"].values * 1e3, lw=1, label=f"oscillator {k + 1}")
    ax.set(xlabel="Presentation", ylabel="DC current (mA)", title="Learning")
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)


def _maps(run, name: str):
    """(grid f_A MHz, grid f_B MHz, {loop closed (1/0): map}) of one of the final map arrays."""
    smap = run.data(name)
    grid_a, grid_b = smap.axes[-2].values / 1e6, smap.axes[-1].values / 1e6
    closed = np.atleast_1d(smap["loop_closed"].values)
    values = np.asarray(smap.signal.values).reshape(-1, len(grid_a), len(grid_b))
    return grid_a, grid_b, {int(c): v for c, v in zip(closed, values, strict=True) if np.isfinite(v).all()}


def _extent(grid_a, grid_b):
    half_a, half_b = (0.5 * (g[-1] - g[0]) / max(len(g) - 1, 1) for g in (grid_a, grid_b))
    return grid_a[0] - half_a, grid_a[-1] + half_a, grid_b[0] - half_b, grid_b[-1] + half_b


def _map_panel(ax, run, closed: int) -> None:
    import matplotlib.pyplot as plt

    grid_a, grid_b, maps = _maps(run, "sync_map")
    classes = maps[closed]
    cmap = plt.get_cmap("tab10")
    colors = np.array([cmap(int(v)) if v >= 0 else (1, 1, 1, 1) for v in classes.T.ravel()])
    ax.imshow(colors.reshape(len(grid_b), len(grid_a), 4), origin="lower", alpha=0.45, aspect="auto",
              extent=_extent(grid_a, grid_b))
    test = run["test"].values > 0.5
    last = run["epoch"].values == run["epoch"].values.max()
    sel = test & last
    vowel = run["vowel"].values[sel].astype(int)
    for v, name in enumerate(VOWELS):
        pick = vowel == v
        ax.plot(run["f_a"].values[sel][pick] / 1e6, run["f_b"].values[sel][pick] / 1e6, "o", ms=4,
                color=cmap(v), mec="k", mew=0.4, label=f"/{name}/")
    ax.set(xlabel="Input A frequency f_A (MHz, from F1)", ylabel="Input B frequency f_B (MHz, from F2)",
           title=f"Synchronization regions, coupling loop {'closed' if closed else 'open'} (white: unclassified)")
    ax.legend(fontsize=7, ncol=2, loc="upper right")


def _difference_panel(ax, run) -> None:
    grid_a, grid_b, codes = _maps(run, "sync_code_map")
    differ = codes[1] != codes[0]
    ax.imshow(differ.T, origin="lower", cmap="Greys", vmin=0, vmax=1, aspect="auto", extent=_extent(grid_a, grid_b))
    ax.set(xlabel="Input A frequency f_A (MHz)", ylabel="Input B frequency f_B (MHz)",
           title=f"Synchronization map changed by the loop (black: {100 * differ.mean():.0f} % of the plane)")
