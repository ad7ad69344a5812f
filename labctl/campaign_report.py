"""What a person reads of a campaign: its summary table (``labctl show``) and figure (``labctl plot``).

The figure draws the spec's panels (default: each headline against the first grid parameter): the
statistic at every grid point with its interval as error bars, each chip's value as a faint dot,
one line per value of any other grid parameter. A panel whose x is a headline plots one summary
against another (accuracy against bit-error rate), intervals on both axes. A grid parameter whose
values are names (the conditions of a comparison) gives grouped bars: per name, one bar per headline
(where it was measured), its interval and each chip's value; a panel's marks are reference values drawn
across it (a paper's numbers). With ``errors: sd`` a panel draws the mean over chips and their standard
deviation instead of the statistic and its interval.
"""

from __future__ import annotations

import itertools
import re
import textwrap

import numpy as np

from labctl.campaign_index import CampaignIndex, Summary
from labctl.campaign_spec import Panel, count_chips

__all__ = ["campaign_figure", "describe", "summary_table"]

MAX_FAILED_SHOWN = 10


def _num(x: float) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.4g}"


def _grid_label(index: CampaignIndex, at: tuple[int, ...]) -> str:
    parts = []
    for name, i in zip(index.grid_names, at, strict=True):
        v = index.grid[name][i]
        units = index.units.get(name, "")
        parts.append(f"{name}={_num(v) if isinstance(v, (float, np.floating)) else v}" + (f" {units}" if units else ""))
    return ", ".join(parts) or "all runs"


def _chips(index: CampaignIndex) -> str:
    return count_chips([c["label"] for c in index.chips])


def summary_table(index: CampaignIndex) -> str:
    """One row per grid point: each headline's statistic [interval] and sd, and runs counted."""
    pct = f"{100 * index.confidence:g} %"
    counts = index.counts()
    head = (f"{index.name}: {index.n_runs} runs of {index.protocol} on {_chips(index)}: "
            + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f"  [{index.status}]")
    if not index.headlines:
        return head + "\n(the protocol declares no headline scalars)"
    rows = [["grid point", *(f"{h.name} [{pct} {index.summaries[h.name].interval}]" for h in index.headlines),
             "n"]]
    first = index.summaries[index.headlines[0].name]
    shape = np.shape(first.value)
    for at in itertools.product(*(range(n) for n in shape)):
        row = [_grid_label(index, at) if index.grid_names else "all runs"]
        for h in index.headlines:
            s = index.summaries[h.name]
            row.append(f"{_num(s.value[at])} [{_num(s.low[at])}, {_num(s.high[at])}] sd {_num(s.sd[at])}")
        row.append(str(int(first.n[at])))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [head] + ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def describe(index: CampaignIndex) -> str:
    """``labctl show`` for a campaign file: facts, the summary table, the runs that did not complete."""
    lines = [f"{index.path} :: campaign",
             f"  title:      {index.name}" + (f"  ({index.description})" if index.description else ""),
             f"  protocol:   {index.protocol}   station: {index.station}",
             f"  status:     {index.status}",
             f"  started:    {index.start_time}   ended: {index.end_time or '-'}",
             "  grid:       " + (", ".join(f"{n} ({len(v)} values)" for n, v in index.grid.items()) or "none"),
             f"  chips:      {len(index.chips)} (" + ", ".join(c["label"] for c in index.chips[:6])
             + (", ..." if len(index.chips) > 6 else "") + ")",
             f"  links:      {len(index.links)} run entries under /campaign/run_entries",
             ""]
    lines += summary_table(index).splitlines()
    bad = [i for i, s in enumerate(index.table["status"]) if s != "completed"]
    if bad:
        lines.append("")
        lines.append("  runs not completed:")
        for i in bad[:MAX_FAILED_SHOWN]:
            msg = index.table["message"][i]
            lines.append(f"    {index.table['file'][i]} [{index.table['status'][i]}] {index.table['chip_label'][i]}"
                         + (f": {msg}" if msg else ""))
        if len(bad) > MAX_FAILED_SHOWN:
            lines.append(f"    ... and {len(bad) - MAX_FAILED_SHOWN} more")
    return "\n".join(lines)


def _panels(index: CampaignIndex) -> list[Panel]:
    if index.panels:
        return index.panels
    if not index.grid_names:
        return []
    return [Panel(index.grid_names[0], (h.name,)) for h in index.headlines]


def _series(index: CampaignIndex, x: str):
    """(label, slice) for each line: one per combination of the grid parameters other than ``x``."""
    names = index.grid_names
    if x not in names:
        return [("", tuple(slice(None) for _ in names))]
    others = [n for n in names if n != x]
    out = []
    for combo in itertools.product(*(range(len(index.grid[n])) for n in others)):
        sel, label = [], []
        for n in names:
            if n == x:
                sel.append(slice(None))
            else:
                i = combo[others.index(n)]
                sel.append(i)
                label.append(f"{n}={index.grid[n][i]}")
        out.append((", ".join(label), tuple(sel)))
    return out


def _errors(s: Summary, sel, errors: str = "interval") -> tuple[np.ndarray, np.ndarray]:
    """(centre, [below, above]): the statistic and its interval, or (errors="sd") the mean over chips
    and their standard deviation."""
    if errors == "sd":
        v = np.asarray(s.mean if s.rate else s.value, dtype=float)[sel]
        sd = np.asarray(s.sd, dtype=float)[sel]
        return v, np.vstack([sd, sd])
    v, lo, hi = (np.asarray(a, dtype=float)[sel] for a in (s.value, s.low, s.high))
    return v, np.vstack([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)])


def campaign_figure(index: CampaignIndex):
    """A matplotlib Figure of the campaign's summaries (no pyplot state touched)."""
    from matplotlib.figure import Figure

    panels = _panels(index)
    if not panels:  # no grid: one bar per headline
        panels = [Panel("", tuple(h.name for h in index.headlines))]
    tall = any(_categorical(index, p.x) for p in panels)  # bar panels carry their legend underneath
    fig = Figure(figsize=(max(7.0, 5.2 * len(panels)), 4.9 if tall else 3.9), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=True):
        _draw(ax, index, panel)
    counts = index.counts()
    title = (f"{index.name}: {index.protocol}, {_chips(index)}, {counts.get('completed', 0)}/{index.n_runs} "
             f"runs completed; {100 * index.confidence:g} % intervals")
    fig.suptitle(textwrap.fill(title, int(13 * fig.get_figwidth())), fontsize=10)  # ~13 characters per inch
    return fig


def _common_label(summaries: list[Summary]) -> str:
    """The y label of several headlines: what their names share ("Bit-error rate"), with units."""
    if len(summaries) == 1:
        return summaries[0].label
    words = [re.split(r"(\W+)", s.long_name or s.name) for s in summaries]
    shared = itertools.takewhile(lambda w: len(set(w)) == 1, zip(*words, strict=False))
    common = "".join(w[0] for w in shared).rstrip(" ,(-:")
    units = {s.units for s in summaries}
    text = common if len(common) >= 4 else "value"
    return text + (f" ({units.pop()})" if len(units) == 1 and "" not in units else "")


def _categorical(index: CampaignIndex, x: str) -> bool:
    return x in index.grid_names and np.asarray(index.grid[x]).dtype.kind not in "biuf"


def _draw_bars(ax, index: CampaignIndex, panel: Panel) -> None:
    """Grouped bars over a grid parameter of names: per name, each headline's statistic (one bar per
    value of any other grid parameter) with its interval and each chip's value."""
    names = [str(v) for v in index.grid[panel.x]]
    bars = [(h, label, sel) for h in panel.y for label, sel in _series(index, panel.x)]
    width = 0.8 / len(bars)
    for j, (name, label, sel) in enumerate(bars):
        s = index.summaries[name]
        y, yerr = _errors(s, sel, panel.errors)
        pos = np.arange(len(names)) - 0.4 + (j + 0.5) * width
        ok = np.isfinite(y)
        ax.bar(pos[ok], y[ok], width, yerr=yerr[:, ok], capsize=3, color=f"C{j % 10}", alpha=0.8,
               label=(s.long_name or s.name) + (f" ({label})" if label else ""))
        chips = np.asarray(s.per_chip, dtype=float)[sel]
        for p, values in zip(pos[ok], chips[ok], strict=True):
            ax.plot(np.full(values.shape, p), values, ".", color="k", alpha=0.35, ms=3)
    ax.set_xticks(range(len(names)), names)
    ax.set_xlabel(panel.x)


def _draw(ax, index: CampaignIndex, panel: Panel) -> None:
    for k, (label, value) in enumerate(panel.marks):
        ax.axhline(value, color="0.3", ls=("--", ":", "-.")[k % 3], lw=1, label=f"{label}: {value:.4g}")
    if _categorical(index, panel.x):
        _draw_bars(ax, index, panel)
        ax.set_yscale(panel.yscale, **({"nonpositive": "mask"} if panel.yscale == "log" else {}))
        ax.set_ylabel(_common_label([index.summaries[n] for n in panel.y]))
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)  # under the bars
        if panel.title:
            ax.set_title(panel.title, fontsize=10)
        return
    colors = itertools.cycle([f"C{k}" for k in range(10)])
    x_is_grid = panel.x in index.grid_names
    for name in panel.y:
        s = index.summaries[name]
        for label, sel in _series(index, panel.x):
            color = next(colors)
            y, yerr = _errors(s, sel, panel.errors)
            tag = (s.long_name or s.name) + (f" ({label})" if label else "")
            if not panel.x:
                pos = panel.y.index(name)
                ax.errorbar([pos], y.ravel()[:1], yerr=yerr[:, :1], fmt="o", color=color, capsize=4, label=tag)
                ax.plot(np.full(s.per_chip.shape[-1], pos), np.ravel(s.per_chip)[:s.per_chip.shape[-1]], ".",
                        color=color, alpha=0.3)
                continue
            if x_is_grid:
                x = np.asarray(index.grid[panel.x], dtype=float)
                xerr = None
                chips_x = np.broadcast_to(x[:, None], s.per_chip[sel].shape)
            else:
                sx = index.summaries[panel.x]
                x, xerr = _errors(sx, sel, panel.errors)
                chips_x = np.asarray(sx.per_chip)[sel]
            ax.plot(np.ravel(chips_x), np.ravel(np.asarray(s.per_chip)[sel]), ".", color=color, alpha=0.25, ms=4)
            zero = (y == 0) if panel.yscale == "log" else np.zeros(y.shape, bool)
            ax.errorbar(np.where(zero, np.nan, x), np.where(zero, np.nan, y), yerr=yerr,
                        xerr=xerr, fmt="o-" if x_is_grid else "o", color=color, capsize=3, label=tag)
            if zero.any():  # no event counted: an upper limit, drawn at the interval's top
                high = np.asarray(s.high, dtype=float)[sel]
                ax.plot(np.asarray(x)[zero], high[zero], "v", mfc="none", color=color, ms=8,
                        label=f"{s.name}: none counted (upper {100 * index.confidence:g} % bound)")
    if panel.x:
        xlabel = panel.x + (f" ({index.units.get(panel.x)})" if index.units.get(panel.x) else "") if x_is_grid \
            else index.summaries[panel.x].label
        ax.set_xlabel(xlabel)
        ax.set_xscale(panel.xscale)
    else:
        ax.set_xticks(range(len(panel.y)), [index.summaries[n].name for n in panel.y])
        ax.set_xlim(-0.5, len(panel.y) - 0.5)
    ax.set_yscale(panel.yscale, **({"nonpositive": "mask"} if panel.yscale == "log" else {}))
    ax.set_ylabel(_common_label([index.summaries[n] for n in panel.y]))
    if panel.xscale == "log":
        from matplotlib.ticker import NullFormatter

        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if panel.title:
        ax.set_title(panel.title, fontsize=10)
