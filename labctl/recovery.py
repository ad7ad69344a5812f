"""Recovery of a killed writer's run file: clear HDF5's open-for-write mark, as ``h5clear -s`` does.

HDF5 has no public call for this, so the superblock is edited in place, with its lookup3 checksum
recomputed. Kept apart from the writer: it is surgery on bytes, used only by ``labctl recover``.
"""

from __future__ import annotations

from pathlib import Path


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


_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def clear_open_flags(path: str | Path) -> bool:
    """Make a killed writer's file openable by every HDF5 tool (what ``h5clear -s`` does).

    HDF5 marks a file "open for (SWMR) write" in its superblock; a writer killed before closing
    leaves the mark, and plain opens (silx, h5web, h5py without ``swmr=True``) then refuse the
    file. This clears the mark and rewrites the superblock checksum. The data are untouched; the
    run's ``status`` stays "running" (read as incomplete). Returns False if nothing was marked.
    Never call it while the writer is alive.
    """
    with open(path, "r+b") as f:
        base = 0
        while True:  # the superblock sits at 0, 512, 1024, 2048, ... (after a user block)
            f.seek(base)
            head = f.read(12)
            if head[:8] == _SIGNATURE:
                break
            if len(head) < 12:
                raise ValueError(f"{path}: no HDF5 superblock")
            base = 512 if base == 0 else 2 * base
        version, size_offsets, flags = head[8], head[9], head[11]
        if version < 2:
            raise ValueError(f"{path}: superblock version {version} carries no open flags")
        if flags == 0:
            return False
        f.seek(base)
        block = bytearray(f.read(12 + 4 * size_offsets + 4))
        stored = int.from_bytes(block[-4:], "little")
        if lookup3(bytes(block[:-4])) != stored:
            raise ValueError(f"{path}: superblock checksum mismatch; not touching it")
        block[11] = 0
        block[-4:] = lookup3(bytes(block[:-4])).to_bytes(4, "little")
        f.seek(base)
        f.write(block)
    return True
