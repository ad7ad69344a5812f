"""The 2T2R die as the RRAM protocols see it: 32 x 32 bits, two devices (BL, BLb) per bit, and the
NeXus axes of per-device and per-bit maps.

The controller returns per-device maps as (row, column, side); the run files store them as
(side, row, column), so that a viewer pages through the two 32 x 32 device planes (BL, BLb)
instead of 32 strips of 32 x 2 (:func:`planes`).
"""

from __future__ import annotations

import numpy as np

from labctl.instruments.die_controller import COLS, ROWS, SIDES
from labctl.protocol import Axis

__all__ = ["BIT_AXES", "COLS", "DEVICE_AXES", "DEVICE_SHAPE", "ROWS", "SIDES", "planes"]

BIT_AXES = (Axis("row"), Axis("column"))
DEVICE_AXES = (Axis("side", "", "bit line (0 = BL, 1 = BLb)"), *BIT_AXES)
DEVICE_SHAPE = (SIDES, ROWS, COLS)


def planes(per_device: np.ndarray) -> np.ndarray:
    """A (row, column, side) map of the controller as (side, row, column) device planes."""
    return np.moveaxis(np.asarray(per_device), -1, 0)
