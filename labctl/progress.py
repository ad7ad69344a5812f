"""Progress of runs and of the demo, through ``tqdm.auto``.

One library for every place a run is watched from: a self-rewriting bar on a terminal, a widget in
Jupyter, nothing when output goes to a file or a pipe (tqdm's own test) or when the user asks for quiet.
The bar follows the percent a protocol reports (:meth:`labctl.protocol.Protocol.progress`), shows the
points recorded so far, and tqdm extrapolates the remaining time from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["RunProgress", "bar"]

# tqdm writes the postfix as ", TEXT": it goes where tqdm's own rate would, after the times
_RUN_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"


def bar(desc: str, total: float, *, enabled: bool | None = None, file: Any = None, leave: bool = True,
        position: int | None = None, unit: str = "it", bar_format: str | None = None):
    """A ``tqdm.auto`` bar; ``enabled=None`` shows it only on a terminal (or in a notebook)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=None if enabled is None else not enabled, file=file,
                leave=leave, position=position, unit=unit, bar_format=bar_format, dynamic_ncols=True)


class RunProgress:
    """A run's ``on_progress(percent)`` callback drawing one bar (see :class:`labctl.runner.Runner`).

    ``points`` returns how many points the run has recorded (shown beside the bar).
    """

    def __init__(self, desc: str, *, enabled: bool | None = None, file: Any = None, leave: bool = True,
                 position: int | None = None, points: Callable[[], int] | None = None):
        self.bar = bar(desc, 100.0, enabled=enabled, file=file, leave=leave, position=position,
                       bar_format=_RUN_FORMAT)
        self.points = points or (lambda: 0)
        self.bar.set_postfix_str("0 pts", refresh=False)

    @property
    def shown(self) -> bool:
        return not self.bar.disable

    def __call__(self, percent: float) -> None:
        if self.bar.disable:
            return
        percent = min(max(float(percent), 0.0), 100.0)
        self.bar.set_postfix_str(f"{self.points()} pts", refresh=False)
        self.bar.update(percent - self.bar.n)

    def close(self) -> None:
        if not self.bar.disable:
            self.bar.set_postfix_str(f"{self.points()} pts", refresh=False)
            self.bar.refresh()
        self.bar.close()

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
