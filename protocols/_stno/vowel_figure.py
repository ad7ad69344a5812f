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
    """Accuracy per epoch, test confusion matrix, the trained synchronization maps over the input plane
    with the test tokens, and the oscillators' dc currents along training. A run that stopped early
    draws what it took; each missing panel says it was not reached."""
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(2, 2, figsize=(11, 8.5), layout="constrained")
    panels = ((axs[0, 0], "Recognition rate per epoch", _accuracy_panel),
              (axs[0, 1], "Test set, last epoch", _confusion_panel),
              (axs[1, 0], "Trained synchronization maps", _map_panel),
              (axs[1, 1], "Learning", _learning_panel))
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
    if not np.isfinite(acc["test_accuracy"].values).any():
        raise IndexError("no epoch finished")
    for label in ("train", "test"):
        rate = acc[f"{label}_accuracy"].values
        lo, hi = acc.interval(f"{label}_accuracy")
        ax.errorbar(epochs, 100 * rate, yerr=100 * np.array([rate - lo, hi - rate]), fmt="o-", capsize=3,
                    label=f"{label} (95 % CI)")
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


def _map_panel(ax, run) -> None:
    import matplotlib.pyplot as plt

    smap = run.data("sync_map")
    grid_a, grid_b = smap.axes[0].values / 1e6, smap.axes[1].values / 1e6
    cmap = plt.get_cmap("tab10")
    classes = smap.signal.values
    if not np.isfinite(classes).any():
        raise IndexError("no map")
    colors = np.array([cmap(int(v)) if v >= 0 else (1, 1, 1, 1) for v in classes.T.ravel()])
    ax.imshow(colors.reshape(len(grid_b), len(grid_a), 4), origin="lower", alpha=0.45, aspect="auto",
              extent=(grid_a[0], grid_a[-1], grid_b[0], grid_b[-1]))
    test = run["test"].values > 0.5
    last = run["epoch"].values == run["epoch"].values.max()
    sel = test & last
    vowel = run["vowel"].values[sel].astype(int)
    for v, name in enumerate(VOWELS):
        pick = vowel == v
        ax.plot(run["f_a"].values[sel][pick] / 1e6, run["f_b"].values[sel][pick] / 1e6, "o", ms=4,
                color=cmap(v), mec="k", mew=0.4, label=f"/{name}/")
    ax.set(xlabel="Input A frequency f_A (MHz, from F1)", ylabel="Input B frequency f_B (MHz, from F2)",
           title="Trained synchronization maps (white: unclassified)")
    ax.legend(fontsize=7, ncol=2, loc="upper right")


def _learning_panel(ax, run) -> None:
    n = run["presentation"].values
    if not len(n):
        raise IndexError("no presentation")
    for k in range(N_OSC):
        ax.plot(n, run[f"current_{k + 1}"].values * 1e3, lw=1, label=f"oscillator {k + 1}")
    ax.set(xlabel="Presentation", ylabel="DC current (mA)", title="Learning")
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
