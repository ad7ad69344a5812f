"""The simulator's commands in the ``labctl`` CLI: ``labctl bench list|show``.

Contributed through the ``labctl.commands`` entry-point group (see pyproject.toml), so the core CLI
never imports the simulator: :func:`register` adds its sub-commands to ``labctl``'s parser.
"""

from __future__ import annotations

import argparse

from labctl.cli import UsageError


def register(commands: argparse._SubParsersAction) -> None:
    s = commands.add_parser("bench", help="simulated benches (the @labsim pyvisa backend)")
    sub = s.add_subparsers(dest="bench_cmd", required=True, metavar="SUBCOMMAND")
    sub.add_parser("list", help="shipped bench files")
    b = sub.add_parser("show", help="devices, resources and emulator models of a bench file")
    b.add_argument("file", help="bench YAML path or shipped bench name (demo.yaml)")
    s.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from labctl.sim_backends import bench_file

    if args.bench_cmd == "list":
        for path in bench_file.shipped_benches():
            info = bench_file.describe(path)
            print(f"{path.name:<20} {info['bench']}  seed {info['seed']}  "
                  f"{len(info['resources'])} resources")
        return 0
    try:
        info = bench_file.describe(bench_file.resolve(args.file))
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    print(f"{info['path']}")
    print(f"  bench: {info['bench']}  seed: {info['seed']}")
    if info.get("params"):
        print("  params: " + ", ".join(f"{k}={v}" for k, v in info["params"].items()))
    for r in info["resources"]:
        print(f"  {r['resource']:<40} {r['device']:<16} {r['model'] or '(static mock)'}")
    return 0
