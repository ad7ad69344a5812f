"""Compact model of TiN/HfO2/Ti 1T1R RRAM cells, vectorized over devices.

State variable: the gap ``g`` between the conductive-filament tip and the Ti electrode, as in the
Stanford/PKU compact model (X. Guan, S. Yu, H.-S. P. Wong, "A SPICE compact model of metal oxide
resistive switching memory with variations", IEEE EDL 33(10), 1405 (2012); Z. Jiang et al., "A compact
model for metal-oxide resistive random access memory with experiment verification", IEEE TED 63(5),
1884 (2016))::

    I_cell = I0 exp(-g/g0) sinh(V/V0)                                   (tunnelling across the gap)
    dg/dt  = -v0 exp(-Ea/kT) sinh(gamma a0 q V / (L kT)),  gamma = gamma0 - beta (g/g1)^3
    T      = T0 + Rth |V I_cell|                                        (quasi-static Joule heating)

V > 0 (top electrode positive) shrinks the gap (SET/forming), V < 0 opens it (RESET).  Published
values kept: g0 = 0.25 nm, a0 = 0.25 nm, gamma0 = 16, beta = 0.8, g1 = 1 nm, I0 = 1 mA.  Refitted for
this stack (documented where defined): V0 (LRS nearly ohmic), Ea / v0 (oxygen-vacancy hopping, ~1 eV
with a0 x attempt frequency), L (effective switching length) and Rth (filament thermal resistance,
1e6 K/W, cf. D. Ielmini, Semicond. Sci. Technol. 31, 063002 (2016)).  The model's own read drift at
0.1 V is neglected: reads do not update the state.

The access NMOS (thick-oxide device of a 130 nm process) is in series; its saturation current is the
compliance: alpha-power law (T. Sakurai, A. R. Newton, IEEE JSSC 25(2), 584 (1990)) with a smooth
sub-threshold onset.  WL from 0.7 V to 1.5 V spans 20-200 uA.  A SET ends where the gap stops moving
under compliance, hence R_LRS ~ V_hold / I_c (Ielmini 2016) without any rule imposing it.

Forming: the pristine oxide breaks down as a Weibull process with an exponential voltage acceleration
(E-model, J. W. McPherson, H. C. Mogul, J. Appl. Phys. 84, 1513 (1998)): hazard rate
exp((V - Vbd)/Vs)/tau_bd, Weibull slope beta_bd.  At breakdown the gap jumps to g_max and the SET
dynamics continue under compliance.  The spread of forming voltages comes from Vbd (oxide thickness
and defect density per device) and the Weibull draw.

Variability (all drawn, never imposed as outcomes):
* device-to-device: Ea, I0, g_max, Vbd, transistor Vth (Pelgrom), wear rates, lifetimes;
* cycle-to-cycle: Ea per pulse; after a SET the filament's defect count is Poisson, N ~ G/G_def
  (S. Ambrogio et al., "Statistical fluctuations in HfOx resistive-switching memory: Part I",
  IEEE TED 61(8), 2912 (2014)), so sigma(ln R_LRS) grows as sqrt(R); after a RESET the gap length
  fluctuates by about one hopping distance (Guan 2012 gap variation), which the exp(-g/g0) law turns
  into a log-normal HRS much wider than the LRS;
* read noise: random-telegraph fluctuation of the read current, relative amplitude ~ sqrt(R)
  (Ambrogio et al., Part II, IEEE TED 61(8), 2920 (2014)).

Endurance (D. Nail et al., IEDM 2016; Y. Y. Chen et al., IEEE TED 59(12), 3243 (2012)): every cycle may
leave oxygen vacancies in the gap region that RESET no longer removes; they accumulate as a Poisson
process with a rate growing with the SET current and add a trap-assisted leakage in parallel with the
gap, so the HRS falls and the window closes.  Hard failures (stuck at LRS, or at HRS when the Ti
reservoir is exhausted) follow a Weibull hazard in cycles.  Both are counted per device from the cycle
count, so a block of 10^6 cycles is one vectorized update (:meth:`RRAMArray.cycle`).

Integration: during a rectangular pulse the gap ODE is autonomous, so each pulse is one vectorized
quadrature of t(g) = int dg / |dg/dt| over a per-device gap grid (:meth:`RRAMArray._evolve`).

What the default parameters give (100 ns pulses; SET 1.8 V on the bit line, RESET 1.4 V on the
source line with WL 3.3 V): R_LRS (0.1 V read) about 70, 22, 9 and 3.5 kohm at 20, 50, 100 and
200 uA, sigma(ln R) 0.5 -> 0.1; HRS about 1 Mohm with sigma(ln R) about 0.5; forming near 3.25 V
for 10 us pulses and 2-2.6 V in a quasi-static sweep, sigma about 0.16 V; the window closes between
10^5 and 10^7 cycles at 100 uA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

K_B_EV = 8.617333262e-5  # Boltzmann constant, eV/K

STUCK_NONE, STUCK_LRS, STUCK_HRS = 0, 1, 2


@dataclass(frozen=True)
class GapModel:
    """Stanford/PKU gap-model parameters (SI units; energies in eV)."""

    i0: float = 1e-3  # current prefactor (A), Jiang 2016
    g0: float = 0.25e-9  # gap decay length of the tunnelling current (m), Jiang 2016
    v_nl: float = 0.4  # I-V non-linearity V0 (V); 0.25 V in Jiang 2016, 0.4 V keeps the LRS ohmic-like
    velocity: float = 2.5e3  # v0 = a0 x 1e13 Hz attempt frequency (m/s)
    ea: float = 1.0  # vacancy hopping barrier (eV)
    a0: float = 0.25e-9  # hopping distance (m), Jiang 2016
    gamma0: float = 16.0  # field enhancement, Jiang 2016
    beta: float = 0.8  # field-enhancement roll-off with gap, Jiang 2016
    g1: float = 1e-9
    length: float = 5e-9  # effective switching length L (m)
    g_min: float = 0.1e-9
    g_max: float = 2.0e-9  # geometric bound of the gap after forming (m)
    t_ambient: float = 300.0
    r_th: float = 1.0e6  # filament thermal resistance (K/W)


@dataclass(frozen=True)
class AccessTransistor:
    """Thick-oxide 130 nm NMOS, alpha-power law (Sakurai-Newton 1990)."""

    vth: float = 0.5  # threshold voltage (V)
    k_sat: float = 2.0e-4  # I_Dsat at 1 V overdrive (A)
    alpha: float = 1.4  # velocity-saturation index
    k_vdsat: float = 0.6  # V_Dsat at 1 V overdrive (V)
    lam: float = 0.05  # channel-length modulation (1/V)
    n_vt: float = 0.067  # 2 n kT/q of the sub-threshold onset (V)
    sigma_vth: float = 0.008  # Pelgrom mismatch A_VT / sqrt(WL) (V)

    def saturation_current(self, vgs, dvth=0.0):
        """Saturation (compliance) current at gate-source voltage ``vgs`` (A)."""
        vov = self.n_vt * np.logaddexp(0.0, (np.asarray(vgs, float) - self.vth - dvth) / self.n_vt)
        return self.k_sat * vov**self.alpha

    def drain_voltage(self, i, vgs, dvth=0.0):
        """Drain-source voltage that carries current ``i`` (A) at ``vgs``: the linear region
        inverted, beyond saturation channel-length modulation (ignored below saturation)."""
        vov = self.n_vt * np.logaddexp(0.0, (np.asarray(vgs, float) - self.vth - dvth) / self.n_vt)
        ratio = np.abs(np.asarray(i, float)) / (self.k_sat * vov**self.alpha)
        vdsat = self.k_vdsat * vov ** (0.5 * self.alpha)
        return np.where(ratio < 1.0, vdsat * (1.0 - np.sqrt(np.maximum(1.0 - ratio, 0.0))),
                        vdsat + (ratio - 1.0) / self.lam)

    def gate_for_current(self, i_c):
        """Gate voltage whose nominal saturation current is ``i_c`` (inverse of the above)."""
        vov = (np.asarray(i_c, float) / self.k_sat) ** (1.0 / self.alpha)
        return self.vth + self.n_vt * np.log(np.expm1(vov / self.n_vt))


@dataclass(frozen=True)
class Variability:
    """Device-to-device (d2d), cycle-to-cycle (c2c) and read-noise amplitudes."""

    ea_d2d: float = 0.015  # sigma of Ea across devices (eV)
    ea_c2c: float = 0.02  # sigma of Ea from pulse to pulse (eV)
    i0_d2d: float = 0.3  # sigma of ln I0 across devices (filament cross-section)
    gmax_d2d: float = 0.08e-9  # sigma of g_max across devices (m)
    g_def: float = 4.0e-6  # conductance per filament defect at read (S): N = G / g_def (Ambrogio 2014)
    gap_c2c: float = 0.14e-9  # sigma of the post-RESET gap, about a0/2 (m) (Guan 2012)
    rtn: float = 0.02  # relative read-current fluctuation at rtn_r (Ambrogio 2014 part II)
    rtn_r: float = 1.0e4
    rtn_max: float = 0.3


@dataclass(frozen=True)
class Forming:
    """Breakdown of the pristine oxide (E-model with Weibull statistics) and its leakage."""

    v_bd: float = 3.5  # voltage at which the characteristic breakdown time is tau_bd (V)
    v_bd_d2d: float = 0.15  # sigma of v_bd across devices (V)
    v_accel: float = 0.08  # voltage e-fold of the breakdown rate (V)
    tau_bd: float = 1e-6  # characteristic breakdown time at v_bd (s)
    weibull: float = 1.5  # Weibull slope of the time to breakdown
    i_leak: float = 2e-9  # pristine trap-assisted leakage prefactor (A)
    v_leak: float = 0.5  # its sinh voltage scale (V)


@dataclass(frozen=True)
class Endurance:
    """Wear per SET/RESET cycle (Nail 2016, Chen 2012)."""

    defect_rate: float = 3e-5  # residual gap defects per cycle at i_ref
    defect_rate_d2d: float = 0.5  # sigma of ln(rate) across devices
    i_trap: float = 4e-8  # trap-assisted leakage prefactor per residual defect (A), same sinh law
    i_ref: float = 1e-4  # reference SET current (A)
    current_exponent: float = 1.5  # wear ~ (I_set / i_ref)^m
    life: float = 3e7  # median Weibull lifetime (cycles) at i_ref
    life_d2d: float = 0.8  # sigma of ln(life) across devices
    life_weibull: float = 1.2  # Weibull shape of hard failures
    stuck_lrs_fraction: float = 0.75  # failures stuck at LRS (rest stuck at HRS)


@dataclass
class PulseResult:
    """Outcome of one pulse on a set of devices (arrays over the addressed devices)."""

    energy: np.ndarray  # energy drawn from the pulsed line, V x integral(I dt) (J)
    current: np.ndarray  # current at the end of the pulse (A)
    cell_voltage: np.ndarray  # |voltage across the cell| at the end of the pulse (V)
    formed_now: np.ndarray  # devices that broke down during this pulse (bool)


def _as_index(idx, n):
    if idx is None:
        return np.arange(n)
    idx = np.asarray(idx)
    if idx.dtype == bool:
        return np.flatnonzero(idx)
    return idx.astype(np.intp).ravel()


class RRAMArray:
    """``n`` independent 1T1R cells with their own (seeded) device parameters and state.

    Pulse convention (die drivers): ``amplitude > 0`` drives the top electrode (bit line) with the
    source line grounded (SET/forming; the transistor's source is grounded, so V_WL sets the
    compliance); ``amplitude < 0`` drives the source line with the bit line grounded (RESET; the
    transistor is source-degenerated).  ``gate=None`` means no transistor (a 1R structure); a
    ``current_limit`` models an SMU compliance in series.
    """

    def __init__(self, n, seed=None, gap=GapModel(), transistor=AccessTransistor(),
                 variability=Variability(), forming=Forming(), endurance=Endurance()):
        self.n = int(n)
        self.gap_model, self.transistor, self.var = gap, transistor, variability
        self.forming_params, self.endurance = forming, endurance
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        d2d, c2c = (np.random.default_rng(s) for s in ss.spawn(2))
        self.rng = c2c
        n = self.n
        # device-to-device parameters, drawn once per die
        self.ea = gap.ea + variability.ea_d2d * d2d.standard_normal(n)
        self.i0 = gap.i0 * np.exp(variability.i0_d2d * d2d.standard_normal(n))
        self.g_max = gap.g_max + variability.gmax_d2d * d2d.standard_normal(n)
        self.dvth = transistor.sigma_vth * d2d.standard_normal(n)
        self.v_bd = forming.v_bd + forming.v_bd_d2d * d2d.standard_normal(n)
        self.h_bd = d2d.exponential(size=n) ** (1.0 / forming.weibull)  # Weibull breakdown budget
        self.wear_rate = endurance.defect_rate * np.exp(
            endurance.defect_rate_d2d * d2d.standard_normal(n))
        self.life = endurance.life * np.exp(endurance.life_d2d * d2d.standard_normal(n))
        self.fail_u = d2d.exponential(size=n)  # hazard budget of the hard failure
        self.fail_kind = np.where(d2d.random(n) < endurance.stuck_lrs_fraction,
                                  STUCK_LRS, STUCK_HRS).astype(np.int8)
        # state
        self.gap = self.g_max.copy()
        self.formed = np.zeros(n, bool)
        self.h = np.zeros(n)  # accumulated breakdown hazard of pristine devices
        self.stuck = np.zeros(n, np.int8)
        self.defects = np.zeros(n)  # residual gap defects (endurance)
        self.cycles = np.zeros(n)
        self.fail_h = np.zeros(n)  # accumulated hard-failure hazard
        self._version = 0
        self._read_cache = {}
        self._tables = {}

    # ----------------------------------------------------------------- conduction
    def _i_scale(self, idx, gap):
        """Prefactor of sinh(V/V0): gap tunnelling plus residual-defect leakage."""
        return self.i0[idx] * np.exp(-gap / self.gap_model.g0) + \
            self.endurance.i_trap * self.defects[idx]

    def _conduction(self, idx):
        """(prefactor, voltage scale) of every addressed device, pristine ones included: a
        pristine oxide only leaks (trap-assisted tunnelling, I = i_leak sinh(V / v_leak))."""
        formed = self.formed[idx]
        scale = np.where(formed, self._i_scale(idx, self.gap[idx]), self.forming_params.i_leak)
        vnl = np.where(formed, self.gap_model.v_nl, self.forming_params.v_leak)
        return scale, vnl

    def resistance(self, idx=None, v_read=0.1):
        """Noise-free cell resistance at ``v_read`` on the cell (ohm)."""
        idx = _as_index(idx, self.n)
        scale, vnl = self._conduction(idx)
        return v_read / (scale * np.sinh(v_read / vnl))

    # ----------------------------------------------------------------- 1T1R circuit
    def _solve(self, a, scale, vnl, vgs0, degen, dvth, i_cc, iters=8):
        """Cell voltage c in [0, a] with I_cell(c) = I_series(c); arrays broadcast together.

        h(c) = I_cell(c) - I_series(c) is increasing, h(0) <= 0 <= h(a): Newton kept inside a
        shrinking bracket (bisection when a step leaves it).
        """
        tr = self.transistor
        has_tr = vgs0 is not None
        lo = np.zeros(np.broadcast(a, scale, dvth).shape)
        cap = np.full_like(lo, np.inf) if i_cc is None else np.broadcast_to(i_cc, lo.shape)
        if has_tr:
            cap = np.minimum(cap, tr.saturation_current(vgs0, dvth) * (1.0 + tr.lam * a))
        hi = np.minimum(a, vnl * np.arcsinh(np.minimum(cap, 1e3) / scale))
        hi = np.broadcast_to(hi, lo.shape).copy()
        if not has_tr:  # ideal series current limit: closed form
            c = hi
            return c, scale * np.sinh(c / vnl)
        c = hi.copy()
        for _ in range(iters):
            sh = np.sinh(c / vnl)
            i_cell = scale * sh
            di_cell = scale * np.sqrt(1.0 + sh * sh) / vnl
            vds = a - c
            vgs = vgs0 - degen * c
            x_ = (vgs - tr.vth - dvth) / tr.n_vt
            vov = tr.n_vt * np.logaddexp(0.0, x_)
            sig = 0.5 * (1.0 + np.tanh(0.5 * x_))
            idsat = tr.k_sat * vov**tr.alpha
            vdsat = tr.k_vdsat * vov ** (0.5 * tr.alpha)
            x = np.minimum(vds / vdsat, 1.0)
            f = x * (2.0 - x)
            clm = 1.0 + tr.lam * vds
            i_d = idsat * f * clm
            d_idsat = tr.alpha * idsat / vov * sig
            d_vdsat = 0.5 * tr.alpha * vdsat / vov * sig
            dfdx = 2.0 - 2.0 * x
            did_dvds = idsat * (dfdx / vdsat * clm + f * tr.lam)
            did_dvgs = (d_idsat * f - idsat * dfdx * x / vdsat * d_vdsat) * clm
            capped = i_d > cap
            i_s = np.where(capped, cap, i_d)
            di_s = np.where(capped, 0.0, -did_dvds - degen * did_dvgs)
            h = i_cell - i_s
            pos = h > 0
            hi = np.where(pos, c, hi)
            lo = np.where(pos, lo, c)
            c_new = c - h / (di_cell - di_s)
            c_new = np.where((c_new > lo) & (c_new < hi), c_new, 0.5 * (lo + hi))
            if np.all(np.abs(c_new - c) < 1e-10):
                c = c_new
                break
            c = c_new
        return c, scale * np.sinh(c / vnl)

    def _table(self, a, ls_lo, ls_hi, vgs0, degen, i_cc):
        """For one drive condition a formed cell's voltage depends only on ln(prefactor) and the
        device's Vth offset: tabulate it on ln(prefactor), with its Vth derivative.  Tables are
        cached per drive condition and cover at least [-20, -4.5] (every gap of the model)."""
        key = (a, vgs0, degen, i_cc)
        hit = self._tables.get(key)
        if hit is not None and hit[0] <= ls_lo and hit[1] >= ls_hi:
            return hit[2]
        lo, hi = min(ls_lo, -20.0), max(ls_hi, -4.5)
        grid = np.arange(lo - 0.05, hi + 0.1, 0.05)
        if vgs0 is None:
            c, _ = self._solve(a, np.exp(grid), self.gap_model.v_nl, None, degen, 0.0, i_cc)
            table = (grid, c, None)
        else:
            d = 0.005
            dv = np.array([0.0, d, -d])[:, None]
            c, _ = self._solve(a, np.exp(grid)[None, :], self.gap_model.v_nl, vgs0, degen, dv,
                               i_cc, iters=14)
            table = (grid, c[0], (c[1] - c[2]) / (2 * d))
        if len(self._tables) > 256:
            self._tables.clear()
        self._tables[key] = (lo, hi, table)
        return table

    def _lookup(self, table, scale, dvth):
        """(cell voltage, current) of formed cells from a :meth:`_table`."""
        grid, c0, slope = table
        ls = np.log(scale)
        c = np.interp(ls, grid, c0)
        if slope is not None:
            c = c + dvth * np.interp(ls, grid, slope)
        return c, scale * np.sinh(c / self.gap_model.v_nl)

    def _cells(self, a, scale, vgs0, degen, dvth, i_cc):
        """(cell voltage, current) of formed cells: solved directly for a few, tabulated for many."""
        if scale.size <= 256:
            return self._solve(a, scale, self.gap_model.v_nl, vgs0, degen, dvth, i_cc, iters=12)
        ls = np.log(scale)
        return self._lookup(self._table(a, ls.min(), ls.max(), vgs0, degen, i_cc), scale, dvth)

    def _operating_point(self, idx, a, vgs0, degen, i_cc):
        """(cell voltage, current) of devices ``idx`` under a constant drive."""
        scale, vnl = self._conduction(idx)
        formed = self.formed[idx]
        c, i = np.zeros(idx.size), np.zeros(idx.size)
        if formed.any():
            c[formed], i[formed] = self._cells(a, scale[formed], vgs0, degen,
                                               self.dvth[idx[formed]], i_cc)
        if not formed.all():
            p = ~formed
            c[p], i[p] = self._solve(a, scale[p], vnl[p], vgs0, degen, self.dvth[idx[p]], i_cc)
        return c, i

    def _drive(self, idx, amplitude, gate, source_grounded):
        """(|applied voltage|, V_GS at zero cell voltage, source degeneration) of a pulse."""
        a = abs(float(amplitude))
        if gate is None:
            return a, None, 0.0
        if amplitude >= 0:
            return a, float(gate), 0.0
        # RESET polarity: the transistor source is the cell's bottom node
        return a, float(gate) + (a if source_grounded else 0.0), 1.0

    # ----------------------------------------------------------------- pulses
    def apply_pulse(self, idx, amplitude, width, gate=None, current_limit=None,
                    source_grounded=False):
        """Apply one rectangular pulse to devices ``idx``; returns a :class:`PulseResult`.

        Pristine devices accumulate breakdown hazard (and form when it exceeds their Weibull
        budget, the rest of the pulse then acting as a SET); formed, non-stuck devices move their
        gap (:meth:`_evolve`).  A quasi-static I-V step is a pulse as long as the dwell time.
        """
        idx = _as_index(idx, self.n)
        m = idx.size
        a, vgs0, degen = self._drive(idx, amplitude, gate, source_grounded)
        width = float(width)
        energy = np.zeros(m)
        formed_now = np.zeros(m, bool)
        if m == 0 or a == 0.0 or width <= 0.0:
            cur = np.zeros(m)
            return PulseResult(energy, cur, np.zeros(m), formed_now)
        self._version += 1
        t_left = np.full(m, width)
        # pristine devices: leakage and breakdown hazard
        pristine = ~self.formed[idx]
        if pristine.any():
            p = idx[pristine]
            fp = self.forming_params
            rate = np.exp((a - self.v_bd[p]) / fp.v_accel) / fp.tau_bd
            t_bd = (self.h_bd[p] - self.h[p]) / rate
            breaks = t_bd <= width
            self.h[p] = np.where(breaks, self.h_bd[p], self.h[p] + rate * width)
            scale, vnl = self._conduction(p)
            dv = self.dvth[p]
            c, i = self._solve(a, scale, vnl, vgs0, degen, dv, current_limit)
            t_pre = np.where(breaks, t_bd, width)
            energy[pristine] = a * i * t_pre
            t_left[pristine] = width - t_pre
            bi = p[breaks]
            self.formed[bi] = True
            self.gap[bi] = self.g_max[bi]
            formed_now[np.flatnonzero(pristine)[breaks]] = True
        move = self.formed[idx] & (self.stuck[idx] == STUCK_NONE) & (t_left > 0)
        if move.any():
            mi = np.flatnonzero(move)
            e, switched = self._evolve(idx[mi], a, np.sign(amplitude), t_left[mi], vgs0, degen,
                                       current_limit)
            energy[mi] += e
        # end-of-pulse operating point
        c, cur = self._operating_point(idx, a, vgs0, degen, current_limit)
        idle = self.formed[idx] & ~move  # stuck devices conduct for the whole pulse
        energy[idle] += a * cur[idle] * t_left[idle]
        return PulseResult(energy, cur, c, formed_now)

    def _evolve(self, idx, a, sign, t_pulse, vgs0, degen, i_cc, nodes=24):
        """Move the gaps of formed devices through one pulse; returns (energy, switched).

        The gap ODE is autonomous during a rectangular pulse, so rather than stepping in time we
        integrate t(g) = int dg / |dg/dt| on a per-device grid from the present gap to its bound,
        with ln|dg/dt| and ln I linear between nodes (exact exponential integrals per interval);
        the end of the pulse is then located analytically inside its interval.  No stiffness, no
        time-step limit, one vectorized pass.
        """
        gm, var = self.gap_model, self.var
        m = idx.size
        rows = np.arange(m)
        g_start = self.gap[idx]
        bound = np.broadcast_to(gm.g_min if sign > 0 else self.g_max[idx], (m,))
        ea = self.ea[idx] + var.ea_c2c * self.rng.standard_normal(m)
        n = nodes - 1
        g = g_start[:, None] + (bound - g_start)[:, None] * (np.arange(nodes) / n)[None, :]
        scale = self._i_scale(idx[:, None], g)
        c, i = self._cells(a, scale, vgs0, degen, self.dvth[idx][:, None], i_cc)
        kt = K_B_EV * (gm.t_ambient + gm.r_th * c * i)
        gamma = np.maximum(gm.gamma0 - gm.beta * (g / gm.g1) ** 3, 0.0)
        lr = np.maximum(np.log(gm.velocity) - ea[:, None] / kt
                        + _log_sinh(gamma * (gm.a0 / gm.length) * c / kt), -700.0)
        li = np.log(np.maximum(i, 1e-300))
        ds = (np.abs(bound - g_start) / n)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            kappa = np.where(ds > 0, np.diff(lr, axis=1) / ds, 0.0)
            nu = np.where(ds > 0, np.diff(li, axis=1) / ds, 0.0)
        inv_r = np.exp(-lr[:, :-1])
        dt = ds * inv_r * _phi(-kappa * ds)  # time to cross each interval
        cum = np.cumsum(dt, axis=1)
        k = np.sum(cum <= t_pulse[:, None], axis=1)  # intervals completed
        done = k == n
        kk = np.minimum(k, n - 1)
        t_before = np.where(k > 0, cum[rows, np.maximum(k - 1, 0)], 0.0)
        # distance x into interval kk reached in the remaining time tau
        tau = np.where(done, 0.0, t_pulse - t_before)
        kap = kappa[rows, kk]
        u = tau / inv_r[rows, kk]
        z = np.minimum(kap * u, 1.0 - 1e-15)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(np.abs(z) < 1e-9, u, -np.log1p(-z) / np.where(kap != 0, kap, 1.0))
        x = np.where(done, 0.0, np.clip(x, 0.0, ds[:, 0]))
        g_end = np.where(done, bound, g[rows, kk] + np.sign(bound - g_start) * x)
        # energy: V x integral(I dt) over the completed intervals, the partial one, and the
        # time spent at the bound
        q_int = ds * np.exp(li[:, :-1]) * inv_r * _phi((nu - kappa) * ds)
        q = np.sum(np.where(np.arange(n)[None, :] < k[:, None], q_int, 0.0), axis=1)
        q += np.exp(li[rows, kk]) * inv_r[rows, kk] * x * _phi((nu[rows, kk] - kap) * x)
        i_end = np.where(done, i[:, -1], np.exp(li[rows, kk] + nu[rows, kk] * x))
        q += np.where(done, i[:, -1] * np.maximum(t_pulse - cum[:, -1], 0.0), 0.0)
        energy = a * q
        moved = np.abs(g_end - g_start)
        w = -np.expm1(-moved / gm.a0)  # weight of a real switching event (0: nothing moved)
        if sign > 0:  # Poisson count of defects in the new filament (Ambrogio 2014)
            g_read = self._i_scale(idx, g_end) * np.sinh(0.1 / gm.v_nl) / 0.1
            n_def = np.maximum(g_read / var.g_def, 1.0)
            g_end = g_end - gm.g0 * np.sqrt(w / n_def) * self.rng.standard_normal(m)
        else:  # position of the last vacancy at rupture (Guan 2012)
            g_end = g_end + var.gap_c2c * np.sqrt(w) * self.rng.standard_normal(m)
        self.gap[idx] = np.clip(g_end, gm.g_min, self.g_max[idx])
        switched = w > 0.5
        if sign > 0 and switched.any():
            self._wear(idx[switched], 1.0, i_end[switched])
        return energy, switched

    # ----------------------------------------------------------------- endurance
    def _wear(self, idx, n_cycles, i_set):
        """Advance ``n_cycles`` SET/RESET cycles of wear at SET current ``i_set`` (vectorized)."""
        en = self.endurance
        accel = (np.maximum(i_set, 1e-9) / en.i_ref) ** en.current_exponent
        self.defects[idx] += self.rng.poisson(self.wear_rate[idx] * accel * n_cycles)
        n0 = self.cycles[idx]
        n1 = n0 + n_cycles
        life = self.life[idx] / accel
        self.fail_h[idx] += (n1 / life) ** en.life_weibull - (n0 / life) ** en.life_weibull
        self.cycles[idx] = n1
        fails = (self.fail_h[idx] >= self.fail_u[idx]) & (self.stuck[idx] == STUCK_NONE)
        if fails.any():
            f = idx[fails]
            kind = self.fail_kind[f]
            self.stuck[f] = kind
            self.gap[f] = np.where(kind == STUCK_LRS, self.gap_model.g_min, self.g_max[f])
        self._version += 1

    def cycle(self, n_cycles, set_pulse, reset_pulse, idx=None):
        """Run ``n_cycles`` SET/RESET cycles on ``idx``; returns the energy per device (J).

        The first and the last cycle are simulated pulse by pulse; the ``n_cycles - 2`` between them
        are one statistical wear update at the first cycle's SET current (their energy is the first
        cycle's). The state left behind (HRS after the final RESET) so carries both wear and
        cycle-to-cycle variability. ``set_pulse`` / ``reset_pulse`` are dicts of
        :meth:`apply_pulse` keyword arguments.
        """
        idx = _as_index(idx, self.n)
        n_cycles = int(n_cycles)
        if n_cycles <= 0:
            return np.zeros(idx.size)
        s = self.apply_pulse(idx, **set_pulse)
        r = self.apply_pulse(idx, **reset_pulse)
        e_cycle = s.energy + r.energy
        if n_cycles > 1:
            live = self.stuck[idx] == STUCK_NONE
            if n_cycles > 2:
                self._wear(idx[live], n_cycles - 2, s.current[live])
            s2 = self.apply_pulse(idx, **set_pulse)
            r2 = self.apply_pulse(idx, **reset_pulse)
            return e_cycle * (n_cycles - 1) + s2.energy + r2.energy
        return e_cycle

    # ----------------------------------------------------------------- reads
    def read_current(self, idx=None, v_read=0.1, gate=2.5, n_reads=1):
        """Read currents through the 1T1R branches, shape (n_reads, len(idx)) (A).

        The operating point is solved once per state and cached; each read draws its own
        random-telegraph fluctuation, sigma = rtn sqrt(R / rtn_r) (capped).
        """
        idx = _as_index(idx, self.n)
        key = (float(v_read), None if gate is None else float(gate))
        cached = self._read_cache.get(key)
        if cached is None or cached[0] != self._version:
            all_idx = np.arange(self.n)
            a, vgs0, degen = self._drive(all_idx, v_read, gate, False)
            _, i = self._operating_point(all_idx, a, vgs0, degen, None)
            r = v_read / np.maximum(i, 1e-30)
            sigma = np.minimum(self.var.rtn * np.sqrt(r / self.var.rtn_r), self.var.rtn_max)
            cached = (self._version, i, sigma)
            self._read_cache[key] = cached
        i, sigma = cached[1][idx], cached[2][idx]
        xi = self.rng.standard_normal((int(n_reads), idx.size))
        return i * np.exp(sigma * xi)

    def reference_current(self, r_ref, v_read=0.1, gate=2.5):
        """Read current of a linear reference resistor behind a nominal access transistor (A)."""
        v_lin = 100.0  # sinh(V / v_lin) is linear at read biases
        a, vgs0, degen = self._drive(None, v_read, gate, False)
        _, i = self._solve(a, np.atleast_1d(v_lin / float(r_ref)), v_lin, vgs0, degen, 0.0, None,
                           iters=20)
        return float(i[0])

    def read_resistance(self, idx=None, v_read=0.1, n_reads=1):
        """Measured cell resistance (ohm) with read noise, shape (n_reads, len(idx))."""
        idx = _as_index(idx, self.n)
        r = self.resistance(idx, v_read)
        sigma = np.minimum(self.var.rtn * np.sqrt(r / self.var.rtn_r), self.var.rtn_max)
        return r * np.exp(sigma * self.rng.standard_normal((int(n_reads), idx.size)))


def _phi(y):
    """(exp(y) - 1) / y, 1 at y = 0, overflow-safe for the large y of fast intervals."""
    y = np.asarray(y, float)
    small = np.abs(y) < 1e-8
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        out = np.expm1(np.minimum(y, 700.0)) / np.where(small, 1.0, y)
    return np.where(small, 1.0 + 0.5 * y, out)


def _log_sinh(x):
    """log(sinh(x)) for x >= 0 without overflow (-inf at 0)."""
    x = np.asarray(x, float)
    with np.errstate(divide="ignore"):
        return x + np.log1p(-np.exp(-2.0 * x)) - np.log(2.0)
