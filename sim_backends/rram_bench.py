"""The RRAM bench: the 1-kbit 2T2R die behind its controller, and a 1T1R test structure on an SMU.

One seed gives one die (and one test structure): the same seed is the same die on every run, another
seed is another die. The test structure is a single TiN/HfO2/Ti cell with its access transistor,
bit line on the SMU's HI terminal, source line on LO (ground) and word line tied to a fixed bias, as
on the scribe-line structures used for quasi-static I-V (forming curve, butterfly loops). Its
compliance then comes from the SMU, or from the word-line bias if that is set low.

The bench file describes the die: ``x-bench.params`` may hold, besides ``test_structure_gate``, one
mapping per parameter group of the physics, each overriding the defaults it names::

    params:
      test_structure_gate: 3.3
      gap: {ea: 1.5, r_th_per_ohm: 3000}     # GapModel (Stanford/PKU gap model, heating)
      transistor: {vth: 0.45}                # AccessTransistor
      variability: {gap_c2c: 0.12e-9}        # Variability
      forming: {v_bd: 3.4}                   # Forming
      endurance: {defect_rate: 1e-5}         # Endurance
      sense: {offset: 0.03}                  # SenseAmp of the die's PCSAs

Die and test structure share the device parameters (same wafer). Unknown groups or names are
refused with the names that exist.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from labctl.sim_backends.bench import Bench, TwoTerminalDevice
from labctl.sim_backends.physics.rram import (
    AccessTransistor,
    Endurance,
    Forming,
    GapModel,
    RRAMArray,
    Variability,
)
from labctl.sim_backends.physics.rram_die import N_DEVICES, RESET, SET, RRAMDie, SenseAmp

DEVICE_GROUPS = {"gap": GapModel, "transistor": AccessTransistor, "variability": Variability,
                 "forming": Forming, "endurance": Endurance}
GROUPS = {**DEVICE_GROUPS, "sense": SenseAmp}


def parameter_group(group: str, values) -> object:
    """The dataclass of ``group`` with the bench file's ``values`` over its defaults."""
    cls = GROUPS[group]
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ValueError(f"RRAM bench parameter {group!r} must be a mapping of names to numbers")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"RRAM bench parameter {group}: unknown {', '.join(unknown)} "
                         f"(known: {', '.join(fields)})")
    typed = {}
    for name, value in values.items():
        try:
            typed[name] = float(value)  # YAML reads 1e-3 (no dot) as a string
        except (TypeError, ValueError):
            raise ValueError(f"RRAM bench parameter {group}.{name}: {value!r} is not a number") \
                from None
    return cls(**typed)


class RRAMTestStructure(TwoTerminalDevice):
    """A 1T1R cell seen by a source-measure unit; state persists between readings."""

    def __init__(self, seed: np.random.SeedSequence, gate: float, **model_kwargs):
        self.cell = RRAMArray(1, seed=seed, **model_kwargs)
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

    def __init__(self, seed: int = 0, test_structure_gate: float = 3.3, **groups):
        unknown = sorted(set(groups) - set(GROUPS))
        if unknown:
            raise ValueError(f"RRAM bench: unknown parameter {', '.join(unknown)} (known: "
                             f"test_structure_gate, {', '.join(GROUPS)})")
        super().__init__(seed)
        device = {g: parameter_group(g, groups.get(g)) for g in DEVICE_GROUPS}
        self.parameters = "; ".join(f"{g}.{k}={v}" for g in GROUPS
                                    for k, v in (groups.get(g) or {}).items()) or "defaults"
        self.die = RRAMDie(seed=self.seed, sense=parameter_group("sense", groups.get("sense")),
                           model_kwargs=device)
        ts_seed = np.random.SeedSequence(entropy=self.seed, spawn_key=(1000,))
        self.test_structure = RRAMTestStructure(ts_seed, test_structure_gate, **device)

    def snapshot(self) -> dict:
        d = self.die.devices
        return {
            **super().snapshot(),
            "die": "1-kbit HfO2 RRAM 2T2R (32 x 32 bits, PCSA per column)",
            "devices": (N_DEVICES, "1"),
            "devices_formed": (int(d.formed.sum()), "1"),
            "devices_stuck": (int((d.stuck != 0).sum()), "1"),
            "max_cycles": (float(d.cycles.max()), "1"),
            "nominal_set_pulse": f"{SET.amplitude} V, {SET.width:g} s, WL {SET.gate:.3f} V",
            "nominal_reset_pulse": f"{RESET.amplitude} V, {RESET.width:g} s, WL {RESET.gate:.3f} V",
            "test_structure_gate": (self.test_structure.gate, "V"),
            "device_parameters": self.parameters,
            "reference_1t1r": (([float(r) for r in self.die.reference], "ohm")
                               if np.isfinite(self.die.reference).all() else "not set"),
        }
