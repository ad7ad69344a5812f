"""Recovery of a killed writer's run file: who still writes it, and clearing HDF5's open-for-write
mark as ``h5clear -s`` does.

HDF5 has no public call for the mark, so the superblock is edited in place, with its lookup3 checksum
recomputed. Kept apart from the writer: it is surgery on bytes, used by ``labctl recover``; the
writer asks :func:`live_writers` before adding an entry to a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py

from labctl import writers
from labctl.hdf5_files import open_for_reading, read_superblock, write_locked


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


# lookup3's mix and final rounds as (x, y, z, rotation) steps on the state [a, b, c]
_MIX = ((0, 2, 1, 4), (1, 0, 2, 6), (2, 1, 0, 8), (0, 2, 1, 16), (1, 0, 2, 19), (2, 1, 0, 4))
_FINAL = ((2, 1, 14), (0, 2, 11), (1, 0, 25), (2, 1, 16), (0, 2, 4), (1, 0, 14), (2, 1, 24))


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle``: the checksum HDF5 puts on its metadata."""
    m = 0xFFFFFFFF
    v = [(0xDEADBEEF + len(data) + initval) & m] * 3
    k, n = 0, len(data)
    while n > 12:
        for j in range(3):
            v[j] = (v[j] + int.from_bytes(data[k + 4 * j:k + 4 * j + 4], "little")) & m
        for x, y, z, r in _MIX:
            v[x] = ((v[x] - v[y]) & m) ^ _rot(v[y], r)
            v[y] = (v[y] + v[z]) & m
        n, k = n - 12, k + 12
    if n == 0:
        return v[2]
    tail = data[k:k + n] + bytes(12 - n)
    for j in range(3):
        v[j] = (v[j] + int.from_bytes(tail[4 * j:4 * j + 4], "little")) & m
    for x, y, r in _FINAL:
        v[x] = ((v[x] ^ v[y]) - _rot(v[y], r)) & m
    return v[2]


def clear_open_flags(path: str | Path) -> bool:
    """Make a killed writer's file openable by every HDF5 tool (what ``h5clear -s`` does).

    HDF5 marks a file "open for (SWMR) write" in its superblock; a writer killed before closing
    leaves the mark, and plain opens (silx, h5web, h5py without ``swmr=True``) then refuse the
    file. This clears the mark and rewrites the superblock checksum. The data are untouched; the
    run's ``status`` stays "running" (read as incomplete). Returns False if nothing was marked
    (superblocks older than version 2, written by HDF5 before 1.10, carry no mark).
    Never call it while the writer is alive (see :func:`live_writers`).
    """
    sb = read_superblock(path)
    if sb is None:
        raise ValueError(f"{path}: not an HDF5 file")
    if sb.version < 2 or sb.flags == 0:
        return False
    with open(path, "r+b") as f:
        f.seek(sb.offset)
        block = bytearray(f.read(12 + 4 * sb.size_offsets + 4))
        stored = int.from_bytes(block[-4:], "little")
        if lookup3(bytes(block[:-4])) != stored:
            raise ValueError(f"{path}: superblock checksum mismatch; not touching it")
        block[11] = 0
        block[-4:] = lookup3(bytes(block[:-4])).to_bytes(4, "little")
        f.seek(sb.offset)
        f.write(block)
    return True


class RecoveryError(ValueError):
    """A file that must not, or cannot, be recovered (message says why)."""


@dataclass
class Recovery:
    """What :func:`recover` did: the mark cleared, bytes restored at the end, each entry's status."""

    path: Path
    cleared: bool
    extended: int = 0
    statuses: dict[str, str] = field(default_factory=dict)


def live_writers(path: str | Path, *, other_hosts: bool = True) -> list[str]:
    """Who may still be writing ``path``, one phrase each (empty: nobody).

    A plain (non-SWMR) writer holds HDF5's lock; labctl writers are found by :func:`live_entries`.
    """
    if write_locked(path):
        return ["a process holds HDF5's write lock on it"]
    try:
        f = open_for_reading(path)
    except OSError:  # left open by a plain writer that is gone (its lock went with it), or unreadable
        return []
    with f:
        return live_entries(f, other_hosts=other_hosts)


def live_entries(f: h5py.File, *, other_hosts: bool = True) -> list[str]:
    """The entries of an open file whose labctl writer is alive, one phrase each.

    A labctl writer names itself in the entry it writes (``@writer_host``, ``@writer_pid``; ``status``
    "running" until it ends), whether it is streaming or between its set-up and its first point with
    the file closed. A writer on another host cannot be asked from here: listed unless ``other_hosts``
    is False.
    """
    from labctl.hdf5_files import plain
    from labctl.results import FINAL, _attr, _entries

    busy = []
    for name in _entries(f):
        e = f[name]
        status = plain(e["status"][()]) if "status" in e else "running"
        if status in FINAL:
            continue
        host, pid = _attr(e, "writer_host"), _attr(e, "writer_pid")
        alive = writers.alive(host, pid, f.filename, name)
        if alive:
            busy.append(f"entry {name!r} by pid {pid}")
        elif alive is None and other_hosts:
            busy.append(f"entry {name!r} by pid {pid} on {host}, which cannot be checked from here")
    return busy


def recover(path: str | Path, *, force: bool = False) -> Recovery:
    """Make the file of a writer that died readable by every HDF5 tool, after checking that no
    writer of any of its entries is alive (``force``: trust that writers on other hosts are gone).

    Clears the open-for-write mark; a writer that died mid-write (a full disk) may have recorded an
    end of file beyond what reached the disk: the file is extended to it with zeros (what never
    reached the disk reads as fill values). The statuses of the entries are read back.
    """
    from labctl.results import _entries, open_run

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such run file: {path}")
    sb = read_superblock(path)
    if sb is None:
        raise RecoveryError(f"{path}: not an HDF5 file")
    busy = live_writers(path, other_hosts=not force)
    if busy:
        hint = " (--force if no process there writes it any more)" if any(" on " in b for b in busy) else ""
        raise RecoveryError(f"{path} is being written ({'; '.join(busy)}): recover only the file of a "
                            f"writer that is gone{hint}")
    cleared = clear_open_flags(path)
    extended = 0
    if cleared and sb.eof is not None and path.stat().st_size < sb.eof:
        extended = sb.eof - path.stat().st_size
        os.truncate(path, sb.eof)
    try:
        with open_for_reading(path) as f:
            names = _entries(f)
        statuses = {}
        for name in names:
            with open_run(path, name) as run:
                statuses[name] = run.status
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        raise RecoveryError(f"{path}: still unreadable ({exc})") from None
    return Recovery(path, cleared, extended, statuses)
