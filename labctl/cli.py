"""``labctl``: list, run, show and plot experiments; inspect simulated benches.

Exit codes: 0 run completed, 1 run failed, 130 run aborted, 2 bad input (one line on stderr, no
traceback, no run file left behind).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

USAGE_ERROR = 2


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


# -- commands -----------------------------------------------------------------------------------
def cmd_list(args) -> int:
    from labctl.registry import DISCOVERY_ERRORS, protocols
    from labctl.station import Station, StationError, shipped_stations

    print("protocols:")
    found = protocols()
    width = max((len(n) for n in found), default=0)
    for name, cls in found.items():
        roles = ", ".join(cls.roles())
        print(f"  {name:<{width}}  {cls.title()}  [station {cls.STATION or '-'}; roles {roles or '-'}]")
    for module, err in DISCOVERY_ERRORS.items():
        print(f"  ! {module} failed to import: {err}")
    print("stations:")
    for path in shipped_stations():
        try:
            st = Station.load(path)
            libraries = sorted({r.visa_library or "default" for r in st.roles.values()})
            print(f"  {st.name:<{width}}  {st.description}  [roles {', '.join(st.roles)}; "
                  f"library {', '.join(libraries)}]")
        except StationError as exc:
            print(f"  ! {path.name}: {exc}")
    return 0


def _parse_params(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"-p expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _parse_bench_options(items: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or name.strip() == "seed":
            raise UsageError(f"--bench-option expects PARAM=VALUE (the seed is --bench-seed), got {item!r}")
        out.append((name.strip(), value.strip()))
    return out


def _default_out(name: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(f"{name}_{stamp}.h5")
    k = 1
    while path.exists():
        path = Path(f"{name}_{stamp}-{k}.h5")
        k += 1
    return path


def _print_params(cls, label: str) -> None:
    from labctl.parameters import bounds_text

    print(f"{label}: {cls.title()}")
    for name, spec in cls.parameter_specs().items():
        units = getattr(spec, "units", None) or ""
        bounds = ""
        if getattr(spec, "minimum", None) is not None:
            bounds = f" in {bounds_text(spec.minimum, spec.maximum, units)}"
        elif getattr(spec, "choices", None):
            bounds = f" one of {list(spec.choices)}"
        print(f"  -p {name}={spec.default if spec.default is not None else '?'} {units}".rstrip()
              + f"   {spec.name}{bounds}")


def _dry_run(runner, label: str, bench_options: bool = False) -> int:
    """``labctl run --dry-run``: parameters, the plan against the station's limits; no instrument opened.

    With ``bench_options`` (``--bench-seed``/``--bench-option``) each library is loaded once, as a
    campaign spec's check does, so a bench that refuses an option fails here rather than at the run."""
    from labctl.plan import plan_table, refuse
    from labctl.units import fmt_quantity

    p, station = runner.protocol, runner.station
    libraries = sorted({spec.visa_library for role, spec in station.roles.items() if role in p.roles()})
    if bench_options:
        import pyvisa

        for lib in filter(None, libraries):
            try:
                pyvisa.ResourceManager(lib).close()
            except Exception as exc:  # the backend's own words: which option, what it takes
                first = (str(exc).splitlines() or [type(exc).__name__])[0]
                raise UsageError(f"{lib}: {first}") from None
    print(f"{label} on station {station.name} ({station.path}): dry run, nothing connected or written")
    print(f"  VISA library: {', '.join(lib or 'pyvisa default' for lib in libraries)}")
    print("  parameters:")
    for name, rec in p.parameter_records().items():
        value, units = rec["value"], rec["units"]
        shown = fmt_quantity(value, units) if isinstance(value, float) else f"{_fmt(value)} {units}".rstrip()
        if isinstance(value, str) and not value.strip():
            shown = "(empty)"  # an empty list (`codes=`), not a bare unit
        print(f"    {name} = {shown}   ({rec['source']})")
    checks = runner.plan_checks()
    print("  plan against the station's limits:" if checks else "  plan: the protocol declares no setpoints")
    for line in plan_table(checks):
        print(f"    {line}")
    planned = {c.setting for c in checks}
    unplanned = [f"{role}.{lim.name}" for role, spec in station.roles.items() if role in p.roles()
                 for lim in spec.limits if f"{role}.{lim.name}" not in planned]
    if unplanned:
        print(f"  limits the plan does not cover (still guarded while running): {', '.join(unplanned)}")
    refuse(checks)  # LimitError -> one line on stderr, exit 2
    return 0


def cmd_run(args) -> int:
    from labctl.errors import LimitError, RunFileError, StorageError
    from labctl.progress import RunProgress
    from labctl.protocol import ParameterError, get_protocol
    from labctl.runner import Runner
    from labctl.station import Station, StationError
    from labctl.store import check_target

    try:
        cls = get_protocol(args.protocol)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    label = cls.NAME or args.protocol  # a protocol from a file may have no registry name
    if args.list_params:
        _print_params(cls, label)
        return 0
    try:
        protocol = cls()
        protocol.set_values(_parse_params(args.param))
        protocol.check_parameters()
    except ParameterError as exc:
        raise UsageError(f"{exc} (see `labctl run {label} --list-params`)") from None
    station_ref = args.station or cls.STATION
    if not station_ref:
        raise UsageError(f"protocol {label} has no default station: give --station FILE")
    out = Path(args.out) if args.out else _default_out(cls.NAME or cls.__name__)
    entry = "entry" if args.entry is None else args.entry
    try:
        options = dict(_parse_bench_options(args.bench_option))
        if args.bench_seed is not None:
            options["seed"] = args.bench_seed
        station = Station.load(station_ref, visa_library=args.visa_library, allow_import=args.allow_import,
                               library_options=options or None)
        runner = Runner(protocol, station, out, entry=entry)
        if args.dry_run:
            return _dry_run(runner, label, bench_options=bool(options))
        check_target(out, entry, new=args.entry is None)
        runner.prepare()
    except (StationError, ParameterError, RunFileError, FileExistsError, StorageError, LimitError) as exc:
        raise UsageError(str(exc)) from None
    except BrokenPipeError:  # `labctl run P --dry-run | head`: the reader left, no file was involved
        raise
    except OSError as exc:
        raise UsageError(f"cannot create {out}: {exc}") from None
    if not args.quiet:
        print(f"{label} on station {station.name} -> {out}", file=sys.stderr)

    with RunProgress(cls.NAME or cls.__name__, enabled=False if args.quiet else None,
                     points=lambda: runner.writer.n_points) as progress:
        runner.on_progress = progress
        result = runner.run()  # Ctrl-C / SIGTERM: the runner aborts at the next checkpoint
    line = f"{result.status}: {result.points} points -> {result.path}"
    if result.message and result.status != "completed":
        line += f"\n  {result.message}"
        if not result.recorded:
            line += (f"\n  (the file could not take the exit status: it reads as incomplete; "
                     f"`labctl recover {result.path}` opens it to every HDF5 tool)")
        elif result.status == "failed":
            line += f"\n  (traceback in the file: labctl show {result.path})"
    print(line, file=sys.stdout if result.status == "completed" else sys.stderr)
    return result.exit_code


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if hasattr(value, "shape") and getattr(value, "shape", ()) != ():
        return f"array{tuple(value.shape)}"
    return str(value)


def _open(path: str, entry: str | None):
    from labctl.results import open_run

    try:
        return open_run(path, entry)
    except (FileNotFoundError, KeyError, ValueError, OSError) as exc:
        raise UsageError(str(exc.args[0] if exc.args else exc)) from None


def _entries(path: str, entry: str | None) -> list[str]:
    from labctl.results import list_entries

    if entry:
        return [entry]
    try:
        entries = list_entries(path)
    except (FileNotFoundError, OSError) as exc:
        raise UsageError(str(exc)) from None
    if not entries:
        raise UsageError(f"{path}: no NXentry (not a labctl run file)")
    return entries


def _same(a, b) -> bool:
    import numpy as np

    try:
        return bool(np.array_equal(a, b))
    except TypeError:
        return a == b


def _with_units(value, units: str = "") -> str:
    return f"{_fmt(value)} {units}" if units and units != "1" else _fmt(value)


def _sample_facts(run, at_end: bool) -> dict[str, tuple]:
    """The sample's facts at the start (or the end) of a run: dotted name -> (value, units)."""
    import h5py

    g = run.entry.get("sample")
    if at_end:
        g = g.get("end_of_run") if isinstance(g, h5py.Group) else None
    if not isinstance(g, h5py.Group):
        return {}
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and (at_end or not name.startswith("end_of_run")):
            value = obj[()]
            value = value.decode() if isinstance(value, bytes) else value
            units = obj.attrs.get("units", "")
            out[name.replace("/", ".")] = (value, units.decode() if isinstance(units, bytes) else str(units))

    g.visititems(visit)
    return out


def _reason(exc: BaseException) -> str:
    """An exception as one line (a KeyError's message without its quotes)."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[0][:200] if lines else type(exc).__name__


#: What reading a damaged or foreign file raises (h5py and the reader): reported as one line.
_UNREADABLE = (OSError, RuntimeError, KeyError, ValueError, TypeError)


def _campaign_file(path: str) -> bool:
    from labctl.campaign_index import is_campaign_file

    return is_campaign_file(path)


def cmd_show(args) -> int:
    if not args.entry and _campaign_file(args.file):
        from labctl.campaign_cli import show_campaign

        return show_campaign(args.file)
    for name in _entries(args.file, args.entry):
        with _open(args.file, name) as run:
            try:
                _show(run, args.traceback)
            except BrokenPipeError:  # `labctl show FILE | head`: the reader left, the file is fine
                raise
            except _UNREADABLE as exc:
                raise UsageError(f"{args.file} :: {name}: cannot be read ({_reason(exc)})") from None
    return 0


def _default_plot(run) -> str | None:
    try:
        return run.data().name if run.data_names else None
    except (KeyError, ValueError):
        return None


def _show(run, traceback: bool) -> None:
    print(f"{run.path} :: {run.entry_name}")
    print(f"  title:      {run.title}")
    print(f"  protocol:   {run.protocol or '-'}   station: "
          f"{run.group('station').get('name', '-')}")
    print(f"  status:     {run.status}"
          + ("" if run.status == run.recorded_status else
             f" (file says {run.recorded_status!r}: the writer ended without closing it)"))
    print(f"  started:    {run.start_time}   ended: {run.end_time or '-'}")
    if run.exit_message:
        print(f"  message:    {run.exit_message}")
    if run.traceback and traceback:
        print("  traceback:\n    " + run.traceback.rstrip().replace("\n", "\n    "))
    params = run.parameters
    if params:
        print("  parameters:")
        for k, f in params.items():
            print(f"    {k} = {_with_units(f.values[()], f.units)}"
                  + (f"   ({f.long_name})" if f.long_name else ""))
    inst = run.instruments
    if inst:
        print("  instruments:")
        for role, facts in inst.items():
            print(f"    {role}: {facts.get('idn', '?')}")
            print(f"      {facts.get('driver', '?')} @ {facts.get('resource', '?')}")
            if facts.get("error_queue"):
                print(f"      error queue: {', '.join(map(str, facts['error_queue']))}")
    start, end = _sample_facts(run, at_end=False), _sample_facts(run, at_end=True)
    if start:
        print("  sample:     " + ", ".join(f"{k}={_with_units(*v)}" for k, v in start.items()))
    if end:
        changed = {k: v for k, v in end.items() if k not in start or not _same(start[k][0], v[0])}
        print("  at end:     " + (", ".join(
            f"{k}={_with_units(*start[k]) if k in start else '-'} -> {_with_units(*v)}"
            for k, v in changed.items()) or "as at the start"))
    elif start:
        print("  at end:     not recorded (the run did not finish)")
    print("  data:")
    default = _default_plot(run)
    for group, shapes in run.shapes().items():
        try:
            d = run.data(group)
        except (KeyError, ValueError) as exc:  # e.g. an @signal naming no field: show the rest
            print(f"    {group}: not NeXus-plottable ({_reason(exc)})  "
                  f"fields {', '.join(f'{k}{v}' for k, v in shapes.items())}")
            continue
        axes = ", ".join(a.name if a else "." for a in d.axes)
        sig = d.signal
        units = "-" if sig.units in ("", "1") else sig.units
        print(f"    {group}: {sig.name} ({units}) {shapes[sig.name]}  "
              f"axes [{axes}]  fields {', '.join(f'{k}{v}' for k, v in shapes.items())}"
              + ("  (default plot)" if group == default else ""))


def cmd_plot(args) -> int:
    from labctl.plotting import save_figures, use_file_backend
    from labctl.registry import registered_protocol

    use_file_backend()
    if not args.entry and _campaign_file(args.file):
        from labctl.campaign_cli import plot_campaign

        return plot_campaign(args.file, args.out_dir)
    out_dir = Path(args.out_dir) if args.out_dir else Path(args.file).resolve().parent
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out-dir {out_dir} exists and is not a directory")
    for name in _entries(args.file, args.entry):
        with _open(args.file, name) as run:
            try:
                cls = None
                if run.protocol:
                    try:
                        cls = registered_protocol(run.protocol)  # never an import named by the file
                    except KeyError:
                        cls = None  # written by a protocol not installed here: generic plots
                if not run.data_names:
                    print(f"{run.entry_name}: no data to plot", file=sys.stderr)
                    continue
                paths = save_figures(run, out_dir, cls)
            except _UNREADABLE as exc:
                raise UsageError(f"{args.file} :: {name}: cannot be plotted ({_reason(exc)})") from None
            for path in paths:
                print(path)
    return 0


def cmd_demo(args) -> int:
    from labctl.demo import run_demo
    from labctl.plotting import use_file_backend

    use_file_backend()
    out = Path(args.out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a directory")
    try:
        return 1 if run_demo(out, progress=False if args.quiet else None, force=args.force) else 0
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None


def cmd_recover(args) -> int:
    from labctl.recovery import RecoveryError, recover

    try:
        done = recover(args.file, force=args.force)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    except (RecoveryError, OSError) as exc:
        raise UsageError(_reason(exc)) from None
    statuses = ", ".join(f"{k}: {v}" for k, v in done.statuses.items()) or "no run in it"
    if done.cleared:
        extended = (f"; restored its recorded length ({done.extended} bytes the writer could not "
                    "write read as fill values)" if done.extended else "")
        print(f"{args.file}: cleared the open-for-write mark{extended}; any HDF5 tool opens it now "
              f"({statuses})")
    else:
        print(f"{args.file}: nothing to recover ({statuses})")
    return 0


# -- entry point --------------------------------------------------------------------------------
def _verbosity(defaults: bool) -> argparse.ArgumentParser:
    """-v/--verbose and -q/--quiet, accepted before the command and after it (``labctl run X -v``)."""
    p = argparse.ArgumentParser(add_help=False)
    kw = {} if defaults else {"default": argparse.SUPPRESS}
    p.add_argument("-v", "--verbose", action="count", help="more log lines: -v info, -vv debug",
                   **({"default": 0} if defaults else kw))
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or chatter (warnings still show)", **kw)
    return p


class _Subcommands(argparse._SubParsersAction):
    """Every command takes the verbosity options, those added by plugins too."""

    def add_parser(self, name, **kwargs):
        kwargs.setdefault("parents", []).append(_verbosity(defaults=False))
        return super().add_parser(name, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="labctl",
        description="Lab automation for memory-centric neuromorphic nanodevice experiments.",
        parents=[_verbosity(defaults=True)],
    )
    p.register("action", "parsers", _Subcommands)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("list", help="protocols, stations and benches available")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("run", help="run a protocol into a NeXus HDF5 file")
    s.add_argument("protocol", help="protocol name (see `labctl list`), module:Class or path/to/file.py:Class")
    s.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a parameter (repeatable); units may follow: -p v_stop='0.5 V'")
    s.add_argument("--station", help="station YAML file or shipped station name")
    s.add_argument("--out", help="run file to write (default: PROTOCOL_DATE-TIME.h5 here)")
    s.add_argument("--entry", help="entry name: adds the run to an existing file")
    s.add_argument("--visa-library", metavar="LIB",
                   help="VISA library for every role, replacing the station's (e.g. @py for the real lab)")
    s.add_argument("--bench-seed", type=int, metavar="N",
                   help="simulated stations: build the bench from seed N (another die or chip of the same design)")
    s.add_argument("--bench-option", action="append", default=[], metavar="PARAM=VALUE",
                   help="simulated stations: a bench parameter by its dotted path, e.g. coupled=false or "
                        "device.temperature=0 (repeatable)")
    s.add_argument("--allow-import", action="append", default=[], metavar="PKG",
                   help="a package the station's drivers may come from besides pymeasure and labctl "
                        "(repeatable): a station file names drivers, only you name where code may come from")
    s.add_argument("--list-params", action="store_true",
                   help="print the protocol's parameters and exit")
    s.add_argument("--dry-run", action="store_true",
                   help="print the parameters and the plan checked against the station's limits; run nothing")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("show", help="entries, status, parameters, instruments, data shapes")
    s.add_argument("file")
    s.add_argument("--entry")
    s.add_argument("--traceback", action="store_true", help="print a failed run's traceback")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("plot", help="PNG figures of a run (the protocol's, or one per NXdata)")
    s.add_argument("file")
    s.add_argument("--entry")
    s.add_argument("--out-dir", help="where PNGs go (default: next to the file)")
    s.set_defaults(func=cmd_plot)

    s = sub.add_parser("demo", help="run the paper's experiments on the simulated lab, with figures")
    s.add_argument("--out-dir", default="labctl-demo", help="where runs and figures go (default: %(default)s)")
    s.add_argument("--force", action="store_true", help="replace an earlier demo's runs and figures there")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("recover", help="make a killed run's file openable by any HDF5 tool")
    s.add_argument("file")
    s.add_argument("--force", action="store_true",
                   help="trust that writers on other hosts are gone (they cannot be checked from here)")
    s.set_defaults(func=cmd_recover)

    for plugin in entry_points(group="labctl.commands"):
        plugin.load()(sub)  # commands contributed by other parts (the simulator's `bench`)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from labctl.logs import to_stderr, verbosity_level

    args = build_parser().parse_args(argv)
    # warnings of the library (aborts requested, limits refused, instrument errors) on stderr;
    # -v adds run start/end, stations connected, benches reset
    with to_stderr(verbosity_level(args.verbose, args.quiet)):
        try:
            return args.func(args)
        except UsageError as exc:
            print(f"labctl: error: {exc}", file=sys.stderr)
            return USAGE_ERROR
        except KeyboardInterrupt:  # before a run started (or a second Ctrl-C): nothing to abort
            print("labctl: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # `labctl show FILE | head`: the reader left; not an error
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the interpreter's final flush
            return 0


if __name__ == "__main__":
    sys.exit(main())
