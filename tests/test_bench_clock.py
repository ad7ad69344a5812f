"""The bench clock: virtual by default, reached in one call (labctl.clock_of); following wall time, per bench
file (x-bench: {clock: wall}) or per session (FILE?clock=wall@labsim), for plain scripts that time.sleep.
The wall clock here is a fake one: tests never wait in wall time."""

import warnings

import pytest
import yaml

from labctl import clock_of
from labctl.sim_backends.bench import VirtualClock
from labctl.sim_backends.bench_file import BenchFile, resolve


class FakeWall:
    """A wall clock that moves only when the test says (or when something sleeps on it)."""

    def __init__(self):
        self.t = 1000.0
        self.slept = []

    def now(self):
        return self.t

    def sleep(self, s):
        self.slept.append(s)
        self.t += s


def test_a_wall_following_clock_never_runs_behind_the_wall():
    clock, wall = VirtualClock(), FakeWall()
    clock.advance(5.0)
    clock.follow_wall(now=wall.now, sleep=wall.sleep)
    assert clock.mode == "wall" and clock.now() == 5.0
    wall.t += 2.5  # a script's time.sleep(2.5)
    assert clock.now() == pytest.approx(7.5)
    clock.advance(1.0)  # instrument work is charged at once: the bench runs ahead of the wall...
    assert clock.now() == pytest.approx(8.5)
    wall.t += 0.4  # ...until the wall catches up
    assert clock.now() == pytest.approx(8.5)
    clock.sleep(1.0)  # a wait through the clock sleeps only what the wall still owes
    assert wall.slept == [pytest.approx(1.6)] and clock.now() == pytest.approx(9.5)
    clock.follow_wall(False)
    wall.t += 100
    assert clock.mode == "virtual" and clock.now() == pytest.approx(9.5)


def _magnet(spec):
    from pymeasure.instruments.kepco import KepcoBOP3612

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        m = KepcoBOP3612("GPIB0::6::INSTR", visa_library=spec)
    m.operating_mode = "CURR"
    m.voltage_setpoint = 5.0  # the coil's current rises at (V - IR) / L
    m.current_setpoint = 8.0
    m.output_enabled = True
    return m


def test_a_plain_script_on_a_wall_clock_bench_sees_the_magnet_ramp_while_it_sleeps():
    magnet = _magnet("stno.yaml?clock=wall@labsim")
    clock, wall = clock_of(magnet), FakeWall()
    assert clock.mode == "wall"
    clock.follow_wall(now=wall.now, sleep=wall.sleep)  # the same mode, on a fake wall
    start = magnet.current
    for _ in range(5):
        wall.t += 0.5  # time.sleep(0.5) in the script
    assert start < 1.0 and magnet.current == pytest.approx(8.0, abs=0.01)


def test_on_the_virtual_clock_time_passes_through_one_obvious_call():
    magnet = _magnet("stno.yaml@labsim")
    clock = clock_of(magnet)
    assert clock.mode == "virtual" and clock is clock_of(magnet.adapter.connection.visalib)
    assert magnet.current < 1.0
    clock.sleep(2.5)  # labctl.clock_of(instrument or resource manager).sleep(s)
    assert magnet.current == pytest.approx(8.0, abs=0.01)


def test_the_clock_mode_comes_from_the_bench_file_or_the_library_spec(tmp_path):
    doc = yaml.safe_load(resolve("demo.yaml").read_text())
    doc["x-bench"]["clock"] = "wall"
    (tmp_path / "wall.yaml").write_text(yaml.safe_dump(doc))
    assert BenchFile.load(tmp_path / "wall.yaml").build_bench().clock.mode == "wall"
    assert BenchFile.load(tmp_path / "wall.yaml").with_overrides([("clock", "virtual")]).clock == "virtual"
    shipped = BenchFile.load("demo.yaml")
    assert shipped.clock == "virtual" and shipped.with_overrides([("clock", "wall")]).clock == "wall"
    with pytest.raises(ValueError, match="bench clock 'sundial': use one of virtual, wall"):
        shipped.with_overrides([("clock", "sundial")])
    bench = shipped.with_overrides([("clock", "wall")]).build_bench()
    assert bench.snapshot()["clock"] == "wall"  # recorded in the run file's NXsample
