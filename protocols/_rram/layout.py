"""The 2T2R die as the RRAM protocols see it: 32 x 32 bits, two devices (BL, BLb) per bit, and the
NeXus axes of per-device and per-bit maps."""

from __future__ import annotations

from labctl.instruments.die_controller import COLS, ROWS, SIDES
from labctl.protocol import Axis

__all__ = ["BIT_AXES", "COLS", "DEVICE_AXES", "ROWS", "SIDES"]

DEVICE_AXES = (Axis("row"), Axis("column"), Axis("side", "", "bit line (0 = BL, 1 = BLb)"))
BIT_AXES = DEVICE_AXES[:2]
