"""The electromagnet's coil physics alone: no SCPI, no VISA, a clock moved by hand."""

import numpy as np
import pytest

from labctl.sim_backends.bench import VirtualClock
from labctl.sim_backends.physics.magnet import Electromagnet


def magnet(**kw):
    clock = VirtualClock()
    return clock, Electromagnet(clock, **{"field_per_amp": 0.05, "inductance": 0.5, "resistance": 0.2, **kw})


def test_current_follows_the_rl_law_at_the_voltage_limit_then_holds_the_setpoint():
    clock, m = magnet()
    m.command(2.0, 5.0)  # 5 V across 0.5 H, 0.2 ohm: toward 25 A with tau = 2.5 s, stopped at 2 A
    clock.advance(0.1)
    assert m.current() == pytest.approx(25.0 * (1 - np.exp(-0.1 / 2.5)), rel=1e-12)
    assert m.voltage() == 5.0  # the supply sits at its limit while the current lags
    t_end = 0.1 + m.time_to_target()
    assert t_end == pytest.approx(-2.5 * np.log(1 - 2.0 / 25.0), rel=1e-12)
    clock.advance_to(t_end + 1.0)
    assert m.current() == 2.0 and m.voltage() == pytest.approx(0.4)
    assert m.field() == pytest.approx(0.1)


def test_setpoint_beyond_v_over_r_settles_at_v_over_r():
    clock, m = magnet()
    m.command(10.0, 1.0)  # V/R = 5 A < 10 A
    assert np.isfinite(m.time_to_target())
    clock.advance(100.0)
    assert m.current() == pytest.approx(5.0, abs=1e-9)


def test_lossless_coil_ramps_linearly_and_remanence_offsets_the_field():
    clock, m = magnet(resistance=0.0, remanence=1e-3)
    m.command(-1.0, 2.0)  # dI/dt = -V/L = -4 A/s
    assert m.time_to_target() == pytest.approx(0.25)
    clock.advance(0.125)
    assert m.current() == pytest.approx(-0.5)
    assert m.field() == pytest.approx(1e-3 - 0.025)


def test_no_drive_voltage_never_ends_a_move():
    clock, m = magnet()
    m.command(1.0, 0.0)
    assert m.time_to_target() == float("inf")
    clock.advance(10.0)
    assert m.current() == 0.0
