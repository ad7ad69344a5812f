"""Runs killed at any moment, the file's creation and the protocol's set-up included, are recovered.

Each `labctl run` process holds (prints HOLD and waits on stdin) at a chosen point: inside the run
file's creation, during the protocol's set-up, between the instrument snapshot and streaming, while
streaming, during shut-down, while the exit status is written; a few more at seeded random picks
among the metadata writes and the points. Every kill must leave either no file under the run's name
(nothing that blocks it) or a file that `labctl recover` opens to every HDF5 tool with every flushed
point intact.
"""

import os
import random
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from labctl.recovery import recover
from labctl.results import open_run
from labctl.store import check_target

PROTOCOL = textwrap.dedent(
    """
    import sys
    import numpy as np
    from labctl.protocol import Column, IntegerParameter, Parameter, Protocol, Role

    def hold(where):
        print("HOLD", where, flush=True)
        sys.stdin.readline()

    class Killable(Protocol):
        '''Sweep that can hold in its set-up, after a point, or in its shut-down.'''
        STATION = "demo"
        COLUMNS = (Column("voltage", "V", "Source voltage", axis=True),
                   Column("current", "A", "Measured current"))
        smu = Role("source-measure unit")
        hold = Parameter("startup, point:N, shutdown or none", default="none")
        points = IntegerParameter("Points", default=20)

        def startup(self):
            self.smu.source_mode = "voltage"
            self.smu.compliance_current = 0.01
            self.smu.enable_source()
            if self.hold == "startup":
                hold("startup")

        def execute(self):
            for k, v in enumerate(np.linspace(0, 0.6, self.points)):
                self.smu.source_voltage = v
                self.emit_point(voltage=v, current=self.smu.current)
                if self.hold == f"point:{k + 1}":
                    hold(self.hold)

        def shutdown(self):
            self.smu.source_voltage = 0.0
            self.smu.disable_source()
            if self.hold == "shutdown":
                hold("shutdown")
    """
)

#: Holds inside the run file's writer, set from outside the product code (the test's wrapper).
WRAPPER = textwrap.dedent(
    """
    import sys
    import labctl.store as store

    def hold(where):
        print("HOLD", where, flush=True)
        sys.stdin.readline()

    where, args = sys.argv[1], sys.argv[2:]
    if where.startswith("write_tree:"):  # the n-th group of fields written (creation, metadata)
        n, calls, write_tree = int(where.split(":")[1]), [], store.write_tree
        def counted(group, values):
            calls.append(1)
            if len(calls) == n:
                hold(where)
            return write_tree(group, values)
        store.write_tree = counted
    elif where == "finish":  # the file reopened for the exit status, nothing written yet
        write_tree = store.write_tree
        def status(group, values):
            if "end_time" in values:
                hold(where)
            return write_tree(group, values)
        store.write_tree = status
    elif where == "before_swmr":  # the instrument snapshot written, streaming not yet on
        start = store.RunWriter.start
        def held(self):
            if not self._streaming:
                hold(where)
            return start(self)
        store.RunWriter.start = held
    from labctl.cli import main
    sys.exit(main(args))
    """
)

HOLDS = [
    ("write_tree:1", "none"),  # the entry's first fields: the file is still being laid out
    ("write_tree:4", "none"),  # the parameters being written
    ("", "startup"),  # the protocol's set-up: the window between creation and streaming
    ("before_swmr", "none"),  # the snapshot written, SWMR not yet on (the file open for writing)
    ("", "point:1"),
    ("", "point:7"),
    ("", "shutdown"),
    ("finish", "none"),  # the exit status being written
]
#: Moments nobody chose by hand: seeded picks among every group of fields written before the exit
#: status (creation, metadata, snapshot) and every point. Picked, not timed: a delay would land
#: wherever a loaded machine happens to be, mostly in the interpreter's start-up.
MOMENTS = [*(f"write_tree:{n}" for n in range(1, 17)), *(f"point:{k}" for k in range(1, 21))]
SEEDS = [1, 2, 3]


def _seeded(seed):
    moment = random.Random(seed).choice(MOMENTS)
    return (moment, "none") if moment.startswith("write_tree") else ("", moment)


def _start(tmp_path, name, where, hold, points=20):
    args = ["run", "killable:Killable", "--out", f"{name}.h5", "-q",
            "-p", f"hold={hold}", "-p", f"points={points}"]
    return subprocess.Popen(
        [sys.executable, "-c", WRAPPER, where or "-", *args], cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for(proc, word):
    while True:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"process ended before {word}: {proc.stderr.read()}")
        if line.startswith(word):
            return line.strip()


def _kill(proc):
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()


def _recovered(path, points=20):
    """Nothing under the name, or a file recover opens to every tool with its points intact."""
    if not path.exists():
        check_target(path, new=True)  # no stub blocks the name
        return "no file"
    done = recover(path)
    with h5py.File(path, "r") as f:  # a plain open, as any HDF5 tool does
        assert f["entry"].attrs["NX_class"] == "NXentry"
    with open_run(path) as run:
        assert run.status in ("incomplete", "completed", "aborted"), run.status
        voltage = run["voltage"].values
        np.testing.assert_allclose(voltage, np.linspace(0, 0.6, points)[: len(voltage)])
        return f"{run.status}, {len(voltage)} points" + (", mark cleared" if done.cleared else "")


@pytest.mark.slow
def test_runs_killed_at_any_moment_are_recovered(tmp_path):
    (tmp_path / "killable.py").write_text(PROTOCOL)
    moments = {**{where or hold: (where, hold) for where, hold in HOLDS},
               **{f"seed {seed}": _seeded(seed) for seed in SEEDS}}
    procs = {label: _start(tmp_path, f"run{k}", *moment) for k, (label, moment) in enumerate(moments.items())}
    outcomes = {}
    try:
        for k, (label, proc) in enumerate(procs.items()):
            _wait_for(proc, "HOLD")
            _kill(proc)
            outcomes[label] = _recovered(tmp_path / f"run{k}.h5")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                _kill(proc)
    assert outcomes["write_tree:1"] == "no file" and outcomes["write_tree:4"] == "no file"
    assert outcomes["startup"] == "incomplete, 0 points"  # closed during set-up: nothing to clear
    assert outcomes["before_swmr"] == "incomplete, 0 points, mark cleared"
    assert outcomes["point:7"] == "incomplete, 7 points, mark cleared"
    assert outcomes["shutdown"] == "incomplete, 20 points, mark cleared"
    assert outcomes["finish"] == "incomplete, 20 points, mark cleared"
    # a new run under a name whose creation was killed: the dead writer's temporary file goes
    assert main_run(tmp_path, "run0") == 0
    assert not list(tmp_path.glob(".run0.h5.*.partial"))


def main_run(tmp_path, name):
    return subprocess.run([sys.executable, "-c", WRAPPER, "-", "run", "demo_iv", "-p", "points=3", "--out",
                           f"{name}.h5", "-q"], cwd=tmp_path, capture_output=True, timeout=120).returncode
