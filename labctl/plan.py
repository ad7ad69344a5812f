"""A run's plan against the station's limits, checked before anything is connected or written.

The guard around each driver (:mod:`labctl.limits`) refuses a value when it is sent; by then a sweep
may have taken half its points. A protocol therefore declares what it will set
(:meth:`labctl.protocol.Protocol.plan`): for each limited setting, named as in a station file
(``role.property`` or ``role.method.argument``), the values it will take, worked out from the
parameters. :func:`check_plan` holds those values against the station's limits; the runner refuses a
plan that breaks one before the run starts, and ``labctl run --dry-run`` prints the whole table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labctl.errors import LimitError
from labctl.units import UnitsError

__all__ = ["Check", "Planned", "check_plan", "plan_table", "refuse"]


@dataclass(frozen=True)
class Planned:
    """The values one setting will take (their extremes suffice for bounds), the largest change
    between two successive sets when the protocol bounds it, and the parameters they come from."""

    values: Sequence[float]
    step: float | None = None
    source: tuple[str, ...] = ()
    units: str = ""

    @property
    def low(self) -> float:
        return float(np.min(self.values))

    @property
    def high(self) -> float:
        return float(np.max(self.values))


@dataclass
class Check:
    """One planned setting against the station limit that covers it (``limit`` None: none does)."""

    setting: str
    planned: Planned
    limit: Any = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        """``smu.source_voltage = 5 V (v_stop) refused: station limit |source_voltage| <= 2 V``."""
        where = f" ({', '.join(self.planned.source)})" if self.planned.source else ""
        return f"{self.setting} = {'; '.join(self.problems)}{where} refused: station limit {self.limit.describe()}"


def _fmt(x: float, units: str) -> str:
    return f"{x:g} {units}".rstrip()


def _covering(role_limits: Iterable[Any], attr: str) -> Any:
    """The role's limit on ``attr`` (a property, or ``method.argument``); a property limit also covers
    any method argument of the same name, as the guard does."""
    limits = list(role_limits)
    for lim in limits:
        if lim.name == attr:
            return lim
    leaf = attr.rpartition(".")[2]
    for lim in limits:
        if "." not in lim.name and lim.name == leaf:
            return lim
    return None


def check_plan(plan: Mapping[str, Planned], station: Any) -> list[Check]:
    """Every planned setting held against the limits of ``station`` (a :class:`labctl.station.Station`)."""
    checks = []
    for setting, planned in plan.items():
        role, _, attr = setting.partition(".")
        spec = station.roles.get(role)
        lim = _covering(spec.limits, attr) if spec is not None else None
        if lim is not None and planned.units and lim.units:
            try:  # held in the plan's units (a limit in mA on a current planned in A)
                lim = lim.expressed_in(planned.units)
            except UnitsError as exc:
                checks.append(Check(setting, planned, lim, [f"in {planned.units}, which the limit's "
                                                           f"{lim.units} cannot be compared with ({exc})"]))
                continue
        check = Check(setting, planned, lim)
        if lim is not None and len(planned.values):
            u = planned.units or lim.units
            lo, hi = planned.low, planned.high
            if lim.abs is not None and max(abs(lo), abs(hi)) > lim.abs:
                check.problems.append(_fmt(hi if abs(hi) >= abs(lo) else lo, u))
            if lim.min is not None and lo < lim.min:
                check.problems.append(_fmt(lo, u))
            if lim.max is not None and hi > lim.max:
                check.problems.append(_fmt(hi, u))
            if lim.step is not None and planned.step is not None and planned.step > lim.step:
                check.problems.append(f"steps of {_fmt(planned.step, u)}")
            check.problems = list(dict.fromkeys(check.problems))
        checks.append(check)
    return checks


def refuse(checks: Iterable[Check]) -> None:
    """LimitError naming the first planned setting that breaks a limit (one line)."""
    bad = [c for c in checks if not c.ok]
    if bad:
        more = f" (and {len(bad) - 1} more: labctl run --dry-run lists them)" if len(bad) > 1 else ""
        raise LimitError(f"plan refused before the run: {bad[0].line()}{more}")


def plan_table(checks: Sequence[Check]) -> list[str]:
    """The plan as lines: setting, planned range, where it comes from, the limit, verdict."""
    rows = []
    for c in checks:
        p, u = c.planned, c.planned.units or (c.limit.units if c.limit is not None else "")
        span = _fmt(p.low, u) if p.low == p.high else f"{p.low:g} .. {_fmt(p.high, u)}"
        if p.step is not None:
            span += f", steps <= {_fmt(p.step, u)}"
        limit = c.limit.describe() if c.limit is not None else "no station limit"
        verdict = "ok" if c.ok else "REFUSED"
        rows.append((c.setting, span, ", ".join(p.source), limit, verdict))
    widths = [max((len(r[k]) for r in rows), default=0) for k in range(4)]
    return ["  ".join(f"{r[k]:<{widths[k]}}" for k in range(4)) + f"  {r[4]}" for r in rows]
