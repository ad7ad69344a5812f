"""Nothing lost: live writers, stubs, the set-up window, full disks, foreign and damaged files."""

import errno
import os
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import h5py
import numpy as np
import pytest

import labctl.store
from labctl.channels import Slot
from labctl.cli import main
from labctl.errors import RunFileError
from labctl.hdf5_files import read_superblock, write_locked
from labctl.protocol import Column, Protocol, Role
from labctl.recovery import RecoveryError, recover
from labctl.results import open_run
from labctl.runner import Runner, run_protocol
from labctl.station import Station
from labctl.store import RunWriter

COLUMNS = [Column("x", "V", "x", axis=True), Column("y", "A", "y")]



def _finished(path, entry="entry", n=3):
    w = RunWriter(path, COLUMNS, entry=entry, title="finished")
    for k in range(n):
        w.append(x=k, y=2 * k)
    w.finish("completed")
    return path


# -- a file with a live writer is not recovered, nor written by a second run ------------------------
def test_recover_refuses_while_any_entry_of_the_file_is_being_written(in_tmp, capsys, error_line):
    _finished(in_tmp / "f.h5", "a")  # the default entry: completed
    live = RunWriter(in_tmp / "f.h5", COLUMNS, entry="x")
    live.hold()  # between its metadata and its first point (the protocol's set-up)
    assert main(["recover", "f.h5"]) == 2
    assert "being written (entry 'x' by pid" in error_line()
    live.append(x=0.0, y=0.0)  # streaming (SWMR): HDF5's own mark is set too
    assert main(["recover", "f.h5"]) == 2
    assert "entry 'x'" in error_line()
    with pytest.raises(RunFileError, match="being written"):
        RunWriter(in_tmp / "f.h5", COLUMNS, entry="y")
    assert main(["run", "demo_iv", "--out", "f.h5", "--entry", "y", "-q"]) == 2
    assert "being written" in error_line()
    live.finish("completed")
    assert main(["recover", "f.h5"]) == 0
    assert "nothing to recover (a: completed, x: completed)" in capsys.readouterr().out
    with h5py.File(in_tmp / "f.h5", "r") as f:
        assert sorted(f) == ["a", "x"] and f["a/data/x"].shape == (3,)


def test_a_writer_on_another_host_is_trusted_gone_only_with_force(tmp_path):
    path = tmp_path / "remote.h5"
    w = RunWriter(path, COLUMNS)
    w.append(x=1.0, y=1.0)
    w.close()  # like a writer killed mid-run
    with h5py.File(path, "r+") as f:
        f["entry"].attrs["writer_host"] = "lab-pc-7"
    with pytest.raises(RecoveryError, match="on lab-pc-7, which cannot be checked from here"):
        recover(path)
    done = recover(path, force=True)
    assert done.statuses == {"entry": "incomplete"}


# -- the demo never replaces earlier runs unasked ---------------------------------------------------
def test_demo_refuses_to_replace_an_earlier_demo_unless_forced(in_tmp, error_line, monkeypatch):
    import labctl.demo

    (in_tmp / "tour").mkdir()
    (in_tmp / "tour" / "demo_iv.h5").write_bytes(b"kept run")
    assert main(["demo", "--out-dir", "tour"]) == 2
    assert "tour holds an earlier demo (demo_iv.h5)" in error_line()
    assert (in_tmp / "tour" / "demo_iv.h5").read_bytes() == b"kept run"
    monkeypatch.setattr(labctl.demo, "TOUR", (("demo_iv", {"points": "3"}),))
    assert main(["demo", "--out-dir", "tour", "--force"]) == 0
    with open_run(in_tmp / "tour" / "demo_iv.h5") as run:
        assert run.status == "completed"


# -- the set-up window and stubs --------------------------------------------------------------------
class _Watched(Protocol):
    """Sweep whose set-up looks at its own run file from outside."""

    STATION = "demo"
    COLUMNS = (Column("voltage", "V", "Source voltage", axis=True), Column("current", "A", "Current"))
    smu = Role("source-measure unit")
    seen: dict = {}

    def startup(self):
        path = self.seen["path"]
        # what a kill now would leave: no open-for-write mark and no writer's lock, i.e. a file
        # every HDF5 tool opens (an open from this process would not tell: HDF5 shares its own)
        self.seen["mark_and_lock"] = (read_superblock(path).flags, write_locked(path))
        with h5py.File(path, "r") as f:
            self.seen["during_startup"] = _status(f)
        self.smu.source_mode = "voltage"
        self.smu.enable_source()

    def execute(self):
        for v in (0.1, 0.2):
            self.smu.source_voltage = v
            self.emit_point(voltage=v, current=self.smu.current)

    def shutdown(self):
        self.smu.source_voltage = 0.0
        self.smu.disable_source()
        self.seen["output_at_end"] = self.smu.source_enabled


def _status(f) -> str:
    return f["entry/status"][()].decode()


def test_the_file_is_closed_and_whole_while_the_protocol_sets_up(tmp_path):
    path = tmp_path / "w.h5"
    _Watched.seen = {"path": path}
    result = Runner(_Watched(), Station.load("demo"), path).run()
    assert result.status == "completed"
    assert _Watched.seen["mark_and_lock"] == (0, False)
    assert _Watched.seen["during_startup"] == "running"


def test_a_new_file_takes_its_name_only_once_consistent(tmp_path):
    path = tmp_path / "new.h5"
    w = RunWriter(path, COLUMNS)
    assert not path.exists()  # being laid out under a hidden name
    assert [p.name for p in tmp_path.iterdir()] == [f".new.h5.{os.uname().nodename}.{os.getpid()}.partial"]
    w.hold()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.h5"]
    with h5py.File(path, "r") as f:
        assert _status(f) == "running"
    w.append(x=1.0, y=2.0)
    w.finish("completed")
    with open_run(path) as run:
        assert run.status == "completed" and run["y"].values.tolist() == [2.0]


@pytest.mark.parametrize("stub", ["empty", "superblock only"])
def test_a_stub_that_holds_no_run_does_not_block_the_name(in_tmp, capsys, stub):
    if stub == "empty":
        (in_tmp / "stub.h5").write_bytes(b"")
    else:  # what a writer killed as HDF5 created the file leaves (48 to a few hundred bytes)
        subprocess.run([sys.executable, "-c", "import h5py, os; f = h5py.File('stub.h5', 'w', "
                        "libver=('v110', 'v110')); os._exit(0)"], cwd=in_tmp, check=True)
        assert 0 < (in_tmp / "stub.h5").stat().st_size < 1024
    assert main(["run", "demo_iv", "-p", "points=3", "--out", "stub.h5", "-q"]) == 0
    with open_run(in_tmp / "stub.h5") as run:
        assert run.status == "completed"


def test_stale_partials_of_dead_writers_are_cleared(tmp_path):
    host = os.uname().nodename
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = tmp_path / f".r.h5.{host}.{dead}.partial"
    stale.write_bytes(b"\x89HDF")
    _finished(tmp_path / "r.h5")
    assert not stale.exists() and (tmp_path / "r.h5").exists()


# -- full disks -------------------------------------------------------------------------------------
Usage = namedtuple("Usage", "total used free")


def test_too_little_free_space_is_refused_before_anything_starts(in_tmp, error_line, monkeypatch):
    monkeypatch.setattr(labctl.store.shutil, "disk_usage", lambda d: Usage(10**9, 10**9, 3 * 10**6))
    assert main(["run", "demo_iv", "--out", "x.h5"]) == 2
    assert "disk nearly full: 3.0 MB free" in error_line()
    assert os.listdir(in_tmp) == []


def test_a_disk_filling_up_stops_the_run_with_the_instruments_safe(tmp_path, monkeypatch):
    calls = []

    def disk_usage(directory):
        calls.append(directory)
        return Usage(10**9, 0, 10**9 if len(calls) <= 2 else 10**6)  # up front, point 1: then full

    monkeypatch.setattr(labctl.store.shutil, "disk_usage", disk_usage)
    monkeypatch.setattr(labctl.store, "CHECK_BYTES", 0)  # look before every append
    _Watched.seen = {"path": tmp_path / "full.h5"}
    result = Runner(_Watched(), Station.load("demo"), tmp_path / "full.h5").run()
    assert result.status == "failed" and result.recorded
    assert "disk nearly full" in result.message and result.points == 1
    assert _Watched.seen["output_at_end"] is False
    with open_run(tmp_path / "full.h5") as run:
        assert run.status == "failed" and "disk nearly full" in run.exit_message
        assert run["voltage"].values.tolist() == [0.1]


def test_a_write_that_fails_mid_run_keeps_what_was_flushed(tmp_path, monkeypatch):
    write = Slot.write

    def failing(self, cell, buf):
        if cell == (1,):  # the second point
            raise OSError(errno.ENOSPC, "No space left on device")
        write(self, cell, buf)

    monkeypatch.setattr(Slot, "write", failing)
    _Watched.seen = {"path": tmp_path / "enospc.h5"}
    result = Runner(_Watched(), Station.load("demo"), tmp_path / "enospc.h5").run()
    assert result.status == "failed" and not result.recorded
    assert "No space left on device" in result.message and result.points == 1
    assert _Watched.seen["output_at_end"] is False
    with open_run(tmp_path / "enospc.h5") as run:  # as the SWMR writer left it: readable
        assert run.status == "incomplete" and run["voltage"].values.tolist() == [0.1]
    assert recover(tmp_path / "enospc.h5").cleared
    with h5py.File(tmp_path / "enospc.h5", "r") as f:
        assert f["entry/data/voltage"][()].tolist() == [0.1]


FILLING = """
import numpy as np
from labctl.protocol import Array, Column, Protocol, Role

class Filling(Protocol):
    '''Traces until the file cannot grow.'''
    STATION = "demo"
    COLUMNS = (Column("k", "", "Record", axis=True),)
    ARRAYS = (Array("trace", (2000,), "V", "Trace"),)
    smu = Role("source-measure unit")

    def startup(self):
        self.smu.enable_source()

    def execute(self):
        for k in range(10_000):
            self.emit_point(k=k)
            self.emit_array("trace", np.random.default_rng(k).random(2000))

    def shutdown(self):
        self.smu.disable_source()
        print("OUTPUT_ENABLED", self.smu.source_enabled, flush=True)
"""


@pytest.mark.slow
def test_a_file_that_cannot_grow_ends_the_run_cleanly_without_a_crash(tmp_path):
    """HDF5 failing a write for real: the file size limit (EFBIG; the same failure as ENOSPC to
    HDF5) stands in for a full disk, which an unprivileged test cannot make."""
    (tmp_path / "filling.py").write_text(FILLING)
    limit = 400_000
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY)); "
            "from labctl.cli import main; sys.exit(main())")
    proc = subprocess.run([sys.executable, "-c", code, "run", "filling:Filling", "--out", "big.h5", "-q"],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr  # not a segfault (139) at exit
    assert "OUTPUT_ENABLED False" in proc.stdout
    assert "File too large" in proc.stderr and "Traceback" not in proc.stderr
    assert "labctl recover" in proc.stderr
    with open_run(tmp_path / "big.h5") as run:
        kept = len(run["k"].values)
        assert run.status == "incomplete" and kept > 5
        assert run.data("trace").signal.values.shape[0] >= kept - 1
    assert main(["recover", str(tmp_path / "big.h5")]) == 0
    with h5py.File(tmp_path / "big.h5", "r") as f:  # every HDF5 tool opens it now
        assert f["entry/data/k"][:kept].tolist() == list(range(kept))


# -- entries: names, other programs' files, old formats ---------------------------------------------
@pytest.mark.parametrize("entry", ["a/b", ".", "/", "", "run 2", "x."])
def test_an_entry_must_be_one_nexus_name(in_tmp, error_line, entry):
    _finished(in_tmp / "f.h5")
    before = (in_tmp / "f.h5").read_bytes()
    assert main(["run", "demo_iv", "--out", "f.h5", "--entry", entry]) == 2
    assert "entry name" in error_line()
    assert (in_tmp / "f.h5").read_bytes() == before
    with pytest.raises(RunFileError):
        run_protocol("demo_iv", in_tmp / "g.h5", entry=entry)
    assert not (in_tmp / "g.h5").exists()


def test_a_run_added_to_another_programs_file_leaves_its_root_alone(in_tmp, capsys):
    with h5py.File(in_tmp / "theirs.h5", "w", libver=("v110", "v110")) as f:
        f.attrs["creator"] = "beamline-daq 4.2"
        f["scan"] = np.arange(4)
    assert main(["run", "demo_iv", "-p", "points=3", "--out", "theirs.h5", "--entry", "iv", "-q"]) == 0
    with h5py.File(in_tmp / "theirs.h5", "r") as f:
        assert dict(f.attrs) == {"creator": "beamline-daq 4.2"}
        assert f["scan"][()].tolist() == [0, 1, 2, 3] and f["iv/status"][()] == b"completed"


def test_a_file_in_a_format_too_old_to_stream_is_refused_up_front(in_tmp, capsys, error_line):
    with h5py.File(in_tmp / "old.h5", "w") as f:  # libver earliest: superblock version 0
        f["x"] = 1
    before = (in_tmp / "old.h5").read_bytes()
    assert main(["run", "demo_iv", "--out", "old.h5", "--entry", "iv"]) == 2
    assert "older than 1.10 (superblock version 0)" in error_line()
    assert (in_tmp / "old.h5").read_bytes() == before
    assert main(["recover", "old.h5"]) == 0  # nothing to clear in that format: said, not a traceback
    assert "nothing to recover (no run in it)" in capsys.readouterr().out


# -- damaged files fail at once, in one line --------------------------------------------------------
def _truncated_live_copies(tmp_path) -> list[Path]:
    """Copies of a live (SWMR, marked open) run file cut at several lengths."""
    src = tmp_path / "live.h5"
    w = RunWriter(src, COLUMNS)
    for k in range(50):
        w.append(x=k, y=k)
    data = src.read_bytes()
    copies = []
    for frac in (0.2, 0.5, 0.8, 0.95):
        copy = tmp_path / f"cut{int(100 * frac)}.h5"
        copy.write_bytes(data[: int(len(data) * frac)])
        copies.append(copy)
    w.finish("completed")
    return copies


@pytest.mark.parametrize("command", [["show"], ["plot", "--out-dir", "figs"], ["recover"]])
def test_truncated_files_fail_in_one_line_instead_of_hanging(tmp_path, command, labctl_command):
    codes = []
    for copy in _truncated_live_copies(tmp_path):
        proc = subprocess.run([*labctl_command, command[0], str(copy), *command[1:]], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)  # hung for ever before
        codes.append(proc.returncode)
        assert proc.returncode in (0, 2) and "Traceback" not in proc.stderr, (copy.name, proc.stderr)
        if proc.returncode == 2:
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert 2 in codes  # the shortest copies cannot be read: said in one line


def test_an_nxdata_whose_signal_names_no_field_is_shown_and_plotted_around(in_tmp, capsys):
    _finished(in_tmp / "f.h5")
    with h5py.File(in_tmp / "f.h5", "r+") as f:
        f["entry/data"].attrs["signal"] = "nowhere"
    assert main(["show", "f.h5"]) == 0
    assert "data: not NeXus-plottable (NXdata 'data': its @signal 'nowhere'" in capsys.readouterr().out
    with pytest.warns(UserWarning, match="data not plotted"):
        assert main(["plot", "f.h5"]) == 0


def test_plot_out_dir_that_is_a_file_is_refused(in_tmp, error_line):
    _finished(in_tmp / "f.h5")
    (in_tmp / "figs").write_text("not a folder")
    assert main(["plot", "f.h5", "--out-dir", "figs"]) == 2
    assert "figs exists and is not a directory" in error_line()


def test_disk_usage_is_measured_where_the_file_goes(tmp_path, monkeypatch):
    seen, measure = [], shutil.disk_usage
    monkeypatch.setattr(labctl.store.shutil, "disk_usage", lambda d: seen.append(Path(d)) or measure(d))
    _finished(tmp_path / "r.h5")
    assert seen and all(p == tmp_path for p in seen)
