"""The abstract RRAM die protocol: pulse conditions, forming first, program-and-verify, error counting.

Abstract (no NAME): `rram_form_array`, `rram_program_array`, `rram_bit_error_rate`, `rram_endurance`
and `rram_bnn_inference` build on :class:`RRAMDieProtocol`. A bit is 1 when its BL device holds the low
resistance. The 1T1R comparison reads the BL device alone against its column's reference resistor, a
trim of the die that :class:`FixedReference` calibrates once, as a lab does (calibration writes, analog
reads, the reference placed between the LRS and HRS distributions), records in the run file and then
leaves alone, however much the devices age afterwards.
"""

from __future__ import annotations

import numpy as np

from labctl.protocol import (
    Array,
    Axis,
    BooleanParameter,
    Column,
    FloatParameter,
    IntegerParameter,
    ListParameter,
    Protocol,
    Role,
)
from labctl.protocols._rram.layout import COLS, ROWS

R_MIN, R_MAX = 1e2, 1e9  # the controller's reference trim range (ohm)


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
    def read_errors(self, bits: np.ndarray, resistance: bool = True) -> dict:
        """Read back ``bits`` both ways: 2T2R (PCSA) and 1T1R (BL device against the reference
        already trimmed); error maps, and with ``resistance`` the analog read of every device."""
        d = self.die
        d.sense_mode = "DIFF"
        read_2t2r = d.read_array()
        d.sense_side = "BL"
        d.sense_mode = "SING"
        read_1t1r = d.read_array()
        d.sense_mode = "DIFF"
        out = {"errors_2t2r": read_2t2r != bits, "errors_1t1r": read_1t1r != bits}
        if resistance:
            r = d.array_resistance()
            want_lrs = np.stack([bits, ~bits], axis=-1)
            out.update(resistance=r, r_lrs=float(np.median(r[want_lrs])),
                       r_hrs=float(np.median(r[~want_lrs])))
        return out


CALIBRATION = (Column("compliance", "A", "SET compliance of the calibration writes"),
               Column("calibration_lrs", "ohm", "Median BL LRS resistance of the calibration writes"),
               Column("calibration_hrs", "ohm", "Median BL HRS resistance of the calibration writes"),
               Column("calibration_sigma_lrs", "", "Spread of ln R_LRS (IQR / 1.349)"),
               Column("calibration_sigma_hrs", "", "Spread of ln R_HRS (IQR / 1.349)"))


def reference_between(ln_lrs: np.ndarray, ln_hrs: np.ndarray, method: str) -> float:
    """Reference resistance between LRS and HRS samples (natural logs of ohm).

    ``"median"``: the geometric mean of the two medians.  ``"margin"``: the point as many standard
    deviations of ln R above the LRS median as below the HRS median, ``(m_L s_H + m_H s_L) /
    (s_L + s_H)``, so the two tails beyond it are equal for log-normal states; it is the geometric
    mean when both spreads are equal and moves toward the narrower state otherwise (the HRS spreads
    wider than the LRS: Ielmini, Semicond. Sci. Technol. 31, 063002 (2016)).  Spreads are robust
    (interquartile range / 1.349), so a few outliers do not move the reference.
    """
    m_l, m_h = np.median(ln_lrs), np.median(ln_hrs)
    if method == "median":
        x = (m_l + m_h) / 2
    elif method == "margin":
        s_l, s_h = (np.subtract(*np.percentile(v, [75, 25])) / 1.349 for v in (ln_lrs, ln_hrs))
        x = (m_l * s_h + m_h * s_l) / (s_l + s_h) if s_l + s_h > 0 else (m_l + m_h) / 2
    else:
        raise ValueError(f"unknown reference method {method!r}")
    return float(np.clip(np.exp(x), R_MIN, R_MAX))


class FixedReference:
    """A 1T1R reference calibrated once, as on silicon: write a checkerboard and its complement in
    turn (``calibration_writes`` writes at the present pulse settings), read every BL device's
    resistance, place the reference between the LRS and HRS distributions
    (:func:`reference_between`), trim the die to it and record it (array ``reference_1t1r``, with the
    distributions it came from).  One value for every column by default: analog reads see the
    devices only, and the columns' devices share one distribution, so a per-column estimate would
    add sampling noise and correct nothing."""

    reference_method = ListParameter("1T1R reference placement", choices=["margin", "median"],
                                     default="margin")
    calibration_writes = IntegerParameter("Calibration writes (checkerboard, complement, ...)",
                                          default=4, minimum=1, maximum=100)
    reference_per_column = BooleanParameter("Calibrate each column's reference on its own devices",
                                            default=False)

    REFERENCE_ARRAY = Array("reference_1t1r", (COLS,), "ohm",
                            "1T1R reference of each column, calibrated once",
                            axes=(Axis("column"),), index=CALIBRATION)

    def calibrate_reference(self, compliance: float) -> np.ndarray:
        """Calibrate at the pulse settings in force (``compliance`` is recorded with it); trim the
        die to the result and return the 32 column references (ohm)."""
        d = self.die
        r_c, c_c = np.indices((ROWS, COLS))
        board = (r_c + c_c) % 2 == 0
        ln_r, lrs = [], []
        for k in range(self.calibration_writes):
            bits = board if k % 2 == 0 else ~board
            d.program_array(bits)
            ln_r.append(np.log(np.maximum(d.array_resistance()[..., 0], 1.0)))
            lrs.append(bits)
            self.checkpoint()
        ln_r, lrs = np.array(ln_r), np.array(lrs)
        if self.reference_per_column:
            ref = np.array([reference_between(ln_r[..., c][lrs[..., c]], ln_r[..., c][~lrs[..., c]],
                                              self.reference_method) for c in range(COLS)])
        else:
            ref = np.full(COLS, reference_between(ln_r[lrs], ln_r[~lrs], self.reference_method))
        d.sense_reference_columns = ref
        ref = d.sense_reference_columns  # the trim the controller holds, as recorded
        spread = [np.subtract(*np.percentile(v, [75, 25])) / 1.349 for v in (ln_r[lrs], ln_r[~lrs])]
        self.emit_array("reference_1t1r", ref, compliance=compliance,
                        calibration_lrs=float(np.exp(np.median(ln_r[lrs]))),
                        calibration_hrs=float(np.exp(np.median(ln_r[~lrs]))),
                        calibration_sigma_lrs=spread[0], calibration_sigma_hrs=spread[1])
        return ref


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
