"""Legal settings cost bounded work: the emulators keep their instruments' limits (sweep time,
readings buffer, ramp memory) and a trace simulates a bounded record whatever the settings."""

import numpy as np
import pytest

import labctl.sim_backends.stno_bench as stno_bench
from labctl.cli import main
from labctl.sim_backends.demo_bench import DemoBench
from labctl.sim_backends.die_controller import RAMP_STEPS, DieControllerEmulator
from labctl.sim_backends.keithley2400 import Keithley2400Emulator
from labctl.sim_backends.physics import spectrum
from labctl.sim_backends.physics.spectrum import enbw
from labctl.sim_backends.rram_bench import RRAMBench
from labctl.sim_backends.spectrum_analyzer import AgilentE4408BEmulator


@pytest.fixture
def record_steps(monkeypatch):
    """Oscillator steps each trace asks for; more than the bound fails at once (before any work)."""
    asked = []
    simulate = stno_bench.simulate

    def bounded(devices, current, field, duration, **kw):
        asked.append(round(duration / kw["dt"]))
        assert asked[-1] <= stno_bench.MAX_TRACE_STEPS, f"a trace asked for {asked[-1]} steps"
        return simulate(devices, current, field, duration, **kw)

    monkeypatch.setattr(stno_bench, "simulate", bounded)
    return asked


@pytest.fixture
def fft_values(monkeypatch):
    """Complex values each FFT pass of a trace transforms."""
    sizes = []
    fft = np.fft.fft

    def counted(a, n=None, axis=-1, **kw):
        sizes.append(n * (a.size // a.shape[axis]))
        return fft(a, n=n, axis=axis, **kw)

    monkeypatch.setattr(spectrum.np.fft, "fft", counted)
    return sizes


def analyzer(seed=0):
    bench = stno_bench.STNOBench(seed=seed)
    bench.currents[:] = 5e-3
    return AgilentE4408BEmulator(bench)


def trace(sa) -> np.ndarray:
    return np.array(sa.process(b":TRAC? TRACE1").split(b","), float)


def test_a_full_span_trace_at_the_narrowest_rbw_is_bounded_and_takes_the_longest_sweep(record_steps, fft_values):
    sa = analyzer()
    sa.process(b":FREQ:STAR 1 MHZ;:FREQ:STOP 26.5 GHZ;:BAND 1 KHZ;:SWE:POIN 8192")
    assert float(sa.process(b":SWE:TIME?")) == 2000.0  # the ESA's longest sweep: beyond, uncalibrated
    t0 = sa.clock.now()
    data = trace(sa)
    assert data.size == 8192 and np.all(np.isfinite(data)) and not sa.errors
    assert sa.clock.now() - t0 == pytest.approx(2000.0, abs=0.01)
    sa.process(b":AVER:COUN 100;:AVER ON")  # 64 noise realizations per trace
    assert trace(sa).size == 8192 and not sa.errors
    assert len(record_steps) == 2 and max(fft_values) <= 1 << 23


def test_fine_points_over_a_narrow_span_cost_bounded_transforms(record_steps, fft_values):
    sa = analyzer()
    sa.process(b":FREQ:STAR 229 MHZ;:FREQ:STOP 230 MHZ;:SWE:POIN 8192;:BAND 100 KHZ;:AVER:COUN 100;:AVER ON")
    assert trace(sa).size == 8192
    assert sum(fft_values) <= 1 << 23


def test_a_narrower_rbw_than_the_record_resolves_shows_the_same_line(monkeypatch):
    """The bounded record shows a free-running line as the full record does: the same power in the
    line and the same peak density (three traces averaged, the peak over 0.5 MHz)."""

    def line(max_steps):
        monkeypatch.setattr(stno_bench, "MAX_TRACE_STEPS", max_steps)
        sa = analyzer()
        sa.process(b":FREQ:STAR 215 MHZ;:FREQ:STOP 245 MHZ;:SWE:POIN 601;:BAND 100 KHZ")
        p = np.mean([10 ** (trace(sa) / 10) for _ in range(3)], axis=0)
        spacing = (sa.stop - sa.start) / (sa.points - 1)
        peak = np.convolve(p, np.ones(11) / 11, "same").max()
        return 10 * np.log10(peak), 10 * np.log10(p.sum() * spacing / enbw(sa.rbw))

    (peak, total), (bounded_peak, bounded_total) = line(2**14), line(1024)  # 4000 steps needed
    assert bounded_peak == pytest.approx(peak, abs=1.0) and bounded_total == pytest.approx(total, abs=0.5)


def test_trigger_times_arm_count_cannot_exceed_the_readings_buffer():
    smu = Keithley2400Emulator(DemoBench(seed=0), dut="diode")
    smu.process(b":TRIG:COUN 500;:ARM:COUN 500")
    assert smu.process(b":SYST:ERR?").startswith(b"-221")
    assert smu.process(b":ARM:COUN?;:TRIG:COUN?") == b"1;500"
    smu.process(b":OUTP ON;:ARM:COUN 5")
    assert smu.process(b":TRIG:COUN?;:ARM:COUN?") == b"500;5"
    assert len(smu.process(b":READ?").split(b",")) == 2500 * 5  # five elements per reading
    smu.process(b":TRIG:COUN 501")
    assert smu.process(b":SYST:ERR?").startswith(b"-221") and smu.process(b":TRIG:COUN?") == b"500"


def test_a_forming_ramp_longer_than_the_ramp_memory_is_refused_and_touches_nothing():
    ctrl = DieControllerEmulator(RRAMBench(seed=0))
    ctrl.process(b":FORM:RAMP:STAR 0;:FORM:RAMP:STOP 5;:FORM:RAMP:STEP 0.001;:FORM:WIDT 100e-6;:ARR:FORM")
    assert ctrl.process(b":SYST:ERR?").startswith(b"-221") and ctrl.die.log.count == 0
    step = 5.0 / (RAMP_STEPS - 1)
    ctrl.process(b":FORM:RAMP:STEP %.6f;:ARR:FORM" % step)
    assert not ctrl.errors and ctrl.die.devices.formed.all()


def test_the_forming_protocol_refuses_a_ramp_the_controller_cannot_hold(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["run", "rram_form_array", "-p", "v_start=0", "-p", "v_stop=5", "-p", "v_step=0.001",
                 "--out", "f.h5"])
    assert code == 2 and "at most 256 steps" in capsys.readouterr().err
    assert not (tmp_path / "f.h5").exists()
