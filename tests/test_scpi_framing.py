"""Message framing: a stray '#' never leaves an instrument waiting, device clear flushes its input."""

import re
import socket

import pytest
import pyvisa

from labctl.remote_clock import ControlClient
from labctl.sim_backends.bench_file import resolve
from labctl.sim_backends.framing import frame
from labctl.sim_backends.served import ServerThread

AWG = "USB0::0x0957::0x2807::MY00000001::INSTR"
SMU = "GPIB0::24::INSTR"


@pytest.fixture
def awg(rm):
    inst = rm.open_resource(AWG, read_termination="\n", write_termination="\n", timeout=200)
    yield inst
    inst.close()


@pytest.fixture
def smu(rm):
    inst = rm.open_resource(SMU, read_termination="\n", write_termination="\n", timeout=200)
    yield inst
    inst.close()


@pytest.mark.parametrize("message, code", [
    (b":SOUR:VOLT #1x", "-161"),  # a block header with a non-digit for its length
    (b'*IDN? "Run #1 ok"', "-108"),  # '#' inside a quoted string is text
    (b":TRAC:DATA #9999999999", "-223"),  # a block longer than the instrument accepts
    (b":SOUR:VOLT 1;:SOUR:VOLT #2", "-161"),
    (b":SOUR:VOLT 'unclosed #15", "-"),  # an unclosed string ends at the terminator
])
def test_a_stray_block_header_ends_at_the_terminator_with_an_error(rm, message, code):
    inst = rm.open_resource(AWG if b"TRAC" in message else SMU, read_termination="\n",
                            write_termination="\n", timeout=200)
    inst.write_raw(message + b"\n")
    assert inst.query("*IDN?").count(",") == 3  # answered: nothing left waiting
    assert inst.query(":SYST:ERR?").startswith(code)
    inst.close()


def test_a_block_the_instrument_accepts_still_carries_terminators(awg):
    awg.write_raw(b":TRAC:DATA #18\n\n;;#9'\"\n")
    assert awg.query(":SYST:ERR?").startswith("0,")
    assert awg.query(":TRAC:POIN?") == "2"


def test_device_clear_drops_a_half_sent_block_and_an_unread_reply(awg):
    awg.write_raw(b":TRAC:DATA #3100ab")  # the instrument now waits for 98 more bytes
    with pytest.raises(pyvisa.VisaIOError):
        awg.query("*IDN?")  # ... and takes this query for block data
    awg.clear()
    assert awg.query("*IDN?").startswith("LABCTL,ARB-MEMORY")
    awg.write("*IDN?")
    awg.clear()  # the unread reply goes too: nothing to read, no -410 for the next query
    assert awg.query(":SYST:ERR?").startswith("-420")  # the timed-out read above, no -410
    assert awg.query(":TRAC:POIN?") == "0"


def test_device_clear_keeps_settings_and_the_error_queue(smu):
    smu.write(":SOUR:VOLT 1.5;:BOGUS")
    smu.clear()
    assert float(smu.query(":SOUR:VOLT?")) == 1.5
    assert smu.query(":SYST:ERR?").startswith("-113")


def test_frame_finds_the_end_of_each_kind_of_message():
    eom, cap = b"\n", 1000
    assert frame(b"*IDN?\n*RST\n", eom, cap).end == 6
    assert frame(b':A "x\n', eom, cap).end == 6  # unclosed quote: the terminator wins
    assert frame(b':A "#13\n"\n', eom, cap).end == 8
    assert frame(b":A #13\n\nx\n", eom, cap).end == 10  # a block holds its terminators
    assert frame(b":A #13\n", eom, cap) == frame(b":A #13\n", eom, cap)
    waiting = frame(b":A #15\n", eom, cap)
    assert waiting.end == -1 and waiting.pending_block == 5
    refused = frame(b":A #42000\n", eom, cap)
    assert refused.end == 10 and refused.refused_block == 2000
    assert frame(b":A #1x\n", eom, cap).end == 7
    assert frame(b":A #H1F;#B101;#Q7\n", eom, cap).end == 18
    assert frame(b":A #", eom, cap).end == -1 and frame(b":A #3 1\n", eom, cap).end == 8
    assert frame(b":A #30", eom, cap).end == -1  # the header is still arriving


@pytest.fixture(scope="module")
def served_demo():
    with ServerThread(resolve("demo.yaml"), message_timeout=30) as srv:
        yield srv


def _connect(srv, name):
    s = socket.create_connection(("127.0.0.1", srv.port(name)), timeout=5)
    return s, s.makefile("rb")


def test_served_instruments_frame_messages_alike(served_demo):
    s, f = _connect(served_demo, "awg")
    s.sendall(b':TRAC:DATA #9999999999\n*IDN? "Run #1 ok"\n:SYST:ERR:ALL?\n')
    assert re.findall(rb'(-?\d+),"', f.readline()) == [b"-223", b"-108"]
    s.close()


def test_a_jammed_socket_is_recovered_by_reconnecting(served_demo):
    jammed, _ = _connect(served_demo, "awg")
    jammed.sendall(b":TRAC:DATA #3100ab\n*IDN?\n")  # a legal block, never finished
    fresh, f = _connect(served_demo, "awg")
    fresh.sendall(b"*IDN?\n")
    assert f.readline().startswith(b"LABCTL,ARB-MEMORY")
    jammed.close()
    fresh.close()


def test_the_control_port_clears_a_jammed_instrument(served_demo):
    jammed, f = _connect(served_demo, "awg")
    jammed.sendall(b":TRAC:DATA #3100ab\n*IDN?\n")  # the query went into the block's data
    with ControlClient(served_demo.control_port) as control:
        assert control.call("clear", instrument="awg")["cleared"] == ["awg"]
    jammed.sendall(b"*IDN?\n")
    assert f.readline().startswith(b"LABCTL,ARB-MEMORY")
    jammed.close()
