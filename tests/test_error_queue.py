"""Failures explain themselves: a run that fails on an instrument says what the instrument's SCPI error
queue holds, in its message, its file and its log; a setting refused without an exception is recorded."""

import textwrap

from labctl.cli import main
from labctl.error_queue import read_error_queue
from labctl.results import open_run

REFUSING_PROTOCOL = textwrap.dedent(
    """
    from labctl.protocol import Column, Protocol, Role

    class Refused(Protocol):
        '''A protocol whose instrument refuses a command, then (output off) a measurement.'''
        STATION = "demo"
        COLUMNS = (Column("current", "A", "Current"),)
        smu = Role("source-measure unit")

        def execute(self):
            self.smu.write(":SOUR:VOLT:LEV banana")   # refused: a data type error, no exception here
            if not self.fail:
                self.smu.enable_source()
            self.emit_point(current=self.smu.current)  # output off: refused, no answer, a VISA timeout

        def shutdown(self):
            self.smu.disable_source()
    """
)


def _write(tmp_path, fail: bool) -> str:
    (tmp_path / "refusing.py").write_text(REFUSING_PROTOCOL + f"\n    fail = {fail}\n")
    return str(tmp_path / "refusing.py") + ":Refused"


def test_a_timeout_reports_the_instruments_error_queue(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", _write(tmp_path, fail=True), "--out", "f.h5"]) == 1
    err = capsys.readouterr().err
    assert "VI_ERROR_TMO" in err
    assert 'instrument error queue: smu: "-104 Data type error' in err
    assert '"-221 Settings conflict; output is off' in err
    with open_run("f.h5") as run:
        assert "-221 Settings conflict" in run.exit_message
        queue = run.instruments["smu"]["error_queue"]
        assert queue[0].startswith("-104 Data type error") and queue[1].startswith("-221 Settings conflict")
        assert any("WARNING labctl.error_queue: smu error queue: -104" in line for line in run.log)
    assert main(["show", "f.h5"]) == 0
    assert "error queue: -104 Data type error" in capsys.readouterr().out


def test_a_completed_run_records_settings_the_instrument_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", _write(tmp_path, fail=False), "--out", "f.h5"]) == 0
    assert "smu error queue: -104 Data type error" in capsys.readouterr().err  # a warning on stderr
    with open_run("f.h5") as run:
        assert run.status == "completed"
        assert run.instruments["smu"]["error_queue"][0].startswith("-104 Data type error")


def test_the_queue_is_read_until_empty_and_never_forever():
    class Endless:
        next_error = property(lambda self: [-350.0, '"Queue overflow"'])

    class NotScpi:
        @property
        def next_error(self):
            raise NotImplementedError

    assert read_error_queue(Endless()) == ["-350 Queue overflow"] * 32
    assert read_error_queue(NotScpi()) is None
    assert read_error_queue(object()) is None
