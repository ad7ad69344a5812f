"""Agilent E4408B (ESA-L) spectrum analyzer: the stock pymeasure driver plus what STNO spectra need.

The stock ``AgilentE4408B`` controls start/stop/center/points/sweep time and reads traces; STNO linewidth
and power measurements also need the resolution bandwidth, the video bandwidth and trace averaging
(ESA series programming guide, SENSe:BANDwidth and SENSe:AVERage subsystems).
"""

from __future__ import annotations

from pymeasure.instruments import Instrument
from pymeasure.instruments.agilent import AgilentE4408B
from pymeasure.instruments.validators import strict_discrete_set, strict_range

RBW_VALUES = (1e3, 3e3, 10e3, 30e3, 100e3, 300e3, 1e6, 3e6, 5e6)


class SpectrumAnalyzer(AgilentE4408B):
    """E4408B with resolution/video bandwidth, span and averaging controls."""

    resolution_bandwidth = Instrument.control(
        ":SENS:BAND:RES?;", ":SENS:BAND:RES %e Hz;",
        """Control the resolution bandwidth in Hz (1 kHz to 5 MHz in 1-3-10 steps); setting it
        turns the span coupling off.""",
        validator=strict_discrete_set, values=RBW_VALUES,
    )
    resolution_bandwidth_auto = Instrument.control(
        ":SENS:BAND:RES:AUTO?;", ":SENS:BAND:RES:AUTO %d;",
        """Control whether the RBW follows the span (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    video_bandwidth = Instrument.control(
        ":SENS:BAND:VID?;", ":SENS:BAND:VID %e Hz;",
        """Control the video bandwidth in Hz.""",
        validator=strict_range, values=(30, 3e6),
    )
    span = Instrument.control(
        ":SENS:FREQ:SPAN?;", ":SENS:FREQ:SPAN %e Hz;",
        """Control the frequency span in Hz (around the center frequency).""",
    )
    averages = Instrument.control(
        ":SENS:AVER:COUN?;", ":SENS:AVER:COUN %d;",
        """Control the number of sweeps averaged per trace (int, 1 to 8192).""",
        validator=strict_range, values=(1, 8192), cast=int,
    )
    averaging_enabled = Instrument.control(
        ":SENS:AVER:STAT?;", ":SENS:AVER:STAT %d;",
        """Control whether traces are averaged over `averages` sweeps (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
