"""Setting the out-of-plane field of the STNO probe's electromagnet safely.

The coil is ramped in setpoint steps no larger than `step` (the station also refuses larger ones), each
step awaited on the run clock until the measured coil current has followed; the supply's voltage limit
sets how fast the current can change in an inductor. The field is then read on the gaussmeter and the
current corrected once by the coil calibration, so a calibration error does not bias the field.
"""

from __future__ import annotations

import numpy as np

POLL = 0.05  # s between coil-current readings while a step settles
TOLERANCE = 0.01  # A: a step has settled when the coil current is this close to the setpoint
MAX_POLLS = 2000


def prepare_magnet(magnet, gaussmeter, voltage_limit: float) -> None:
    """Current mode with the given voltage limit (ramp-rate cap); gaussmeter in tesla."""
    magnet.operating_mode = "CURR"
    magnet.voltage_setpoint = voltage_limit
    magnet.current_setpoint = magnet.current  # hold what the coil carries now
    magnet.output_enabled = True
    gaussmeter.unit = "T"


def ramp_current(proto, magnet, target: float, step: float) -> None:
    """Move the coil current to `target` A in steps <= `step` A, each awaited."""
    start = magnet.current
    magnet.current_setpoint = start
    n = max(int(np.ceil(abs(target - start) / step - 1e-9)), 1)
    for k in range(1, n + 1):
        setpoint = start + (target - start) * k / n
        magnet.current_setpoint = setpoint
        for _ in range(MAX_POLLS):
            if abs(magnet.current - setpoint) <= TOLERANCE:
                break
            proto.wait(POLL)
        else:
            raise RuntimeError(f"magnet current did not reach {setpoint:.3f} A "
                               "(supply voltage limit too low for this coil current?)")


def set_field(proto, magnet, gaussmeter, field: float, field_per_amp: float, step: float) -> float:
    """Ramp to `field` (T) by the coil calibration, correct once from the gaussmeter; measured field."""
    ramp_current(proto, magnet, field / field_per_amp, step)
    measured = gaussmeter.field
    correction = (field - measured) / field_per_amp
    if abs(correction) > TOLERANCE:
        ramp_current(proto, magnet, magnet.current + correction, step)
        measured = gaussmeter.field
    return float(measured)


def release_magnet(proto, magnet, step: float) -> None:
    """Ramp the coil to zero, then turn the supply's output off."""
    ramp_current(proto, magnet, 0.0, step)
    magnet.output_enabled = False
