"""The shipped vowel comparison (Romera et al. 2018, Fig. 2(c)) as a campaign, on a tiny configuration:
the realistic chip, idealized oscillators and the chip with its coupling off on the same talker splits of one
chip, the MLP reference trained on the same splits, one bar chart with the paper's values."""

import numpy as np
import pytest
import yaml

from labctl.campaign import run_campaign
from labctl.campaign_report import campaign_figure
from labctl.results import open_run
from labctl.studies import shipped_studies

pytest.importorskip("distributed")

TINY = {"epochs": 1, "speakers": 4, "cal_points": 3, "map_points": 2, "points": 301}

pytestmark = pytest.mark.slow  # six short vowel runs on a one-worker cluster


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    path = next(p for p in shipped_studies() if p.stem == "vowels_over_splits")
    spec = yaml.safe_load(path.read_text())
    spec["parameters"] = TINY
    spec["chips"] = spec["chips"][:2]
    return run_campaign(spec, out=tmp_path_factory.mktemp("study") / "vowels", workers=1, progress=False)


def test_every_condition_runs_on_every_split(study):
    assert study.counts() == {"completed": 6}, study.table["message"]
    table = study.table
    assert list(table["condition"]) == ["realistic chip"] * 2 + ["idealized oscillators"] * 2 + ["coupling off"] * 2
    samples, splits = {}, {}
    for file, condition in zip(table["file"], table["condition"], strict=True):
        with open_run(study.path.parent / file) as run:
            samples.setdefault(condition, []).append(run.sample)
            splits.setdefault(condition, []).append(run.parameter_values()["seed"])
    assert [s["seed"] for s in samples["realistic chip"]] == [2018, 2018]  # one chip ...
    assert all(seeds == [1, 2] for seeds in splits.values())  # ... the same two talker splits in each condition
    assert all(s["coupled"] for s in samples["realistic chip"])
    assert all(s["device_spread"]["radius"] == 0 and s["temperature"] == 0
               for s in samples["idealized oscillators"])
    assert not any(s["coupled"] for s in samples["coupling off"])


def test_the_mlp_reference_is_trained_on_the_realistic_chips_splits_only(study):
    s = study.index.summaries
    assert s["test_rate"].value.shape == (3,) and np.all(np.isfinite(s["test_rate"].value))
    mlp = s["mlp_test_rate"]
    assert np.isfinite(mlp.value[0]) and np.all(np.isnan(mlp.value[1:]))
    assert mlp.trials[0] == s["test_rate"].trials[0]  # the same test talkers


def test_the_summary_figure_is_one_bar_chart_with_the_papers_values(study):
    fig = campaign_figure(study.index)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["realistic chip", "idealized oscillators",
                                                            "coupling off"]
    bars = [p for p in ax.patches]
    assert len(bars) == 3 * 2 + 2  # chip train/test in three conditions, the MLP's two
    marks = sorted(line.get_ydata()[0] for line in ax.get_lines() if len(set(line.get_ydata())) == 1
                   and line.get_linestyle() in ("--", ":"))
    assert marks[-2:] == [0.88, 0.89]
    assert study.figure is not None and study.figure.is_file()
