"""The demo's verdict: headline numbers read from the run files by field name, next to the papers', saved as
summary.md and summary.json; a missing run or field says so instead of a number."""

import json

import numpy as np
import pytest

from labctl import demo, verdict
from labctl.cli import main
from labctl.runner import run_protocol


def test_ber_headline_reads_the_fresh_rates_nearest_20_ua_with_their_intervals():
    cols = {"compliance": np.array([10e-6, 20e-6, 20e-6, 50e-6]), "cycles": np.array([0, 0, 1e6, 0]),
            "ber_2t2r": np.array([1e-3, 1e-4, 5e-2, 0.0]), "ber_1t1r": np.array([1e-2, 2e-3, 9e-2, 1e-5]),
            "ber_2t2r_ci_low": np.array([0, 5e-5, 0, 0]), "ber_2t2r_ci_high": np.array([0, 2e-4, 0, 0])}
    (w2, t2, v2, i2, *_), (w1, _, v1, *_), (wr, tr, vr, *_) = verdict._ber_at_20ua(cols)
    assert w2 == "BER, 2T2R read at 20 uA" and v2 == 1e-4 and i2 == (5e-5, 2e-4) and t2 == "0.0001 [5e-05, 0.0002]"
    assert v1 == 2e-3 and vr == pytest.approx(20) and tr == "20x"
    cols["ber_2t2r"][1] = 0.0  # no 2T2R error: the ratio is a lower bound from the interval
    assert verdict._ber_at_20ua(cols)[2][1] == ">= 10x (no 2T2R error)"


def test_bnn_headline_is_the_worst_accuracy_at_low_weight_ber():
    cols = {"ber": np.array([0.1, 2e-3, 1e-3, 0.0]), "accuracy_die": np.array([0.5, 0.8, 0.82, 0.84]),
            "accuracy_software": np.full(4, 0.84)}
    (what, text, value, _, _, details), = verdict._bnn_at_low_ber(cols)
    assert what == "BNN accuracy at weight BER <= 1e-3 (worst case)"
    assert value == 0.82 and details["loss"] == pytest.approx(0.02) and text == "82 % on the die vs 84 % in software"
    with pytest.raises(verdict.Missing, match="lowest 0.1"):
        verdict._bnn_at_low_ber({**cols, "ber": np.full(4, 0.1)})


def test_locking_headline_fits_half_width_against_amplitude():
    amp = np.repeat([0.01, 0.02, 0.04], 21)
    f_rf = np.tile(300e6 + np.linspace(-10e6, 10e6, 21), 3)
    half = 100e6 * amp  # Adler: half-width proportional to the drive
    locked = (np.abs(f_rf - 300e6) <= half + 1).astype(float)
    (_, text, slope, _, units, details), = verdict._locking_slope(
        {"rf_amplitude": amp, "rf_frequency": f_rf, "locked": locked})
    assert units == "Hz/V" and slope == pytest.approx(100e6, rel=0.05) and details["r2"] > 0.99
    assert text.startswith("100 MHz/V")


def test_mutual_sync_headline_is_the_longest_merged_stretch():
    cols = {"current_b": np.arange(10) * 1e-4 + 6e-3, "n_peaks": np.array([2, 1, 2, 1, 1, 1, 2, 4, 2, 2])}
    (_, text, width, _, _, details), = verdict._mutual_sync(cols)
    assert details == {"from": pytest.approx(6.3e-3), "to": pytest.approx(6.5e-3)}
    assert width == pytest.approx(3e-4) and text == "one peak from 6.30 to 6.50 mA (0.3 mA wide)"


def test_missing_runs_and_fields_are_rows_that_say_so(tmp_path):
    run_protocol("stno_mutual_sync", tmp_path / "stno_mutual_sync.h5", steps=8, progress=False)
    rows = verdict.verdict(tmp_path)
    by_run = {r.run: r for r in rows}
    assert by_run["rram_bit_error_rate.h5"].ours == "not measured (not run)"
    sync = by_run["stno_mutual_sync.h5"]
    assert sync.ours.startswith("one peak from") and sync.source == "Romera et al., Nature 563, 230 (2018)"
    broken = [verdict.Headline("stno_mutual_sync", "data", lambda cols: verdict._need(cols, "nope"), ("x",), ("p",),
                               "s")]
    assert verdict.verdict(tmp_path, broken)[0].ours == "not measured (no field nope)"


@pytest.mark.slow
def test_labctl_demo_ends_with_the_verdict_saved_beside_the_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "TOUR", (("stno_mutual_sync", {"steps": "8"}),))
    assert main(["demo", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "The verdict" in out and "| Mutual synchronization: B's current range merged with A | one peak" in out
    md = (tmp_path / "summary.md").read_text()
    assert "| headline | this run | paper | source |" in md and "| Vowel recognition, test | not measured" in md
    doc = json.loads((tmp_path / "summary.json").read_text())
    sync = next(r for r in doc["rows"] if r["run"] == "stno_mutual_sync.h5")
    assert sync["units"] == "A" and sync["value"] > 0 and sync["details"]["from"] < sync["details"]["to"]
