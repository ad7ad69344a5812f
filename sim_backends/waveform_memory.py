"""Arbitrary-waveform memory of a function generator: the bench's bulk binary-transfer endpoint.

``:TRACe:DATA <block>`` stores little-endian float32 samples sent as an IEEE 488.2 definite-length
block, ``:TRACe:DATA?`` returns them the same way; ``:TRACe:DATA:NOISe n`` fills the memory with n
samples of unit Gaussian noise from the bench's generator (to fetch large records without sending
them first). Upload and download time is charged at the instrument's USB 2.0 rate.
"""

from __future__ import annotations

import numpy as np

from labctl.sim_backends.scpi import Int, ScpiEmulator, block_array, command, ieee_block

BYTES_PER_SECOND = 30e6


class WaveformMemoryEmulator(ScpiEmulator):
    """The waveform memory alone (no output stage): bulk transfers to and from the bench."""

    idn = "LABCTL,ARB-MEMORY,0001,1.0"
    max_points = 4_000_000
    max_block = 4 * max_points  # the whole memory in one :TRACe:DATA block

    def reset(self) -> None:
        super().reset()
        self.samples = np.zeros(0, dtype="<f4")

    def _store(self, samples: np.ndarray) -> None:
        self.samples = samples
        self.clock.advance(samples.nbytes / BYTES_PER_SECOND)

    @command(":TRACe[:DATA]")
    def upload(self, block):
        samples = block_array(block, "<f4")
        Int(0, self.max_points).parse(str(samples.size))
        self._store(samples.copy())

    @command(":TRACe[:DATA]?")
    def download(self):
        self.clock.advance(self.samples.nbytes / BYTES_PER_SECOND)
        return ieee_block(self.samples, "<f4")

    @command(":TRACe[:DATA]:NOISe")
    def noise(self, points):
        n = Int(1, self.max_points).parse(points)
        self._store(self.bench.rng.standard_normal(n).astype("<f4"))

    @command(":TRACe:POINts?")
    def points(self):
        return self.samples.size
