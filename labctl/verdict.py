"""The demo's verdict: the headline numbers of its run files, next to what the papers report.

Every number is read from the run files the demo wrote, by the names of their fields (a BER and its 95 %
interval at the compliance nearest 20 uA, the accuracies of the last epoch, ...), so the table follows
whatever the protocols measure; a run that is missing, failed or lacks a field gives a row that says so
instead of a number. The papers' column quotes their claims (Querlioz et al., BioCAS 2019, and the works
it summarizes); :func:`write_summary` saves the table as ``summary.md`` and ``summary.json``.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["HEADLINES", "Headline", "Row", "verdict", "write_summary"]

BER_CURRENT = 20e-6  # A: the compliance the 2T2R / 1T1R comparison is quoted at
BNN_BER = 1e-3  # weight bit-error rate up to which the BNN should lose no accuracy
SYNC = "Mutual synchronization: B's current range merged with A"


class Missing(Exception):
    """A run or field the headline needs is not there (the message says which)."""


@dataclass
class Row:
    """One line of the verdict: what, our number (and its 95 % interval), the paper's, where from."""

    what: str
    ours: str
    paper: str
    source: str
    run: str
    value: float | None = None
    interval: tuple[float, float] | None = None
    units: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Headline:
    """The headlines of one run: ``measure(columns)`` returns ``[(what, ours, value, interval, units,
    details), ...]`` from the run's flat columns (``group`` of :meth:`labctl.results.Run.columns`),
    one per entry of ``what`` (their names when the run is missing) and of ``paper``."""

    protocol: str
    group: str
    measure: Callable[[dict[str, np.ndarray]], list[tuple]]
    what: Sequence[str]
    paper: Sequence[str]
    source: str


def _need(cols: dict[str, np.ndarray], *names: str) -> list[np.ndarray]:
    missing = [n for n in names if n not in cols]
    if missing:
        raise Missing(f"no field {', '.join(missing)}")
    return [np.asarray(cols[n], dtype=float) for n in names]


def _interval(cols, name, k) -> tuple[float, float] | None:
    lo, hi = cols.get(f"{name}_ci_low"), cols.get(f"{name}_ci_high")
    return None if lo is None or hi is None else (float(lo[k]), float(hi[k]))


def _rate(value: float, interval) -> str:
    text = f"{value:.2g}"
    if interval is not None:
        text += f" [{interval[0]:.2g}, {interval[1]:.2g}]"
    return text


def _sci(x: float) -> str:
    """``1e-3``, not ``0.001`` or ``1e-03``."""
    mantissa, _, exponent = f"{x:.0e}".partition("e")
    return f"{mantissa}e{int(exponent)}"


def _pct(value: float, interval=None) -> str:
    text = f"{100 * value:.0f} %"
    if interval is not None:
        text += f" [{100 * interval[0]:.0f}, {100 * interval[1]:.0f}]"
    return text


# -- the headlines ---------------------------------------------------------------------------------
def _ber_at_20ua(cols) -> list[tuple]:
    current, b2, b1 = _need(cols, "compliance", "ber_2t2r", "ber_1t1r")
    fresh = np.ones(current.shape, bool)
    if "cycles" in cols:  # before any cycling
        cycles = np.asarray(cols["cycles"], dtype=float)
        fresh = cycles == np.nanmin(cycles)
    k = int(np.flatnonzero(fresh)[np.argmin(np.abs(current[fresh] - BER_CURRENT))])
    at = f"{current[k] * 1e6:g} uA"
    i2, i1 = _interval(cols, "ber_2t2r", k), _interval(cols, "ber_1t1r", k)
    rows = [(f"BER, 2T2R read at {at}", _rate(b2[k], i2), float(b2[k]), i2, "", {"compliance": current[k]}),
            (f"BER, 1T1R read at {at}", _rate(b1[k], i1), float(b1[k]), i1, "", {"compliance": current[k]})]
    if b2[k] > 0:
        ratio, text = b1[k] / b2[k], f"{b1[k] / b2[k]:.0f}x"
    elif i2 is not None and i2[1] > 0:  # no 2T2R error: the ratio is at least 1T1R / the 2T2R upper bound
        ratio, text = b1[k] / i2[1], f">= {b1[k] / i2[1]:.0f}x (no 2T2R error)"
    else:
        ratio, text = float("inf"), "no 2T2R error"
    rows.append((f"1T1R / 2T2R BER at {at}", text, float(ratio), None, "", {}))
    return rows


def _bnn_at_low_ber(cols) -> list[tuple]:
    ber, die, soft = _need(cols, "ber", "accuracy_die", "accuracy_software")
    ok = ber <= BNN_BER
    if not ok.any():
        raise Missing(f"no programming reached a weight BER <= {_sci(BNN_BER)} (lowest {np.nanmin(ber):.2g})")
    k = int(np.flatnonzero(ok)[np.argmin(die[ok])])  # the worst accuracy among them
    loss = soft[k] - die[k]
    text = f"{_pct(die[k], _interval(cols, 'accuracy_die', k))} on the die vs {_pct(soft[k])} in software"
    return [(f"BNN accuracy at weight BER <= {_sci(BNN_BER)} (worst case)", text, float(die[k]),
             _interval(cols, "accuracy_die", k), "", {"software": float(soft[k]), "loss": float(loss),
                                                      "weight_ber": float(ber[k])})]


def _locking_slope(cols) -> list[tuple]:
    amp, f_rf, locked = _need(cols, "rf_amplitude", "rf_frequency", "locked")
    good = np.isfinite(amp) & np.isfinite(f_rf) & np.isfinite(locked)
    amp, f_rf, locked = amp[good], f_rf[good], locked[good] > 0.5
    levels = np.unique(amp)
    if len(levels) < 2:
        raise Missing("fewer than two rf amplitudes")
    grid = np.unique(f_rf)
    step = float(np.min(np.diff(grid))) if len(grid) > 1 else 0.0
    widths = np.array([(np.ptp(f_rf[(amp == a) & locked]) + step) / 2 if ((amp == a) & locked).any() else 0.0
                       for a in levels])
    slope, intercept = np.polyfit(levels, widths, 1)
    fit = slope * levels + intercept
    r2 = 1 - np.sum((widths - fit) ** 2) / max(np.sum((widths - widths.mean()) ** 2), 1e-30)
    text = (f"{slope / 1e6:.3g} MHz/V, intercept {intercept / 1e6:+.2g} MHz, R^2 {r2:.3f} "
            f"({len(levels)} amplitudes)")
    return [("Locking half-width vs rf amplitude", text, float(slope), None, "Hz/V",
             {"intercept": float(intercept), "r2": float(r2), "amplitudes": levels.tolist(),
              "half_widths": widths.tolist()})]


def _mutual_sync(cols) -> list[tuple]:
    (current,) = _need(cols, "current_b")
    if "n_peaks" in cols:
        merged = np.asarray(cols["n_peaks"], dtype=float) == 1
    else:
        merged = ~np.isfinite(_need(cols, "second_frequency")[0])
    if not merged.any():
        return [(SYNC, "no merging seen", 0.0, None, "A", {})]
    # the longest run of consecutive merged points
    edges = np.flatnonzero(np.diff(np.concatenate([[0], merged.astype(int), [0]])))
    starts, ends = edges[::2], edges[1::2]
    j = int(np.argmax(ends - starts))
    lo, hi = current[starts[j]], current[ends[j] - 1]
    width = abs(hi - lo) + (abs(current[1] - current[0]) if len(current) > 1 else 0.0)
    text = f"one peak from {lo * 1e3:.2f} to {hi * 1e3:.2f} mA ({width * 1e3:.2g} mA wide)"
    return [(SYNC, text, float(width), None, "A",
             {"from": float(lo), "to": float(hi)})]


def _vowels(cols) -> list[tuple]:
    epoch, train, test = _need(cols, "epoch", "train_accuracy", "test_accuracy")
    k = int(np.nanargmax(epoch))
    it, ie = _interval(cols, "train_accuracy", k), _interval(cols, "test_accuracy", k)
    return [("Vowel recognition, train", _pct(train[k], it), float(train[k]), it, "", {"epoch": int(epoch[k])}),
            ("Vowel recognition, test", _pct(test[k], ie), float(test[k]), ie, "", {"epoch": int(epoch[k])})]


HEADLINES: tuple[Headline, ...] = (
    Headline("rram_bit_error_rate", "data", _ber_at_20ua,
             ("BER, 2T2R read at 20 uA", "BER, 1T1R read at 20 uA", "1T1R / 2T2R BER at 20 uA"),
             ("below 1T1R at low programming current",
              "above 2T2R at the same current",
              "2T2R as good as 1T1R with a single error correcting code"),
             "Bocquet et al., IEDM 2018; Querlioz et al., BioCAS 2019"),
    Headline("rram_bnn_inference", "data", _bnn_at_low_ber,
             (f"BNN accuracy at weight BER <= {_sci(BNN_BER)} (worst case)",),
             ("no accuracy loss up to a weight BER of about 1e-3",),
             "Hirtzlin et al., Front. Neurosci. 13, 1383 (2020)"),
    Headline("stno_injection_locking", "data", _locking_slope, ("Locking half-width vs rf amplitude",),
             ("locked half-width linear in the rf amplitude, through zero (Adler)",),
             "Slavin & Tiberkevich, IEEE Trans. Magn. 45, 1875 (2009)"),
    Headline("stno_mutual_sync", "data", _mutual_sync, (SYNC,),
             ("electrically coupled oscillators merge into one frequency over a current range",),
             "Romera et al., Nature 563, 230 (2018)"),
    Headline("stno_vowel_recognition", "accuracy", _vowels,
             ("Vowel recognition, train", "Vowel recognition, test"),
             ("89 %", "88 %"),
             "Romera et al., Nature 563, 230 (2018)"),
)


def verdict(out_dir: str | Path, headlines: Sequence[Headline] = HEADLINES) -> list[Row]:
    """The verdict's rows from the run files ``<protocol>.h5`` in ``out_dir``."""
    from labctl.results import open_run

    rows = []
    for h in headlines:
        path = Path(out_dir) / f"{h.protocol}.h5"
        try:
            if not path.exists():
                raise Missing("not run")
            with open_run(path) as run:
                status = run.status
                cols = {k: f.values for k, f in run.columns(h.group).items()}
                if not cols:
                    raise Missing(f"run {status}, no {h.group!r} data")
                measured = h.measure(cols)
                if status != "completed":
                    measured = [(*m[:5], {**m[5], "status": status}) for m in measured]
        except Exception as exc:  # missing, or a run file we cannot read: say so, keep the other rows
            why = str(exc) if isinstance(exc, Missing) else f"{type(exc).__name__}: {exc}"
            rows += [Row(what, f"not measured ({why})", paper, h.source, path.name)
                     for what, paper in zip(h.what, h.paper, strict=True)]
            continue
        for k, (what, ours, value, interval, units, details) in enumerate(measured):
            if status != "completed":
                ours += f" (run {status})"
            paper = h.paper[min(k, len(h.paper) - 1)]
            rows.append(Row(what, ours, paper, h.source, path.name, value, interval, units, details))
    return rows


def markdown(rows: Sequence[Row]) -> str:
    lines = ["| headline | this run | paper | source |", "| --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r.what} | {r.ours} | {r.paper} | {r.source} |")
    return "\n".join(lines) + "\n"


def write_summary(out_dir: str | Path, rows: Sequence[Row] | None = None) -> tuple[Path, Path]:
    """``summary.md`` (the table, with how it was made) and ``summary.json`` (every row's number,
    interval and details) in ``out_dir``."""
    from labctl import __version__

    out_dir = Path(out_dir)
    rows = verdict(out_dir) if rows is None else list(rows)
    made = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    md = out_dir / "summary.md"
    md.write_text(
        "# labctl demo: the verdict\n\n"
        f"Headline numbers of the run files in this folder (labctl {__version__}, {made}), next to the papers'.\n"
        "Rates carry their 95 % interval in brackets.\n\n" + markdown(rows), encoding="utf-8")
    js = out_dir / "summary.json"
    doc = {"labctl": __version__, "made": made, "rows": [_plain(asdict(r)) for r in rows]}
    js.write_text(json.dumps(doc, indent=2, allow_nan=False, default=str) + "\n", encoding="utf-8")
    return md, js


def _plain(value: Any) -> Any:
    """JSON-safe: numpy numbers as floats, infinities and NaN as None."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
