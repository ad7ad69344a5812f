"""The STNO bench's amplified coupling loop: an HP 11713A throws its step attenuators and switch through
the stock pymeasure driver's command language, the station bounds its gain, and the oscillators feel it;
a bench override switches every coupling off for comparison runs."""

import numpy as np
import pytest
import pyvisa
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.errors import LimitError
from labctl.protocols._stno.spectra import peak
from labctl.sim_backends.bench_file import resolve
from labctl.sim_backends.coupling_loop import CouplingLoop
from labctl.sim_backends.physics.stno import StripLine
from labctl.sim_backends.stno_bench import STNOBench
from labctl.sim_backends.switch_driver import HP11713AEmulator
from labctl.station import Station


def loop_bench():
    return STNOBench(seed=0)


def test_driver_language_throws_the_relays_left_to_right():
    bench = loop_bench()
    driver = HP11713AEmulator(bench)
    loop = bench.coupling_loop
    assert loop.attenuation == 0 and not loop.closed and loop.feedback() is None  # power-on: all B
    driver.process(b"A14B23A6")  # X: 1 + 4 dB, Y: 20 dB
    assert loop.attenuation == 25 and loop.gain == pytest.approx(30 - 15 - 25)
    driver.process(b"A0")
    assert loop.closed and loop.feedback().gain_db == pytest.approx(-10)
    driver.process(b"B1234567890")
    assert loop.attenuation == 0 and not loop.closed and not driver.errors
    t = bench.clock.now()
    driver.process(b"A5")
    assert bench.clock.now() - t >= 20e-3  # relays take their time


@settings(max_examples=200, deadline=None)
@given(message=st.binary(max_size=32))
def test_any_bytes_leave_the_relays_in_a_defined_state_and_never_raise(message):
    bench = loop_bench()
    driver = HP11713AEmulator(bench)
    assert driver.process(message) is None  # listen-only: nothing is ever answered
    assert not driver.internal_errors
    assert set(bench.coupling_loop.positions.values()) <= {"A", "B"}


def test_station_sets_attenuation_and_switch_through_the_stock_driver_and_bounds_the_gain():
    lab = Station.load("stno").connect(["loop"])
    try:
        loop = lab.instruments["loop"]
        loop.total_attenuation = 27
        loop.loop_closed = True
        bench = loop.adapter.connection.visalib.bench
        assert bench.coupling_loop.attenuation == 27 and bench.coupling_loop.closed
        assert loop.total_attenuation == 27 and loop.loop_closed  # read back from what it set
        with pytest.raises(LimitError):
            loop.total_attenuation = 2  # 13 dB of net gain: beyond the station's bound
        assert bench.coupling_loop.attenuation == 27
        with pytest.raises(ValueError):
            loop.total_attenuation = 7.5
        snap = lab.snapshot()["loop"]
        assert snap["settings"]["total_attenuation"] == (27, "dB") and snap["idn"].startswith("n/a")
    finally:
        lab.close()


def _peak(rm, currents):
    magnet = rm.open_resource("GPIB0::6::INSTR", read_termination="\n", write_termination="\n")
    magnet.write(":FUNC:MODE CURR;:VOLT 5;:CURR 8.6;:OUTP ON")  # 0.43 T: the vortex oscillates
    magnet.query("*OPC?")
    smus = [rm.open_resource(f"GPIB0::{24 + k}::INSTR", read_termination="\n", write_termination="\n")
            for k in range(4)]
    for smu, i in zip(smus, currents, strict=True):
        smu.write(":SOUR:FUNC CURR;:SENS:VOLT:PROT 1;:OUTP ON")
        smu.write(f":SOUR:CURR {i}")
    sa = rm.open_resource("GPIB0::18::INSTR", read_termination="\n", write_termination="\n")
    sa.write(":SENS:FREQ:STAR 300e6;:SENS:FREQ:STOP 385e6;:SENS:SWE:POIN 851;:SENS:BAND:RES 1e6")
    f = np.linspace(300e6, 385e6, 851)
    trace = np.array(sa.query(":TRAC:DATA? TRACE1").split(","), float)
    return peak(f, trace)[0]


def test_closing_the_loop_pulls_an_oscillator_by_its_own_amplified_emission():
    """With the loop closed the oscillator feels its own emission as a field: at a loop phase of pi/2 and
    12 dB of net gain its frequency rises by about 2.3 MHz (self-injection, the operating point's
    -Im(K g)); the bench override coupled=false removes every such path."""
    shifts = {}
    for options in ("coupling_loop.phase=1.5708", "coupling_loop.phase=1.5708&coupled=false"):
        rm = pyvisa.ResourceManager(f"{resolve('stno.yaml')}?{options}@labsim")
        driver = rm.open_resource("GPIB0::28::INSTR", write_termination="\n")
        currents = [7e-3, 0, 0, 0]
        driver.write("B1234567890A12")  # 3 dB: 12 dB of net gain, loop open
        open_ = _peak(rm, currents)
        driver.write("A0")
        shifts[options] = _peak(rm, currents) - open_
        rm.close()
    on, off = shifts.values()
    assert on == pytest.approx(2.3e6, abs=0.6e6)
    assert abs(off) < 0.5e6


def test_loop_parameters_come_from_the_bench_file_and_are_recorded():
    bench = STNOBench(seed=0, coupling_loop={"amplifier_gain": "26", "losses": 16, "phase": 1.0})
    assert bench.coupling_loop.gain == pytest.approx(10) and bench.coupling_loop.phase == 1.0
    assert bench.snapshot()["coupling_loop"]["amplifier_gain"] == (26.0, "dB")
    with pytest.raises(TypeError, match="gain_db"):
        STNOBench(seed=0, coupling_loop={"gain_db": 3})
    with pytest.raises(ValueError, match="coupled"):
        STNOBench(seed=0, coupled="no")
    loop = CouplingLoop(StripLine())
    with pytest.raises(ValueError):
        loop.set_position(10, "A")
