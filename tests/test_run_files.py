"""The run file of every shipped protocol, read as the experiment by tools we did not write.

One small run of each protocol (a session fixture) is checked for: its sweeps stored as N-D grids
over HDF5 dimension scales; one quantity per NXdata (auxiliary signals in the signal's units); a
default plot that is the experiment's headline; rates with their confidence interval; silx's
reading of the default plot (when silx is installed).
"""

import h5py
import numpy as np
import pytest

from labctl.protocol import get_protocol, protocols
from labctl.results import open_run
from labctl.runner import Runner, run_protocol
from labctl.station import Station

#: Small parameters per protocol: seconds, not minutes, and every sweep of more than one setpoint.
SMALL = {
    "demo_iv": {"points": 5},
    "rram_iv_sweep": {"loops": 1, "step": 0.1},
    "rram_form_array": {"v_step": 0.1},
    "rram_program_array": {},
    "rram_bit_error_rate": {"compliances": "20e-6, 100e-6", "cycle_points": "0, 1000", "repeats": 1},
    "rram_endurance": {"max_cycles": 1000, "per_decade": 1},
    "rram_bnn_inference": {"compliances": "10e-6, 100e-6", "test_images": 20, "epochs": 2, "repeats": 2},
    "stno_frequency_vs_current": {"steps": 4, "points": 201},
    "stno_frequency_vs_field": {"steps": 3, "points": 201},
    "stno_injection_locking": {"p_steps": 2, "detuning_steps": 5, "points": 201},
    "stno_mutual_sync": {"steps": 4, "points": 201},
    "stno_vowel_recognition": {"speakers": 4, "epochs": 1, "cal_points": 3, "map_points": 3, "points": 301},
}
#: The headline plot of each experiment: (default NXdata, its signal, its axes).
HEADLINE = {
    "demo_iv": ("data", "current", ["voltage"]),
    "rram_iv_sweep": ("data", "current", ["voltage"]),
    "rram_form_array": ("forming", "formed_fraction", ["voltage"]),
    "rram_program_array": ("resistance_after", "resistance_after", ["side", "row", "column"]),
    "rram_bit_error_rate": ("ber", "ber_2t2r", ["cycles", "compliance"]),
    "rram_endurance": ("ber", "ber_2t2r", ["cycles"]),
    "rram_bnn_inference": ("accuracy", "accuracy_die", ["compliance", "repeat"]),
    "stno_frequency_vs_current": ("frequency", "peak_frequency", ["dc_current"]),
    "stno_frequency_vs_field": ("frequency", "peak_frequency", ["field_setpoint"]),
    "stno_injection_locking": ("locking_map", "pulling", ["rf_power", "rf_frequency"]),
    "stno_mutual_sync": ("frequencies", "peak_frequency", ["current_b"]),
    "stno_vowel_recognition": ("recognition", "test_accuracy", ["epoch"]),
}


def test_every_shipped_protocol_is_covered():
    assert set(protocols()) == set(SMALL) == set(HEADLINE)


@pytest.fixture(scope="session")
def run_files(tmp_path_factory):
    """name -> path of a completed small run of every shipped protocol."""
    out = tmp_path_factory.mktemp("runs")
    paths = {}
    for name, params in SMALL.items():
        result = run_protocol(name, out / f"{name}.h5", **params)
        assert result.status == "completed", (name, result.message)
        paths[name] = out / f"{name}.h5"
    return paths


def _nxdata(entry):
    return {k: g for k, g in entry.items() if isinstance(g, h5py.Group) and g.attrs.get("NX_class") == "NXdata"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_sweeps_are_grids_over_dimension_scales(run_files, name):
    cls = get_protocol(name)
    protocol = cls(**SMALL[name])
    scan = protocol.scan()
    with h5py.File(run_files[name], "r") as f:
        data = f["entry/data"]
        kept = [s for s in scan or () if s.size > 1]
        if scan is None or (len(scan) == 1 and scan[0].unbounded):  # a log: one dimension, its index
            dim = scan[0].name if scan else "time"
            assert data[dim].is_scale
            signal = data[data.attrs["signal"]]
            assert signal.ndim == 1 and signal.dims[0][0] == data[dim]
        else:
            shape = tuple(s.size for s in kept)
            assert data["points_taken"][()] == int(np.prod([s.size for s in scan]))
            for c in cls.COLUMNS:
                if c.name in {s.name for s in scan}:
                    continue
                ds = data[c.name]
                assert ds.shape == shape, (c.name, ds.shape, shape)
                assert [ds.dims[k][0].name.rsplit("/", 1)[-1] for k in range(len(shape))] == [s.name for s in kept]
            for s in kept:
                assert data[s.name].is_scale and data[s.name].shape == (s.size,)
                assert np.isfinite(data[s.name][()]).all()
        for a in protocol.arrays():  # array channels over a scan: (*scan, *record) with every dimension scaled
            field = f[f"entry/{a.name}/{a.name}"]
            assert field.shape[field.ndim - len(a.shape):] == a.shape
            assert all(len(field.dims[k]) == 1 for k in range(field.ndim)), a.name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_one_quantity_per_plot_and_the_headline_by_default(run_files, name):
    with h5py.File(run_files[name], "r") as f:
        entry = f["entry"]
        default, signal, axes = HEADLINE[name]
        assert entry.attrs["default"] == default
        g = entry[default]
        assert g.attrs["signal"] == signal and list(g.attrs.get("axes", [])) == axes
        for gname, g in _nxdata(entry).items():
            sig = g[g.attrs["signal"]]
            for aux in g.attrs.get("auxiliary_signals", []):
                assert g[aux].attrs["units"] == sig.attrs["units"], (gname, aux)
            for ds in g.values():  # every numeric field says its units and what it is
                if isinstance(ds, h5py.Dataset) and ds.dtype.kind in "iufb":
                    assert "units" in ds.attrs and "long_name" in ds.attrs, (gname, ds.name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_rates_carry_their_interval(run_files, name):
    cls = get_protocol(name)
    tables = [("data", cls.COLUMNS), *((t.name, t.columns) for t in cls(**SMALL[name]).tables())]
    with open_run(run_files[name]) as run:
        for table, columns in tables:
            for c in columns:
                if not c.is_rate:
                    continue
                d = run.data(table)
                rate = d[c.name].values
                lo, hi = d.interval(c.name)
                if isinstance(c.trials, str) and not np.any(d[c.trials].values):
                    assert np.all(np.isnan(rate) & np.isnan(lo)), (name, c.name)  # not measured: no rate
                    continue
                assert np.all((lo <= rate) & (rate <= hi)) and np.all(hi > lo), (name, c.name)
                assert np.all(d[f"{c.name}_errors"].values >= (hi - lo) / 2)
        default = run.data()
        if any(c.is_rate and c.name == default.signal.name for _, cols in tables for c in cols):
            assert default.signal.name in default.errors  # drawn as error bars by NeXus viewers


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_silx_reads_the_default_plot(run_files, name):
    nxdata = pytest.importorskip("silx.io.nxdata")
    with h5py.File(run_files[name], "r") as f:
        nx = nxdata.get_default(f)
        assert nx is not None and nx.is_valid, nx.issues if nx is not None else "no default"
        default, signal, axes = HEADLINE[name]
        assert nx.group.name == f"/entry/{default}" and nx.signal_dataset_name == signal
        curve = nx.signal.ndim == 1 or nx.interpretation == "spectrum"
        assert nx.is_curve == curve and (nx.is_curve or nx.is_image or nx.is_stack)
        has_errors = f[f"entry/{default}"].get(f"{signal}_errors") is not None
        assert (nx.errors is not None) == has_errors
        for g in _nxdata(f["entry"]).values():
            assert nxdata.NXdata(g).is_valid, (g.name, nxdata.NXdata(g).issues)


@pytest.mark.slow
def test_an_aborted_scan_shows_the_points_it_took_in_place(tmp_path):
    cls = get_protocol("stno_injection_locking")
    protocol = cls(**SMALL["stno_injection_locking"])
    runner = Runner(protocol, Station.load(cls.STATION), tmp_path / "stopped.h5")
    runner.on_progress = lambda pct: runner.abort() if pct >= 60 else None  # 6 of 10 points
    assert runner.run().status == "aborted"
    with open_run(tmp_path / "stopped.h5") as run:
        d = run.data()
        assert d.taken == 6 and d.signal.values.shape == (2, 5)
        taken = np.isfinite(d.signal.values.ravel())
        assert taken[:6].all() and not taken[6:].any()
        spectra = run.data("spectrum").signal.values  # (power, rf frequency, analyzer frequency)
        assert np.isfinite(spectra[0]).all() and np.isfinite(spectra[1, 0]).all() and np.isnan(spectra[1, 1:]).all()
        assert run["rf_power"].values.tolist() == [-25.0] * 5 + [-10.0]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_xarray_opens_every_nxdata_with_named_dimensions(run_files, name):
    xr = pytest.importorskip("xarray")
    with h5py.File(run_files[name], "r") as f:
        groups = {k: (g.attrs["signal"], [a for a in g.attrs.get("axes", []) if a != "."], "points_taken" in g)
                  for k, g in _nxdata(f["entry"]).items()}
    for group, (signal, axes, grid) in groups.items():
        with xr.open_dataset(run_files[name], engine="h5netcdf", group=f"entry/{group}") as ds:
            assert not [d for d in ds.dims if str(d).startswith("phony_dim")], (group, dict(ds.sizes))
            assert ds[signal].attrs["units"] and ds[signal].attrs["long_name"]
            if grid and axes and ds[signal].ndim == len(axes):  # a scan: its sweeps are the dimensions
                assert list(ds[signal].dims) == axes, (group, ds[signal].dims)
            elif axes and axes[0] in ds:  # a log: the plot's x runs along the log's index
                assert ds[axes[0]].dims[0] == ds[signal].dims[0]
    with open_run(run_files[name]) as run:
        ds = run.to_xarray()
        assert ds.attrs["protocol"] == name and ds.attrs["status"] == "completed"
        for var in ds.variables.values():
            assert "units" in var.attrs and "long_name" in var.attrs
        d = run.data()
        xd = d.to_xarray()
        head = xd[d.signal.name]
        if d.taken is not None:  # a scan: the headline's axes are its dimensions, with their units
            assert list(head.dims)[: len(HEADLINE[name][2])] == HEADLINE[name][2]
            for axis in HEADLINE[name][2]:
                assert head[axis].attrs["units"]
        else:  # a log: the headline's x is a variable along the log's index
            assert xd[HEADLINE[name][2][0]].dims == head.dims
        df = run.to_pandas()
        assert len(df) == run.columns()["time"].values.size
        assert all(df.attrs["units"][c] for c in df.columns) and df.attrs["units"]["time"] == "s"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_nexus_conformance(run_files, name):
    validate = pytest.importorskip("nexusformat.nexus.validate")
    path = str(run_files[name])
    warnings, errors = validate.validate_file(path)
    assert errors == 0
    warnings, errors = validate.validate_application(path, path="/entry", application="NXsensor_scan")
    assert errors == 0
    with h5py.File(path, "r") as f:
        e = f["entry"]
        assert e["definition"][()] == b"NXsensor_scan" and e["definition"].attrs["version"]
        assert e["program_name"][()] == b"labctl" and e["program_name"].attrs["version"]
        assert e["program"].attrs["NX_class"] == "NXprocess" and e["program/environment"].attrs["NX_class"] == "NXnote"
        assert e["duration"].dtype.kind == "i" and e["duration"].attrs["units"] == "s"
        assert e["user"].attrs["NX_class"] == "NXuser" and e["user/name"][()]
        missing = []

        def visit(n, obj):  # units on every numeric field: data, sample, instrument, parameters
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "iufc" and "units" not in obj.attrs:
                missing.append(n)

        f.visititems(visit)
        assert missing == []
    with open_run(path) as run:
        assert run.program["versions"]["h5py"] == h5py.__version__ and run.program["name"] == "labctl"


def test_a_failed_run_keeps_its_traceback_as_a_note(tmp_path):
    from labctl.store import Column, RunWriter

    with pytest.raises(ZeroDivisionError):
        with RunWriter(tmp_path / "f.h5", [Column("x", "V", "x")]) as w:
            w.append(x=1.0)
            raise ZeroDivisionError("division by zero")
    with h5py.File(tmp_path / "f.h5", "r") as f:
        note = f["entry/traceback"]
        assert note.attrs["NX_class"] == "NXnote" and b"ZeroDivisionError" in note["data"][()]
    with open_run(tmp_path / "f.h5") as run:
        assert "ZeroDivisionError" in run.traceback and run.status == "failed"


def test_show_prints_the_sample_at_the_end_of_the_run(run_files, capsys):
    from labctl.cli import main

    assert main(["show", str(run_files["rram_program_array"])]) == 0
    out = capsys.readouterr().out
    at_end = next(line for line in out.splitlines() if line.strip().startswith("at end:"))
    assert "max_cycles=" in at_end and " -> " in at_end  # what the write did to the die
    assert "(default plot)" in out and "test_structure_gate=3.3 V" in out
