"""Station files and safety limits: refused requests send nothing; good ones go through."""

import textwrap

import pytest
from pymeasure.instruments.keithley import Keithley2400
from pymeasure.test import expected_protocol

from labctl.limits import Limit, guard
from labctl.station import LimitError, Station, StationError

LIMITS = [
    Limit("source_voltage", abs=2.0, units="V"),
    Limit("compliance_current", abs=0.01, units="A"),
    Limit("source_current", min=-1e-3, max=1e-3, step=5e-4, units="A"),
]
INIT = [(":FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME, STATUS", None)]  # driver __init__


def test_limits_refuse_before_any_scpi_is_sent():
    # expected_protocol fails on any write not listed: only the driver's own init is expected.
    with expected_protocol(Keithley2400, INIT) as smu:
        guard(smu, LIMITS, "smu")
        with pytest.raises(LimitError, match=r"smu.source_voltage = 5 refused.*\|source_voltage\| <= 2 V"):
            smu.source_voltage = 5
        with pytest.raises(LimitError, match="compliance_current"):
            smu.compliance_current = -0.5
        with pytest.raises(LimitError, match="source_current <= 0.001"):
            smu.source_current = 2e-3
        # a driver method whose argument carries a limited name is checked before its first write
        with pytest.raises(LimitError, match=r"apply_voltage\(compliance_current=0.1\)"):
            smu.apply_voltage()  # its default (0.1 A) is beyond the station's 10 mA
        # the driver's own ramp goes through the guarded property too: refused at the first step
        # beyond the limit
    with expected_protocol(Keithley2400, [*INIT, (":SOURCE:VOLTAGE?", "0"), (":SOURCE:VOLTAGE 0", None)]) as smu:
        guard(smu, LIMITS, "smu")
        with pytest.raises(LimitError):
            smu.ramp_to_voltage(10, steps=2, pause=0)  # 0 V goes out, 10 V does not


def test_values_within_limits_are_sent_and_steps_limited():
    with expected_protocol(
        Keithley2400,
        [*INIT, (":SOURCE:VOLTAGE 1.5", None), (":SOURCE:CURRENT?", "0"), (":SOURCE:CURRENT 0.0005", None),
         (":SOURCE:CURRENT 0.001", None)],
    ) as smu:
        guard(smu, LIMITS, "smu")
        assert type(smu).__name__ == "Keithley2400" and isinstance(smu, Keithley2400)
        smu.source_voltage = 1.5
        smu.source_current = 5e-4  # the first step is measured from the instrument's present level
        smu.source_current = 1e-3
        with pytest.raises(LimitError, match="steps of source_current"):
            smu.source_current = -1e-3  # a 2 mA jump: more than one 0.5 mA step


def test_the_first_set_of_a_step_limited_setting_cannot_jump():
    with expected_protocol(Keithley2400, [*INIT, (":SOURCE:CURRENT?", "0")]) as smu:
        guard(smu, LIMITS, "smu")
        with pytest.raises(LimitError, match="steps of source_current"):
            smu.source_current = 1e-3  # from the 0 A it holds: two steps at once


def test_unknown_limit_name_is_a_station_error():
    with expected_protocol(Keithley2400, INIT) as smu:
        with pytest.raises(StationError, match="no property or method argument named 'sorce_voltage'"):
            guard(smu, [Limit("sorce_voltage", abs=1)], "smu")
        with pytest.raises(StationError, match="no argument 'bogus'"):
            guard(smu, [Limit("apply_voltage.bogus", abs=1)], "smu")
        with pytest.raises(StationError, match="'step' bounds changes of a property"):
            guard(smu, [Limit("apply_voltage.compliance_current", step=1e-3)], "smu")  # would never apply


def _station(tmp_path, body):
    path = tmp_path / "st.yaml"
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.parametrize(
    "body, message",
    [
        ("roles: [1, 2", "not a readable YAML"),
        ("name: x\n", "'roles:' section"),
        ("roles:\n  smu: {resource: X}\n", "'driver' is required"),
        ("roles:\n  smu: {driver: a.B, resource: X, limts: {}}\n", "unknown key"),
        ("roles:\n  smu: {driver: a.B, resource: X, limits: {v: {top: 1}}}\n", "unknown key"),
        ("roles:\n  smu: {driver: a.B, resource: X, kwargs: 3}\n", "'kwargs' must map"),
        ("roles:\n  smu: {driver: a.B, resource: X, snapshot: source_voltage}\n", "'snapshot' must map property"),
    ],
)
def test_bad_station_files_give_clear_errors(tmp_path, body, message):
    with pytest.raises(StationError, match=message):
        Station.load(_station(tmp_path, body))


def test_binary_station_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "st.yaml"
    path.write_bytes(b"\xf9\x00\xff roles")
    with pytest.raises(StationError, match="not a readable YAML"):
        Station.load(path)


def test_missing_bench_file_is_named_when_the_station_connects(tmp_path):
    """The station passes a bench name on; the backend that resolves it says what is missing."""
    station = Station.load(_station(tmp_path, """\
        roles:
          smu: {driver: pymeasure.instruments.keithley.Keithley2400, resource: X, visa_library: nope.yaml@labsim}
        """))
    with pytest.raises(StationError, match="no bench file 'nope.yaml'"):
        station.connect()


def test_station_wide_visa_library_is_the_default_of_every_role(tmp_path):
    st = Station.load(_station(tmp_path, """\
        visa_library: "demo.yaml@labsim"
        roles:
          a: {driver: x.Y, resource: "GPIB0::24::INSTR"}
          b: {driver: x.Y, resource: "GPIB0::25::INSTR", visa_library: "@py"}
        """))
    assert st.roles["a"].visa_library == "demo.yaml@labsim"  # a shipped bench: the backend resolves it
    assert st.roles["b"].visa_library == "@py"


def test_missing_station_and_missing_role():
    with pytest.raises(StationError, match="no station 'nowhere'"):
        Station.load("nowhere")
    st = Station.load("demo")
    with pytest.raises(StationError, match="has no role sa"):
        st.check_roles(["smu", "sa"])


def test_demo_station_runs_on_the_bench_clock_with_snapshot():
    st = Station.load("demo")
    assert st.roles["smu"].visa_library == "demo.yaml@labsim"
    lab = st.connect()
    try:
        smu = lab.instruments["smu"]
        t0 = lab.clock.now()
        lab.clock.sleep(30.0)  # the bench's virtual clock: no wall time passes
        assert lab.clock.now() - t0 == pytest.approx(30.0)
        snap = lab.snapshot()["smu"]
        assert snap["idn"].startswith("KEITHLEY") and "source_voltage" in snap["settings"]
        assert snap["limits"]["source_voltage"] == {"abs": (2.0, "V")}
        assert snap["settings"]["source_voltage"][1] == "V"  # a number with its units (from the station)
        assert lab.sample()["seed"] == (1, "1")  # facts with their units, as the run file records them
        with pytest.raises(LimitError):
            smu.source_voltage = 2.5
    finally:
        lab.close()


DEMO_WITH_SETUP = """\
    visa_library: "demo.yaml@labsim"
    setup: {points: 5, v_stop: 0.5, field_per_amp: 0.1}   # field_per_amp: no demo_iv parameter, ignored
    roles:
      smu: {driver: pymeasure.instruments.keithley.Keithley2400, resource: "GPIB0::24::INSTR"}
    """


def test_explicit_parameters_beat_the_station_setup_which_beats_class_defaults(tmp_path):
    from labctl.results import open_run
    from labctl.runner import run_protocol

    station = _station(tmp_path, DEMO_WITH_SETUP)
    assert run_protocol("demo_iv", tmp_path / "a.h5", station=station).points == 5
    assert run_protocol("demo_iv", tmp_path / "b.h5", station=station, points=7).points == 7
    with open_run(tmp_path / "b.h5") as run:
        assert run.parameter_values()["v_stop"] == 0.5
        sources = {k: run.entry[f"parameters/{k}"].attrs["source"] for k in ("points", "v_stop", "v_start")}
    assert sources == {"points": "explicit", "v_stop": f"station {station.stem} setup", "v_start": "default"}


def test_visa_library_override_serves_every_role():
    st = Station.load("stno", visa_library="@py")
    assert {r.visa_library for r in st.roles.values()} == {"@py"}


def test_bench_seed_builds_another_sample_of_the_same_design():
    """Library options travel with the library spec: one bench per (file, options), recorded in NXsample."""
    default, other = Station.load("demo").connect(), Station.load("demo", library_options={"seed": 5}).connect()
    try:
        assert default.sample()["seed"] == (1, "1") and "bench_options" not in default.sample()
        assert other.sample()["seed"] == (5, "1") and other.sample()["bench_options"] == "seed=5"
        assert other.clock is not default.clock
    finally:
        default.close()
        other.close()
    with pytest.raises(StationError, match="names no file"):
        Station.load("demo", visa_library="@py", library_options={"seed": 5})


def test_the_file_records_the_sample_at_the_start_and_at_the_end(tmp_path):
    from labctl.results import open_run
    from labctl.runner import run_protocol

    assert run_protocol("rram_form_array", tmp_path / "form.h5").status == "completed"
    with open_run(tmp_path / "form.h5") as run:
        assert run.sample["devices_formed"] == 0
        assert run.sample_at_end["devices_formed"] > 2000  # what the run did to the die
