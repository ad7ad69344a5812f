"""Scans stored as grids: N-D fields over HDF5 dimension scales, filled in place and flushed per
record; one quantity per plot; rates with their confidence interval."""

import os
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from labctl.results import open_run
from labctl.stats import wilson_interval as wilson
from labctl.store import Array, Axis, Column, Plot, RunWriter, Sweep, Table

COLUMNS = [Column("compliance", "A", "SET compliance current", axis=True),
           Column("cycles", "", "Cycles", axis=True),
           Column("ber", "", "Bit-error rate", count="errors", trials="bits"),
           Column("ber_ref", "", "Bit-error rate, reference read", trials=64),
           Column("errors", "", "Errors", dtype="i4"),
           Column("bits", "", "Bits", dtype="i4"),
           Column("r", "ohm", "Median resistance")]
SCAN = (Sweep("cycles", [0, 100]), Sweep("compliance", [1e-5, 2e-5, 5e-5]))
MAP = Array("error_map", (4, 4), "", "Errors per bit", axes=(Axis("row"), Axis("column")),
            index=(COLUMNS[0], COLUMNS[1]), dtype="i4", grid=SCAN)
PLOTS = [Plot("ber_plot", "ber", ("ber_ref",), interpretation="spectrum", title="BER"),
         Plot("resistance", "r")]


def _point(k):
    cycles, compliance = [(c, i) for c in (0, 100) for i in (1e-5, 2e-5, 5e-5)][k]
    return dict(cycles=cycles, compliance=compliance, ber=k / 64, ber_ref=(k + 1) / 64, errors=k, bits=64,
                r=1e4 * (k + 1))


def _writer(path, **kw):
    return RunWriter(path, COLUMNS, [MAP], scan=SCAN, plots=PLOTS, default="ber_plot", **kw)


def test_a_scan_is_an_nd_grid_with_dimension_scales_filled_in_place(tmp_path):
    w = _writer(tmp_path / "g.h5")
    for k in range(4):
        w.append_array("error_map", np.full((4, 4), k), **{n: _point(k)[n] for n in ("cycles", "compliance")})
        w.append(**_point(k))
    w.finish("aborted")
    with h5py.File(tmp_path / "g.h5", "r") as f:
        d = f["entry/data"]
        assert d["ber"].shape == (2, 3) and list(d.attrs["axes"]) == ["cycles", "compliance"]
        assert [dim.label for dim in d["ber"].dims] == ["cycles", "compliance"]
        assert d["ber"].dims[1][0] == d["compliance"] and d["compliance"].attrs["units"] == "A"
        np.testing.assert_array_equal(np.isnan(d["ber"][()]), [[0, 0, 0], [0, 1, 1]])
        assert d["points_taken"][()] == 4 and d["errors"][1, 2] == d["errors"].attrs["_FillValue"]
        m = f["entry/error_map/error_map"]
        assert m.shape == (2, 3, 4, 4) and [dim.label for dim in m.dims] == ["cycles", "compliance", "row", "column"]
        assert m[1, 0, 0, 0] == 3 and m[1, 1, 0, 0] == m.attrs["_FillValue"]
        assert f["entry"].attrs["default"] == "ber_plot"
        assert d["ber"].attrs["units"] == "1"  # dimensionless, said so
    with open_run(tmp_path / "g.h5") as run:
        flat = run.columns()  # the same records, in the order taken
        assert flat["compliance"].values.tolist() == [1e-5, 2e-5, 5e-5, 1e-5]
        assert flat["cycles"].values.tolist() == [0, 0, 0, 100]
        assert run["ber"].values.tolist() == [k / 64 for k in range(4)]
        assert run.columns("error_map")["error_map"].values[:, 0, 0].tolist() == [0, 1, 2, 3]
        df = run.to_pandas()
        assert len(df) == 4 and df.attrs["units"]["compliance"] == "A" and df.attrs["units"]["r"] == "ohm"


def test_records_must_follow_the_declared_sweeps_and_fit_the_grid(tmp_path):
    w = _writer(tmp_path / "g.h5")
    w.append(**_point(0))
    with pytest.raises(ValueError, match="order of the declared sweeps"):
        w.append(**{**_point(1), "compliance": 5e-5})
    assert w.n_points == 1  # nothing written
    for k in range(1, 6):
        w.append(**_point(k))
    with pytest.raises(IndexError, match="full"):
        w.append(**_point(0))
    w.finish("completed")
    with open_run(tmp_path / "g.h5") as run:
        assert run.data("data").taken == 6 and not np.isnan(run.data("data").signal.values).any()


def test_sweeps_known_only_during_the_run_are_written_by_the_first_record_on_them(tmp_path):
    cols = [Column("power", "dBm", "RF power", axis=True), Column("f", "Hz", "RF frequency", axis=True),
            Column("pull", "Hz", "Pulling")]
    w = RunWriter(tmp_path / "u.h5", cols, scan=(Sweep("power", [-20, -10]), Sweep("f", size=3)))
    f0 = 3.3e8
    for p in (-20, -10):
        for k in range(3):
            w.append(power=p, f=f0 + k * 1e6, pull=k)
    with pytest.raises(IndexError):
        w.append(power=-10, f=f0, pull=0)
    w.finish("completed")
    with open_run(tmp_path / "u.h5") as run:
        d = run.data()
        assert d.axes[1].values.tolist() == [f0, f0 + 1e6, f0 + 2e6] and d.axes[1].units == "Hz"
    w = RunWriter(tmp_path / "v.h5", cols, scan=(Sweep("power", [-20, -10]), Sweep("f", size=2)))
    w.append(power=-20, f=f0, pull=0)
    w.append(power=-20, f=f0 + 1, pull=0)
    with pytest.raises(ValueError, match="order"):  # not a grid: the second row is elsewhere
        w.append(power=-10, f=f0 + 5, pull=0)
    w.close()


def test_a_sweep_of_one_setpoint_is_a_scalar_coordinate(tmp_path):
    w = RunWriter(tmp_path / "s.h5", COLUMNS, scan=(Sweep("cycles", [0]), Sweep("compliance", [1e-5, 2e-5])))
    w.append(**_point(0))
    w.finish("completed")
    with h5py.File(tmp_path / "s.h5", "r") as f:
        d = f["entry/data"]
        assert d["ber"].shape == (2,) and d["cycles"].shape == () and d["cycles"][()] == 0
        assert d["ber"].attrs["coordinates"] == "cycles" and list(d.attrs["axes"]) == ["compliance"]
    with open_run(tmp_path / "s.h5") as run:
        assert run["cycles"].values.tolist() == [0.0]


def test_arrays_and_tables_recorded_once_or_over_their_own_scan(tmp_path):
    table = Table("epochs", (Column("epoch", "", "Epoch", axis=True),
                             Column("accuracy", "", "Accuracy", trials="tokens"), Column("tokens", "", "Tokens")),
                  grid=(Sweep("epoch", range(3)),))
    once = Array("weights", (2, 3), "", "Weights", grid=())
    w = RunWriter(tmp_path / "t.h5", arrays=[once], tables=[table],
                  plots=[Plot("acc", "accuracy", channel="epochs")])
    w.append_array("weights", np.ones((2, 3)))
    w.append_row("epochs", epoch=0, accuracy=0.5, tokens=10)
    with pytest.raises(KeyError, match="unknown column"):
        w.append_row("epochs", epoch=1, bogus=1)
    w.finish("completed")
    with open_run(tmp_path / "t.h5") as run:
        assert run.data("weights").signal.values.shape == (2, 3)
        d = run.data()
        assert d.name == "acc" and d.taken == 1 and np.isnan(d.signal.values[1:]).all()
        lo, hi = d.interval("accuracy")
        assert (lo[0], hi[0]) == pytest.approx(wilson(5, 10))


def test_rates_carry_counts_and_a_95_percent_interval_as_nexus_errors(tmp_path):
    w = _writer(tmp_path / "r.h5")
    for k in range(6):
        w.append(**_point(k))
    w.finish("completed")
    with open_run(tmp_path / "r.h5") as run:
        d = run.data()  # the default plot: BER, its reference read beside it, both with errors
        assert d.name == "ber_plot" and d.signal.name == "ber" and [a.name for a in d.auxiliary] == ["ber_ref"]
        assert d.interpretation == "spectrum" and d.title == "BER"
        for name, k, n in (("ber", np.arange(6), 64), ("ber_ref", np.arange(6) + 1, 64)):
            lo, hi = d.interval(name)
            expected = np.array([wilson(int(x), n) for x in k]).reshape(2, 3, 2)
            np.testing.assert_allclose(lo, expected[..., 0])
            np.testing.assert_allclose(hi, expected[..., 1])
            rate = k.reshape(2, 3) / n
            np.testing.assert_allclose(d.errors[name].values, np.maximum(rate - lo, hi - rate))
        assert d.errors["ber"].values[0, 0] > 0  # zero errors is not "exactly zero"
        assert run.data("data")["ber_ref_count"].values.ravel().tolist() == list(range(1, 7))
    with h5py.File(tmp_path / "r.h5", "r") as f:
        assert f["entry/ber_plot/ber"] == f["entry/data/ber"]  # a link, not a copy
        assert f["entry/data/ber_errors"].attrs["confidence_level"] == 0.95


def test_a_plot_shows_one_quantity(tmp_path):
    with pytest.raises(ValueError, match="not in the units"):
        RunWriter(tmp_path / "p.h5", COLUMNS, scan=SCAN, plots=[Plot("mixed", "ber", ("r",))])
    assert not (tmp_path / "p.h5").exists()
    w = RunWriter(tmp_path / "q.h5", COLUMNS)  # no plots: the table's first signal, no auxiliaries
    w.finish("completed")
    with h5py.File(tmp_path / "q.h5", "r") as f:
        assert f["entry/data"].attrs["signal"] == "ber" and "auxiliary_signals" not in f["entry/data"].attrs


KILLED = textwrap.dedent(
    """
    import sys, time
    from labctl.store import Column, RunWriter, Sweep
    w = RunWriter(sys.argv[1], [Column("x", "V", "x", axis=True), Column("y", "V", "y", axis=True),
                                Column("z", "A", "z")], scan=(Sweep("x", range(4)), Sweep("y", range(5))))
    for k in range(7):
        w.append(x=k // 5, y=k % 5, z=k)
    print("flushed", flush=True)
    time.sleep(60)
    """
)


def test_a_killed_scan_shows_every_point_it_took_in_place(tmp_path):
    path = tmp_path / "killed.h5"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "flushed"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with open_run(path) as run:
        assert run.status == "incomplete"
        d = run.data()
        assert d.taken == 7 and d.signal.values.shape == (4, 5)
        np.testing.assert_array_equal(d.signal.values.ravel()[:7], np.arange(7))
        assert np.isnan(d.signal.values.ravel()[7:]).all()
        assert run["z"].values.tolist() == list(range(7))
