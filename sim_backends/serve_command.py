"""``labctl sim serve BENCH.yaml``: the command-line face of :mod:`labctl.sim_backends.served`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from labctl.sim_backends.faults import FaultRates
from labctl.sim_backends.served import DEFAULT_PORT, LOOPBACK, MAX_BLOCK, MAX_LINE, BenchServer, is_loopback, serve


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bench", help="bench YAML path or shipped bench name (rram.yaml)")
    p.add_argument("--host", default=LOOPBACK,
                   help="address the instruments listen on (default %(default)s; another address is "
                        "reachable by anyone on that network, without authentication)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help="port of the first instrument; the others follow in bench-file order (default "
                        "%(default)s; 0: any free ports)")
    p.add_argument("--control-port", type=int, default=None,
                   help="loopback JSON-lines control port (default: the port before the first instrument)")
    p.add_argument("--wall-clock", action="store_true",
                   help="run the bench clock on wall time (for clients that know nothing of bench time)")
    p.add_argument("--faults", default="", metavar="KIND=RATE,...",
                   help="fault rates for every instrument, e.g. no_reply=0.01,latency=0.05,latency_s=0.2 "
                        "(kinds: latency, no_reply, garbled, disconnect, error)")
    p.add_argument("--fault-seed", type=int, default=None, help="seed of the fault sequences")
    p.add_argument("--max-line", type=int, default=MAX_LINE, help="longest text message (bytes)")
    p.add_argument("--max-block", type=int, default=MAX_BLOCK, help="largest binary block (bytes)")


def parse_faults(text: str) -> dict[str, float]:
    rates = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        kind, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--faults expects KIND=RATE items, got {item!r}")
        try:
            rates[kind.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--faults {kind.strip()}: {value!r} is not a number") from None
    FaultRates.parse(rates, "--faults")
    return rates


def cmd_serve(args, out=None, err=None) -> int:
    """Serve until SIGINT/SIGTERM; 0 on a clean stop, 2 when the bench or a port cannot be used."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        rates = parse_faults(args.faults)
        server = BenchServer(args.bench, host=args.host, base_port=args.port, control_port=args.control_port,
                             max_line=args.max_line, max_block=args.max_block,
                             log=lambda text: print(text, file=err, flush=True))
    except (FileNotFoundError, ValueError) as exc:
        print(f"labctl: error: {exc}", file=err)
        return 2
    if not is_loopback(args.host):
        print(f"labctl: warning: serving on {args.host}: anyone who reaches it drives the simulated lab "
              "(no authentication); the control port stays on loopback", file=err)

    def ready(srv: BenchServer) -> None:
        if rates or args.fault_seed is not None:
            for inst in srv.instruments.values():
                inst.faults.configure(inst.faults.rates.update(rates), args.fault_seed)
        if args.wall_clock:
            srv.set_wall_clock(True)
        print(f"serving {srv.path} (bench clock: {srv.clock_mode})", file=out)
        for item in srv.listing():
            print(f"  {item['device']:<16} {item['resource']:<34} -> {item['socket']}", file=out)
        print(f"  control (JSON lines)  {LOOPBACK}:{srv.control_port}", file=out)
        print("Ctrl-C stops", file=out, flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await serve(server, ready, stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"labctl: error: cannot serve on {args.host} port {args.port}: {exc.strerror or exc}", file=err)
        return 2
    print("stopped", file=out)
    return 0
