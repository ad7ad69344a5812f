"""The RRAM bench: the 1-kbit 2T2R die behind its controller, and a 1T1R test structure on an SMU.

One seed gives one die (and one test structure): the same seed is the same die on every run, another
seed is another die. The test structure is a single TiN/HfO2/Ti cell with its access transistor,
bit line on the SMU's HI terminal, source line on LO (ground) and word line tied to a fixed bias, as
on the scribe-line structures used for quasi-static I-V (forming curve, butterfly loops). Its
compliance then comes from the SMU, or from the word-line bias if that is set low.
"""

from __future__ import annotations

import numpy as np

from labctl.sim_backends.bench import Bench, TwoTerminalDevice
from labctl.sim_backends.physics.rram import RRAMArray
from labctl.sim_backends.physics.rram_die import N_DEVICES, RESET, SET, RRAMDie


class RRAMTestStructure(TwoTerminalDevice):
    """A 1T1R cell seen by a source-measure unit; state persists between readings."""

    def __init__(self, seed: np.random.SeedSequence, gate: float):
        self.cell = RRAMArray(1, seed=seed)
        self.gate = float(gate)

    def apply(self, source: str, level: float, compliance: float, duration: float):
        sign = 1.0 if level >= 0 else -1.0
        if source == "VOLT":
            amplitude, limit = level, abs(compliance)
        else:  # current source: the voltage may rise up to the compliance voltage
            amplitude, limit = sign * abs(compliance), abs(level)
        res = self.cell.apply_pulse([0], amplitude, duration, gate=self.gate, current_limit=limit,
                                    source_grounded=True)
        i, c = float(res.current[0]), float(res.cell_voltage[0])
        limited = i >= 0.999 * limit
        if source == "VOLT":
            v = level if not limited else c + float(self.cell.transistor.drain_voltage(i, self.gate))
            return sign * v if limited else v, sign * i
        v = c + float(self.cell.transistor.drain_voltage(i, self.gate))
        return sign * (v if limited else abs(compliance)), sign * i

    @property
    def resistance(self) -> float:
        return float(self.cell.resistance()[0])


class RRAMBench(Bench):
    """A die (``die``) and a test structure (``test_structure``) cut from the same wafer seed."""

    def __init__(self, seed: int = 0, test_structure_gate: float = 3.3):
        super().__init__(seed)
        self.die = RRAMDie(seed=self.seed)
        ts_seed = np.random.SeedSequence(entropy=self.seed, spawn_key=(1000,))
        self.test_structure = RRAMTestStructure(ts_seed, test_structure_gate)

    def snapshot(self) -> dict:
        d = self.die.devices
        return {
            **super().snapshot(),
            "die": "1-kbit HfO2 RRAM 2T2R (32 x 32 bits, PCSA per column)",
            "devices": N_DEVICES,
            "devices_formed": int(d.formed.sum()),
            "devices_stuck": int((d.stuck != 0).sum()),
            "max_cycles": float(d.cycles.max()),
            "nominal_set": f"{SET.amplitude} V, {SET.width:g} s, WL {SET.gate:.3f} V",
            "nominal_reset": f"{RESET.amplitude} V, {RESET.width:g} s, WL {RESET.gate:.3f} V",
            "test_structure_gate": self.test_structure.gate,
        }
