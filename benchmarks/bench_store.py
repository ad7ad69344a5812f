"""Store cost against raw h5py doing the same appends, and writer memory as a run grows.

Prints, measured in one run:
  * per-point append+flush (3 scalar columns, SWMR, one flush per point): store vs raw h5py, as a
    log (appended) and as a scan (a 2-D grid written in place, with its count of points taken);
  * bulk trace throughput (one array record appended and flushed per call): store vs raw h5py;
  * peak RSS of a writer process after 10^4 and 10^6 points (it must stream, not hold the run).

Targets: per-point overhead <= 2x raw h5py; bulk >= 50% of raw; RSS flat.
Usage: python benchmarks/bench_store.py [--quick]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from labctl.store import LIBVER, Array, Column, RunWriter, Sweep

COLUMNS = [Column("voltage", "V", "Voltage", axis=True), Column("current", "A", "Current"),
           Column("time", "s", "Time")]


def store_points(path: Path, n: int) -> float:
    path.unlink(missing_ok=True)
    w = RunWriter(path, COLUMNS)
    w.start()
    v = np.random.default_rng(0).random(n)
    t0 = time.perf_counter()
    for k in range(n):
        w.append(voltage=v[k], current=v[k], time=float(k))
    dt = time.perf_counter() - t0
    w.finish("completed")
    return dt


def store_grid_points(path: Path, n: int) -> float:
    """The same points as a scan: voltage (outer, 50 setpoints) x current index (inner)."""
    path.unlink(missing_ok=True)
    cols = [Column("voltage", "V", "Voltage", axis=True), Column("step", "", "Step", axis=True),
            Column("current", "A", "Current")]
    inner = 50
    w = RunWriter(path, cols, scan=(Sweep("voltage", np.arange(n // inner)), Sweep("step", np.arange(inner))))
    w.start()
    v = np.random.default_rng(0).random(n)
    t0 = time.perf_counter()
    for k in range(n - n % inner):
        w.append(voltage=float(k // inner), step=float(k % inner), current=v[k], time=float(k))
    dt = time.perf_counter() - t0
    w.finish("completed")
    return dt


def raw_points(path: Path, n: int) -> float:
    f = h5py.File(path, "w", libver=LIBVER)
    dsets = [f.create_dataset(c.name, (0,), maxshape=(None,), chunks=(1024,), dtype="f8")
             for c in COLUMNS]
    f.swmr_mode = True
    v = np.random.default_rng(0).random(n)
    t0 = time.perf_counter()
    for k in range(n):
        for ds, x in zip(dsets, (v[k], v[k], float(k)), strict=True):
            ds.resize((k + 1,))
            ds[k] = x
        f.flush()
    dt = time.perf_counter() - t0
    f.close()
    return dt


def raw_lowlevel_points(path: Path, n: int) -> float:
    """The floor: h5py's low-level calls (set_extent + H5Dwrite + H5Fflush), no bookkeeping."""
    f = h5py.File(path, "w", libver=LIBVER)
    ids = [f.create_dataset(c.name, (0,), maxshape=(None,), chunks=(1024,), dtype="f8").id
           for c in COLUMNS]
    f.swmr_mode = True
    mspace = h5py.h5s.create_simple((1,))
    v = np.random.default_rng(0).random(n)
    t0 = time.perf_counter()
    for k in range(n):
        for dsid, x in zip(ids, (v[k], v[k], float(k)), strict=True):
            dsid.set_extent((k + 1,))
            fspace = dsid.get_space()
            fspace.select_hyperslab((k,), (1,))
            dsid.write(mspace, fspace, np.array([x]))
        f.flush()
    dt = time.perf_counter() - t0
    f.close()
    return dt


def store_bulk(path: Path, n: int, size: int) -> float:
    path.unlink(missing_ok=True)
    w = RunWriter(path, arrays=[Array("trace", (size,), "dBm", "Trace")])
    w.start()
    rec = np.random.default_rng(0).random(size)
    t0 = time.perf_counter()
    for _ in range(n):
        w.append_array("trace", rec)
    dt = time.perf_counter() - t0
    w.finish("completed")
    return dt


def raw_bulk(path: Path, n: int, size: int) -> float:
    f = h5py.File(path, "w", libver=LIBVER)
    k = max(1, min(1024, 64 * 1024 // (8 * size)))  # the store's chunking rule, for a fair match
    ds = f.create_dataset("trace", (0, size), maxshape=(None, size), chunks=(k, size), dtype="f8")
    f.swmr_mode = True
    rec = np.random.default_rng(0).random(size)
    t0 = time.perf_counter()
    for i in range(n):
        ds.resize((i + 1, size))
        ds[i] = rec
        f.flush()
    dt = time.perf_counter() - t0
    f.close()
    return dt


def best(fn, *args, repeat: int = 3) -> float:
    return min(fn(*args) for _ in range(repeat))


RSS_CHILD = """
import resource, sys
from pathlib import Path
from labctl.store import Column, RunWriter
n, path = int(sys.argv[1]), Path(sys.argv[2])
w = RunWriter(path, [Column("voltage", "V", "V", axis=True), Column("current", "A", "I")])
w.start()
w.append(voltage=0.0, current=0.0)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for k in range(1, n):
    w.append(voltage=k * 1e-3, current=k * 1e-6)
w.finish("completed")
print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def rss(n: int, path: Path) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", RSS_CHILD, str(n), str(path)],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]) / 1024, int(out[1]) / 1024  # kB -> MB (Linux ru_maxrss is in kB)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (seconds, not minutes)")
    args = ap.parse_args()
    n_points = 5_000 if args.quick else 20_000
    big = 100_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        print(f"h5py {h5py.__version__}, HDF5 {h5py.version.hdf5_version}, libver {LIBVER}")
        print(f"\nper-point append + flush, 3 columns, {n_points} points (best of 3)")
        s = best(lambda: store_points(d / "s.h5", n_points))
        g = best(lambda: store_grid_points(d / "g.h5", n_points))
        r = best(lambda: raw_points(d / "r.h5", n_points))
        low = best(lambda: raw_lowlevel_points(d / "l.h5", n_points))
        print(f"  store, log               {1e6 * s / n_points:8.1f} us/point")
        print(f"  store, 2-D scan in place {1e6 * g / n_points:8.1f} us/point   store scan/log {g / s:5.2f}")
        print(f"  raw h5py (resize, [k]=v) {1e6 * r / n_points:8.1f} us/point   "
              f"store/raw {s / r:5.2f}  (target <= 2)")
        print(f"  raw h5py low-level       {1e6 * low / n_points:8.1f} us/point   "
              f"store/low-level {s / low:5.2f}")

        print("\nbulk traces, one record appended + flushed per call (best of 3)")
        for size, n in ((1024, 4000), (100_000, 100)):
            mb = n * size * 8 / 1e6
            s = best(lambda size=size, n=n: store_bulk(d / "sb.h5", n, size))
            r = best(lambda size=size, n=n: raw_bulk(d / "rb.h5", n, size))
            print(f"  {n} x {size} float64 ({mb:.0f} MB): store {mb / s:7.0f} MB/s, "
                  f"raw {mb / r:7.0f} MB/s, store/raw {r / s:5.2f}  (target >= 0.5)")

        print("\nwriter peak RSS (separate process; per-point append + flush)")
        for n in (10_000, big):
            t0 = time.perf_counter()
            base, peak = rss(n, d / f"rss{n}.h5")
            size = (d / f"rss{n}.h5").stat().st_size / 1e6
            print(f"  {n:>9} points: RSS after first point {base:6.1f} MB, peak {peak:6.1f} MB, "
                  f"file {size:5.1f} MB, {time.perf_counter() - t0:5.1f} s")
    print(f"(this process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
