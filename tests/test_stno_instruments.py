"""Stock pymeasure drivers (and our E4408B subclass) against the STNO bench's emulators: one physical
world behind them, SCPI errors like the real instruments, and the station's safety limits."""

import numpy as np
import pytest
from pymeasure.instruments.agilent import Agilent8257D
from pymeasure.instruments.keithley import Keithley2400
from pymeasure.instruments.kepco import KepcoBOP3612
from pymeasure.instruments.lakeshore import LakeShore421

from labctl.instruments.spectrum_analyzer import SpectrumAnalyzer
from labctl.protocols._stno.spectra import peak
from labctl.sim_backends.bench_file import resolve
from labctl.station import LimitError, Station

LIB = f"{resolve('stno.yaml')}@labsim"


@pytest.fixture
def lab():
    smu = Keithley2400("GPIB0::24::INSTR", visa_library=LIB)
    sa = SpectrumAnalyzer("GPIB0::18::INSTR", visa_library=LIB)
    rf = Agilent8257D("GPIB0::19::INSTR", visa_library=LIB)
    magnet = KepcoBOP3612("GPIB0::6::INSTR", visa_library=LIB)
    gauss = LakeShore421("ASRL1::INSTR", visa_library=LIB)
    bench = smu.adapter.connection.visalib.bench
    yield bench, smu, sa, rf, magnet, gauss
    for inst in (smu, sa, rf, magnet, gauss):
        inst.adapter.close()


def _field(bench, magnet, amps):
    magnet.operating_mode = "CURR"
    magnet.voltage_setpoint = 5.0
    magnet.current_setpoint = amps
    magnet.output_enabled = True
    bench.clock.advance(5.0)


def _bias(smu, amps):
    smu.source_mode = "current"
    smu.compliance_voltage = 1.0
    smu.source_current = amps
    smu.enable_source()


def test_magnet_current_ramps_at_the_voltage_limited_rate_and_the_gaussmeter_reads_the_field(lab):
    bench, _, _, _, magnet, gauss = lab
    magnet.operating_mode = "CURR"
    magnet.voltage_setpoint = 5.0
    magnet.current_setpoint = 4.0
    magnet.output_enabled = True
    assert magnet.operating_mode == "CURR" and magnet.output_enabled
    i0 = magnet.current
    t0 = bench.clock.now()  # the reading's bench time
    bench.clock.advance(0.2)
    i1 = magnet.current
    # L dI/dt = V - I R at the 5 V limit: exponential approach toward V/R = 25 A, L/R = 2.5 s
    assert i1 == pytest.approx(25 + (i0 - 25) * np.exp(-(bench.clock.now() - t0) / 2.5), rel=1e-4)
    assert magnet.voltage == pytest.approx(5.0, rel=0.01)  # in voltage limit while ramping
    bench.clock.advance(2.0)
    assert magnet.current == pytest.approx(4.0)
    gauss.unit = "T"
    assert gauss.unit == "T"
    assert gauss.field == pytest.approx(0.2, abs=2e-4)  # 0.05 T/A
    gauss.unit = "G"
    assert gauss.field == pytest.approx(2000, abs=2)
    magnet.output_enabled = False
    bench.clock.advance(5.0)
    assert magnet.current == pytest.approx(0.0)


def test_magnet_supply_in_voltage_mode_or_short_of_voltage_settles_at_v_over_r(lab):
    bench, magnet = lab[0], lab[4]
    magnet.operating_mode = "VOLT"
    magnet.current_setpoint = 10.0  # current limit above V/R
    magnet.voltage_setpoint = 1.0
    magnet.output_enabled = True
    bench.clock.advance(20.0)  # 8 time constants L/R
    assert magnet.current == pytest.approx(1.0 / 0.2, rel=1e-3)
    magnet.operating_mode = "CURR"
    magnet.current_setpoint = 8.0  # needs 1.6 V: out of reach at 1 V
    bench.clock.advance(20.0)
    assert magnet.current == pytest.approx(5.0, rel=1e-3) and magnet.voltage == pytest.approx(1.0)
    assert magnet.ask("*OPC?").strip() == "1" and bench.clock.now() < 3600  # the move's end is finite


def test_analyzer_driver_controls_and_trace_follow_the_biased_oscillator(lab):
    bench, smu, sa, _, magnet, _ = lab
    _field(bench, magnet, 8.6)
    sa.start_frequency, sa.stop_frequency, sa.frequency_points = 250e6, 450e6, 1001
    sa.resolution_bandwidth = 1e6
    assert (sa.start_frequency, sa.stop_frequency, sa.frequency_points) == (250e6, 450e6, 1001)
    assert sa.resolution_bandwidth == 1e6 and not sa.resolution_bandwidth_auto
    sa.center_frequency, sa.span = 340e6, 100e6
    assert (sa.start_frequency, sa.stop_frequency) == (290e6, 390e6)
    f = sa.frequencies
    idle = sa.trace()
    assert idle.shape == (1001,) and idle.max() < np.median(idle) + 13  # floor only: nothing biased
    mean_floor = 10 * np.log10(np.mean(10 ** (idle / 10)))
    assert mean_floor == pytest.approx(-150 + 60.3, abs=0.5)  # DANL -150 dBm/Hz in a 1 MHz RBW
    peaks = []
    for amps in (6e-3, 8e-3):
        _bias(smu, amps)
        peaks.append(peak(f, sa.trace()))
    assert 300e6 < peaks[0][0] < peaks[1][0] < 380e6  # frequency rises with the SMU's current
    assert peaks[0][1] > np.median(idle) + 40
    assert smu.voltage == pytest.approx(8e-3 * bench.chip.mean_resistance()[0], rel=0.01)
    smu.disable_source()
    off = sa.trace()
    assert off.max() < np.median(off) + 13


def test_analyzer_averaging_costs_sweeps_and_smooths_the_floor(lab):
    bench, _, sa, _, _, _ = lab
    sa.start_frequency, sa.stop_frequency, sa.frequency_points = 250e6, 450e6, 501
    sa.resolution_bandwidth = 3e6
    sweep = sa.sweep_time
    t0 = bench.clock.now()
    single = sa.trace()
    t1 = bench.clock.now()
    sa.averages, sa.averaging_enabled = 16, True
    t2 = bench.clock.now()
    averaged = sa.trace()
    t3 = bench.clock.now()
    overhead = (t1 - t0) - sweep  # bus and parsing: the same for both traces
    assert overhead > 0 and (t3 - t2) == pytest.approx(16 * sweep + overhead)
    assert np.std(averaged) < 0.4 * np.std(single)


def test_rf_generator_locks_the_oscillator_through_the_strip_line(lab):
    bench, smu, sa, rf, magnet, _ = lab
    _field(bench, magnet, 8.6)
    _bias(smu, 7e-3)
    sa.center_frequency, sa.span = 335e6, 20e6
    sa.resolution_bandwidth = 300e3
    f = sa.frequencies
    f0 = peak(f, sa.trace())[0]
    rf.frequency = f0 + 1.5e6
    rf.power = -15
    rf.enable()
    assert rf.is_enabled and rf.frequency == pytest.approx(f0 + 1.5e6) and rf.power == -15
    assert peak(f, sa.trace())[0] == pytest.approx(f0 + 1.5e6, abs=40e3)  # locked
    rf.shutdown()  # stock shutdown: modulation and output off
    assert not rf.is_enabled
    assert abs(peak(f, sa.trace())[0] - f0) < 0.5e6


def test_out_of_range_settings_queue_scpi_errors_and_change_nothing(lab):
    _, _, sa, rf, magnet, _ = lab
    rf.power = -20
    rf.write(":POW 40 dBm")
    assert rf.ask(":SYST:ERR?").startswith("-222")
    assert rf.power == -20
    sa.write(":SENS:SWE:POIN 5")
    assert sa.ask(":SYST:ERR?").startswith("-222")
    magnet.write("CURR 20")
    assert magnet.ask("SYST:ERR?").startswith("-222")
    assert magnet.current_setpoint == 0


def test_station_refuses_unsafe_requests_before_sending_them():
    lab = Station.load("stno").connect(["smu1", "rf_a", "magnet"])
    try:
        smu, rf, magnet = (lab.instruments[r] for r in ("smu1", "rf_a", "magnet"))
        bench = smu.adapter.connection.visalib.bench
        with pytest.raises(LimitError):
            smu.source_current = 20e-3
        assert smu.source_current == 0
        with pytest.raises(LimitError):
            rf.power = 5
        assert rf.power == -135
        magnet.current_setpoint = 0.0
        magnet.current_setpoint = 0.5
        with pytest.raises(LimitError):
            magnet.current_setpoint = 2.0  # a jump: more than 0.5 A per setpoint
        with pytest.raises(LimitError):
            magnet.voltage_setpoint = 10.0  # would allow a faster ramp than the station's
        assert magnet.current_setpoint == 0.5 and magnet.voltage_setpoint == 0
        assert np.all(bench.currents == 0)
    finally:
        lab.close()


def test_smu_auto_output_off_stops_biasing_the_oscillator(lab):
    bench, smu = lab[0], lab[1]
    smu.source_mode = "current"
    smu.compliance_voltage = 2
    smu.source_current = 3e-3
    smu.write(":SOUR:CLE:AUTO ON")
    smu.values(":READ?")  # output on for the reading only (manual: auto output-off)
    assert smu.values(":OUTP?") == [0]
    assert np.all(bench.currents == 0)


@pytest.mark.slow
def test_gaussmeter_multiplier_belongs_to_the_reading_it_scales(lab):
    bench, magnet, gauss = lab[0], lab[4], lab[5]
    _field(bench, magnet, (1000.0 - 0.3) / 1e4 / 0.05)  # 1000 G with the probe's 0.3 G offset
    readings = [gauss.field for _ in range(40)]  # noise puts half of them below the kG decade
    assert np.allclose(readings, 1000.0, atol=1.0)
