"""Ctrl-C lands within one instrument operation, wherever the protocol is, and ends the run aborted."""

from pyvisa import constants, errors

from labctl.protocol import Column, Protocol, Role
from labctl.runner import Runner
from labctl.station import Station


class _Busy(Protocol):
    """Driver calls in a loop, with no checkpoint of its own."""

    STATION = "demo"
    COLUMNS = (Column("voltage", "V", "Source voltage", axis=True),)
    smu = Role("source-measure unit")
    runner: Runner | None = None
    fail_after_abort = False

    def startup(self):
        self.done, self.output_at_end = 0, None
        self.smu.source_mode = "voltage"
        self.smu.enable_source()

    def execute(self):
        if self.fail_after_abort:  # a long operation cut short by Ctrl-C times out, say
            self.runner.abort()
            raise errors.VisaIOError(constants.VI_ERROR_TMO)
        for k in range(200):
            if k == 3:
                self.runner.abort()  # Ctrl-C, while the loop keeps calling the driver
            self.smu.source_voltage = 0.001 * k
            self.done = k + 1

    def shutdown(self):
        self.smu.source_voltage = 0.0  # sent although the abort is pending: shutdown always runs
        self.smu.disable_source()
        self.output_at_end = self.smu.source_enabled


def _run(tmp_path, **attrs):
    protocol = _Busy()
    for k, v in attrs.items():
        setattr(protocol, k, v)
    runner = Runner(protocol, Station.load("demo"), tmp_path / "busy.h5")
    protocol.runner = runner
    return protocol, runner.run()


def test_an_abort_lands_at_the_next_instrument_command(tmp_path):
    protocol, result = _run(tmp_path)
    assert result.status == "aborted" and result.exit_code == 130
    assert protocol.done == 3  # the fourth setting was never sent
    assert protocol.output_at_end is False


def test_an_operation_that_fails_once_an_abort_is_asked_ends_aborted(tmp_path):
    protocol, result = _run(tmp_path, fail_after_abort=True)
    assert result.status == "aborted", result.message
    assert result.message.startswith("aborted by request; the operation under way ended in VisaIOError")
    assert protocol.output_at_end is False


def test_without_an_abort_the_loop_runs_to_its_end(tmp_path, monkeypatch):
    monkeypatch.setattr(Runner, "abort", lambda self: None)
    protocol, result = _run(tmp_path)
    assert result.status == "completed" and protocol.done == 200
