"""Campaign specs: grid expansion, chips, run keys, and bad input refused up front with file:line."""

import textwrap

import pytest

from labctl.campaign_spec import Chip, SpecError, count_chips, load_spec
from labctl.cli import main
from labctl.studies import shipped_studies


def _spec(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


IV = """\
    name: iv
    protocol: demo_iv
    parameters: {points: 4}
    grid:
      v_stop: [0.5, 0.6, 0.7]
      compliance: [1e-3, 1e-2]
    chips:
      seeds: 1..3
    """


def test_grid_expands_to_every_combination_on_every_chip(tmp_path):
    spec = load_spec(_spec(tmp_path, IV))
    tasks = spec.tasks()
    assert spec.shape == (3, 2) and len(spec.chips) == 3
    assert len(tasks) == 3 * 2 * 3
    assert spec.grid["compliance"] == [1e-3, 1e-2]  # 1e-3 is a number, as in YAML 1.2
    assert [t.point for t in tasks[:7:3]] == [(0, 0), (0, 1), (1, 0)]  # last grid parameter fastest
    assert [t.chip.seed for t in tasks[:3]] == [1, 2, 3]
    first = tasks[0]
    assert first.parameters == {"points": 4, "v_stop": 0.5, "compliance": 1e-3}
    assert first.chip.library_options() == {"seed": "1"}
    assert len({t.key for t in tasks}) == len(tasks)
    assert first.file == f"runs/{first.key}.h5"


def test_run_keys_depend_on_parameters_and_chip_only(tmp_path):
    a = load_spec(_spec(tmp_path, IV)).tasks()
    moved = IV.replace("name: iv", "name: renamed\n    description: same runs").replace("1..3", "[3, 1, 2]")
    b = load_spec(_spec(tmp_path, moved, "other.yaml")).tasks()
    assert {t.key for t in a} == {t.key for t in b}
    c = load_spec(_spec(tmp_path, IV.replace("points: 4", "points: 5"), "c.yaml")).tasks()
    assert not {t.key for t in a} & {t.key for t in c}


def test_chips_one_by_one_with_bench_overrides_and_their_own_parameters(tmp_path):
    spec = load_spec(_spec(tmp_path, """\
        protocol: demo_iv
        grid: {v_stop: {linspace: [0.4, 0.8, 3]}}
        chips:
          - 4
          - {seed: 5, bench: {temperature: 320}}
          - {seed: 5, bench: {temperature: 340}, parameters: {points: 3}}
        """))
    assert spec.name == "spec" and spec.grid["v_stop"] == pytest.approx([0.4, 0.6, 0.8])
    assert spec.chips[0] == Chip(4)
    assert spec.chips[1].library_options() == {"seed": "5", "temperature": "320"}
    assert spec.chips[2].parameters == (("points", 3),)
    assert "temperature=340" in spec.chips[2].label and "[points=3]" in spec.chips[2].label
    assert spec.tasks()[2].parameters["points"] == 3


def test_conditions_are_the_first_grid_dimension_with_bench_overrides_on_every_chip(tmp_path):
    spec = load_spec(_spec(tmp_path, """\
        protocol: demo_iv
        parameters: {points: 3}
        conditions:
          room: {}
          warm: {bench: {temperature: 340}, parameters: {compliance: 2e-3}}
        grid: {v_stop: [0.5, 0.6]}
        chips: {seeds: [1, 2]}
        """))
    assert spec.name == "spec"  # the campaign keeps its name, not a condition's
    assert list(spec.grid) == ["condition", "v_stop"] and spec.grid["condition"] == ["room", "warm"]
    tasks = spec.tasks()
    assert len(tasks) == 2 * 2 * 2 and len({t.key for t in tasks}) == len(tasks)
    room, warm = tasks[0], tasks[4]
    assert room.values == {"condition": "room", "v_stop": 0.5} and "condition" not in room.parameters
    assert room.chip.library_options() == {"seed": "1"} and "compliance" not in room.parameters
    assert warm.chip.library_options() == {"seed": "1", "temperature": "340"}
    assert warm.parameters == {"points": 3, "v_stop": 0.5, "compliance": 2e-3} and warm.chip_index == 0
    assert spec.figure == [] and spec.units["condition"] == ""


@pytest.mark.parametrize(("conditions", "line", "words"), [
    ("  a: {}\n  b: {}\n", 5, "same set-up as 'a'"),
    ("  a: {bench: {tempurature: 300}}\n", 4, "conditions.a.bench: the bench refuses"),
    ("  a: {parameters: {points: 3}}\n", 4, "also fixed"),
    ("  a: {parameters: {pionts: 3}}\n", 4, "no parameter 'pionts'"),
    ("  a: {bench: {temperature: 300}, seed: 3}\n", 4, "unknown key 'seed'"),
])
def test_bad_conditions_are_refused_where_they_are(tmp_path, conditions, line, words):
    path = _spec(tmp_path, "protocol: demo_iv\nparameters: {points: 3}\nconditions:\n" + conditions)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value).startswith(f"{path}:{line}:") and words in str(err.value), str(err.value)


def test_no_chips_means_the_bench_files_own_sample(tmp_path):
    spec = load_spec(_spec(tmp_path, "protocol: demo_iv\ngrid: {points: {geomspace: [2, 8, 3]}}\n"))
    assert spec.chips == [Chip()] and spec.chips[0].library_options() == {}
    assert spec.grid["points"] == [2, 4, 8]


@pytest.mark.parametrize(("text", "line", "words"), [
    ("protocol: demo_iv\ngird: {v_stop: [1]}\n", 2, "unknown key 'gird' (did you mean 'grid'?)"),
    ("protocol: demo_ivv\n", 1, "unknown protocol 'demo_ivv'"),
    ("protocol: demo_iv\ngrid:\n  v_stop: [0.5]\n  v_stpo: [1, 2]\n", 4, "no parameter 'v_stpo'"),
    ("protocol: demo_iv\ngrid:\n  v_stop:\n    - 0.5\n    - lots\n", 5, "grid.v_stop[1]"),
    ("protocol: demo_iv\ngrid:\n  points: [4, 1]\n", 3, "grid.points[1]"),
    ("protocol: demo_iv\nparameters: {points: 3}\ngrid: {points: [4]}\n", 3, "both fixed"),
    ("protocol: demo_iv\ngrid: {v_stop: 0.5}\n", 2, "non-empty list"),
    ("protocol: demo_iv\nchips: {seeds: 5..2}\n", 2, "range A..B"),
    ("protocol: demo_iv\nchips:\n  - {seed: 1}\n  - {seed: 1}\n", 4, "appears twice"),
    ("protocol: demo_iv\nchips:\n  - {seed: 1, bench: {tempurature: 300}}\n", 3, "tempurature"),
    ("protocol: demo_iv\nstation: nowhere\n", 2, "no station 'nowhere'"),
    ("protocol: demo_iv\ngrid:\n  v_stop: [0.5, 3]\n", 2, "plan refused before the run: smu.source_voltage = 3 V"),
    ("protocol: demo_iv\nsummary: {rates: wald}\n", 2, "not one of wilson"),
    ("protocol: demo_iv\ngrid: {v_stop: [1]}\nfigure:\n  - {x: v_stop, y: voltage}\n", 4, "headline"),
    ("protocol: demo_iv\ngrid: [v_stop\n", 3, "not readable YAML"),
])
def test_bad_specs_are_refused_with_file_and_line(tmp_path, text, line, words):
    path = _spec(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert words in message
    assert "\n" not in message


def test_the_protocols_own_checks_run_on_every_grid_point(tmp_path):
    path = _spec(tmp_path, """\
        protocol: stno_vowel_recognition
        parameters: {i_max: 0.006}
        grid:
          i_min: [0.004, 0.007]
        """)
    with pytest.raises(SpecError, match=r"spec.yaml:3: grid: .*i_min < i_max.*\(at i_min=0.007\)"):
        load_spec(path)


def test_a_spec_from_python_says_where_without_a_file():
    with pytest.raises(SpecError, match=r"^<spec>: grid.v_stop\[0\]: "):
        load_spec({"protocol": "demo_iv", "grid": {"v_stop": [500]}})


def test_the_cli_refuses_a_bad_spec_with_exit_2_and_writes_nothing(tmp_path, capsys):
    path = _spec(tmp_path, "protocol: demo_iv\ngrid:\n  v_stop: [0.5, fast]\n")
    out = tmp_path / "camp"
    assert main(["campaign", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"labctl: error: {path}:3: grid.v_stop[1]")
    assert not out.exists()
    assert main(["campaign", "no_such_study"]) == 2
    assert "shipped study" in capsys.readouterr().err


def test_dry_run_prints_the_plan(tmp_path, capsys):
    path = _spec(tmp_path, IV)
    assert main(["campaign", str(path), "--dry-run", "--out", str(tmp_path / "c")]) == 0
    assert "18 runs, 0 already completed" in capsys.readouterr().out
    assert not (tmp_path / "c").exists()


def test_shipped_studies_are_valid_specs_of_the_promised_size():
    studies = {p.stem: load_spec(p) for p in shipped_studies()}
    assert set(studies) == {"ber_over_dies", "bnn_over_dies", "vowels_over_splits"}
    ber, bnn, vowels = studies["ber_over_dies"], studies["bnn_over_dies"], studies["vowels_over_splits"]
    assert len(ber.chips) >= 16 and "compliances" in ber.grid
    assert {h.name for h in ber.headlines} >= {"ber_2t2r", "ber_1t1r"}
    assert len(bnn.chips) >= 16 and dict(bnn.parameters)["repeats"] > 1
    assert len(vowels.chips) >= 10
    assert {c.seed for c in vowels.chips} == {2018}  # the shipped chip, as the paper's one chip ...
    assert len({dict(c.parameters)["seed"] for c in vowels.chips}) >= 10  # ... over ten talker splits
    assert all(s.figure for s in studies.values())
    assert vowels.grid["condition"] == ["realistic chip", "idealized oscillators", "coupling off"]
    assert {h.name for h in vowels.headlines} >= {"test_rate", "mlp_test_rate"}


def test_chips_that_differ_only_in_protocol_parameters_count_as_one_chip():
    vowels = load_spec(next(p for p in shipped_studies() if p.stem == "vowels_over_splits"))
    assert count_chips([c.label for c in vowels.chips]) == "1 chip(s) x 10 parameter sets"
    assert count_chips(["seed=1", "seed=2", "seed=2 temperature=340"]) == "3 chip(s)"
