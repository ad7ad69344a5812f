"""The campaign file: one HDF5 (NeXus) file that opens a whole study.

Layout::

    /                          @default="campaign"
    /campaign                  NXentry  @labctl_type="campaign", @default="summary_<first headline>"
        title, description, protocol, station, status, start_time, end_time, spec (the YAML as run)
        program                NXcollection  package versions, git commit
        runs                   NXcollection  the table of runs, one field per column, one row per run:
                               key, status, message, duration and cpu_time (s), file, worker, chip,
                               chip_seed, chip_label, the grid values, each headline (rates also
                               <name>_successes and <name>_trials)
        chips                  NXcollection  seed and label of each chip
        run_entries            NXcollection  <key> -> external link to runs/<key>.h5:/entry
        summary_<headline>     NXdata  over the grid: signal <headline> (mean over chips, or the rate
                               pooled over their counts), <headline>_low/_high (the interval), sd, n,
                               per_chip (grid x chips); rates also successes, trials, mean (of the
                               per-chip rates); @statistic, @interval, @confidence

The file is rewritten whole, into a temporary file renamed over the old one: a reader, or a campaign
killed at any moment, sees the previous index or the new one, never half of one. Run files are linked
by relative paths, resolved from the campaign file's folder (HDF5 looks there for external links).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from labctl.campaign_spec import CampaignSpec, Panel, Task
from labctl.hdf5_files import plain
from labctl.headline import Headline, Rate

__all__ = ["CampaignIndex", "RunRecord", "compute_summaries", "is_campaign_file", "open_campaign", "write_index"]

ENTRY = "campaign"
KIND = "campaign"
#: A run's place in the table: pending (not run yet), then the run's own status, or "interrupted"
#: (the campaign stopped while it ran: its file says how far it got).
RUN_STATUSES = ("pending", "completed", "failed", "aborted", "incomplete", "interrupted", "skipped")


@dataclass
class RunRecord:
    """One row of the table: a task and what became of it."""

    task: Task
    status: str = "pending"
    message: str = ""
    duration: float = math.nan
    cpu_time: float = math.nan
    headline: dict[str, Any] = field(default_factory=dict)
    worker: str = ""

    @property
    def done(self) -> bool:
        return self.status == "completed"


def _axis_values(values: Sequence[Any]) -> tuple[np.ndarray, bool]:
    """Grid values as a numeric array when every value is a number (or a number's text)."""
    try:
        out = np.array([float(v) for v in values])
        if not any(isinstance(v, bool) for v in values):
            return out, True
    except (TypeError, ValueError):
        pass
    return np.array([str(v) for v in values], dtype=object), False


def compute_summaries(spec: CampaignSpec, records: Sequence[RunRecord]) -> dict[str, dict[str, Any]]:
    """Per headline, arrays over the grid (shape ``spec.shape`` or ``(1,)`` without a grid):
    the statistic, its interval, sd, n and the per-chip values. Only completed runs count."""
    from labctl.stats import summarize, summarize_rate

    shape = spec.shape or (1,)
    n_chips = len(spec.chips)
    out = {}
    for h in spec.headlines:
        if h.rate:
            k = np.full((*shape, n_chips), np.nan)
            n = np.full((*shape, n_chips), np.nan)
        else:
            v = np.full((*shape, n_chips), np.nan)
        for r in records:
            if not r.done or h.name not in r.headline:
                continue
            at = (*(r.task.point or (0,)), r.task.chip_index)
            if h.rate:
                k[at], n[at] = r.headline[h.name].successes, r.headline[h.name].trials
            else:
                v[at] = r.headline[h.name]
        if h.rate:
            s = summarize_rate(k, n, spec.confidence, method=spec.rates)
            with np.errstate(invalid="ignore", divide="ignore"):
                per_chip = k / n
            out[h.name] = {"value": s.rate, "low": s.low, "high": s.high, "sd": s.sd, "n": s.n,
                           "mean": s.mean, "successes": s.successes, "trials": s.trials,
                           "per_chip": per_chip, "statistic": "rate pooled over chips",
                           "interval": spec.rates}
        else:
            s = summarize(v, spec.confidence, method=spec.continuous)
            out[h.name] = {"value": s.mean, "low": s.low, "high": s.high, "sd": s.sd, "n": s.n,
                           "per_chip": v, "statistic": "mean over chips", "interval": spec.continuous}
        out[h.name] = {k2: np.asarray(v2) if not isinstance(v2, str) else v2 for k2, v2 in out[h.name].items()}
    return out


def _strings(ds_parent: h5py.Group, name: str, values: Sequence[str]) -> h5py.Dataset:
    return ds_parent.create_dataset(name, data=[str(v) for v in values], dtype=h5py.string_dtype())


def _nx(group: h5py.Group, nx_class: str) -> h5py.Group:
    group.attrs["NX_class"] = nx_class
    return group


def write_index(path: str | Path, spec: CampaignSpec, records: Sequence[RunRecord], *, status: str,
                start_time: str, end_time: str = "", program: Mapping[str, Any] | None = None) -> None:
    """Write the campaign file (atomically: a temporary file renamed over ``path``)."""
    from labctl.store import LIBVER, write_tree

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w", libver=LIBVER) as f:
        f.attrs["default"] = ENTRY
        f.attrs["creator"] = "labctl campaign"
        e = _nx(f.create_group(ENTRY), "NXentry")
        e.attrs["labctl_type"] = KIND
        for name, value in (("title", spec.name), ("description", spec.description), ("protocol", spec.protocol),
                            ("station", spec.station_name), ("status", status), ("start_time", start_time),
                            ("end_time", end_time), ("spec", spec.text), ("spec_source", spec.source)):
            e.create_dataset(name, data=value, dtype=h5py.string_dtype())
        e.attrs["confidence"] = spec.confidence
        e.attrs["figure"] = json.dumps([p.__dict__ for p in spec.figure])
        e.attrs["grid"] = json.dumps(list(spec.grid))
        e.attrs["headlines"] = json.dumps([h.name for h in spec.headlines])
        if program:
            write_tree(_nx(e.create_group("program"), "NXcollection"), program)
        _write_table(_nx(e.create_group("runs"), "NXcollection"), spec, records)
        chips = _nx(e.create_group("chips"), "NXcollection")
        chips.create_dataset("seed", data=[-1 if c.seed is None else c.seed for c in spec.chips])
        _strings(chips, "label", [c.label for c in spec.chips])
        links = _nx(e.create_group("run_entries"), "NXcollection")
        for r in records:
            if (path.parent / r.task.file).is_file():
                links[r.task.key] = h5py.ExternalLink(r.task.file, "/entry")
        summaries = compute_summaries(spec, records)
        for h in spec.headlines:
            _write_summary(e, spec, h, summaries[h.name])
        if spec.headlines:
            e.attrs["default"] = f"summary_{spec.headlines[0].name}"
    os.replace(tmp, path)


def _write_table(g: h5py.Group, spec: CampaignSpec, records: Sequence[RunRecord]) -> None:
    _strings(g, "key", [r.task.key for r in records])
    _strings(g, "status", [r.status for r in records])
    _strings(g, "message", [r.message for r in records])
    _strings(g, "file", [r.task.file for r in records])
    _strings(g, "worker", [r.worker for r in records])
    g.create_dataset("duration", data=np.array([r.duration for r in records], dtype=float)).attrs["units"] = "s"
    g.create_dataset("cpu_time", data=np.array([r.cpu_time for r in records], dtype=float)).attrs["units"] = "s"
    g.create_dataset("chip", data=np.array([r.task.chip_index for r in records], dtype="i4"))
    g.create_dataset("chip_seed", data=np.array([-1 if r.task.chip.seed is None else r.task.chip.seed
                                                 for r in records], dtype="i8"))
    _strings(g, "chip_label", [r.task.chip.label for r in records])
    for name in spec.grid:
        values, numeric = _axis_values([r.task.values[name] for r in records])
        ds = g.create_dataset(name, data=values) if numeric else _strings(g, name, values)
        ds.attrs["units"] = spec.units.get(name, "")
        ds.attrs["grid"] = 1
    for h in spec.headlines:
        done = [r.headline.get(h.name) if r.done else None for r in records]
        value = [np.nan if v is None else (v.value if h.rate else v) for v in done]
        ds = g.create_dataset(h.name, data=np.array(value, dtype=float))
        ds.attrs["units"], ds.attrs["long_name"] = h.units, h.long_name or h.name
        ds.attrs["rate"] = int(h.rate)
        if h.rate:
            for part in ("successes", "trials"):
                g.create_dataset(f"{h.name}_{part}", data=np.array(
                    [np.nan if v is None else getattr(v, part) for v in done], dtype=float))


def _write_summary(e: h5py.Group, spec: CampaignSpec, h: Headline, s: Mapping[str, Any]) -> None:
    g = _nx(e.create_group(f"summary_{h.name}"), "NXdata")
    g.attrs["signal"] = h.name
    g.attrs["statistic"], g.attrs["interval"], g.attrs["confidence"] = s["statistic"], s["interval"], spec.confidence
    pct = f"{100 * spec.confidence:g} %"
    label = h.long_name or h.name

    def field_(name, data, long_name, units=h.units):
        ds = g.create_dataset(name, data=np.asarray(data, dtype=float))
        ds.attrs["units"], ds.attrs["long_name"] = units, long_name
        return ds

    field_(h.name, s["value"], label)
    field_(f"{h.name}_low", s["low"], f"{label}, {pct} interval low")
    field_(f"{h.name}_high", s["high"], f"{label}, {pct} interval high")
    g.attrs["auxiliary_signals"] = [f"{h.name}_low", f"{h.name}_high"]
    field_("sd", s["sd"], f"{label}, standard deviation over chips")
    g.create_dataset("n", data=np.asarray(s["n"], dtype="i8")).attrs["long_name"] = "completed runs (chips)"
    field_("per_chip", s["per_chip"], f"{label}, per chip")
    if h.rate:
        field_("mean", s["mean"], f"{label}, mean of the per-chip rates")
        field_("successes", s["successes"], "successes, summed over chips", "")
        field_("trials", s["trials"], "trials, summed over chips", "")
    axes = []
    for name, values in spec.grid.items():
        arr, numeric = _axis_values(values)
        ds = g.create_dataset(name, data=arr) if numeric else _strings(g, name, arr)
        ds.attrs["units"] = spec.units.get(name, "")
        ds.attrs["long_name"] = name
        axes.append(name)
    g.attrs["axes"] = axes or ["."]


# -- reading ------------------------------------------------------------------------------------------
def is_campaign_file(path: str | Path) -> bool:
    """Whether ``path`` is a campaign file (False for run files, other HDF5 and non-HDF5 files)."""
    try:
        with h5py.File(path, "r") as f:
            e = f.get(ENTRY)
            return isinstance(e, h5py.Group) and plain(e.attrs.get("labctl_type")) == KIND
    except (OSError, ValueError):
        return False


@dataclass
class Summary:
    """One headline over the grid, read back: ``value`` with ``low``/``high``, ``per_chip`` etc."""

    name: str
    units: str
    long_name: str
    rate: bool
    statistic: str
    interval: str
    fields: dict[str, np.ndarray]

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["fields"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def label(self) -> str:
        text = self.long_name or self.name
        return f"{text} ({self.units})" if self.units else text


class CampaignIndex:
    """A campaign file, read whole into memory (it is small): table, chips, grid, summaries."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not is_campaign_file(self.path):
            raise ValueError(f"{path}: not a labctl campaign file")
        with h5py.File(self.path, "r") as f:
            e = f[ENTRY]
            for name in ("title", "description", "protocol", "station", "status", "start_time", "end_time",
                         "spec"):
                setattr(self, name, plain(e[name][()]) if name in e else "")
            self.name = self.title
            self.confidence = float(e.attrs.get("confidence", 0.95))
            self.grid_names: list[str] = json.loads(plain(e.attrs.get("grid", "[]")))
            self.panels = [Panel(p["x"], tuple(p["y"]), p["xscale"], p["yscale"], p["title"],
                                 tuple((str(k), float(v)) for k, v in p.get("marks", ())),
                                 p.get("errors", "interval"))
                           for p in json.loads(plain(e.attrs.get("figure", "[]")))]
            runs = e["runs"]
            self.table: dict[str, np.ndarray | list] = {k: plain(runs[k][()]) for k in runs}
            self.units = {k: plain(runs[k].attrs.get("units", "")) for k in runs}
            self.chips = [{"seed": int(s), "label": lab} for s, lab in
                          zip(e["chips/seed"][()], plain(e["chips/label"][()]), strict=True)]
            self.headlines: list[Headline] = []
            self.summaries: dict[str, Summary] = {}
            for k in runs:
                if "long_name" in runs[k].attrs and "rate" in runs[k].attrs:
                    h = Headline(k, self.units[k], plain(runs[k].attrs["long_name"]), bool(runs[k].attrs["rate"]))
                    self.headlines.append(h)
            by_name = {h.name: h for h in self.headlines}
            order = json.loads(plain(e.attrs.get("headlines", "[]")))  # as the protocol declares them
            self.headlines = [by_name[n] for n in order if n in by_name and f"summary_{n}" in e]
            for h in self.headlines:
                g = e[f"summary_{h.name}"]
                fields = {k: plain(g[k][()]) for k in g}
                fields["value"], fields["low"], fields["high"] = (
                    fields[h.name], fields[f"{h.name}_low"], fields[f"{h.name}_high"])
                self.summaries[h.name] = Summary(h.name, h.units, h.long_name, h.rate,
                                                 plain(g.attrs["statistic"]), plain(g.attrs["interval"]), fields)
            self.links = {k: plain(e["run_entries"].get(k, getlink=True).filename) for k in e["run_entries"]}

    @property
    def grid(self) -> dict[str, np.ndarray]:
        """Grid parameter -> its values (the summaries' axes)."""
        if not self.headlines:
            return {}
        fields = self.summaries[self.headlines[0].name].fields
        return {n: np.asarray(fields[n]) for n in self.grid_names}

    @property
    def n_runs(self) -> int:
        return len(self.table["key"])

    def counts(self) -> dict[str, int]:
        """Runs per status."""
        out: dict[str, int] = {}
        for s in self.table["status"]:
            out[s] = out.get(s, 0) + 1
        return out

    def run_files(self) -> list[Path]:
        return [self.path.parent / f for f in self.table["file"]]

    def to_pandas(self):
        """The table of runs as a pandas DataFrame (pandas optional)."""
        import pandas as pd

        return pd.DataFrame({k: v for k, v in self.table.items()})

    def rate(self, name: str, key: str) -> Rate | None:
        """The counts behind rate headline ``name`` for the run ``key`` (None if it did not complete)."""
        i = list(self.table["key"]).index(key)
        k, n = self.table[f"{name}_successes"][i], self.table[f"{name}_trials"][i]
        return None if np.isnan(n) else Rate(float(k), float(n))


def open_campaign(path: str | Path) -> CampaignIndex:
    """Read a campaign file written by :func:`labctl.campaign.run_campaign`."""
    return CampaignIndex(path)
