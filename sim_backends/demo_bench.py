"""The smallest simulated lab: a Keithley 2400 on a pn-junction diode (and a resistor).

The diode follows the Shockley equation with series resistance,
``I = I_s (exp((V - I R_s) / (n V_T)) - 1)``, solved for I by Newton iteration on the junction
voltage. Defaults are those of a 1N4148 small-signal diode (I_s = 2.52 nA, n = 1.752,
R_s = 0.568 ohm; the SPICE model of the ON Semiconductor datasheet). Each seed draws a part within
the usual batch spread (I_s +-20 % log-normal, resistor +-1 %). The bench file may describe another
diode or resistor (:class:`DiodeModel`, :class:`ResistorModel`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from labctl.sim_backends.bench import Bench, TwoTerminalDevice, build

K_B, Q_E = 1.380649e-23, 1.602176634e-19


class Diode(TwoTerminalDevice):
    def __init__(self, i_s: float, n: float, r_s: float, temperature: float):
        self.i_s, self.n, self.r_s = i_s, n, r_s
        self.v_t = K_B * temperature / Q_E

    def current(self, v):
        v = np.asarray(v, dtype=float)
        nvt = self.n * self.v_t
        # Newton on the junction voltage vj: f(vj) = vj + R_s I_s (exp(vj/nVt) - 1) - v = 0.
        vj = np.minimum(v, nvt * np.log1p(np.maximum(v, 0) / (self.r_s * self.i_s + 1e-300)))
        for _ in range(50):
            e = np.exp(np.minimum(vj / nvt, 700))
            f = vj + self.r_s * self.i_s * (e - 1) - v
            vj = vj - f / (1 + self.r_s * self.i_s * e / nvt)
        i = self.i_s * (np.exp(np.minimum(vj / nvt, 700)) - 1)
        return float(i) if i.ndim == 0 else i


class Resistor(TwoTerminalDevice):
    def __init__(self, resistance: float):
        self.resistance = resistance

    def current(self, v):
        return np.asarray(v, dtype=float) / self.resistance if np.ndim(v) else v / self.resistance


@dataclass(frozen=True)
class DiodeModel:
    """Nominal diode (SPICE parameters) and the batch spread of I_s (sigma of its natural log)."""

    i_s: float = 2.52e-9  # A
    n: float = 1.752
    r_s: float = 0.568  # ohm
    i_s_spread: float = 0.2


@dataclass(frozen=True)
class ResistorModel:
    """Nominal resistance and its tolerance (relative standard deviation)."""

    resistance: float = 1e3  # ohm
    tolerance: float = 0.01


class DemoBench(Bench):
    """Parts ``diode`` and ``resistor`` (Terminals), one part of each batch per seed.

    Parameters (``x-bench.params``): ``temperature`` (K), ``diode`` (fields of :class:`DiodeModel`),
    ``resistor`` (fields of :class:`ResistorModel`).
    """

    def __init__(self, seed: int = 0, temperature: float = 300.0,
                 diode: Mapping[str, Any] | DiodeModel | None = None,
                 resistor: Mapping[str, Any] | ResistorModel | None = None):
        super().__init__(seed)
        d = build(DiodeModel, diode, "demo bench parameter 'diode'")
        r = build(ResistorModel, resistor, "demo bench parameter 'resistor'")
        self.temperature = float(temperature)
        self.diode = Diode(d.i_s * float(np.exp(self.rng.normal(0, d.i_s_spread))), d.n, d.r_s, self.temperature)
        self.resistor = Resistor(r.resistance * (1 + r.tolerance * float(self.rng.standard_normal())))

    def snapshot(self) -> dict:
        return {**super().snapshot(), "temperature": (self.temperature, "K"), "diode_i_s": (self.diode.i_s, "A"),
                "diode_n": (self.diode.n, "1"), "diode_r_s": (self.diode.r_s, "ohm"),
                "resistance": (self.resistor.resistance, "ohm")}
