"""``labctl demo``: the paper's experiments, one after the other, on the simulated lab.

Each step is an ordinary protocol run on its default (simulated) station, written to its own
NeXus file with its figure, so the tour shows exactly what a lab user gets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

#: (protocol name, parameters): the RRAM die first, then the oscillators.
TOUR: tuple[tuple[str, dict[str, str]], ...] = (
    ("demo_iv", {}),
    ("rram_iv_sweep", {}),
    ("rram_form_array", {}),
    ("rram_bit_error_rate", {}),
    ("rram_endurance", {}),
    ("rram_bnn_inference", {}),
    ("stno_frequency_vs_current", {}),
    ("stno_injection_locking", {}),
    ("stno_mutual_sync", {}),
    ("stno_vowel_recognition", {"epochs": "3", "speakers": "24"}),  # the full data set: ~70 s
)


def run_demo(out_dir: str | Path, report: Callable[[str], None] = print) -> int:
    """Run the tour into ``out_dir``; returns the number of runs that failed.

    An aborted run (Ctrl-C) is saved with its figure, then ends the tour with ``KeyboardInterrupt``.
    """
    from labctl.plotting import save_figures
    from labctl.protocol import get_protocol
    from labctl.results import open_run
    from labctl.runner import run_protocol

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    for name, params in TOUR:
        path = out_dir / f"{name}.h5"
        path.unlink(missing_ok=True)
        result = run_protocol(name, path, **params)
        failures += result.status != "completed"
        with open_run(path) as run:
            figures = save_figures(run, out_dir, get_protocol(name))
        report(f"{result.status:9s} {name:28s} {result.points:5d} points -> {path}"
               + "".join(f"\n{'':10s}{'':28s} figure -> {f}" for f in figures))
        if result.status == "aborted":  # Ctrl-C ends the tour, not just the step it landed in
            raise KeyboardInterrupt
    return failures
