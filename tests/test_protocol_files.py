"""`labctl run ./my_protocol.py:MyProtocol` and `my_module:MyProtocol`: the user's own protocols, named on
the command line; a name read from a run file never imports anything."""

import sys
import textwrap

import pytest

from labctl.cli import main
from labctl.results import open_run

MY_PROTOCOL = textwrap.dedent(
    """
    import numpy as np
    from labctl.protocol import Column, IntegerParameter, Protocol, Role

    class MyProtocol(Protocol):
        '''Three points of a diode.'''
        STATION = "demo"
        COLUMNS = (Column("voltage", "V", "Voltage", axis=True), Column("current", "A", "Current"))
        smu = Role("source-measure unit")
        points = IntegerParameter("Points", default=3, minimum=2, maximum=100)

        def startup(self):
            self.smu.source_mode = "voltage"
            self.smu.compliance_current = 0.01
            self.smu.enable_source()

        def execute(self):
            for v in np.linspace(0, 0.6, self.points):
                self.smu.source_voltage = v
                self.emit_point(voltage=v, current=self.smu.current)

        def shutdown(self):
            self.smu.source_voltage = 0.0
            self.smu.disable_source()
    """
)


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    """The current folder, holding the user's protocol files; imports made here are undone after."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith(("my_", "broken", "evil")):
            del sys.modules[name]


@pytest.mark.parametrize("ref", ["./my_protocol.py:MyProtocol", "my_protocol.py:MyProtocol",
                                 "my_protocol:MyProtocol"])
def test_a_protocol_in_the_current_folder_runs_by_file_or_module(user_folder, capsys, ref):
    (user_folder / "my_protocol.py").write_text(MY_PROTOCOL)
    assert main(["run", ref, "-p", "points=4", "--out", "a.h5"]) == 0
    with open_run("a.h5") as run:
        assert run.status == "completed" and len(run["voltage"].values) == 4
    assert main(["run", ref, "--list-params"]) == 0
    assert "-p points=3" in capsys.readouterr().out


def test_a_protocol_file_in_another_folder_imports_its_siblings(user_folder):
    lib = user_folder / "lib"
    lib.mkdir()
    (lib / "my_helpers.py").write_text("POINTS = 5\n")
    (lib / "my_sweep.py").write_text(MY_PROTOCOL.replace("default=3", "default=my_helpers.POINTS")
                                     .replace("import numpy as np", "import numpy as np\nimport my_helpers"))
    assert main(["run", "lib/my_sweep.py:MyProtocol", "--out", "a.h5"]) == 0
    with open_run("a.h5") as run:
        assert len(run["voltage"].values) == 5


@pytest.mark.parametrize(
    "source, ref, message",
    [
        ("def broken(:\n", "broken_file.py:X", "cannot import protocol 'broken_file.py:X': SyntaxError"),
        ("raise TypeError('bad things')\n", "broken_file.py:X", "TypeError: bad things"),
        ("import numpy_with_a_typo\n", "broken_file:X", "ModuleNotFoundError: No module named 'numpy_with_a_typo'"),
        (MY_PROTOCOL, "broken_file.py:Nope", "broken_file.py has no 'Nope'; its protocols: MyProtocol"),
        ("X = 3\n", "broken_file.py:X", "'broken_file.py:X' is not a labctl Protocol"),
        ("", "missing.py:X", "protocol file 'missing.py' not found"),
        ("", "no_such_module:X", "No module named 'no_such_module'"),
    ],
)
def test_a_protocol_that_cannot_be_loaded_is_one_line_and_exit_2(user_folder, error_line, source, ref, message):
    (user_folder / "broken_file.py").write_text(source)
    assert main(["run", ref, "--out", "a.h5"]) == 2
    line = error_line()
    assert line.startswith("labctl: error:") and message in line, line
    assert not (user_folder / "a.h5").exists()


def test_plot_never_imports_a_module_named_inside_a_run_file(user_folder, capsys):
    """A run file is data: the protocol name it holds is looked up in the registry, never imported."""
    import h5py

    (user_folder / "my_protocol.py").write_text(MY_PROTOCOL)
    assert main(["run", "my_protocol.py:MyProtocol", "--out", "a.h5"]) == 0
    (user_folder / "evil.py").write_text("open('IMPORTED', 'w').close()\n")
    with h5py.File("a.h5", "r+") as f:
        del f["entry/protocol/name"]
        f["entry/protocol/name"] = "evil:Anything"
    assert main(["plot", "a.h5"]) == 0
    assert not (user_folder / "IMPORTED").exists()
    assert capsys.readouterr().out.strip().endswith(".png")
