"""The run file: NeXus layout read back with its attributes, streaming, crash safety, status."""

import os
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

import labctl.store
from labctl.recovery import clear_open_flags, lookup3
from labctl.results import list_entries, open_run
from labctl.store import Array, Axis, Column, RunWriter

COLUMNS = [Column("voltage", "V", "Source voltage", axis=True), Column("current", "A", "Current")]
SPECTRUM = Array(
    "spectrum", (8,), "dBm", "Power spectral density",
    axes=(Axis("frequency", "Hz", "Frequency"),), index=(Column("dc_current", "A", "DC current"),),
)
MAP = Array("bit_map", (4, 4), "", "Read bits", axes=(Axis("row"), Axis("col")), dtype="i1")


def _write(path, n=5, status="completed"):
    w = RunWriter(path, COLUMNS, [SPECTRUM, MAP], title="test run", clock=iter(range(100)).__next__)
    w.write_metadata(
        parameters={"v_max": {"value": 1.5, "units": "V", "long_name": "Max voltage"}},
        instruments={"smu": {"driver": "x.Keithley2400", "idn": "KEITHLEY,2400", "limits": {
            "source_voltage": (5.0, "V")}}},
        sample={"bench": "demo.yaml", "seed": 7},
        program={"versions": {"numpy": np.__version__}},
    )
    w.start()
    for k in range(n):
        w.append(voltage=0.1 * k, current=1e-3 * k)
    w.set_axis("spectrum", "frequency", np.linspace(1e9, 2e9, 8))
    w.append_array("spectrum", np.arange(8.0), dc_current=2e-3)
    w.append_array("bit_map", np.eye(4, dtype=np.int8))
    w.finish(status)
    return path


def test_nexus_layout_and_attributes(tmp_path):
    path = _write(tmp_path / "run.h5")
    with h5py.File(path, "r") as f:
        assert f.attrs["NX_class"] == "NXroot" and f.attrs["default"] == "entry"
        e = f["entry"]
        assert e.attrs["NX_class"] == "NXentry" and e.attrs["default"] == "data"
        d = e["data"]
        assert d.attrs["NX_class"] == "NXdata"
        assert d.attrs["signal"] == "current" and list(d.attrs["axes"]) == ["voltage"]
        for name in ("voltage", "current", "time"):
            assert "units" in d[name].attrs and "long_name" in d[name].attrs
        assert d["voltage"].attrs["units"] == "V" and d["time"].attrs["units"] == "s"
        s = e["spectrum"]
        assert list(s.attrs["axes"]) == ["dc_current", "frequency"]
        assert s["spectrum"].shape == (1, 8) and s["spectrum"].attrs["units"] == "dBm"
        assert e["bit_map/bit_map"].attrs["interpretation"] == "image"
        assert e["instrument"].attrs["NX_class"] == "NXinstrument"
        assert e["sample"].attrs["NX_class"] == "NXsample"
        assert e["parameters/v_max"].attrs["units"] == "V"
        assert e["instrument/smu/limits/source_voltage"].attrs["units"] == "V"


def test_reader_gives_arrays_units_axes(tmp_path):
    path = _write(tmp_path / "run.h5")
    assert list_entries(path) == ["entry"]
    with open_run(path) as run:
        assert run.status == "completed" and run.complete
        assert run.title == "test run" and run.start_time and run.end_time
        d = run.data()
        assert d.signal.name == "current" and d.signal.units == "A"
        assert d.axes[0].name == "voltage"
        np.testing.assert_allclose(d.axes[0].values, 0.1 * np.arange(5))
        np.testing.assert_allclose(run["time"].values, np.arange(5) + 1)  # fake clock ticks
        sp = run.data("spectrum")
        assert sp.signal.values.shape == (1, 8)
        assert [a.name for a in sp.axes] == ["dc_current", "frequency"]
        assert sp.axes[1].values[-1] == 2e9 and sp.axes[1].units == "Hz"
        bm = run.data("bit_map")
        assert bm.signal.values.dtype == np.int8 and bm.signal.values[0].trace() == 4
        assert run.parameter_values() == {"v_max": 1.5}
        assert run.parameters["v_max"].units == "V"
        assert run.instruments["smu"]["idn"] == "KEITHLEY,2400"
        assert run.sample == {"bench": "demo.yaml", "seed": 7}
        assert run.to_pandas().shape == (5, 3)


def test_schema_is_enforced(tmp_path):
    w = RunWriter(tmp_path / "r.h5", COLUMNS, [SPECTRUM])
    with pytest.raises(KeyError, match="unknown column"):
        w.append(voltage=1, bogus=2)
    assert w.n_points == 0  # nothing half-written
    with pytest.raises(ValueError, match="shape"):
        w.append_array("spectrum", np.zeros(9))
    with pytest.raises(KeyError, match="unknown array"):
        w.append_array("nope", np.zeros(8))
    w.append(voltage=1.0)  # missing column -> NaN
    with pytest.raises(RuntimeError, match="before streaming"):
        w.write_metadata(sample={"a": 1})
    w.finish("aborted", "stopped by user")
    with open_run(tmp_path / "r.h5") as run:
        assert run.status == "aborted" and run.exit_message == "stopped by user"
        assert np.isnan(run["current"].values[0])
    with pytest.raises(ValueError, match="identifier"):
        Column("bad name")
    with pytest.raises(ValueError, match="one axis per dimension"):
        Array("m", (2, 2), axes=(Axis("row"),))


def test_a_value_that_cannot_be_stored_writes_nothing(tmp_path):
    w = RunWriter(tmp_path / "r.h5", COLUMNS, [SPECTRUM])
    w.append(voltage=0.0, current=0.0)
    with pytest.raises(ValueError):
        w.append(voltage=1.0, current="high")  # the first column must not grow alone
    with pytest.raises(ValueError):
        w.append_array("spectrum", np.zeros(8), dc_current="x")
    w.append_array("spectrum", np.ones(8), dc_current=1e-3)
    w.finish("failed", "bad value")
    with open_run(tmp_path / "r.h5") as run:
        assert run["voltage"].values.tolist() == [0.0] and run["current"].values.tolist() == [0.0]
        d = run.data("spectrum")
        assert d.signal.values.shape == (1, 8) and d.fields["dc_current"].values.tolist() == [1e-3]
        assert d.fields["time"].values.shape == (1,)


def test_a_schema_that_fails_midway_leaves_no_file(tmp_path, monkeypatch):
    def interrupted(entry, array):
        raise KeyboardInterrupt  # e.g. Ctrl-C while the file is being laid out

    monkeypatch.setattr(labctl.store, "create_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        RunWriter(tmp_path / "r.h5", COLUMNS, [SPECTRUM])
    assert not (tmp_path / "r.h5").exists()


def test_context_manager_marks_failure_with_traceback(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with RunWriter(tmp_path / "r.h5", COLUMNS) as w:
            w.append(voltage=0.0, current=0.0)
            raise ZeroDivisionError("boom")
    with open_run(tmp_path / "r.h5") as run:
        assert run.status == "failed"
        assert "ZeroDivisionError" in run.traceback
        assert len(run["voltage"].values) == 1


def test_second_entry_in_same_file_and_refusal_to_overwrite(tmp_path):
    path = _write(tmp_path / "run.h5")
    w = RunWriter(path, COLUMNS, entry="entry2")
    w.append(voltage=2.0, current=3.0)
    w.finish("completed")
    assert list_entries(path) == ["entry", "entry2"]
    with open_run(path, "entry2") as run:
        assert run["current"].values.tolist() == [3.0]
    with pytest.raises(FileExistsError):
        RunWriter(path, COLUMNS)
    RunWriter(path, COLUMNS, entry="never_started").discard()  # removes its entry only
    assert list_entries(path) == ["entry", "entry2"]
    RunWriter(tmp_path / "new.h5", COLUMNS).discard()  # removes the file it created
    assert not (tmp_path / "new.h5").exists()


WRITER = textwrap.dedent(
    """
    import sys, time
    from labctl.store import Array, Column, RunWriter
    w = RunWriter(sys.argv[1], [Column("x", "V", "x"), Column("y", "A", "y")],
                  [Array("trace", (16,), "dBm", "trace")])
    w.start()
    for k in range(37):
        w.append(x=k, y=2 * k)
        if k % 10 == 0:
            w.append_array("trace", [k] * 16)
    print("flushed", flush=True)
    time.sleep(60)
    """
)


def test_sigkilled_writer_leaves_readable_file(tmp_path):
    path = tmp_path / "killed.h5"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "flushed"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with open_run(path) as run:
        assert run.recorded_status == "running"
        assert run.status == "incomplete" and not run.complete
        np.testing.assert_array_equal(run["x"].values, np.arange(37))
        np.testing.assert_array_equal(run["y"].values, 2 * np.arange(37))
        assert run.data("trace").signal.values[:, 0].tolist() == [0, 10, 20, 30]


def test_parameters_of_every_kind_read_back(tmp_path):
    w = RunWriter(tmp_path / "p.h5", COLUMNS)
    w.write_metadata(parameters={
        "mode": {"value": "fast", "long_name": "Mode"},
        "verify": {"value": True},
        "levels": {"value": [0.5, 1.0], "units": "V"},
        "unset": {"value": None},
    })
    w.finish("completed")
    with open_run(tmp_path / "p.h5") as run:
        values = run.parameter_values()
        assert values["mode"] == "fast" and values["verify"] is True and "unset" not in values
        assert values["levels"] == [0.5, 1.0] and run.parameters["levels"].units == "V"


def test_lookup3_matches_the_checksum_hdf5_wrote(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w", libver=("v110", "v110")) as f:
        f["x"] = 1
    block = (tmp_path / "x.h5").read_bytes()[:48]  # superblock v3 with 8-byte addresses
    assert block[8] == 3 and lookup3(block[:44]) == int.from_bytes(block[44:], "little")
    assert not clear_open_flags(tmp_path / "x.h5")  # closed cleanly: nothing to clear


def test_live_reader_follows_streaming_writer(tmp_path):
    w = RunWriter(tmp_path / "live.h5", COLUMNS)
    w.append(voltage=0.0, current=0.0)
    with open_run(tmp_path / "live.h5") as run:
        assert run.status == "running"  # this process is the writer
        assert len(run["voltage"].values) == 1
        w.append(voltage=1.0, current=1.0)
        assert len(run["voltage"].values) == 2
    w.finish("completed")


READER = textwrap.dedent(
    """
    import sys, h5py
    f = h5py.File(sys.argv[1], "r", swmr=True)
    print("open", flush=True)
    sys.stdin.readline()
    f.close()
    """
)


def test_run_finishes_while_another_process_follows_it(tmp_path):
    path = tmp_path / "live.h5"
    w = RunWriter(path, COLUMNS)
    w.append(voltage=0.0, current=0.0)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "open"  # a viewer holds the file (and its lock)
        w.finish("completed")
    finally:
        reader.communicate("\n")
    with open_run(path) as run:
        assert run.status == "completed" and len(run["voltage"].values) == 1
