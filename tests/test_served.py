"""A bench served over TCP: pyvisa-py and stock drivers as clients, robustness, control port, faults."""

import json
import socket
import struct
import threading

import numpy as np
import pytest
import pyvisa
import yaml
from pymeasure.instruments.keithley import Keithley2400

from labctl.link import LinkError, LinkPolicy, ResilientResource, _same_value, _units
from labctl.remote_clock import ControlClient, ControlError, RemoteClock
from labctl.sim_backends.bench_file import resolve
from labctl.sim_backends.faults import FaultPlan, FaultRates
from labctl.sim_backends.served import ServerThread, served_resources


@pytest.fixture(scope="module")
def rram():
    with ServerThread("rram.yaml", max_line=4096, max_block=8192, message_timeout=0.3) as srv:
        yield srv


@pytest.fixture
def control(rram):
    with ControlClient(rram.control_port) as c:
        c.call("reset")
        c.call("faults", rates={k: 0.0 for k in ("latency", "no_reply", "garbled", "disconnect", "error")})
        yield c


@pytest.fixture
def rm():
    manager = pyvisa.ResourceManager("@py")
    yield manager
    manager.close()


def open_die(rm, srv, timeout=2000):
    return rm.open_resource(srv.resource("die"), read_termination="\n", write_termination="\n", timeout=timeout)


def raw(srv, name="die"):
    s = socket.create_connection(("127.0.0.1", srv.port(name)), timeout=5)
    return s, s.makefile("rb")


def test_ports_follow_the_bench_file_from_the_base_port():
    listing = served_resources("stno.yaml", base_port=6000)
    assert [r["device"] for r in listing][:2] == ["smu1", "smu2"]
    assert [r["port"] for r in listing] == list(range(6000, 6000 + len(listing)))
    assert listing[-1]["socket"] == f"TCPIP::127.0.0.1::{6000 + len(listing) - 1}::SOCKET"


def test_stock_pymeasure_driver_over_pyvisa_py(rram, control):
    smu = Keithley2400(rram.resource("smu"), visa_library="@py", read_termination="\n")
    try:
        assert "MODEL 2400" in smu.id
        smu.source_mode = "voltage"
        smu.compliance_current = 1e-3
        smu.enable_source()
        smu.source_voltage = 0.5
        assert smu.current > 0  # the 1T1R test structure conducts
    finally:
        smu.adapter.close()


def test_binary_blocks_both_ways(rram, control, rm):
    die = open_die(rm, rram)
    die.write(":ARR:FORM")
    assert die.query("*OPC?") == "1"
    bits = np.random.default_rng(1).integers(0, 2, 1024).astype(np.uint8)
    die.write_binary_values(":ARR:PROG ", bits, datatype="B")
    assert die.query("*OPC?") == "1"
    sensed = die.query_binary_values(":ARR:READ?", datatype="B", container=np.array)
    assert np.mean(sensed == bits) > 0.95
    r = die.query_binary_values(":ARR:RES?", datatype="f", container=np.array)
    assert r.shape == (2048,) and np.all(r > 0)
    assert die.query(":SYST:ERR?").startswith("0,")
    die.close()


def test_messages_back_to_back_in_one_segment_each_get_a_reply(rram, control):
    s, f = raw(rram)
    s.sendall(b"*IDN?\n*OPC?\n:ADDR:ROW 3\n:ADDR:ROW?\n")
    assert f.readline().startswith(b"LABCTL,RRAM-DIE-CTRL")
    assert f.readline() == b"1\n" and f.readline() == b"3\n"
    s.close()


def test_garbage_half_messages_and_abrupt_disconnects_leave_others_working(rram, control, rm):
    die = open_die(rm, rram)
    for junk in (b"\x00\xff\xfe garbage ;;; \x80\n", b"*ID", b"#9", b":ARR:PROG #41024\x01\x01"):
        s, _ = raw(rram)
        s.sendall(junk)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST mid-message
        assert die.query("*IDN?").startswith("LABCTL")
    errors = die.query(":SYST:ERR:ALL?")
    assert errors.startswith("-1")  # the garbage line was refused as a command, not a crash
    die.close()
    again = open_die(rm, rram)
    assert again.query("*OPC?") == "1"
    again.close()


def _closed_by_server(s) -> bool:
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def test_line_and_block_bounds_close_only_the_offending_connection(rram, control, rm):
    die = open_die(rm, rram)
    long_line, _ = raw(rram)
    long_line.sendall(b"A" * 5000)  # no terminator, beyond max_line
    assert _closed_by_server(long_line)
    big_block, _ = raw(rram)
    big_block.sendall(b":ARR:PROG #9000100000" + b"\x00" * 100)  # declares a block beyond max_block
    while True:
        try:
            big_block.sendall(b"\x00" * 4096)
        except OSError:
            break
        if _closed_by_server(big_block):
            break
    assert die.query("*IDN?").startswith("LABCTL")
    closed = rram.call(lambda s: dict(s.find("die").closed_sessions))
    assert any("longer than" in k for k in closed) and any("block larger" in k for k in closed)
    die.close()


def test_a_slow_loris_client_is_cut_off_while_others_are_served(rram, control, rm):
    slow, _ = raw(rram)
    slow.sendall(b"*ID")  # and never the rest
    die = open_die(rm, rram)
    assert die.query("*IDN?").startswith("LABCTL")
    assert _closed_by_server(slow)  # after message_timeout, without any help from the test
    die.close()


def test_several_clients_are_served_one_message_at_a_time_each_with_its_own_replies(rram, control):
    failures = []

    def client(k):
        s, f = raw(rram)
        for i in range(150):
            ask, expect = (b"*IDN?\n", b"LABCTL") if (i + k) % 2 else (b"*OPC?\n", b"1\n")
            s.sendall(ask)
            reply = f.readline()
            if not reply.startswith(expect):
                failures.append((k, i, reply))
        s.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# -- the control port ------------------------------------------------------------------------------
def test_control_port_clock_reset_snapshot(rram, control, rm):
    clock = RemoteClock(control)
    t0 = clock.now()
    clock.sleep(2.5)
    assert clock.now() == pytest.approx(t0 + 2.5)
    die = open_die(rm, rram)
    die.write(":ARR:FORM")
    die.query("*OPC?")
    snap = control.call("snapshot")
    assert snap["bench"]["devices_formed"] == [2048, "1"]  # (value, units), as the run file records it
    assert {i["device"]: i["port"] for i in snap["instruments"]}["die"] == rram.port("die")
    control.call("reset")
    assert control.call("snapshot")["bench"]["devices_formed"] == [0, "1"]
    assert control.call("clock")["now"] == 0.0
    assert die.query("*IDN?").startswith("LABCTL")  # sessions survive a reset
    assert control.call("clock_mode", mode="wall")["mode"] == "wall"
    assert control.call("clock_mode", mode="virtual")["mode"] == "virtual"
    die.close()


def test_the_control_port_speaks_of_the_bench_clock_itself_through_resets(tmp_path):
    doc = yaml.safe_load(resolve("demo.yaml").read_text())
    doc["x-bench"]["clock"] = "wall"  # the bench file's own mode, not only the control port's
    (tmp_path / "wall.yaml").write_text(yaml.safe_dump(doc))
    with ServerThread(tmp_path / "wall.yaml") as srv, ControlClient(srv.control_port) as c:
        assert c.call("clock")["mode"] == "wall"
        c.call("reset")
        assert c.call("clock")["mode"] == "wall"
        assert c.call("clock_mode", mode="virtual")["mode"] == "virtual"
        c.call("reset")
        assert c.call("snapshot")["clock"]["mode"] == "virtual"  # a reset keeps the mode it was given


def test_fault_rates_come_from_the_bench_file_for_every_device_or_its_own(tmp_path):
    doc = yaml.safe_load(resolve("demo.yaml").read_text())
    doc["x-faults"] = {"seed": 7, "no_reply": 0.25}
    doc["devices"]["awg"]["x-faults"] = {"garbled": 0.5}
    (tmp_path / "faulty.yaml").write_text(yaml.safe_dump(doc))
    with ServerThread(tmp_path / "faulty.yaml") as srv, ControlClient(srv.control_port) as c:
        faults = c.call("faults")["instruments"]
    assert faults["smu_diode"]["rates"]["no_reply"] == 0.25 and faults["smu_diode"]["seed"] == 7
    assert faults["awg"]["rates"]["garbled"] == 0.5 and faults["awg"]["rates"]["no_reply"] == 0.0
    assert faults["awg"]["seed"] == doc["x-bench"]["seed"]  # no seed of its own: the bench's


def test_a_write_then_a_clock_advance_act_in_that_order(rram, control, rm):
    die = open_die(rm, rram)
    clock = RemoteClock(control)
    t0 = clock.now()
    for _ in range(20):
        die.write(":ARR:FORM")  # no reply awaited: the clock request must still come after it
        clock.sleep(0.0)
    assert clock.now() > t0 + 1e-3  # forming 2048 devices took bench time before the clock answered
    die.close()


def test_control_port_refuses_bad_requests_and_keeps_the_connection(rram, control):
    with pytest.raises(ControlError, match="unknown op"):
        control.call("explode")
    with pytest.raises(ControlError, match="advance"):
        control.call("advance", seconds=-1)
    with pytest.raises(ControlError, match="unknown fault"):
        control.call("faults", rates={"meteor": 0.1})
    with pytest.raises(ControlError, match="no served instrument"):
        control.call("faults", instrument="toaster", rates={"no_reply": 0.1})
    s = socket.create_connection(("127.0.0.1", rram.control_port), timeout=5)
    f = s.makefile("rb")
    s.sendall(b"not json\n[1, 2]\n")
    assert not json.loads(f.readline())["ok"] and not json.loads(f.readline())["ok"]
    s.sendall(b'{"op": "ping"}\n')
    assert json.loads(f.readline()) == {"ok": True}
    s.close()


# -- faults on purpose ----------------------------------------------------------------------------
def test_fault_sequences_are_seeded():
    rates = FaultRates(no_reply=0.3, garbled=0.3, disconnect=0.2, error=0.2, latency=0.3)
    a, b = FaultPlan("smu", rates, 5), FaultPlan("smu", rates, 5)
    assert [a.draw(True) for _ in range(50)] == [b.draw(True) for _ in range(50)]
    assert [a.draw(True) for _ in range(50)] != [FaultPlan("smu", rates, 6).draw(True) for _ in range(50)]
    with pytest.raises(ValueError, match="no_reply"):
        FaultRates.parse({"no_reply": 2})


@pytest.mark.parametrize("kind", ["no_reply", "garbled", "disconnect", "error", "latency"])
def test_each_fault_kind_as_a_client_sees_it(rram, control, rm, kind):
    die = open_die(rm, rram, timeout=300)
    control.call("faults", instrument="die", rates={kind: 1.0, "latency_s": 0.01})
    if kind == "no_reply":
        with pytest.raises(pyvisa.errors.VisaIOError):
            die.query("*IDN?")
    elif kind == "garbled":
        with pytest.raises(UnicodeDecodeError):
            die.query("*IDN?")
    elif kind == "disconnect":
        with pytest.raises((ConnectionError, pyvisa.errors.VisaIOError)):
            die.query("*IDN?")
            die.query("*IDN?")
    else:
        assert die.query("*IDN?").startswith("LABCTL")
    control.call("faults", instrument="die", rates={kind: 0.0})
    injected = control.call("faults", instrument="die")["instruments"]["die"]["injected"]
    assert injected[kind] >= 1
    if kind == "error":
        fresh = open_die(rm, rram)
        assert fresh.query(":SYST:ERR?").startswith("-300,")
        fresh.close()
    die.close()


@pytest.mark.slow
def test_link_retries_queries_and_rereads_settings(rram, control, rm):
    control.call("faults", instrument="die", rates={"no_reply": 0.08, "garbled": 0.08, "disconnect": 0.08},
                 seed=11)
    link = ResilientResource(open_die(rm, rram, timeout=200), "die", LinkPolicy(retries=5), sleep=lambda s: None)
    for row in range(16):
        link.write(f":ADDR:ROW {row}")
        assert link.query(":ADDR:ROW?") == str(row)
        assert link.query_binary_values(":ARR:RES?", datatype="f", container=np.array).shape == (2048,)
    kinds = {f["kind"] for f in link.faults}
    assert {"no reply", "garbled reply", "connection lost"} <= kinds
    assert any(f["outcome"].startswith("re-read") for f in link.faults)
    control.call("faults", instrument="die", rates={"no_reply": 1.0})
    with pytest.raises(LinkError, match="gave up after 5 retries"):
        link.query("*IDN?")
    link.close()


def test_link_does_not_repeat_an_action_it_cannot_check(rram, control, rm):
    link = ResilientResource(open_die(rm, rram, timeout=200), "die", sleep=lambda s: None)
    link.write(":CELL:SET")
    control.call("faults", instrument="die", rates={"disconnect": 1.0})
    with pytest.raises(LinkError, match="may or may not have acted"):
        link.write(":CELL:SET")
        link.query("*OPC?")
    link.close()


def test_scpi_units_and_values_as_the_link_reads_them():
    assert _units(':SOUR:FUNC CURR;VOLT 2;:OUTP ON;*OPC?;:SENS:BAND:RES 1e6 Hz;') == [
        ":SOUR:FUNC CURR", ":SOUR:VOLT 2", ":OUTP ON", "*OPC?", ":SENS:BAND:RES 1e6 Hz"]
    assert _same_value("1.000000e+06 Hz", "1000000") and _same_value("ON", "1")
    assert _same_value("CURR", "CURRENT", loose=True) and _same_value("0,31", "0,31")
    assert not _same_value("CURR", "CURRENT")  # written again first: BL and BLB look alike too
    assert not _same_value("0.5", "0.6") and not _same_value("BL", "BLB")
