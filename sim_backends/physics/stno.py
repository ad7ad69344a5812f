"""Vortex spin-torque nano-oscillators (STNOs) as universal nonlinear auto-oscillators.

Each oscillator k is a complex amplitude c_k (normalized vortex-core orbit: p = |c|^2 = s^2, s = X/R) obeying
the universal auto-oscillator equation of Slavin & Tiberkevich, IEEE Trans. Magn. 45, 1875 (2009), eqs. (1)-(4):

    dc/dt = -i w(p) c - G+(p) c + G-(p) c + F(t) + f_n(t)
    w(p) = w0 + N p,   G+(p) = Gamma_G (1 + Q p),   G-(p) = sigma I (1 - p),   <f_n f_n*> = 2 D delta(t - t')

Free running above threshold (zeta = sigma I / Gamma_G > 1) the power settles at p0 = (zeta - 1)/(zeta + Q).
Injection locking, frequency pulling, Arnold tongues, mutual synchronization and linewidths are NOT built in:
they emerge from integrating these equations with the strip-line drive and the microwave-current coupling in F.

Vortex (Thiele) coefficients, for FeB vortex magnetic tunnel junctions of ~375 nm diameter as used in
Torrejon et al., Nature 547, 428 (2017) and Romera et al., Nature 563, 230 (2018):

* magnetostatic gyrotropic frequency (Guslienko et al., J. Appl. Phys. 91, 8037 (2002)), SI form
  w_ms = (5 / 9 pi) gamma mu0Ms L/R, stiffened by an out-of-plane field along the core
  (de Loubens et al., PRL 102, 177602 (2009)): w_ms(H) = w_ms(0) (1 + mu0H / mu0H_s);
* Oersted confinement of the dc current (Khvalkovskiy et al., PRB 80, 140401 (2009)):
  w_Oe = 0.85 gamma mu0 I / (2 pi^2 R), so w0(H, I) = w_ms(H) + w_Oe(I);
* nonlinear frequency shift (Dussaux et al., PRB 86, 014402 (2012); Gaididei et al., IJQC 110, 83 (2010)):
  w(s) = w_ms (1 + a_ms s^2) + w_Oe (1 + a_Oe s^2)  ->  N = a_ms w_ms + a_Oe w_Oe;
* damping Gamma_G = alpha eta w0, eta = 1/2 + ln(R / 2b)/4 (Guslienko, J. Nanosci. Nanotechnol. 8, 2745
  (2008)), nonlinear damping Q;
* spin-transfer rate sigma I = gamma a_J p_z / 2 with a_J = hbar P J / (2 e Ms L), J = I / (pi R^2)
  (Khvalkovskiy 2009; Dussaux et al., Nat. Commun. 1, 8 (2010)); the in-plane synthetic-antiferromagnet
  polarizer is tilted out of plane by the field, p_z = mu0H / mu0H_pol, which is why these devices
  oscillate only under an out-of-plane field (~0.4 T in Romera 2018);
* thermal noise from equipartition of the gyrotropic energy E(p) = E0 p, E0 = pi Ms L R^2 w0 / gamma:
  D = G+(p0) kT / E0 (Slavin & Tiberkevich sec. VI), giving the linewidth
  2 Dw = G+(p0) (kT / E(p0)) (1 + nu^2), nu = N / (Q Gamma_G + sigma I).

Strip line and circuit (Romera 2018, Fig. 1): the in-plane rf field b cos(w_d t) of each generator acts on the
core with the force gamma xi b / 2 (Thiele, xi = 2/3 the in-plane magnetization per unit core shift), of which
the co-rotating half drives c: F = -i gamma xi / 4 sum_d b_d exp(-i w_d t). The oscillators are in series
with the 50 ohm load: each emits v_k = I_k dR_k xi/2 Re(c_k) (dR = TMR R_P), and the loop carries the
microwave current i_rf = -sum_j v_j / R_loop through every pillar, the emitter's own included. Its in-plane
spin-transfer torque drives each oscillator with its real phase: F_k += exp(i beta) eta_k sum_j v_j / R_loop,
eta_k = gamma a_J(1 A) p_par / 4 (Lebrun et al., Nat. Commun. 8, 15825 (2017); the emitter's own term is the
self-injection of Tsunegi et al., Sci. Rep. 6, 26849 (2016), here without delay). Two oscillators of this
form lock when their detuning is below 2 Omega sqrt(1 + nu^2) |cos(beta - arctan nu)| (Slavin & Tiberkevich
sec. VIII), Omega = |coupling| dR I xi/2 sqrt(p0).

Coupling loop (`FeedbackLoop`, optional): part of the chain's output is amplified and sent back into the strip
line, so that every oscillator also feels the field of all the others' (and its own) amplified emission,
b_loop = mu0 / (2 w Z0) sqrt(G) exp(i phi) v_out (peak field of the strip-line current sqrt(G) v_out / Z0);
this is field feedback through a strip line on the pillar (Singh et al., Phys. Rev. Applied 10, 024001
(2018)) with an amplifier whose gain G sets the coupling strength. phi is the loop's phase at the carrier; the
loop is taken as short against the envelope's time scales (delay x band width << 1), so phi is the same
across the band. Both couplings are linear in the emitted voltage: F_k += K_k sum_j g_j c_j, g_j = I dR xi/2.
The emitter's own term shifts its frequency by -Im(K_k g_k) and its linear gain by Re(K_k g_k), which the
free-running operating point below includes.

Integration: exponential (Lawson midpoint) scheme in a frame rotating at f_ref, with p frozen over a step:
c' = H (H c + dt F(t + dt/2) + dW), H = exp(lambda(p) dt / 2). The fast rotation, the linear damping and the
oscillator's own coupling term K_k g_k are exact, so dt is set by the relaxation rates (a few ns), not by the
few-hundred-MHz carrier. The noise increments are uniform with the Gaussian variance (weak order 1 is kept;
Kloeden & Platen, Numerical Solution of SDEs, sec. 14.2), much cheaper to draw. Everything is vectorized over a
batch of independent settings / noise realizations (axis 0) and the oscillators of a chip (axis 1).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

GAMMA = 1.760859e11  # electron gyromagnetic ratio, rad s^-1 T^-1
MU0 = 4e-7 * np.pi
HBAR = 1.054571817e-34
E_CHARGE = 1.602176634e-19
K_B = 1.380649e-23

_MIN_STIFFENING = 0.05  # keeps w_ms(H) positive for fields close to -H_s (core flip is not modelled)
_REAL_PATH_MIN = 2048  # from this many oscillators per step, float32 exp/cos/sin beat complex exp


@dataclass(frozen=True)
class VortexMTJ:
    """Parameters of vortex MTJ oscillators; every field may be a float or an array over oscillators.

    Defaults: circular FeB (6 nm) free layer, 375 nm diameter, MgO barrier, as in Romera et al. 2018 (Methods)
    and Torrejon et al. 2017; they put the oscillator near 300 MHz with a threshold near 4 mA at 0.43 T.
    """

    radius: float = 187.5e-9  # m
    thickness: float = 6e-9  # m, FeB free layer
    mu0_ms: float = 1.2  # T, FeB saturation magnetization
    alpha: float = 0.01  # Gilbert damping
    core_radius: float = 10e-9  # m, vortex core (exchange length scale)
    perpendicular_saturation: float = 1.0  # T, mu0H_s of w_ms(H)
    polarizer_saturation: float = 1.6  # T, field that pulls the SAF polarizer fully out of plane
    spin_polarization: float = 0.4
    ms_nonlinearity: float = 0.25  # a_ms
    oersted_nonlinearity: float = -0.5  # a_Oe
    oersted_factor: float = 0.85
    damping_nonlinearity: float = 0.25  # Q
    core_magnetization: float = 2.0 / 3.0  # xi
    resistance_parallel: float = 36.0  # ohm (RA ~ 4 ohm um^2)
    tmr: float = 1.0  # (R_AP - R_P) / R_P under bias
    temperature: float = 300.0  # K

    def magnetostatic_frequency(self, field):
        """w_ms(H) in rad/s (Guslienko 2002; de Loubens 2009); field = mu0 H out of plane, T."""
        w0 = 5.0 / (9.0 * np.pi) * GAMMA * self.mu0_ms * self.thickness / self.radius
        return w0 * np.maximum(1.0 + field / self.perpendicular_saturation, _MIN_STIFFENING)

    def oersted_frequency(self, current):
        """w_Oe(I) in rad/s from the dc current's Oersted field (Khvalkovskiy 2009)."""
        return self.oersted_factor * GAMMA * MU0 * current / (2.0 * np.pi**2 * self.radius)

    def spin_torque_per_amp(self):
        """gamma a_J / 2 per ampere (1/(s A)), before the polarizer projection."""
        ms = self.mu0_ms / MU0
        a_j = HBAR * self.spin_polarization / (2 * E_CHARGE * ms * self.thickness * np.pi * self.radius**2)
        return 0.5 * GAMMA * a_j

    def polarizer_tilt(self, field):
        """Out-of-plane component p_z of the polarizer under the field."""
        return np.clip(field / self.polarizer_saturation, -1.0, 1.0)

    def damping_factor(self):
        """eta of Gamma_G = alpha eta w0."""
        return 0.5 + 0.25 * np.log(self.radius / (2 * self.core_radius))

    def threshold_current(self, field):
        """Current (A) where sigma I = Gamma_G(I), Gamma_G including the Oersted stiffening."""
        sigma = self.spin_torque_per_amp() * self.polarizer_tilt(field)
        damp = self.alpha * self.damping_factor()
        k_oe = self.oersted_frequency(1.0)
        with np.errstate(divide="ignore"):
            ith = damp * self.magnetostatic_frequency(field) / (sigma - damp * k_oe)
        return np.where(ith > 0, ith, np.inf)

    def mean_resistance(self):
        """Vortex-state (zero average in-plane moment) resistance, halfway between P and AP."""
        return self.resistance_parallel * (1.0 + 0.5 * self.tmr)


@dataclass(frozen=True)
class DeviceSpread:
    """Relative standard deviations of device-to-device variability on one die (lithography, stack)."""

    radius: float = 0.03
    thickness: float = 0.01
    alpha: float = 0.05
    spin_polarization: float = 0.03
    resistance_parallel: float = 0.05
    tmr: float = 0.03


def fabricate_chip(n_oscillators: int, seed: int, nominal: VortexMTJ = VortexMTJ(),
                   spread: DeviceSpread = DeviceSpread()) -> VortexMTJ:
    """Devices of one die: `nominal` with seeded lognormal scatter; fields become arrays of length K."""
    rng = np.random.default_rng(seed)
    values = {}
    for f in fields(VortexMTJ):
        base = np.full(n_oscillators, getattr(nominal, f.name), dtype=float)
        rel = getattr(spread, f.name, 0.0)
        values[f.name] = base * np.exp(rel * rng.standard_normal(n_oscillators)) if rel else base
    return VortexMTJ(**values)


@dataclass(frozen=True)
class StripLine:
    """Wide strip line above the pillars: in-plane field mu0 I / (2 w) of a current sheet, I from P on Z0."""

    width: float = 10e-6  # m
    impedance: float = 50.0  # ohm

    def field(self, power_w):
        """Peak rf field (T) for a generator delivering power_w (W) into the line."""
        return MU0 * np.sqrt(2.0 * np.asarray(power_w, float) / self.impedance) / (2.0 * self.width)


@dataclass(frozen=True)
class FeedbackLoop:
    """RF amplifier from the chain's output back into the strip line (the coupling path's gain element).

    gain_db: net power gain from the output port to the strip line (amplifier gain less splitter and cable
    losses); phase: the loop's phase (rad) at the carrier, set by its cable length or a phase shifter.
    """

    gain_db: float = 20.0
    phase: float = 0.0
    strip_line: StripLine = StripLine()

    def field_per_volt(self) -> complex:
        """Complex peak strip-line field (T) per volt of output envelope: mu0 sqrt(G) e^(i phi) / (2 w Z0)."""
        line = self.strip_line
        return complex(MU0 * 10 ** (self.gain_db / 20) * np.exp(1j * self.phase)
                       / (2 * line.width * line.impedance))


@dataclass(frozen=True)
class SeriesCircuit:
    """Oscillators in series with the analyzer's load; their microwave currents couple them.

    coupled=False: the oscillators feel neither each other's nor their own emission, through the pillars or the
    loop (an idealization: the coupling switched off; the analyzer still sees the emission). It may be an array
    (B, 1) to switch it per batch row.
    loop: an amplified feedback from the output into the strip line, or None (no amplifier).
    """

    load_resistance: float = 50.0
    series_resistance: float = 0.0  # other resistance in the loop (idle pillars, lines)
    # beta: phase of the rf-current torque relative to c (the -1 of i_rf included). With +pi/2 the synchronized
    # pair oscillates in phase and its emitted power adds up, as measured on synchronization (Lebrun 2017,
    # Romera 2018); it is near arctan(nu), where the locking range is largest
    coupling_phase: float = np.pi / 2
    coupled: bool = True
    loop: FeedbackLoop | None = None


@dataclass(frozen=True)
class Drive:
    """Strip-line tones, arrays (B, n_tones): frequency in Hz, peak in-plane field in T, phase in rad."""

    frequency: np.ndarray
    amplitude: np.ndarray
    phase: np.ndarray | None = None

    @classmethod
    def tones(cls, frequency, amplitude, phase=None) -> Drive:
        f, a = np.broadcast_arrays(np.atleast_1d(np.asarray(frequency, float)),
                                   np.atleast_1d(np.asarray(amplitude, float)))
        if f.ndim == 1:
            f, a = f[:, None], a[:, None]
        ph = None if phase is None else np.broadcast_to(np.asarray(phase, float), f.shape)
        return cls(f, a, ph)


@dataclass(frozen=True)
class OperatingPoint:
    """Coefficients of the universal model at one (current, field) per oscillator; arrays (B, K)."""

    omega0: np.ndarray  # rad/s
    nonlinear_shift: np.ndarray  # N, rad/s
    gamma_g: np.ndarray  # 1/s
    damping_nonlinearity: np.ndarray  # Q
    sigma_i: np.ndarray  # 1/s
    thermal_power: np.ndarray  # kT / E0
    emission_gain: np.ndarray  # V per unit c: I dR xi / 2
    drive_coupling: np.ndarray  # complex, 1/(s T)
    coupling: np.ndarray  # complex, 1/(s V): K_k, force on c_k per volt of sum_j g_j c_j (series + loop)
    divider: np.ndarray  # (B, 1): R_load / R_loop, the load's share of the emitted voltage

    @property
    def self_coupling(self):
        """K_k g_k (1/s): the oscillator's own emission acting back on it."""
        return self.coupling * self.emission_gain

    @property
    def zeta(self):
        """Supercriticality: spin-transfer gain (with the self term) over damping."""
        return (self.sigma_i + self.self_coupling.real) / self.gamma_g

    @property
    def p0(self):
        """Free-running stationary power (0 below threshold): G+(p0) = G-(p0) + Re(K g)."""
        gain = self.sigma_i + self.self_coupling.real - self.gamma_g
        return np.clip(gain / (self.sigma_i + self.damping_nonlinearity * self.gamma_g), 0.0, None)

    @property
    def free_frequency(self):
        """Free-running frequency (w0 - Im(K g) + N p0) / 2 pi, Hz, of an oscillator alone in the circuit."""
        return (self.omega0 - self.self_coupling.imag + self.nonlinear_shift * self.p0) / (2 * np.pi)

    @property
    def noise_intensity(self):
        """D of <f_n f_n*> = 2 D delta, at the stationary power."""
        return self.gamma_g * (1.0 + self.damping_nonlinearity * self.p0) * self.thermal_power

    @property
    def nu(self):
        """Dimensionless nonlinear frequency shift nu = N / (Q Gamma_G + sigma I)."""
        return self.nonlinear_shift / (self.damping_nonlinearity * self.gamma_g + self.sigma_i)

    def linewidth(self):
        """Theoretical FWHM (Hz) above threshold: G+(p0) kT/E(p0) (1 + nu^2) / 2 pi (Slavin-Tiberkevich)."""
        with np.errstate(divide="ignore"):
            return self.noise_intensity / self.p0 * (1 + self.nu**2) / (2 * np.pi)

    def locking_halfwidth(self, amplitude):
        """Theoretical Adler half-width (Hz) of locking to one tone of peak field `amplitude` (T)."""
        force = np.abs(self.drive_coupling) * amplitude
        with np.errstate(divide="ignore"):
            return force * np.sqrt(1 + self.nu**2) / np.sqrt(self.p0) / (2 * np.pi)

    def relaxation_rate(self):
        """Fastest rate of the dynamics (1/s): amplitude relaxation, damping, coupling."""
        g_p = 2 * self.p0 * (self.damping_nonlinearity * self.gamma_g + self.sigma_i)
        rates = np.maximum(np.maximum(g_p, np.abs(self.sigma_i - self.gamma_g)), self.gamma_g)
        coupling = np.abs(self.coupling) * np.sum(self.emission_gain, axis=-1, keepdims=True)
        return float(np.max(rates + coupling))


def _batch(devices: VortexMTJ, current, field):
    current = np.asarray(current, float)
    n_osc = np.broadcast(*[np.asarray(getattr(devices, f.name)) for f in fields(VortexMTJ)]).shape
    k = n_osc[-1] if n_osc else 1
    current = np.broadcast_to(np.atleast_2d(current), np.broadcast_shapes(np.atleast_2d(current).shape,
                                                                            (1, k)))
    field = np.asarray(field, float).reshape(-1, 1)
    b = max(current.shape[0], field.shape[0])
    return np.broadcast_to(current, (b, k)), np.broadcast_to(field, (b, 1))


def operating_point(devices: VortexMTJ, current, field, circuit: SeriesCircuit = SeriesCircuit()
                    ) -> OperatingPoint:
    """Universal-model coefficients for dc currents (B, K) [A] and out-of-plane fields (B,) [T]."""
    current, field = _batch(devices, current, field)
    w_ms = devices.magnetostatic_frequency(field)
    w_oe = devices.oersted_frequency(current)
    omega0 = np.maximum(w_ms + w_oe, 0.1 * w_ms)
    n_shift = devices.ms_nonlinearity * w_ms + devices.oersted_nonlinearity * w_oe
    gamma_g = devices.alpha * devices.damping_factor() * omega0
    torque = devices.spin_torque_per_amp()
    p_z = devices.polarizer_tilt(field)
    sigma_i = torque * p_z * current
    ms = devices.mu0_ms / MU0
    e0 = np.pi * ms * devices.thickness * devices.radius**2 * omega0 / GAMMA
    thermal = K_B * devices.temperature / e0
    gain = current * devices.tmr * devices.resistance_parallel * devices.core_magnetization / 2
    r_loop = (np.sum(np.broadcast_to(devices.mean_resistance(), current.shape), axis=-1, keepdims=True)
              + circuit.load_resistance + circuit.series_resistance)
    drive = -0.25j * GAMMA * devices.core_magnetization * np.ones_like(current)
    eta = 0.5 * torque * np.sqrt(1 - p_z**2)
    coupling = np.exp(1j * circuit.coupling_phase) * eta / r_loop
    if circuit.loop is not None:
        coupling = coupling + drive * circuit.loop.field_per_volt() * circuit.load_resistance / r_loop
    coupling = coupling * np.asarray(circuit.coupled)
    b_k = current.shape
    return OperatingPoint(omega0, np.broadcast_to(n_shift, b_k), np.broadcast_to(gamma_g, b_k),
                          np.broadcast_to(np.asarray(devices.damping_nonlinearity, float), b_k),
                          sigma_i, np.broadcast_to(thermal, b_k), gain, drive,
                          np.broadcast_to(coupling, b_k), circuit.load_resistance / r_loop)


@dataclass(frozen=True)
class OscillatorState:
    """Amplitudes c (B, K) in the laboratory phase convention at time t (s): carried from run to run."""

    t: float
    c: np.ndarray


@dataclass(frozen=True)
class Trajectory:
    """Recorded amplitudes c (n, B, K) in the frame rotating at f_ref (B,), every `dt * record_every`."""

    t0: float
    dt: float
    record_every: int
    f_ref: np.ndarray
    c: np.ndarray
    op: OperatingPoint
    state: OscillatorState

    @property
    def sample_interval(self) -> float:
        return self.dt * self.record_every

    @property
    def times(self) -> np.ndarray:
        return self.t0 + self.sample_interval * np.arange(1, len(self.c) + 1)

    def load_voltage(self) -> np.ndarray:
        """Complex envelope (n, B) of the voltage on the load: Re(v exp(-2 pi i f_ref t)) volts."""
        return np.einsum("nbk,bk->nb", self.c, self.op.emission_gain) * self.op.divider[:, 0]

    def phase(self) -> np.ndarray:
        """Unwrapped oscillation phase (n, B, K) relative to the frame (c ~ exp(-i phase))."""
        return -np.unwrap(np.angle(self.c), axis=0)

    def mean_frequency(self) -> np.ndarray:
        """Average oscillation frequency (B, K), Hz, from the phase advance over the record."""
        ph = self.phase()
        span = self.sample_interval * (len(self.c) - 1)
        return self.f_ref[:, None] + (ph[-1] - ph[0]) / (2 * np.pi * span)


def stable_step(op: OperatingPoint, max_step: float = 4e-9) -> float:
    """Largest step (s) keeping every relaxation/coupling rate x dt <= 0.2 (p frozen over a step;
    the stationary orbit, its frequency and the self-coupling are exact at any step). Forcing that rotates
    against the receiving oscillator (off-resonant tones, detuned neighbours) is taken at mid-step, so the
    pulling it causes is first order in (detuning x dt): keep the step short."""
    return min(max_step, 0.2 / op.relaxation_rate())


def simulate(devices: VortexMTJ, current, field, duration: float, *, rng, dt: float | None = None,
             drive: Drive | None = None, circuit: SeriesCircuit = SeriesCircuit(),
             state: OscillatorState | None = None, f_ref=None, record_every: int = 1) -> Trajectory:
    """Integrate the chip for `duration` s at dc currents (B, K) A and fields (B,) T.

    rng: numpy Generator or int seed. state: where a previous run ended (else the free-running orbit with
    random phases). f_ref (B,): frame frequency, default the mean free-running frequency per batch row.
    """
    rng = np.random.default_rng(rng)
    current = np.atleast_2d(np.asarray(current, float))
    rows = [current.shape[0], np.size(field), 1 if f_ref is None else np.size(f_ref)]
    if drive is not None:
        rows.append(drive.frequency.shape[0])
    current = np.broadcast_to(current, (max(rows), current.shape[1]))
    op = operating_point(devices, current, field, circuit)
    b, k = op.omega0.shape
    dt = stable_step(op) if dt is None else float(dt)
    n_steps = max(int(round(duration / dt)), 1)
    f_ref = (np.mean(op.free_frequency, axis=1) if f_ref is None
             else np.broadcast_to(np.asarray(f_ref, float), (b,)).copy())
    w_ref = 2 * np.pi * f_ref[:, None]
    big = b * k >= _REAL_PATH_MIN
    cdt, rdt = (np.complex64, np.float32) if big else (np.complex128, np.float64)

    if state is None:
        p_init = np.maximum(op.p0, op.thermal_power)
        c_lab = np.sqrt(p_init) * np.exp(2j * np.pi * rng.random((b, k)))
        t0 = 0.0
    else:
        c_lab = np.broadcast_to(state.c, (b, k))
        t0 = state.t
    c = (c_lab * np.exp(1j * w_ref * t0)).astype(cdt)

    # lambda(p) dt/2 = alpha - beta p
    half = 0.5 * dt
    # the oscillator's own emission acting back on it is linear in c: exact, with the rotation and damping
    alpha = ((op.sigma_i - op.gamma_g) - 1j * (op.omega0 - w_ref) + op.self_coupling) * half
    beta = (op.sigma_i + op.gamma_g * op.damping_nonlinearity + 1j * op.nonlinear_shift) * half
    noise_scale = np.sqrt(12.0 * op.noise_intensity * dt)
    gain = op.emission_gain.astype(cdt)
    kappa = (op.coupling * dt).astype(cdt)
    coupled = k > 1 and bool(np.any(kappa != 0))
    if drive is not None:
        w_d = 2 * np.pi * np.broadcast_to(drive.frequency, (b, drive.frequency.shape[-1]))
        amp = np.broadcast_to(drive.amplitude, w_d.shape)
        ph0 = 0.0 if drive.phase is None else np.broadcast_to(drive.phase, w_d.shape)
        step_phasor = np.exp(-1j * (w_d - w_ref) * dt)

    n_rec = n_steps // record_every
    rec = np.empty((n_rec, b, k), cdt)
    p = np.empty((b, k), rdt)
    h = np.empty((b, k), cdt)
    u = np.empty((b, k), cdt)
    gu = np.empty((b, k), cdt)
    if big:
        a_re, a_im = alpha.real.astype(rdt), alpha.imag.astype(rdt)
        b_re, b_im = beta.real.astype(rdt), beta.imag.astype(rdt)
        mag, ang = np.empty((b, k), rdt), np.empty((b, k), rdt)
    else:
        alpha, beta = alpha.astype(cdt), beta.astype(cdt)
    block = 128
    for start in range(0, n_steps, block):
        m = min(block, n_steps - start)
        # forcing of this block: dt F(t_mid) + uniform noise with the Wiener increment's variance
        force = rng.random((m, b, k, 2), dtype=rdt)
        force -= 0.5
        force = force.view(cdt)[..., 0]
        force *= noise_scale.astype(rdt)
        if drive is not None:
            # phasors exp(-i (w_d - w_ref) t_mid): exact at the block start, then step by step
            first = amp * np.exp(-1j * ((w_d - w_ref) * (t0 + dt * (start + 0.5)) + ph0))
            tones = np.empty((m,) + first.shape, np.complex128)
            tones[0] = first
            tones[1:] = step_phasor
            np.cumprod(tones, axis=0, out=tones)
            force += (dt * tones.sum(-1)[..., None] * op.drive_coupling).astype(cdt)
        for n in range(m):
            np.abs(c, out=p)
            p *= p
            if big:
                np.multiply(b_re, p, out=mag)
                np.subtract(a_re, mag, out=mag)
                np.exp(mag, out=mag)
                np.multiply(b_im, p, out=ang)
                np.subtract(a_im, ang, out=ang)
                np.cos(ang, out=h.real)
                np.sin(ang, out=h.imag)
                h *= mag
            else:
                np.multiply(beta, p, out=h)
                np.subtract(alpha, h, out=h)
                np.exp(h, out=h)
            np.multiply(h, c, out=u)  # amplitudes at mid-step
            f = force[n]
            if coupled:  # every pillar feels the others' emission (its own is in h)
                np.multiply(gain, u, out=gu)
                total = gu.sum(axis=1, keepdims=True)
                np.subtract(total, gu, out=gu)
                gu *= kappa
                f = f + gu
            np.add(u, f, out=c)
            c *= h
            i = start + n + 1
            if i % record_every == 0 and i // record_every <= n_rec:
                rec[i // record_every - 1] = c
    t_end = t0 + n_steps * dt
    final = OscillatorState(t_end, c.astype(np.complex128) * np.exp(-1j * w_ref * t_end))
    return Trajectory(t0, dt, record_every, f_ref, rec, op, final)


def with_temperature(devices: VortexMTJ, temperature: float) -> VortexMTJ:
    """Same devices at another temperature (e.g. 0 K for noise-free reference runs)."""
    return replace(devices, temperature=np.broadcast_to(temperature, np.shape(devices.radius)).copy()
                   if np.ndim(devices.radius) else temperature)
