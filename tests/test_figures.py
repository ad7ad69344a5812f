"""Figures a reader can read: legends outside the data, whole-number colour bars, prefixed units on the
ticks, one colour scale per stack of maps; a run that stopped early still draws its protocol's figure."""

import matplotlib
import numpy as np
import pytest

from labctl.cli import main
from labctl.plotting import plot_data
from labctl.protocol import get_protocol
from labctl.results import Data, Field, open_run
from labctl.runner import Runner, run_protocol
from labctl.station import Station

matplotlib.use("Agg")


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _legends_clear_of_data(fig) -> list[str]:
    """Every legend's labels, after checking that no legend sits over any axes' plotting area."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent(renderer)
        for other in fig.axes:
            assert not _overlaps(box, other.get_window_extent(renderer)), (
                f"legend {[t.get_text() for t in legend.get_texts()]} covers an axes")
        labels += [t.get_text() for t in legend.get_texts()]
    return labels


@pytest.mark.parametrize("name, params, expected", [
    ("stno_injection_locking", {"p_steps": 2, "detuning_steps": 5}, ["locked", "linear fit (Adler)"]),
    ("stno_mutual_sync", {"steps": 4}, ["peak frequency", "second peak", "peak power"]),
    ("stno_frequency_vs_current", {"steps": 3}, ["peak frequency", "peak power"]),
    ("rram_endurance", {"max_cycles": 10, "per_decade": 1}, ["window (right axis)", "no error: high end"]),
])
def test_protocol_figures_name_every_series_in_legends_that_cover_no_data(tmp_path, name, params, expected):
    run_protocol(name, tmp_path / "r.h5", progress=False, **params)
    with open_run(tmp_path / "r.h5") as run:
        fig = get_protocol(name).figure(run)
    labels = " | ".join(_legends_clear_of_data(fig))
    for text in expected:
        assert text in labels, labels


def test_whole_number_maps_get_a_colour_per_value_and_whole_number_ticks():
    counts = np.arange(30).reshape(10, 3) % 3
    data = Data("errors", Field("errors", counts, "", "Errors per bit"),
                [Field("row", np.arange(10.0)), Field("column", np.arange(3.0))])
    fig = plot_data(data)
    mesh = fig.axes[0].collections[0]
    assert mesh.cmap.N == 3 and list(mesh.norm.boundaries) == [-0.5, 0.5, 1.5, 2.5]  # a colour each: 0, 1, 2
    ticks = fig.axes[1].get_yticks()
    assert len(ticks) and np.all(ticks == np.round(ticks))


def test_a_stack_of_maps_shares_one_colour_scale():
    stack = np.stack([np.full((4, 4), 1.0), np.full((4, 4), 50.0), np.linspace(0, 100, 16).reshape(4, 4)])
    data = Data("maps", Field("maps", stack, "ohm", "Resistance"), [Field("record", np.arange(3.0)), None, None])
    fig = plot_data(data)
    norms = {(im.norm.vmin, im.norm.vmax) for ax in fig.axes for im in ax.get_images()}
    assert norms == {(0.0, 100.0)}


def test_frequency_axes_read_in_prefixed_units(tmp_path):
    run_protocol("stno_injection_locking", tmp_path / "r.h5", progress=False, p_steps=2, detuning_steps=5)
    with open_run(tmp_path / "r.h5") as run:
        fig = plot_data(run.data("locked_map"))
    fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.get_xlabel() == "RF frequency" and ax.xaxis.get_offset_text().get_text() == ""
    assert all(t.get_text().endswith("MHz") for t in ax.get_xticklabels() if t.get_text())
    assert any("rf_power = -25 dBm" in t for t in _legends_clear_of_data(fig))


@pytest.mark.slow
@pytest.mark.parametrize("stage, calls", [("calibrate", 1), ("present", 2)])
def test_a_vowel_run_stopped_early_still_draws_its_figure(tmp_path, monkeypatch, capsys, stage, calls):
    cls = get_protocol("stno_vowel_recognition")
    proto = cls(epochs=1, speakers=4, map_points=3)
    runner = Runner(proto, Station.load("stno"), tmp_path / "v.h5")
    original, seen = getattr(proto, stage), []

    def then_abort(*args, **kwargs):
        seen.append(1)
        if len(seen) >= calls:
            runner.abort()  # as a Ctrl-C during this step
        return original(*args, **kwargs)

    setattr(proto, stage, then_abort)
    assert runner.run().status == "aborted"
    monkeypatch.chdir(tmp_path)
    with _no_fallback():
        assert main(["plot", "v.h5"]) == 0
    paths = capsys.readouterr().out.split()
    assert any(p.endswith("_figure.png") for p in paths), paths  # the protocol's figure, no fallback


class _no_fallback:
    """No "figure failed, plotting every NXdata instead" warning inside the block."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings(record=True)
        self.seen = self._catch.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        fallbacks = [w for w in self.seen if "plotting every NXdata instead" in str(w.message)]
        assert not fallbacks, [str(w.message) for w in fallbacks]
