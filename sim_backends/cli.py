"""The simulator's commands in the ``labctl`` CLI: ``labctl bench list|show``, ``labctl sim serve``.

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
    b = sub.add_parser("show", help="devices, resources, emulator models and served ports of a bench file")
    b.add_argument("file", help="bench YAML path or shipped bench name (demo.yaml)")
    b.add_argument("--port", type=int, default=None,
                   help="base port of `labctl sim serve` to list the served resources for (default 5025)")
    s.set_defaults(func=cmd_bench)

    from labctl.sim_backends.serve_command import add_arguments, cmd_serve

    s = commands.add_parser("sim", help="the simulated lab on the network")
    sub = s.add_subparsers(dest="sim_cmd", required=True, metavar="SUBCOMMAND")
    serve = sub.add_parser("serve", help="serve every emulated instrument of a bench as raw SCPI over TCP, "
                                         "with a JSON-lines control port")
    add_arguments(serve)
    serve.set_defaults(func=cmd_serve)


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
    from labctl.sim_backends.served import DEFAULT_PORT, served_resources

    served = {r["resource"]: r for r in served_resources(info["path"], base_port=args.port or DEFAULT_PORT)}
    for r in info["resources"]:
        where = f"  served at {served[r['resource']]['socket']}" if r["resource"] in served else ""
        options = " ".join(f"{k}={v}" for k, v in r["options"].items())
        print(f"  {r['resource']:<40} {r['device']:<16} {r['model'] or '(static mock)'}"
              f"{f' [{options}]' if options else ''}{where}")
    if served:
        print(f"  (`labctl sim serve {args.file} --port {args.port or DEFAULT_PORT}`; control port "
              f"{(args.port or DEFAULT_PORT) - 1})")
    return 0
