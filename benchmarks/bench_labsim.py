"""@labsim vs stock pyvisa-sim (@sim), measured side by side in one run.

Small queries go to the same bench YAML through both backends (``*IDN?``: a dialogue for @sim, the
emulator for @labsim; ``:SOUR:VOLT?``: a YAML property for @sim, an emulator Setting for @labsim).
Binary blocks: @labsim's waveform memory returns an IEEE 488.2 block of float32; stock @sim gets an
equivalent YAML whose dialogue answers a response of the same byte length (YAML cannot carry binary).

    python benchmarks/bench_labsim.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyvisa
from timing import best_of

from labctl.sim_backends.bench_file import resolve

DEMO = str(resolve("demo.yaml"))
SMU, AWG = "GPIB0::24::INSTR", "USB0::0x0957::0x2807::MY00000001::INSTR"


def stock_block_yaml(directory: Path, nbytes: int) -> str:
    payload = "A" * nbytes
    header = f"#{len(str(nbytes))}{nbytes}"
    path = directory / f"block{nbytes}.yaml"
    path.write_text(
        'spec: "1.1"\ndevices:\n  awg:\n    eom:\n      USB INSTR: {q: "\\n", r: "\\n"}\n'
        f'    dialogues:\n      - q: ":TRAC:DATA?"\n        r: "{header}{payload}"\n'
        f"resources:\n  {AWG}:\n    device: awg\n"
    )
    return str(path)


def main() -> None:
    labsim = pyvisa.ResourceManager(DEMO + "@labsim")
    stock = pyvisa.ResourceManager(DEMO + "@sim")
    kw = dict(read_termination="\n", write_termination="\n")
    ls_smu, st_smu = labsim.open_resource(SMU, **kw), stock.open_resource(SMU, **kw)
    rows = []
    for label, cmd in (("*IDN? round trip", "*IDN?"), ("property query :SOUR:VOLT?", ":SOUR:VOLT?")):
        t_ls = best_of(lambda c=cmd: ls_smu.query(c), 5, 400)
        t_st = best_of(lambda c=cmd: st_smu.query(c), 5, 400)
        rows.append((label, t_ls, t_st))

    # Binary transfers end on the VISA END indicator, as instruments in binary mode do: no termchar.
    kw = dict(write_termination="\n")
    awg = labsim.open_resource(AWG, **kw)
    with tempfile.TemporaryDirectory() as tmp:
        for n, repeat in ((1024, 5), (100_000, 1)):
            awg.write(f":TRAC:DATA:NOIS {n}")
            t_ls = best_of(lambda: awg.query_binary_values(":TRAC:DATA?", datatype="f", container=np.array), 5, 20)
            st = pyvisa.ResourceManager(stock_block_yaml(Path(tmp), 4 * n) + "@sim").open_resource(AWG, **kw)
            t_st = best_of(lambda s=st: s.read_raw() if s.write(":TRAC:DATA?") else None, repeat, 1)
            rows.append((f"{n}-float32 binary block query", t_ls, t_st))

    print(f"{'operation':34s} {'@labsim':>12s} {'stock @sim':>12s} {'labsim/stock':>13s}")
    for label, t_ls, t_st in rows:
        print(f"{label:34s} {t_ls * 1e6:10.1f}us {t_st * 1e6:10.1f}us {t_ls / t_st:13.4f}")
    print("targets: small-query ratio <= 1.0; 1024-point block at least 50x faster (ratio <= 0.02)")


if __name__ == "__main__":
    main()
