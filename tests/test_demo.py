"""``labctl demo`` runs every protocol of its tour into a folder: a NeXus file and a figure each."""

import pytest

from labctl import demo
from labctl.cli import main
from labctl.protocol import get_protocol
from labctl.results import open_run


def test_tour_names_registered_protocols():
    for name, params in demo.TOUR:
        get_protocol(name)().set_values(params)  # raises on an unknown protocol or parameter


@pytest.mark.slow
def test_demo_writes_completed_runs_and_figures(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "TOUR", (("demo_iv", {"points": "5"}), ("rram_form_array", {})))
    assert main(["demo", "--out-dir", str(tmp_path)]) == 0
    for name, _ in demo.TOUR:
        with open_run(tmp_path / f"{name}.h5") as run:
            assert run.status == "completed"
        assert list(tmp_path.glob(f"{name}_*.png"))
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("completed ") for line in lines) == 2


def test_demo_refuses_a_file_as_output_directory(tmp_path, capsys):
    target = tmp_path / "not-a-dir"
    target.write_text("")
    assert main(["demo", "--out-dir", str(target)]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_ctrl_c_ends_the_tour_after_saving_the_aborted_run(tmp_path, monkeypatch, capsys):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(get_protocol("demo_iv"), "execute", interrupted)
    monkeypatch.setattr(demo, "TOUR", (("demo_iv", {"points": "5"}), ("rram_form_array", {})))
    assert main(["demo", "--out-dir", str(tmp_path)]) == 130
    with open_run(tmp_path / "demo_iv.h5") as run:
        assert run.status == "aborted"
    assert not (tmp_path / "rram_form_array.h5").exists()
