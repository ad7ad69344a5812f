"""Protocol base and runner: declarations, clock, checkpoints, end-to-end runs on the demo station."""

import h5py
import numpy as np
import pytest

from labctl.protocol import (
    Array,
    Axis,
    Column,
    FloatParameter,
    IntegerParameter,
    ParameterError,
    Protocol,
    Role,
    RunAborted,
    get_protocol,
)
from labctl.results import open_run
from labctl.runner import Runner
from labctl.station import Station


class FakeClock:
    def __init__(self):
        self.t, self.sleeps = 0.0, []

    def now(self):
        return self.t

    def sleep(self, s):
        self.sleeps.append(s)
        self.t += s


class Mapper(Protocol):
    """Maps with a fake die (no registry name: not discoverable)."""

    COLUMNS = (Column("row", "", "Row", axis=True), Column("errors", "", "Bit errors"))
    die = Role("die controller")
    size = IntegerParameter("Map size", default=4, minimum=2, maximum=64)
    vread = FloatParameter("Read voltage", units="V", default=0.2, minimum=0, maximum=1)

    def arrays(self):
        return (Array("bits", (self.size, self.size), "", "Bits",
                      axes=(Axis("row"), Axis("col")), dtype="i1"),)


def _bound(**params):
    p = Mapper(**params)
    records = []
    p.bind({"die": object()}, FakeClock(), emit=lambda t, r: records.append((t, r)))
    return p, records


def test_declarations_and_pymeasure_columns():
    assert Mapper.DATA_COLUMNS == ["row", "errors"]
    assert list(Mapper.roles()) == ["die"] and set(Mapper.parameter_specs()) == {"size", "vread"}
    assert Mapper(size=8).arrays()[0].shape == (8, 8)
    assert Mapper.title() == "Maps with a fake die (no registry name: not discoverable)."


def test_parameters_are_validated_with_clear_messages():
    with pytest.raises(ParameterError, match=r"vread=5: must be a number in \[0 V, 1 V\]"):
        Mapper(vread=5)
    with pytest.raises(ParameterError, match="no parameter 'sise' .did you mean 'size'"):
        Mapper(sise=3)
    assert Mapper(vread="0.5 V").vread == 0.5


def test_points_reach_the_runner_by_column_name_and_pymeasure_by_its_labels():
    class Sweep(Protocol):
        COLUMNS = (Column("voltage", "V", axis=True), Column("current", "A"))

    class Sink:
        points = []

        def point(self, values):
            self.points.append(dict(values))

    p, sink = Sweep(), Sink()
    p.bind({}, FakeClock(), sink=sink)
    p.emit_point(voltage=0.5, current=1e-3)
    assert sink.points == [{"voltage": 0.5, "current": 1e-3}]
    emitted = []
    q = Sweep()
    q.bind({}, FakeClock(), emit=lambda topic, record: emitted.append((topic, record)))
    q.emit_point(voltage=0.5, current=1e-3)
    assert emitted == [("results", {"voltage (V)": 0.5, "current (A)": 1e-3})]
    assert Sweep.DATA_COLUMNS == ["voltage (V)", "current (A)"]


def test_wait_goes_through_the_run_clock_in_slices():
    p, _ = _bound()
    p.wait(1.0)
    assert p.now() == pytest.approx(1.0) and len(p.clock.sleeps) == 4  # 0.25 s slices
    with pytest.raises(ValueError, match="NaN"):
        p.wait(float("nan"))  # would otherwise loop forever without the clock moving


def test_abort_lands_at_the_next_checkpoint():
    p, records = _bound()
    stop = []
    p.should_stop = lambda: bool(stop)
    p.emit_point(row=0, errors=1)
    stop.append(True)
    with pytest.raises(RunAborted):
        p.wait(10.0)
    assert p.now() == 0.0  # aborted before any time passed
    with pytest.raises(RunAborted):
        p.emit_point(row=1, errors=0)  # recorded, then aborted
    assert [r for t, r in records if t == "results"] == [{"row": 0, "errors": 1},
                                                         {"row": 1, "errors": 0}]
    assert issubclass(RunAborted, KeyboardInterrupt)  # an `except Exception` cannot swallow it


def test_shutdown_after_abort_still_waits_out_its_ramp():
    class Ramping(Mapper):
        def shutdown(self):
            for _ in range(4):
                self.wait(0.5)  # e.g. a magnet ramp awaited step by step
            super().shutdown()

    p = Ramping()
    p.bind({"die": object()}, FakeClock(), emit=lambda t, r: None, should_stop=lambda: True)
    with pytest.raises(RunAborted):
        p.wait(1.0)
    p.shutdown()  # no RunAborted: the ramp runs to its end on the run clock
    assert p.now() == pytest.approx(2.0)
    with pytest.raises(RunAborted):
        p.checkpoint()  # outside shutdown, aborts land again


def test_pause_holds_at_a_checkpoint_until_resumed():
    p, _ = _bound()
    answers = iter([True, False])
    p._paused = lambda: next(answers)
    p.checkpoint()  # returns once no longer paused
    with pytest.raises(StopIteration):
        p._paused()


def test_emit_rejects_unknown_columns_and_unbound_roles():
    p, _ = _bound()
    with pytest.raises(KeyError, match="unknown column"):
        p.emit_point(row=1, bogus=2)
    with pytest.raises(RuntimeError, match="role 'die' of Mapper is not bound"):
        _ = Mapper().die


def test_registry_finds_protocols_and_refuses_duplicates():
    assert get_protocol("demo_iv").__name__ == "DemoIV"
    with pytest.raises(KeyError, match="did you mean 'demo_iv'"):
        get_protocol("demo_vi")
    with pytest.raises(ValueError, match="used by both"):
        type("Impostor", (Protocol,), {"NAME": "demo_iv", "__module__": __name__})


# -- end to end on the demo station (simulated bench) ---------------------------------------------
def _run(tmp_path, proto, **kw):
    runner = Runner(proto, Station.load("demo"), tmp_path / "run.h5", **kw)
    return runner, runner.run()


def _output_on() -> bool:
    lab = Station.load("demo").connect()
    try:
        return bool(lab.instruments["smu"].source_enabled)
    finally:
        lab.close()


def test_demo_iv_end_to_end_writes_valid_nexus(tmp_path):
    cls = get_protocol("demo_iv")
    _, result = _run(tmp_path, cls(points=11, v_stop=0.7))
    assert result.status == "completed" and result.points == 11
    with h5py.File(tmp_path / "run.h5", "r") as f:
        assert f.attrs["default"] == "entry" and f["entry"].attrs["default"] == "data"
        d = f["entry/data"]
        assert d.attrs["NX_class"] == "NXdata" and d.attrs["signal"] == "current"
        assert d["current"].attrs["units"] == "A" and d["voltage"].attrs["long_name"]
    with open_run(tmp_path / "run.h5") as run:
        assert run.status == "completed" and run.protocol == "demo_iv"
        v, i = run["voltage"].values, run["current"].values
        np.testing.assert_allclose(v, np.linspace(0, 0.7, 11))
        # a forward-biased diode: current rises monotonically, exponentially above ~0.2 V
        assert np.all(np.diff(i) > 0) and i[-1] / i[5] > 100
        assert np.all(np.diff(run["time"].values) >= 0.01)  # settle time on the run clock
        assert run.parameters["v_stop"].units == "V" and run.parameter_values()["points"] == 11
        smu = run.instruments["smu"]
        assert smu["idn"].startswith("KEITHLEY") and smu["settings"]["compliance_current"] == 0.01
        assert run.sample["seed"] == 1 and run.program["versions"]["h5py"] == h5py.__version__
        git = run.program.get("git")  # present when labctl runs from a git checkout
        assert git is None or (len(git["commit"]) == 40 and isinstance(git["dirty"], bool))
    assert not _output_on()


def test_abort_runs_shutdown_and_marks_the_file_aborted(tmp_path):
    proto = get_protocol("demo_iv")(points=50)
    holder = {}

    def on_progress(pct):
        if pct >= 10:
            holder["runner"].abort()

    runner = Runner(proto, Station.load("demo"), tmp_path / "run.h5", on_progress=on_progress)
    holder["runner"] = runner
    result = runner.run()
    assert result.status == "aborted" and result.exit_code == 130
    assert result.points == 5  # requested after point 5: lands in point 6's settle wait
    with open_run(tmp_path / "run.h5") as run:
        assert run.status == "aborted" and len(run["current"].values) == 5
    assert not _output_on()


class Exploding(Protocol):
    """Fails half way (tests the failure path)."""

    COLUMNS = (Column("voltage", "V", "Voltage"),)
    smu = Role("smu")

    def startup(self):
        self.smu.source_voltage = 0.5
        self.smu.enable_source()

    def execute(self):
        self.emit_point(voltage=0.5)
        raise RuntimeError("sample cracked")

    def shutdown(self):
        self.smu.source_voltage = 0.0
        self.smu.disable_source()


def test_failure_records_traceback_and_still_shuts_down(tmp_path):
    _, result = _run(tmp_path, Exploding())
    assert result.status == "failed" and "sample cracked" in result.message
    with open_run(tmp_path / "run.h5") as run:
        assert run.status == "failed" and "RuntimeError: sample cracked" in run.traceback
        assert run["voltage"].values.tolist() == [0.5]
    assert not _output_on()


def test_limit_violation_fails_the_run_before_the_value_is_sent(tmp_path):
    """What no plan declared, the guard around the driver still refuses when it is sent."""
    proto = get_protocol("demo_iv")(v_stop=3.0, points=4)
    proto.plan = dict  # declares nothing: the station's limits meet the sweep only while it runs
    _, result = _run(tmp_path, proto)
    assert result.status == "failed" and "LimitError" in result.message
    assert result.points == 3  # 0, 1 and 2 V measured; 3 V refused (limit |V| <= 2 V)
    assert "source_voltage = 3.0 refused" in result.message


def test_pymeasure_worker_runs_a_protocol_and_records_its_points(tmp_path):
    from pymeasure.experiment import Results, Worker

    class Smu:
        voltage = 0.0

        @property
        def current(self):
            return self.voltage / 1e3

    class Sweep(Protocol):
        """Runs under pymeasure's own Worker."""

        COLUMNS = (Column("voltage", "V", "Voltage", axis=True), Column("current", "A", "Current"))
        smu = Role("smu")

        def execute(self):
            for v in (0.0, 1.0, 2.0):
                self.smu.voltage = v
                self.wait(0.1)
                self.emit_point(voltage=v, current=self.smu.current)

    proto = Sweep()
    proto.bind({"smu": Smu()}, FakeClock())
    worker = Worker(Results(proto, str(tmp_path / "sweep.csv")))
    worker.start()
    worker.join(timeout=30)
    assert proto.status == Protocol.FINISHED
    rows = (tmp_path / "sweep.csv").read_text().splitlines()
    assert rows[-4:] == ["voltage (V),current (A)", "0.0,0.0", "1.0,0.001", "2.0,0.002"]
    assert proto.now() == pytest.approx(0.3)


class Traces(Protocol):
    """I-V traces as array records, one per compliance (arrays through the runner)."""

    COLUMNS = (Column("compliance", "A", "Compliance current", axis=True),
               Column("i_max", "A", "Largest current"))
    ARRAYS = (Array("iv", (5,), "A", "Current", axes=(Axis("voltage", "V", "Source voltage"),),
                    index=(Column("compliance", "A", "Compliance current"),)),)
    smu = Role("smu")
    voltages = np.linspace(0.0, 0.8, 5)

    def startup(self):
        self.smu.source_mode = "voltage"
        self.smu.enable_source()

    def execute(self):
        self.set_axis("iv", "voltage", self.voltages)
        for limit in (1e-4, 1e-3, 1e-2):
            self.smu.compliance_current = limit
            trace = []
            for v in self.voltages:
                self.smu.source_voltage = v
                trace.append(self.smu.current)
            self.emit_array("iv", trace, compliance=limit)
            self.emit_point(compliance=limit, i_max=max(trace))

    def shutdown(self):
        self.smu.source_voltage = 0.0
        self.smu.disable_source()


def test_arrays_stream_through_the_runner_and_plot_generically(tmp_path):
    from labctl.plotting import save_figures

    _, result = _run(tmp_path, Traces())
    assert result.status == "completed", result.message
    with open_run(tmp_path / "run.h5") as run:
        iv = run.data("iv")
        assert iv.signal.values.shape == (3, 5) and iv.signal.units == "A"
        assert [a.name for a in iv.axes] == ["compliance", "voltage"]
        np.testing.assert_allclose(iv.axes[1].values, Traces.voltages)
        np.testing.assert_allclose(iv.axes[0].values, [1e-4, 1e-3, 1e-2])
        # the diode's current at 0.8 V is clamped by each compliance in turn
        np.testing.assert_allclose(iv.signal.values[:, -1], [1e-4, 1e-3, 1e-2], rtol=1e-3)
        assert run.data_names == ["data", "iv"]
        pngs = save_figures(run, tmp_path / "figs")  # no protocol figure: one per NXdata
    assert sorted(p.name for p in pngs) == ["run_entry_data.png", "run_entry_iv.png"]
