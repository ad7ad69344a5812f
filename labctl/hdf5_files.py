"""HDF5 files read without trusting them: superblock, writer's lock, stubs, an open that cannot hang.

HDF5 refuses a file left open by a writer that died, says nothing about who holds a file, and opened
as an SWMR reader it waits for ever on a truncated or damaged one: a metadata checksum that fails is
retried up to 100 times with a sleep that doubles from 1 ns (about 2**100 ns in all). These facts come
instead from the first bytes of the file (HDF5 File Format Specification 3.0, superblock versions 2
and 3: the file consistency flags, the end-of-file address it records, the root group's address) and
from the ``flock`` that HDF5 holds while a file is open for plain (non-SWMR) writing. Values read back
become plain Python (:func:`plain`).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

__all__ = ["Superblock", "holds_nothing", "open_for_reading", "read_superblock", "reason", "write_locked"]

SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: File consistency flags (superblock v3): open for writing, and for SWMR writing.
WRITE, SWMR_WRITE = 0x01, 0x04
#: No run fits in fewer bytes (its entry's groups and fields alone take more): an HDF5 file this small,
#: left open by a writer that is gone, is a stub of a creation that was cut short.
STUB_BYTES = 2048
#: Metadata read attempts of an SWMR reader: a torn read of a live file passes within a few; the
#: doubling sleep of 25 attempts totals 2**25 ns (about 30 ms), then a damaged file fails.
READ_ATTEMPTS = 25


@dataclass(frozen=True)
class Superblock:
    """What the superblock says. ``eof`` and ``root`` are known for versions 2 and 3 only."""

    offset: int  # 0, or 512, 1024, ... after a user block
    version: int
    size_offsets: int
    flags: int  # file consistency flags (versions 2 and 3; 0 for older ones)
    eof: int | None  # end-of-file address the writer recorded
    root: int | None  # address of the root group's object header

    @property
    def left_open(self) -> bool:
        """Marked open for writing (by a live writer, or one that died)."""
        return bool(self.flags & (WRITE | SWMR_WRITE))


def read_superblock(path: str | Path) -> Superblock | None:
    """The superblock of ``path``, or None when it is not an HDF5 file."""
    with open(path, "rb") as f:
        base = 0
        while True:  # the signature sits at 0, 512, 1024, 2048, ... (after a user block)
            f.seek(base)
            head = f.read(12)
            if len(head) < 12:
                return None
            if head[:8] == SIGNATURE:
                break
            base = 512 if base == 0 else 2 * base
        version, size_offsets = head[8], head[9]
        if version < 2:
            return Superblock(base, version, 0, 0, None, None)
        addresses = f.read(4 * size_offsets)
    if len(addresses) < 4 * size_offsets or size_offsets not in (2, 4, 8):
        return Superblock(base, version, size_offsets, head[11], None, None)
    eof, root = (int.from_bytes(addresses[k * size_offsets:(k + 1) * size_offsets], "little") for k in (2, 3))
    return Superblock(base, version, size_offsets, head[11], base + eof, base + root)


def write_locked(path: str | Path) -> bool:
    """True while a process has ``path`` open for plain writing (HDF5 holds an exclusive ``flock``
    then; an SWMR writer releases it, and a process that dies loses it)."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): HDF5 locks otherwise there, and nothing is learnt here
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # a file system without locks: nothing to learn here
        return False
    finally:
        os.close(fd)  # closing drops the probe's shared lock
    return False


def holds_nothing(path: str | Path) -> bool:
    """A stub that cannot hold a run: empty, or an HDF5 file smaller than :data:`STUB_BYTES` left
    open by a writer that is gone (killed while HDF5 created it). Replacing it loses no run."""
    path = Path(path)
    if not path.is_file():
        return False
    size = path.stat().st_size
    if size == 0:
        return True
    if size >= STUB_BYTES:
        return False
    sb = read_superblock(path)
    return sb is not None and sb.left_open and not write_locked(path)


def open_for_reading(path: str | Path) -> h5py.File:
    """Open ``path`` read-only: a finished file plainly; a file a writer holds open (live, or dead
    without closing) as an SWMR reader with bounded retries, so a damaged file fails at once.

    Raises FileNotFoundError or OSError with a one-line reason.
    """
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        refused = exc
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such run file: {path}") from None
    sb = read_superblock(path)
    if sb is None or not sb.left_open:
        raise OSError(f"{path}: not a readable HDF5 run file ({reason(refused)})") from None
    if not sb.flags & SWMR_WRITE:
        if write_locked(path):
            raise OSError(f"{path}: a process is writing it (it holds HDF5's write lock); "
                          "try again when it is done") from None
        raise OSError(f"{path}: left open for writing by a process that is gone; "
                      f"`labctl recover {path}` makes it readable") from None
    try:
        return _swmr_reader(path)
    except (OSError, RuntimeError, ValueError) as exc:
        raise OSError(f"{path}: damaged or truncated HDF5 file ({reason(exc)})") from None


def _swmr_reader(path: Path) -> h5py.File:
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    _bound_read_attempts(fapl, READ_ATTEMPTS)
    flags = h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ
    return h5py.File(h5py.h5f.open(os.fsencode(path), flags, fapl=fapl))


def _bound_read_attempts(fapl, attempts: int) -> bool:
    """``H5Pset_metadata_read_attempts`` on ``fapl``: through h5py when it offers it, else called in
    the HDF5 library h5py loaded (h5py 3.16 does not wrap it). False when neither is possible."""
    setter = getattr(fapl, "set_metadata_read_attempts", None)
    if callable(setter):
        setter(attempts)
        return True
    func = _hdf5_function("H5Pset_metadata_read_attempts")
    return func is not None and func(fapl.id, attempts) >= 0


@functools.cache
def _hdf5_function(name: str):
    """A C function of the HDF5 library this process loaded for h5py (never another copy of it)."""
    for lib in _loaded_hdf5_libraries():
        with contextlib.suppress(OSError, AttributeError):
            func = getattr(ctypes.CDLL(lib), name)
            func.argtypes, func.restype = [ctypes.c_int64, ctypes.c_uint], ctypes.c_int
            return func
    return None


def _loaded_hdf5_libraries() -> list[str]:
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "/libhdf5" in line}
    except OSError:
        return []
    return sorted(p for p in paths if os.path.basename(p).startswith("libhdf5")
                  and not os.path.basename(p).startswith("libhdf5_hl"))


def reason(exc: BaseException) -> str:
    """An HDF5 failure in one line: the system's words when a read or write failed (HDF5 buries
    them, e.g. "error message = 'No space left on device'"), else the first line of the message."""
    text = str(exc).strip()
    system = re.search(r"error message = '([^']+)'", text)
    if system:
        return system.group(1)
    if isinstance(exc, OSError) and exc.errno and exc.strerror:
        return exc.strerror
    return text.splitlines()[0][:200] if text else type(exc).__name__


def plain(value: Any) -> Any:
    """An HDF5 value as plain Python: bytes as text, string arrays as lists of text, numpy scalars as
    Python numbers; anything else as it is."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.dtype.kind in "OS":
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value
