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
    ("stno_vowel_recognition", {}),  # the full data set (37 talkers, 8 epochs)
)


def earlier_demo(out_dir: str | Path) -> list[Path]:
    """The runs, figures and verdict an earlier tour left in ``out_dir``."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    found = []
    for name, _ in TOUR:
        found += [out_dir / f"{name}.h5", *sorted(out_dir.glob(f"{name}_*.png"))]
    found += [out_dir / "summary.md", out_dir / "summary.json"]
    return [p for p in found if p.exists()]


def run_demo(out_dir: str | Path, report: Callable[[str], None] | None = None,
             progress: bool | None = None, *, force: bool = False) -> int:
    """Run the tour into ``out_dir``; returns the number of runs that failed.

    An earlier tour's files there are replaced only with ``force`` (FileExistsError otherwise): they
    may be the runs someone kept. One bar follows the tour, one the step under way (on a terminal or
    in Jupyter; ``progress`` forces them on or off); ``report`` receives a line per finished step
    (default: printed beside the bars), then the verdict (:mod:`labctl.verdict`: headline numbers
    next to the papers', also saved as ``summary.md`` and ``summary.json``). An aborted run (Ctrl-C)
    is saved with its figure, then ends the tour with ``KeyboardInterrupt``.
    """
    from labctl.plotting import save_figures
    from labctl.progress import RunProgress, bar
    from labctl.protocol import get_protocol
    from labctl.results import open_run
    from labctl.runner import Runner
    from labctl.station import Station
    from labctl.verdict import markdown, verdict, write_summary

    out_dir = Path(out_dir)
    earlier = earlier_demo(out_dir)
    if earlier and not force:
        names = ", ".join(p.name for p in earlier[:3]) + (", ..." if len(earlier) > 3 else "")
        raise FileExistsError(f"{out_dir} holds an earlier demo ({names}): give another --out-dir, "
                              "or --force to replace it")
    for path in earlier:
        path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    with bar("labctl demo", len(TOUR), enabled=progress, unit="run", position=0) as tour:
        say = report or (tour.write if not tour.disable else print)
        for name, params in TOUR:
            tour.set_postfix_str(name)
            path = out_dir / f"{name}.h5"
            path.unlink(missing_ok=True)  # written by this tour (a step run twice): earlier ones are gone
            cls = get_protocol(name)
            runner = Runner(cls(**params), Station.load(cls.STATION), path)
            runner.prepare()
            with RunProgress(name, enabled=not tour.disable, position=1, leave=False,
                             points=lambda r=runner: r.writer.n_points) as step:
                runner.on_progress = step
                result = runner.run()
            failures += result.status != "completed"
            with open_run(path) as run:
                figures = save_figures(run, out_dir, cls)
            say(f"{result.status:9s} {name:28s} {result.points:5d} points -> {path}"
                + "".join(f"\n{'':10s}{'':28s} figure -> {f}" for f in figures))
            tour.update(1)
            if result.status == "aborted":  # Ctrl-C ends the tour, not just the step it landed in
                raise KeyboardInterrupt
    rows = verdict(out_dir)
    md, js = write_summary(out_dir, rows)
    (report or print)("\nThe verdict (" + f"{md}, {js}):\n" + markdown(rows).rstrip())
    return failures
