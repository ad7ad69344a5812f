"""``labctl campaign``, and what ``labctl show``/``labctl plot`` do with a campaign file.

Exit codes: 0 every run completed, 1 some runs did not complete (see ``labctl show``), 130 stopped
by Ctrl-C, 2 bad input (one line, file:line where there is one; nothing written).
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["plot_campaign", "register", "show_campaign"]


def register(sub) -> None:
    """Add ``labctl campaign`` to the CLI's subcommands (the ``labctl.commands`` entry point)."""
    s = sub.add_parser("campaign", help="run a study: a protocol over a grid and chip instances, on Dask",
                       description="Run (or resume) a campaign spec: one run per grid point and chip, on a "
                                   "dask.distributed cluster, into one folder with a campaign file that "
                                   "links and summarizes the runs. Shipped studies: "
                                   + ", ".join(_study_names()) + ".")
    s.add_argument("spec", help="campaign spec (YAML) or the name of a shipped study")
    s.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="an existing dask scheduler (default: a local cluster of worker processes)")
    s.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: one per core)")
    s.add_argument("--out", metavar="DIR", help="campaign folder (default: ./NAME of the spec)")
    s.add_argument("--dry-run", action="store_true", help="check the spec and print the plan; run nothing")
    s.set_defaults(func=cmd_campaign)


def _study_names() -> list[str]:
    from labctl.studies import shipped_studies

    return [p.stem for p in shipped_studies()]


def cmd_campaign(args) -> int:
    from labctl.campaign import CampaignError, run_campaign
    from labctl.campaign_spec import SpecError, load_spec
    from labctl.cli import UsageError

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    if args.scheduler and args.workers:
        raise UsageError("--workers starts a local cluster; with --scheduler the cluster's workers run the tasks")
    try:
        spec = load_spec(args.spec)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    if args.dry_run:
        return _print_plan(spec, Path(args.out or spec.name))
    try:
        campaign = run_campaign(spec, out=args.out, scheduler=args.scheduler, workers=args.workers,
                                progress=False if getattr(args, "quiet", False) else None)
    except (SpecError, CampaignError) as exc:
        raise UsageError(str(exc)) from None
    print(campaign.report())
    where = f"campaign file: {campaign.path}" + (f"\nfigure:        {campaign.figure}" if campaign.figure else "")
    print(where)
    if campaign.status == "interrupted":
        print("interrupted: run the same command again to resume", file=sys.stderr)
    elif campaign.status != "completed":
        print(f"some runs did not complete: labctl show {campaign.path}; run the same command again "
              "to run them again", file=sys.stderr)
    return campaign.exit_code


def _print_plan(spec, folder: Path) -> int:
    from labctl.campaign_spec import count_chips
    from labctl.results import open_run

    tasks = spec.tasks()
    done = 0
    for t in tasks:
        f = folder / t.file
        if f.exists():
            try:
                with open_run(f) as run:
                    done += run.status == "completed"
            except (OSError, ValueError, KeyError):
                pass
    grid = ", ".join(f"{k} x{len(v)}" for k, v in spec.grid.items()) or "no grid"
    chips = count_chips([c.label for c in spec.chips])
    print(f"{spec.name}: {spec.protocol} on station {spec.station_name}; {grid}; {chips} "
          f"-> {len(tasks)} runs, {done} already completed in {folder}")
    return 0


def show_campaign(path: str) -> int:
    from labctl.campaign_index import open_campaign
    from labctl.campaign_report import describe

    print(describe(open_campaign(path)))
    return 0


def plot_campaign(path: str, out_dir: str | None) -> int:
    from labctl.campaign_index import open_campaign
    from labctl.campaign_report import campaign_figure

    index = open_campaign(path)
    if not index.headlines:
        print(f"{path}: the protocol declares no headline scalars: nothing to plot", file=sys.stderr)
        return 0
    folder = Path(out_dir) if out_dir else Path(path).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{Path(path).stem}_summary.png"
    campaign_figure(index).savefig(png, dpi=110)
    print(png)
    return 0
