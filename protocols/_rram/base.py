"""The abstract RRAM die protocol: pulse conditions, forming first, program-and-verify, error counting.

Abstract (no NAME): `rram_form_array`, `rram_program_array`, `rram_bit_error_rate`, `rram_endurance`
and `rram_bnn_inference` build on :class:`RRAMDieProtocol`. A bit is 1 when its BL device holds the low
resistance; the 1T1R comparison reads the BL device alone against a reference resistor placed at the
geometric mean of the BL devices' LRS and HRS medians (calibrated on the pattern just written).
"""

from __future__ import annotations

import numpy as np

from labctl.protocol import BooleanParameter, FloatParameter, IntegerParameter, Protocol, Role
from labctl.protocols._rram.layout import ROWS


class RRAMDieProtocol(Protocol):
    """Operations on the 1-kbit 2T2R die through its controller (abstract)."""

    STATION = "rram"

    SETPOINTS = {"die.set_amplitude": "set_voltage", "die.set_compliance": "compliance",
                 "die.reset_amplitude": "reset_voltage", "die.reset_gate": "reset_gate"}

    die = Role("RRAM die controller (FPGA board driving the 2T2R test die)")

    set_voltage = FloatParameter("SET pulse amplitude", units="V", default=1.8, minimum=0,
                                 maximum=5)
    set_width = FloatParameter("SET pulse width", units="s", default=100e-9, minimum=10e-9,
                               maximum=1e-3)
    compliance = FloatParameter("SET compliance current", units="A", default=100e-6,
                                minimum=5e-6, maximum=500e-6)
    reset_voltage = FloatParameter("RESET pulse amplitude (source line)", units="V", default=1.4,
                                   minimum=0, maximum=5)
    reset_width = FloatParameter("RESET pulse width", units="s", default=100e-9, minimum=10e-9,
                                 maximum=1e-3)
    reset_gate = FloatParameter("Word line during RESET", units="V", default=3.3, minimum=0,
                                maximum=5)

    def startup(self):
        self.configure_pulses()

    def configure_pulses(self):
        d = self.die
        d.set_amplitude = self.set_voltage
        d.set_width = self.set_width
        d.set_compliance = self.compliance
        d.reset_amplitude = self.reset_voltage
        d.reset_width = self.reset_width
        d.reset_gate = self.reset_gate
        d.rows = (0, ROWS - 1)
        d.sense_mode = "DIFF"

    def shutdown(self):
        """Nothing stays biased between pulses; leave the controller in differential reads."""
        self.die.sense_mode = "DIFF"

    # -- measurements shared by the BER and endurance protocols ---------------------------------
    def read_errors(self, bits: np.ndarray) -> dict:
        """Read back ``bits`` both ways; error maps, resistances and the 1T1R reference used."""
        d = self.die
        d.sense_mode = "DIFF"
        read_2t2r = d.read_array()
        r = d.array_resistance()
        bl = r[..., 0]
        r_lrs, r_hrs = np.median(bl[bits]), np.median(bl[~bits])
        ref = float(np.clip(np.sqrt(r_lrs * r_hrs), 1e2, 1e9))
        d.sense_reference = ref
        d.sense_side = "BL"
        d.sense_mode = "SING"
        read_1t1r = d.read_array()
        d.sense_mode = "DIFF"
        lrs = np.where(bits[..., None] == np.array([True, False]), r, np.nan)
        hrs = np.where(bits[..., None] == np.array([False, True]), r, np.nan)
        return {"errors_2t2r": read_2t2r != bits, "errors_1t1r": read_1t1r != bits,
                "resistance": r, "reference": ref, "r_lrs": float(np.nanmedian(lrs)),
                "r_hrs": float(np.nanmedian(hrs))}


class FormsFirst:
    """For protocols that need a formed die: form what is not formed yet (a no-op on a formed
    die), with the controller's forming-ramp settings."""

    form_first = BooleanParameter("Form unformed devices first (ramp-and-verify)", default=True)

    def startup(self):
        super().startup()
        if self.form_first:
            self.die.form_array()


class VerifyParameters:
    """Program-and-verify options shared by protocols that write patterns."""

    verify = BooleanParameter("Program-and-verify", default=False)
    max_pulses = IntegerParameter("Maximum pulses per device", default=8, minimum=1, maximum=100)
    r_lrs_max = FloatParameter("Verify, highest LRS resistance", units="ohm", default=3e4,
                               minimum=1e2, maximum=1e9)
    r_hrs_min = FloatParameter("Verify, lowest HRS resistance", units="ohm", default=2e5,
                               minimum=1e2, maximum=1e9)

    def configure_verify(self):
        d = self.die
        d.verify_enabled = self.verify
        d.verify_max_pulses = self.max_pulses
        d.verify_lrs = self.r_lrs_max
        d.verify_hrs = self.r_hrs_min
