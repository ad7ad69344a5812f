"""The STNO probe station: a chip of vortex oscillators in series, each biased by its own source-measure
unit, under an electromagnet, below a strip line fed by rf generators, read by a spectrum analyzer.

Everything the instruments see comes from one world: the analyzer's trace integrates the oscillators
(`labctl.sim_backends.physics.stno`) at the currents the SMUs source, the field the magnet has reached by
now on the bench clock, and the tones the generators send down the strip line; the state of the
oscillators carries from one trace to the next (a new trace first lets them relax to the new settings).

Parts (`labctl.sim_backends.interfaces`): ``pillar1`` ... ``pillarN`` (Terminal), ``magnet`` (Magnet),
``strip_line`` (RFLine), ``rf_output`` (SpectrumSource), ``coupling_loop`` (SwitchBank: the relays of the
amplified loop from the chip's output back into the strip line, `labctl.sim_backends.coupling_loop`).
The bench file describes the sample: ``device`` (fields of `VortexMTJ`: the nominal pillar), ``spread``
(fields of `DeviceSpread`: relative device-to-device scatter), ``magnet`` (of `Electromagnet`),
``strip_line`` (of `StripLine`), ``coupling_loop`` (amplifier_gain, losses, phase of `CouplingLoop`).

``coupled: false`` switches off every path by which the oscillators feel each other's and their own
microwave current (through the pillars in series and through the loop): an idealization for comparison
runs, which no series chip allows (its pillars share one current). The analyzer still sees the emission.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from labctl.sim_backends.bench import Bench, TwoTerminalDevice, build
from labctl.sim_backends.coupling_loop import CouplingLoop
from labctl.sim_backends.interfaces import ToneSource
from labctl.sim_backends.physics.magnet import Electromagnet
from labctl.sim_backends.physics.spectrum import (
    AnalyzerSettings,
    analyzer_trace,
    displayed_noise,
    max_sample_interval,
    signal_power,
    to_dbm,
    window_duration,
)
from labctl.sim_backends.physics.stno import (
    DeviceSpread,
    Drive,
    OscillatorState,
    SeriesCircuit,
    StripLine,
    VortexMTJ,
    fabricate_chip,
    operating_point,
    simulate,
    stable_step,
)

MIN_RELAX, MAX_RELAX = 0.2e-6, 0.5e-6  # s of oscillator dynamics simulated before each trace
#: Units of the `VortexMTJ` fields, for the run file's NXsample (every numeric field says its units).
DEVICE_UNITS = {"radius": "m", "thickness": "m", "mu0_ms": "T", "alpha": "1", "core_radius": "m",
                "perpendicular_saturation": "T", "polarizer_saturation": "T", "spin_polarization": "1",
                "ms_nonlinearity": "1", "oersted_nonlinearity": "1", "oersted_factor": "1",
                "damping_nonlinearity": "1", "core_magnetization": "1", "resistance_parallel": "ohm", "tmr": "1",
                "temperature": "K"}
#: Oscillator steps one trace may simulate (relaxation + RBW window), for up to 16 batch rows (fewer
#: beyond): whatever the analyzer's settings, a trace costs bounded work. See `STNOBench.spectrum`.
MAX_TRACE_STEPS = 2**14
#: Half-width (Hz) kept around the oscillators' own and the drive frequencies when a trace follows
#: the emission rather than the whole span.
EMISSION_MARGIN = 25e6


class Pillar(TwoTerminalDevice):
    """One oscillator between its SMU's terminals: an ohmic pillar whose current drives the physics."""

    def __init__(self, bench: STNOBench, index: int):
        self.bench, self.index = bench, index

    @property
    def resistance(self) -> float:
        return float(self.bench.chip.mean_resistance()[self.index])

    def current(self, v):
        return v / self.resistance

    def apply(self, source, level, compliance, duration):
        r = self.resistance
        if source == "CURR":
            v = float(np.clip(level * r, -compliance, compliance))
            i = v / r
        else:
            i = float(np.clip(level / r, -compliance, compliance))
            v = i * r
        self.bench.currents[self.index] = i
        return v, i

    def release(self):
        self.bench.currents[self.index] = 0.0


class StripLineFeed:
    """The strip line with the generators plugged into it: their tones become the rf field at the pillars."""

    def __init__(self, line: StripLine):
        self.line = line
        self.sources: list[ToneSource] = []

    def connect(self, source: ToneSource) -> None:
        self.sources.append(source)

    def drive(self, rows: int) -> Drive | None:
        tones = [t for t in (s.tone() for s in self.sources) if t is not None]
        if not tones:
            return None
        f = np.array([t[0] for t in tones])
        b = self.line.field(np.array([t[1] for t in tones]))
        return Drive(np.broadcast_to(f, (rows, len(f))), np.broadcast_to(b, (rows, len(b))))


Params = Mapping[str, Any] | None


class STNOBench(Bench):
    """Chip of `n_oscillators` vortex MTJs (seeded variability), magnet, strip line, 50 ohm analyzer."""

    def __init__(self, seed: int = 0, n_oscillators: int = 4, device: Params | VortexMTJ = None,
                 spread: Params | DeviceSpread = None, magnet: Params = None,
                 strip_line: Params | StripLine = None, load_resistance: float = 50.0,
                 realizations: int = 4, danl_dbm_per_hz: float = -150.0, coupling_loop: Params = None,
                 coupled: bool = True):
        super().__init__(seed)
        self.nominal = build(VortexMTJ, device, "STNO bench parameter 'device'")
        self.spread = build(DeviceSpread, spread, "STNO bench parameter 'spread'")
        self.chip = fabricate_chip(int(n_oscillators), seed=self.seed, nominal=self.nominal, spread=self.spread)
        self.currents = np.zeros(int(n_oscillators))
        self.magnet = build(Electromagnet, magnet, "STNO bench parameter 'magnet'", clock=self.clock)
        self.strip_line = StripLineFeed(build(StripLine, strip_line, "STNO bench parameter 'strip_line'"))
        self.coupling_loop = build(CouplingLoop, coupling_loop, "STNO bench parameter 'coupling_loop'",
                                   strip_line=self.strip_line.line)
        if not isinstance(coupled, bool):
            raise ValueError(f"STNO bench parameter 'coupled' must be true or false, not {coupled!r}")
        self.coupled = coupled
        self.load_resistance = load_resistance
        self.realizations = int(realizations)
        self.danl = danl_dbm_per_hz
        self.pillars = [Pillar(self, k) for k in range(int(n_oscillators))]
        self._memory: tuple | None = None  # (active set, rows, oscillator state c, bench time)

    def parts(self) -> dict[str, Any]:
        return {**{f"pillar{k + 1}": p for k, p in enumerate(self.pillars)}, **super().parts(),
                "rf_output": self}

    def snapshot(self) -> dict:
        return {**super().snapshot(), "n_oscillators": (len(self.currents), "1"),
                "radius": (self.chip.radius.tolist(), "m"), "temperature": (float(self.chip.temperature[0]), "K"),
                "field_per_amp": (self.magnet.field_per_amp, "T/A"),
                "nominal_device": {k: (v, DEVICE_UNITS[k]) for k, v in asdict(self.nominal).items()},
                "device_spread": {k: (v, "1") for k, v in asdict(self.spread).items()},  # relative std
                "magnet": {"field_per_amp": (self.magnet.field_per_amp, "T/A"),
                           "inductance": (self.magnet.inductance, "H"),
                           "resistance": (self.magnet.resistance, "ohm"), "remanence": (self.magnet.remanence, "T")},
                "coupled": self.coupled, "coupling_loop": self.coupling_loop.snapshot()}

    def spectrum(self, settings: AnalyzerSettings) -> np.ndarray:
        """One displayed trace (dBm) for the analyzer's settings, from the oscillators' dynamics now.

        The record simulated for a trace is bounded (`MAX_TRACE_STEPS`). Two settings would need
        more, and are handled as follows. A span much wider than the emission would need steps fine
        enough to cover it all: the envelope then follows the emission (the oscillators' and the
        drive frequencies, +- `EMISSION_MARGIN`), and points beyond it see the analyzer's own noise
        only (a line's Lorentzian tail there lies far below the DANL). An RBW window longer than
        the record (a narrow RBW): the trace is the power spectral density resolved by the
        record, times the set RBW's noise bandwidth - what the analyzer shows of lines broader
        than the record's resolution (free-running lines are 0.1 - 2 MHz wide); a carrier
        narrower than that (a locked oscillator) reads low by the ratio of the two bandwidths.
        """
        settings = replace(settings, danl_dbm_per_hz=self.danl, impedance=self.load_resistance)
        active = np.flatnonzero(self.currents != 0)
        if active.size == 0:  # nothing biased: no emission, the analyzer shows its own noise
            floor = settings.noise_floor_w * self.rng.gamma(settings.averages, 1 / settings.averages,
                                                            settings.points)
            return to_dbm(floor)
        rows = min(self.realizations * settings.averages, 64)
        devices = VortexMTJ(**{k: np.asarray(v)[active] for k, v in vars(self.chip).items()})
        idle = float(np.sum(np.delete(self.chip.mean_resistance(), active)))
        circuit = SeriesCircuit(load_resistance=self.load_resistance, series_resistance=idle,
                                coupled=self.coupled, loop=self.coupling_loop.feedback())
        currents = np.broadcast_to(self.currents[active], (rows, active.size))
        field = self.magnet.field()
        drive = self.strip_line.drive(rows)
        f_ref = 0.5 * (settings.start + settings.stop)
        op = operating_point(devices, currents, field, circuit)
        stable = stable_step(op)
        dt = min(stable, max_sample_interval(settings, f_ref))
        now = self.clock.now()
        state, relax = None, MAX_RELAX
        if self._memory is not None and self._memory[0] == tuple(active) and self._memory[1] == rows:
            state = OscillatorState(now, self._memory[2])
            relax = float(np.clip(now - self._memory[3], MIN_RELAX, MAX_RELAX))
        steps = MAX_TRACE_STEPS * min(1.0, 16 / rows)
        window = window_duration(settings.rbw)
        if relax + window > steps * dt and dt < stable:  # follow the emission, not the whole span
            f_ref, dt = _emission_band(op, drive, stable)
        relax = min(relax, 0.5 * steps * dt)
        resolved = max(settings.rbw, window_duration(1.0) / (steps * dt - relax))
        run = simulate(devices, currents, field, relax + window_duration(resolved), rng=self.rng,
                       dt=dt, drive=drive, circuit=circuit, state=state, f_ref=f_ref)
        self._memory = (tuple(active), rows, run.state.c, now)
        envelope = run.load_voltage()[int(round(relax / dt)):]
        if resolved == settings.rbw:
            return analyzer_trace(envelope, dt, f_ref, settings, self.rng)
        density = signal_power(envelope, dt, f_ref, replace(settings, rbw=resolved)) / resolved
        return to_dbm(density * settings.rbw + displayed_noise(settings, self.rng))


def _emission_band(op, drive: Drive | None, stable: float) -> tuple[float, float]:
    """(frame frequency, step) of an envelope covering the oscillators' and the drive frequencies."""
    freqs = np.ravel(op.free_frequency)
    if drive is not None:
        freqs = np.concatenate([freqs, np.ravel(drive.frequency)])
    half = 0.5 * (freqs.max() - freqs.min()) + EMISSION_MARGIN
    return 0.5 * (freqs.max() + freqs.min()), min(stable, 1.0 / (2.2 * half))
