"""Campaign specs: which protocol, on which station, over which grid and which chips (a YAML file).

Example (``labctl/studies/ber_over_dies.yaml`` is a full one)::

    name: iv_over_diodes
    protocol: demo_iv
    station: demo                    # default: the protocol's own station
    parameters: {points: 11}         # fixed for every run
    grid:                            # every combination of these (a Cartesian product)
      v_stop: [0.6, 0.7, 0.8]
      compliance: {geomspace: [1e-4, 1e-2, 3]}     # or {linspace: [start, stop, num]}
    chips:                           # chip instances: the same design, another sample
      seeds: 1..16                   # bench seeds (a list, or an inclusive range A..B)
      bench: {temperature: 310}      # bench parameters by dotted path, for every chip
    summary: {confidence: 0.95, rates: wilson, continuous: t}
    figure:                          # panels of the summary figure (default: one per headline)
      - {x: v_stop, y: [current_at_stop], yscale: log}

``chips`` may instead list chips one by one, each with a ``seed``, ``bench`` overrides and protocol
``parameters`` tied to that chip (e.g. the talker split a vowel chip is trained on)::

    chips:
      - {seed: 1, parameters: {seed: 1}}
      - {seed: 2, bench: {temperature: 320}, parameters: {seed: 2}}

A chip reaches the bench the way ``labctl run --bench-seed`` does: its options are appended to the
station's library, ``FILE?seed=N&dotted.param=value@backend`` (:meth:`labctl.station.Station.load`).

``conditions`` name variants of the whole set-up that are not protocol parameters, such as bench
parameters of a simulated chip (an idealized device, a coupling switched off); each may also fix protocol
parameters. They form the first grid dimension, ``condition``, whose values are their names: every
condition runs on every chip, its bench overrides added to the chip's, and the summaries and figure
compare them like any grid parameter::

    conditions:
      realistic chip: {}
      no coupling: {bench: {coupled: false}}
      cold: {bench: {device.temperature: 4}, parameters: {settle: 0.01}}

Everything is checked before anything runs, and refused as one :class:`SpecError` line saying what
and where (``FILE:LINE: grid.v_stop[2]: ...``): keys, the protocol, every parameter name and value
(with the station's setup, as a run sees it, the protocol's own cross-checks included), the station,
the plan of every run against the station's limits (:mod:`labctl.plan`), and each distinct set of
bench overrides, by opening the station's VISA libraries with them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from labctl.headline import Headline

__all__ = ["CampaignSpec", "Chip", "Condition", "Panel", "SpecError", "Task", "load_spec"]

TOP_KEYS = ("name", "description", "protocol", "station", "parameters", "conditions", "grid", "chips", "summary",
            "figure")
CONDITION_KEYS = ("bench", "parameters")
CONDITION = "condition"  # the grid dimension of the conditions
CHIP_KEYS = ("seed", "bench", "parameters")
CHIPS_KEYS = ("seeds", "bench", "parameters")
SUMMARY_KEYS = ("confidence", "rates", "continuous")
PANEL_KEYS = ("x", "y", "xscale", "yscale", "title", "marks", "errors")
ERRORS = ("interval", "sd")
RATE_METHODS = ("wilson", "clopper-pearson")
CONTINUOUS_METHODS = ("t", "bootstrap")
SCALES = ("linear", "log")


class SpecError(ValueError):
    """A spec refused before anything runs; the message is one line: ``WHERE: what``."""


# -- YAML with line numbers -----------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """Safe YAML that also reads ``1e-6`` as a number (YAML 1.2; PyYAML wants ``1.0e-6``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)

Path_ = tuple  # a location in the document: keys and list indices


class _Doc:
    """A parsed spec and where each of its parts sits (source, line per location)."""

    def __init__(self, data: Any, source: str, lines: dict[tuple, int] | None = None):
        self.data, self.source, self.lines = data, source, lines or {}

    def where(self, path: Sequence) -> str:
        dotted = _dotted(path)
        for k in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:k]))
            if line is not None:
                return f"{self.source}:{line}" + (f": {dotted}" if dotted else "")
        return f"{self.source}" + (f": {dotted}" if dotted else "")

    def error(self, path: Sequence, message: str) -> SpecError:
        return SpecError(f"{self.where(path)}: {message}")


def _dotted(path: Sequence) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _parse_yaml(text: str, source: str) -> _Doc:
    loader = _Loader(text)
    lines: dict[tuple, int] = {}
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{source}:{mark.line + 1}" if mark is not None else source
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise SpecError(f"{where}: not readable YAML ({problem})") from None

        def build(n, path):
            lines.setdefault(path, n.start_mark.line + 1)
            if isinstance(n, yaml.MappingNode):
                out = {}
                for k, v in n.value:
                    key = loader.construct_object(k, deep=True)
                    if not isinstance(key, (str, int, float, bool)):
                        raise SpecError(f"{source}:{k.start_mark.line + 1}: keys must be plain names")
                    lines[path + (key,)] = k.start_mark.line + 1
                    out[key] = build(v, path + (key,))
                return out
            if isinstance(n, yaml.SequenceNode):
                return [build(v, path + (i,)) for i, v in enumerate(n.value)]
            return loader.construct_object(n, deep=True)

        data = build(node, ()) if node is not None else None
    finally:
        loader.dispose()
    return _Doc(data, source, lines)


# -- the spec -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Chip:
    """One sample of the design: a bench seed (None: the bench file's), bench overrides, and
    protocol parameters that go with this chip."""

    seed: int | None = None
    bench: tuple[tuple[str, str], ...] = ()
    parameters: tuple[tuple[str, Any], ...] = ()

    def library_options(self) -> dict[str, str]:
        """What :meth:`Station.load` appends to each library: ``{"seed": "3", "die.x": "0.1"}``."""
        out = {} if self.seed is None else {"seed": str(self.seed)}
        out.update(dict(self.bench))
        return out

    @property
    def label(self) -> str:
        parts = [f"seed={self.seed}" if self.seed is not None else "bench file's seed"]
        parts += [f"{k}={v}" for k, v in self.bench]
        parts += [f"[{k}={v}]" for k, v in self.parameters]  # protocol parameters of this chip
        return " ".join(parts)

    def identity(self) -> dict[str, Any]:
        return {"seed": self.seed, "bench": dict(self.bench), "parameters": dict(self.parameters)}

    def under(self, condition: Condition | None) -> Chip:
        """This chip as a run of ``condition`` sees it: the condition's bench overrides added."""
        if condition is None or not condition.bench:
            return self
        return Chip(self.seed, self.bench + condition.bench, self.parameters)


def count_chips(labels: list[str]) -> str:
    """How many chips a campaign runs on, from their labels: chips that differ only in protocol parameters
    (``[k=v]``, e.g. talker splits on one chip) are one chip with several parameter sets."""
    benches = {label.split(" [", 1)[0] for label in labels}
    if len(benches) == len(labels):
        return f"{len(labels)} chip(s)"
    return f"{len(benches)} chip(s) x {len(labels)} parameter sets"


@dataclass(frozen=True)
class Condition:
    """A named variant of the set-up: bench overrides for every chip, and protocol parameters."""

    name: str
    bench: tuple[tuple[str, str], ...] = ()
    parameters: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Panel:
    """One panel of the summary figure: headline(s) ``y`` against a grid parameter or headline ``x``."""

    x: str
    y: tuple[str, ...]
    xscale: str = "linear"
    yscale: str = "linear"
    title: str = ""
    marks: tuple[tuple[str, float], ...] = ()  # (label, value): reference values drawn across the panel
    errors: str = "interval"  # error bars: the statistic's interval, or "sd": mean over chips +- sd


@dataclass(frozen=True)
class Task:
    """One run of a campaign: a grid point on a chip, with every explicit parameter."""

    key: str  # hash of protocol, station, parameters and chip: the run's identity across resumes
    point: tuple[int, ...]  # index along each grid dimension
    chip_index: int
    chip: Chip
    values: dict[str, Any]  # this run's grid values
    parameters: dict[str, Any]  # fixed + grid + chip parameters

    @property
    def file(self) -> str:
        """The run file, relative to the campaign folder."""
        return f"runs/{self.key}.h5"


@dataclass
class CampaignSpec:
    name: str
    protocol: str
    station: str  # station name or absolute path, as Station.load takes it
    station_name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    chips: list[Chip] = field(default_factory=lambda: [Chip()])
    conditions: dict[str, Condition] = field(default_factory=dict)  # grid dimension CONDITION, in order
    description: str = ""
    confidence: float = 0.95
    rates: str = "wilson"
    continuous: str = "t"
    figure: list[Panel] = field(default_factory=list)
    headlines: tuple[Headline, ...] = ()
    units: dict[str, str] = field(default_factory=dict)  # parameter -> units
    source: str = "<spec>"
    text: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.grid.values())

    def tasks(self) -> list[Task]:
        """Every run: grid points in order (last grid parameter fastest), each on every chip."""
        names = list(self.grid)
        out = []
        for point in itertools.product(*(range(len(v)) for v in self.grid.values())):
            values = {n: self.grid[n][i] for n, i in zip(names, point, strict=True)}
            for c, chip in enumerate(self.chips):
                run_chip, params = _run_of(self.parameters, values, chip, self.conditions)
                out.append(Task(_run_key(self.protocol, self.station_name, params, run_chip), point, c, run_chip,
                                values, params))
        return out


def _run_of(fixed: Mapping[str, Any], values: Mapping[str, Any], chip: Chip,
            conditions: Mapping[str, Condition]) -> tuple[Chip, dict[str, Any]]:
    """(the chip as the run sees it, the run's explicit parameters) at grid ``values``."""
    condition = conditions.get(values[CONDITION]) if conditions else None
    grid = {k: v for k, v in values.items() if not (conditions and k == CONDITION)}
    extra = dict(condition.parameters) if condition else {}
    return chip.under(condition), {**fixed, **grid, **extra, **dict(chip.parameters)}


def _run_key(protocol: str, station: str, parameters: Mapping[str, Any], chip: Chip) -> str:
    identity = {"protocol": protocol, "station": station, "parameters": dict(sorted(parameters.items())),
                "chip": {"seed": chip.seed, "bench": dict(chip.bench)}}
    text = json.dumps(identity, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- loading and checking ---------------------------------------------------------------------------
def load_spec(spec: str | Path | Mapping[str, Any] | CampaignSpec, *, check_benches: bool = True) -> CampaignSpec:
    """A checked :class:`CampaignSpec` from a YAML file, a shipped study's name, or a mapping.

    Raises :class:`SpecError` (one line, with file:line where there is a file) on any bad input.
    """
    if isinstance(spec, CampaignSpec):
        return spec
    if isinstance(spec, Mapping):
        doc = _Doc(dict(spec), "<spec>")
        text = yaml.safe_dump(dict(spec), sort_keys=False)
        base = Path.cwd()
        default_name = "campaign"
    else:
        path = _resolve_spec_path(spec)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"{path}: cannot read the spec ({exc})") from None
        doc = _parse_yaml(text, str(path))
        base = path.parent
        default_name = path.stem
    return _check(doc, text, base, default_name, check_benches)


def _resolve_spec_path(spec: str | Path) -> Path:
    p = Path(spec)
    if p.is_file():
        return p
    if p.suffix not in (".yaml", ".yml") and not p.parent.parts:
        from labctl.studies import shipped_studies

        for shipped in shipped_studies():
            if shipped.stem == str(spec):
                return shipped
        names = ", ".join(s.stem for s in shipped_studies())
        raise SpecError(f"no campaign spec {str(spec)!r}: give a YAML file or a shipped study ({names})")
    raise SpecError(f"{spec}: no such campaign spec file")


def _check(doc: _Doc, text: str, base: Path, default_name: str, check_benches: bool) -> CampaignSpec:
    from labctl.errors import LimitError
    from labctl.plan import check_plan, refuse
    from labctl.protocol import Parameter, ParameterError, get_protocol
    from labctl.station import Station, StationError

    d = doc.data
    if not isinstance(d, Mapping):
        raise doc.error((), "a campaign spec is a mapping with at least 'protocol:'")
    _known_keys(doc, (), d, TOP_KEYS)
    if "protocol" not in d or not isinstance(d["protocol"], str):
        raise doc.error(("protocol",) if "protocol" in d else (), "'protocol:' (a protocol name) is required")
    try:
        cls = get_protocol(d["protocol"])
    except KeyError as exc:
        raise doc.error(("protocol",), exc.args[0]) from None
    name = d.get("name", default_name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise doc.error(("name",), "the name must be a plain word (letters, digits, _ . -): it names files")
    specs = cls.parameter_specs()

    def canonical(path, pname, value):
        """The value as the protocol holds it once set (what a run records), or SpecError."""
        spec = specs.get(pname)
        if type(spec) is Parameter and not isinstance(value, str):
            value = _text(value)  # free-form parameters are text ("20e-6, 50e-6")
        p = cls()
        try:
            p.set_values({pname: value})
        except ParameterError as exc:
            raise doc.error(path, str(exc)) from None
        v = getattr(p, pname)
        return v.item() if isinstance(v, np.generic) else v

    fixed = {str(k): canonical(("parameters", k), str(k), v)
             for k, v in _mapping(doc, ("parameters",), d.get("parameters")).items()}
    grid: dict[str, list[Any]] = {}
    for k, values in _mapping(doc, ("grid",), d.get("grid")).items():
        k = str(k)
        if k in fixed:
            raise doc.error(("grid", k), f"{k!r} is both fixed (parameters:) and in the grid")
        values = _grid_values(doc, ("grid", k), values)
        grid[k] = [canonical(("grid", k, i), k, v) for i, v in enumerate(values)]
        if len({json.dumps(v, default=repr) for v in grid[k]}) != len(grid[k]):
            raise doc.error(("grid", k), "a grid value is repeated")
    chips = _chips(doc, d.get("chips"), lambda path, k, v: canonical(path, k, v))
    for c, chip in enumerate(chips):
        for k, _ in chip.parameters:
            if k in fixed or k in grid:
                raise doc.error(("chips",), f"chip {c}: parameter {k!r} is also fixed or in the grid")
    conditions = _conditions(doc, d.get("conditions"), lambda path, k, v: canonical(path, k, v))
    for label, cond in conditions.items():
        for k, _ in cond.parameters:
            if k in fixed or k in grid or any(k in dict(chip.parameters) for chip in chips):
                raise doc.error(("conditions", label, "parameters", k),
                                f"parameter {k!r} is also fixed, in the grid or a chip's")
    if conditions:
        if CONDITION in grid:
            raise doc.error(("grid", CONDITION), f"{CONDITION!r} is the grid dimension of 'conditions:'")
        grid = {CONDITION: list(conditions), **grid}

    station_ref = d.get("station", cls.STATION)
    if not isinstance(station_ref, str) or not station_ref:
        raise doc.error(("station",), f"protocol {cls.NAME} has no default station: give 'station:'")
    if station_ref.endswith((".yaml", ".yml")) and not Path(station_ref).is_absolute():
        local = base / station_ref
        station_ref = str(local.resolve()) if local.is_file() else station_ref
    run_chips = list(dict.fromkeys([*chips, *(chip.under(c) for c in conditions.values() for chip in chips)]))
    try:
        stations = {chip: Station.load(station_ref, library_options=chip.library_options()) for chip in run_chips}
    except StationError as exc:
        raise doc.error(("station",) if "station" in d else ("chips",), str(exc)) from None
    station = next(iter(stations.values()))
    station_ref = station_ref if not Path(station_ref).is_file() else str(Path(station_ref).resolve())
    try:
        station.check_roles(cls.roles())
    except StationError as exc:
        raise doc.error(("station",), str(exc)) from None

    # every run as the runner will see it: explicit values, then the station's setup, then defaults
    seen = set()
    for point in itertools.product(*grid.values()):
        values = dict(zip(grid, point, strict=True))
        for chip in chips:
            params = _run_of(fixed, values, chip, conditions)[1]
            key = json.dumps(params, sort_keys=True, default=repr)
            if key in seen:
                continue
            seen.add(key)
            p = cls()
            try:
                p.set_values(params)
                p.set_defaults(station.defaults_for(specs), source="station setup")
                p.check_parameters()
                p.arrays()
                refuse(check_plan(p.plan(), station))  # what the run would set, against the limits
            except (ParameterError, LimitError) as exc:
                at = ("grid",) if grid else ("parameters",) if fixed else ("protocol",)
                detail = ", ".join(f"{k}={v}" for k, v in values.items())
                raise doc.error(at, f"{exc}" + (f" (at {detail})" if detail else "")) from None

    summary = _mapping(doc, ("summary",), d.get("summary"))
    _known_keys(doc, ("summary",), summary, SUMMARY_KEYS)
    confidence = summary.get("confidence", 0.95)
    if not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise doc.error(("summary", "confidence"), f"confidence must be a number in (0, 1), got {confidence!r}")
    rates = _choice(doc, ("summary", "rates"), summary.get("rates", "wilson"), RATE_METHODS)
    continuous = _choice(doc, ("summary", "continuous"), summary.get("continuous", "t"), CONTINUOUS_METHODS)
    headlines = tuple(cls.HEADLINES)
    figure = _panels(doc, d.get("figure"), grid, headlines)
    description = d.get("description", "")
    if not isinstance(description, str):
        raise doc.error(("description",), "the description is text")

    spec = CampaignSpec(
        name=name, protocol=cls.NAME or d["protocol"], station=station_ref, station_name=station.name,
        parameters=fixed, grid=grid, chips=chips, conditions=conditions, description=description.strip(),
        confidence=float(confidence), rates=rates, continuous=continuous, figure=figure,
        headlines=headlines, units={**{k: getattr(s, "units", None) or "" for k, s in specs.items()},
                                    **({CONDITION: ""} if conditions else {})},
        source=doc.source, text=text,
    )
    if check_benches:
        _check_benches(doc, d.get("chips"), chips, stations)
        for label, cond in conditions.items():
            _check_benches(doc, None, [chip.under(cond) for chip in chips], stations,
                           at=("conditions", label, "bench"))
    return spec


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def _known_keys(doc: _Doc, path: tuple, mapping: Mapping, known: Sequence[str]) -> None:
    for key in mapping:
        if key not in known:
            import difflib

            hint = difflib.get_close_matches(str(key), known, n=1)
            raise doc.error(path + (key,), f"unknown key {key!r}"
                            + (f" (did you mean {hint[0]!r}?)" if hint else f"; known: {', '.join(known)}"))


def _mapping(doc: _Doc, path: tuple, value: Any) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise doc.error(path, "expected a mapping (name: value)")
    return value


def _choice(doc: _Doc, path: tuple, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise doc.error(path, f"{value!r} is not one of {', '.join(choices)}")
    return value


def _grid_values(doc: _Doc, path: tuple, values: Any) -> list[Any]:
    if isinstance(values, Mapping):
        if len(values) != 1 or next(iter(values)) not in ("linspace", "geomspace"):
            raise doc.error(path, "expected a list of values, {linspace: [start, stop, num]} or "
                                  "{geomspace: [start, stop, num]}")
        kind, args = next(iter(values.items()))
        ok = (isinstance(args, list) and len(args) == 3 and all(isinstance(a, (int, float)) for a in args)
              and isinstance(args[2], int) and args[2] >= 1)
        if not ok or (kind == "geomspace" and (args[0] <= 0 or args[1] <= 0)):
            raise doc.error(path + (kind,), f"{kind} takes [start, stop, num] (numbers, num an integer >= 1"
                            + (", start and stop > 0)" if kind == "geomspace" else ")"))
        fn = np.linspace if kind == "linspace" else np.geomspace
        return [float(f"{v:.12g}") for v in fn(args[0], args[1], args[2])]  # 4, not 3.9999999999999996
    if not isinstance(values, list) or not values:
        raise doc.error(path, "grid values must be a non-empty list")
    return values


def _seeds(doc: _Doc, path: tuple, value: Any) -> list[int]:
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+)\s*\.\.\s*(\d+)\s*", value)
        if not m or int(m[1]) > int(m[2]):
            raise doc.error(path, f"seeds {value!r}: expected a list of integers or a range A..B (A <= B)")
        return list(range(int(m[1]), int(m[2]) + 1))
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        return list(value)
    raise doc.error(path, "seeds: expected a non-empty list of integers or a range A..B")


def _bench(doc: _Doc, path: tuple, value: Any) -> tuple[tuple[str, str], ...]:
    out = []
    for k, v in _mapping(doc, path, value).items():
        if not isinstance(k, str) or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", k) or k == "seed":
            raise doc.error(path + (k,), f"bench option {k!r}: expected a dotted parameter path "
                                         "(the seed is the chip's 'seed')")
        if isinstance(v, (Mapping, list)) or v is None:
            raise doc.error(path + (k,), f"bench option {k}: expected a number, a word or true/false")
        out.append((k, _text(v)))
    return tuple(out)


def _chips(doc: _Doc, value: Any, canonical) -> list[Chip]:
    if value is None:
        return [Chip()]

    def params(path, v):
        return tuple((str(k), canonical(path + (k,), str(k), x)) for k, x in _mapping(doc, path, v).items())

    if isinstance(value, Mapping):
        _known_keys(doc, ("chips",), value, CHIPS_KEYS)
        if "seeds" not in value:
            raise doc.error(("chips",), "expected 'seeds:' (or a list of chips, each with a 'seed:')")
        bench = _bench(doc, ("chips", "bench"), value.get("bench"))
        shared = params(("chips", "parameters"), value.get("parameters"))
        chips = [Chip(s, bench, shared) for s in _seeds(doc, ("chips", "seeds"), value["seeds"])]
    elif isinstance(value, list) and value:
        chips = []
        for i, item in enumerate(value):
            path = ("chips", i)
            if isinstance(item, int) and not isinstance(item, bool):
                chips.append(Chip(item))
                continue
            if not isinstance(item, Mapping):
                raise doc.error(path, "a chip is a seed or a mapping {seed, bench, parameters}")
            _known_keys(doc, path, item, CHIP_KEYS)
            seed = item.get("seed")
            if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
                raise doc.error(path + ("seed",), f"seed must be a non-negative integer, got {seed!r}")
            chips.append(Chip(seed, _bench(doc, path + ("bench",), item.get("bench")),
                              params(path + ("parameters",), item.get("parameters"))))
    else:
        raise doc.error(("chips",), "expected {seeds: ..., bench: ...} or a non-empty list of chips")
    for i, chip in enumerate(chips):
        if chip in chips[:i]:
            raise doc.error(("chips",) if isinstance(value, Mapping) else ("chips", i),
                            f"chip {chip.label} appears twice")
    return chips


def _conditions(doc: _Doc, value: Any, canonical) -> dict[str, Condition]:
    out: dict[str, Condition] = {}
    seen: dict[tuple, str] = {}
    for name, item in _mapping(doc, ("conditions",), value).items():
        path = ("conditions", name)
        if not isinstance(name, str) or not name.strip():
            raise doc.error(path, "a condition is named by text")
        item = _mapping(doc, path, item)
        _known_keys(doc, path, item, CONDITION_KEYS)
        params = tuple((str(k), canonical(path + ("parameters", k), str(k), x))
                       for k, x in _mapping(doc, path + ("parameters",), item.get("parameters")).items())
        cond = Condition(name, _bench(doc, path + ("bench",), item.get("bench")), params)
        same = seen.setdefault((cond.bench, cond.parameters), name)
        if same != name:
            raise doc.error(path, f"condition {name!r} is the same set-up as {same!r}")
        out[name] = cond
    if value is not None and not out:
        raise doc.error(("conditions",), "expected named conditions: {name: {bench: ..., parameters: ...}}")
    return out


def _panels(doc: _Doc, value: Any, grid: Mapping, headlines: Sequence[Headline]) -> list[Panel]:
    if value is None:
        return []
    names = [h.name for h in headlines]
    if not isinstance(value, list):
        raise doc.error(("figure",), "expected a list of panels {x, y, xscale, yscale, title, marks, errors}")
    out = []
    for i, item in enumerate(value):
        path = ("figure", i)
        panel = _mapping(doc, path, item)
        _known_keys(doc, path, panel, PANEL_KEYS)
        x = panel.get("x")
        if x not in grid and x not in names:
            raise doc.error(path + ("x",), f"x {x!r} is neither a grid parameter ({', '.join(grid) or 'none'}) "
                                           f"nor a headline ({', '.join(names) or 'none'})")
        y = panel.get("y")
        y = [y] if isinstance(y, str) else y
        if not isinstance(y, list) or not y or any(v not in names for v in y):
            raise doc.error(path + ("y",), f"y must name headline(s) of the protocol: {', '.join(names) or 'none'}")
        xs = _choice(doc, path + ("xscale",), panel.get("xscale", "linear"), SCALES)
        ys = _choice(doc, path + ("yscale",), panel.get("yscale", "linear"), SCALES)
        marks = _mapping(doc, path + ("marks",), panel.get("marks"))
        for label, v in marks.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise doc.error(path + ("marks", label), f"a mark is a number (the value of {label!r})")
        errors = _choice(doc, path + ("errors",), panel.get("errors", "interval"), ERRORS)
        out.append(Panel(x, tuple(y), xs, ys, str(panel.get("title", "")),
                         tuple((str(k), float(v)) for k, v in marks.items()), errors))
    return out


def _check_benches(doc: _Doc, raw: Any, chips: list[Chip], stations: Mapping[Chip, Any],
                   at: tuple | None = None) -> None:
    """Open the station's libraries once per distinct set of bench overrides (with that chip's seed):
    a bad key or value fails here, before anything runs, as the backend builds the bench a run would."""
    import pyvisa

    done = set()
    for i, chip in enumerate(chips):
        if not chip.library_options() or chip.bench in done:
            continue
        done.add(chip.bench)
        libraries = sorted({r.visa_library for r in stations[chip].roles.values() if r.visa_library})
        for lib in libraries:
            try:
                pyvisa.ResourceManager(lib).close()
            except Exception as exc:
                if at is None:
                    at = ("chips", i) if isinstance(raw, list) else ("chips",)
                    at += ("bench",) if chip.bench else ("seed",) if isinstance(raw, list) else ("seeds",)
                first = (str(exc).splitlines() or [""])[0]
                raise doc.error(at, f"the bench refuses chip {chip.label} ({lib}): "
                                    f"{type(exc).__name__}: {first}") from None
            finally:
                forget_visa_libraries([lib])


def forget_visa_libraries(libraries: Sequence[str] | None = None) -> None:
    """Drop pyvisa's cached library objects (those of ``libraries``, ``FILE?options@backend``, or all),
    so that the next ResourceManager opens its library anew.

    pyvisa keeps one library object per (class, path) for the life of the process; a simulated
    library holds its bench, so a run on a cached one would start from the last run's sample. A run
    of a campaign starts from the chip as it powers up, whichever runs its worker did before.
    """
    from pyvisa.highlevel import VisaLibraryBase

    registry = VisaLibraryBase._registry
    if libraries is None:
        registry.clear()
        return
    paths = {lib.rpartition("@")[0] for lib in libraries}
    for key in [k for k in registry if str(k[1]) in paths]:
        registry.pop(key, None)
