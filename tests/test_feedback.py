"""Feedback while labctl works: progress bars on terminals only, log lines on stderr and in the run file."""

import fcntl
import io
import logging
import os
import pty
import struct
import subprocess
import sys
import termios
import textwrap

import pytest

from labctl.cli import main
from labctl.progress import RunProgress
from labctl.protocol import get_protocol
from labctl.results import open_run
from labctl.runner import run_protocol


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def in_terminal(code: str, cwd) -> str:
    """Run ``code`` in a Python whose stdout and stderr are a terminal; everything it printed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # rows, columns
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=120) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


# -- progress ------------------------------------------------------------------------------------
def test_progress_bar_shows_percent_and_points_on_a_terminal():
    stream = _Terminal()
    with RunProgress("demo_iv", file=stream, points=lambda: 21) as bar:
        bar(50.0)
    text = stream.getvalue()
    assert "demo_iv" in text and " 50%" in text and "21 pts" in text
    assert text.rstrip().endswith("<00:00, 21 pts]") and "| ," not in text  # as tqdm's own "[<, it/s]"


def test_progress_bar_is_silent_when_output_is_not_a_terminal():
    stream = io.StringIO()
    with RunProgress("demo_iv", file=stream, points=lambda: 21) as bar:
        bar(50.0)
    assert stream.getvalue() == ""
    stream = _Terminal()
    with RunProgress("demo_iv", file=stream, enabled=False) as bar:  # --quiet
        bar(50.0)
    assert stream.getvalue() == ""


@pytest.mark.slow
def test_labctl_run_draws_a_bar_on_a_terminal_and_none_with_quiet(tmp_path):
    run = "from labctl.cli import main; main(['run', 'demo_iv', '-p', 'points=5', '--out', '{}'{}])"
    shown = in_terminal(run.format("a.h5", ""), tmp_path)
    assert "100%|" in shown and "5 pts" in shown and "completed: 5 points" in shown
    quiet = in_terminal(run.format("b.h5", ", '--quiet'"), tmp_path)
    assert "%|" not in quiet and "on station" not in quiet and "completed: 5 points" in quiet


def test_labctl_run_draws_no_bar_when_output_is_not_a_terminal(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "demo_iv", "-p", "points=5", "--out", "a.h5"]) == 0
    err = capsys.readouterr().err
    assert "%|" not in err and "demo_iv on station demo -> a.h5" in err


@pytest.mark.slow
def test_labctl_demo_shows_the_tour_and_the_step_under_way(tmp_path):
    shown = in_terminal("""
        from labctl import demo
        from labctl.cli import main
        demo.TOUR = (("demo_iv", {"points": "5"}), ("demo_iv", {"points": "7"}))
        raise SystemExit(main(["demo", "--out-dir", "d"]))
        """, tmp_path)
    assert "labctl demo" in shown and "2/2" in shown  # the tour
    assert "demo_iv: 100%|" in shown  # the step
    assert "completed" in shown


def test_run_protocol_from_a_script_shows_no_bar_when_not_on_a_terminal(tmp_path, capsys):
    assert run_protocol("demo_iv", tmp_path / "a.h5", points=5).status == "completed"
    assert "%|" not in capsys.readouterr().err


# -- logging -------------------------------------------------------------------------------------
def test_verbose_shows_run_start_and_end_default_shows_neither(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "demo_iv", "-p", "points=3", "--out", "a.h5"]) == 0
    assert "started on station" not in capsys.readouterr().err
    assert main(["run", "demo_iv", "-p", "points=3", "--out", "b.h5", "-v"]) == 0
    err = capsys.readouterr().err
    assert "INFO labctl.runner: demo_iv started on station demo" in err
    assert "INFO labctl.connection: station demo: smu = Keithley2400" in err
    assert "demo_iv completed: 3 points" in err
    assert main(["-vv", "show", "b.h5"]) == 0  # before the command too


def test_the_run_file_keeps_the_runs_log_lines(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(get_protocol("demo_iv"), "plan", lambda self: {})  # refused while running
    assert main(["run", "demo_iv", "-p", "v_stop=3", "-p", "points=4", "--out", "f.h5", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "on station" not in err and "refused" in err  # --quiet: only the outcome
    with open_run("f.h5") as run:
        log = "\n".join(run.log)
    assert "INFO labctl.runner: demo_iv started on station demo" in log
    assert "WARNING labctl.limits: smu.source_voltage = 3.0" in log and "refused" in log
    assert "INFO labctl.runner: demo_iv failed: 3 points -> f.h5 (LimitError: smu.source_voltage" in log


def test_a_scripts_logging_sees_only_what_it_asked_for_while_the_file_keeps_info(tmp_path, monkeypatch):
    monkeypatch.setattr(get_protocol("demo_iv"), "plan", lambda self: {})  # refused while running
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record)

    root, handler = logging.getLogger(), Keep()
    root.addHandler(handler)
    try:
        result = run_protocol("demo_iv", tmp_path / "a.h5", points=3, v_stop=3)
    finally:
        root.removeHandler(handler)
    assert result.status == "failed"
    labctl_records = [r for r in seen if r.name.startswith("labctl")]
    assert labctl_records and all(r.levelno >= logging.WARNING for r in labctl_records)
    assert logging.getLogger("labctl").level == logging.NOTSET  # left as it was
    with open_run(tmp_path / "a.h5") as run:
        assert any(" INFO labctl.runner: demo_iv started" in line for line in run.log)


# -- figures do not take over an interactive session --------------------------------------------
def test_save_figures_keeps_the_sessions_matplotlib_backend(tmp_path):
    run_protocol("demo_iv", tmp_path / "a.h5", points=3)
    code = f"""
        import matplotlib
        matplotlib.use("svg")
        import matplotlib.pyplot as plt
        from labctl.plotting import save_figures
        from labctl.results import open_run
        with open_run({str(tmp_path / "a.h5")!r}) as run:
            paths = save_figures(run, {str(tmp_path)!r})
        assert paths and all(p.exists() for p in paths), paths
        print(matplotlib.get_backend(), len(plt.get_fignums()))
        """
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.split() == ["svg", "0"]


def test_show_into_a_closed_pipe_is_not_an_error(tmp_path, monkeypatch, capsys):
    """`labctl show FILE | head -1`: the reader left; the file is fine and nothing is reported."""
    run_protocol("demo_iv", tmp_path / "a.h5", points=3)

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["show", str(tmp_path / "a.h5")]) == 0
    assert capsys.readouterr().err == ""


def test_a_dry_run_into_a_closed_pipe_is_not_an_error(tmp_path, monkeypatch, capsys):
    """`labctl run P --dry-run | head -1`: not a failure to create a run file (none is involved)."""

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["run", "demo_iv", "--dry-run"]) == 0
    assert capsys.readouterr().err == ""
    assert not list(tmp_path.iterdir())
