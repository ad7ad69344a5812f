"""The run schema: what a protocol declares it records (scalar columns, array channels, their axes).

Plain frozen dataclasses with no HDF5 in sight, so that declaring a protocol (``import labctl.protocol``)
does not import h5py; :mod:`labctl.store` turns a schema into NeXus groups and fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _check_name(kind: str, name: str) -> None:
    if not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(f"{kind} name {name!r} must be a Python identifier")


@dataclass(frozen=True)
class Column:
    """A scalar recorded with every point (or with every record of an :class:`Array`).

    ``axis=True`` marks an independent variable (what the plot's x is); other columns are signals.
    """

    name: str
    units: str = ""
    long_name: str = ""
    axis: bool = False
    dtype: str = "f8"

    def __post_init__(self):
        _check_name("column", self.name)
        if np.dtype(self.dtype).kind not in "fiub":
            raise ValueError(f"column {self.name!r}: dtype must be numeric or bool")

    @property
    def label(self) -> str:
        return self.long_name or self.name


@dataclass(frozen=True)
class Axis:
    """One dimension of an array channel (e.g. frequency of a trace, row of a map)."""

    name: str
    units: str = ""
    long_name: str = ""

    def __post_init__(self):
        _check_name("axis", self.name)


@dataclass(frozen=True)
class Array:
    """An array channel: each record is an array of fixed ``shape`` (a trace, a 32x32 map).

    ``axes`` name the dimensions of one record (their values default to 0..n-1 and may be set
    once known, see :meth:`RunWriter.set_axis`); ``index`` columns are scalars stored with each
    record, the first of them being the axis along the records (e.g. the DC current of a spectrum).
    """

    name: str
    shape: tuple[int, ...]
    units: str = ""
    long_name: str = ""
    axes: tuple[Axis, ...] = ()
    index: tuple[Column, ...] = ()
    dtype: str = "f8"

    def __post_init__(self):
        _check_name("array", self.name)
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))
        object.__setattr__(self, "axes", tuple(self.axes))
        object.__setattr__(self, "index", tuple(self.index))
        if not self.shape or min(self.shape) < 1:
            raise ValueError(f"array {self.name!r}: shape must have positive dimensions")
        if self.axes and len(self.axes) != len(self.shape):
            raise ValueError(f"array {self.name!r}: one axis per dimension of {self.shape}")
        if np.dtype(self.dtype).kind not in "fiubc":
            raise ValueError(f"array {self.name!r}: dtype must be numeric")
        names = [self.name, "time", *(a.name for a in self.axes), *(c.name for c in self.index)]
        if len(set(names)) != len(names):
            raise ValueError(f"array {self.name!r}: field names {names} must be distinct")

    def axis_list(self) -> tuple[Axis, ...]:
        return self.axes or tuple(Axis(f"dim{k}", "", f"index {k}") for k in range(len(self.shape)))

    @property
    def label(self) -> str:
        return self.long_name or self.name


TIME = Column("time", "s", "Time since start of run (run clock)")
