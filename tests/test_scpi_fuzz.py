"""Whatever bytes arrive, an emulator answers or queues an error; it never raises or changes on error."""

import pytest
import pyvisa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labctl.sim_backends.bench import Bench
from labctl.sim_backends.keithley2400 import Keithley2400Emulator
from labctl.sim_backends.scpi import ScpiError

HEADERS = [":SOUR:VOLT", ":SOUR:CURR", ":SENS:CURR:PROT", ":OUTP", ":SOUR:FUNC", ":FORM:ELEM", ":READ?",
           "*IDN?", "*RST", ":SYST:ERR?", ":TRIG:COUN", ":SENS:FUNC", "SOUR:VOLT:RANG"]
TOKENS = ["1", "-3", ".5", "1e309", "nan", "MAX", "ON", "'CURR'", "#15abcde", "#9", "#", ",", ";", "?",
          ":", " ", "\t", "\"", "'", "\x00", "\xff", "VOLT", "1 V", "2 FURLONG", "1e-3"]

messages = st.one_of(
    st.binary(max_size=64),
    st.lists(st.sampled_from(HEADERS + TOKENS), max_size=8).map(lambda parts: "".join(parts).encode("latin-1")),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=messages)
def test_any_message_is_answered_or_queued_never_raised(message):
    smu = Keithley2400Emulator(Bench(seed=0))
    before = dict(smu.settings)
    errors_before = len(smu.errors)
    smu.process(message)  # must not raise
    if len(smu.errors) > errors_before and b";" not in message:
        assert smu.settings == before  # a rejected single command changed nothing
    assert smu.process(b"*IDN?").startswith(b"KEITHLEY")


def test_unread_response_is_discarded_with_query_interrupted():
    from labctl.sim_backends.bench_file import resolve

    rm = pyvisa.ResourceManager(f"{resolve('demo.yaml')}@labsim")
    smu = rm.open_resource("GPIB0::24::INSTR", read_termination="\n", write_termination="\n")
    smu.write("*IDN?")
    smu.write(":SOUR:VOLT 1")
    assert smu.query(":SYST:ERR?").startswith("-410")


def test_scpi_error_entry_format():
    assert ScpiError(-222, "5 outside [0, 1]").entry == '-222,"Data out of range; 5 outside [0, 1]"'
    with pytest.raises(ScpiError):
        raise ScpiError(-113)
