"""Bench YAML files: pyvisa-sim YAML whose ``x-`` keys bind devices to emulators and physics.

Read with a typed YAML loader (pyvisa-sim reads every value as a string), so ``x-options`` and
``x-bench.params`` arrive as numbers, lists and mappings.
"""

from __future__ import annotations

import copy
import importlib
import importlib.resources
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from labctl.sim_backends.bench import CLOCK_MODES, Bench

SHIPPED = "labctl.sim_backends.benches"


def import_object(path: str, base: type | None = None, what: str = "") -> Any:
    """``"package.module:Name"`` -> the object; with ``base``, a subclass of it or ValueError.

    A bench file is data that may come from elsewhere: nothing it names is called unless it is an
    emulator (or bench) class. A missing module is a ValueError naming it (an ImportError would
    read, through pymeasure, as "PyVISA is not present").
    """
    module, _, name = path.partition(":")
    what = what or "model"
    if not name:
        raise ValueError(f"{what}: expected 'module:Name', got {path!r}")
    try:
        obj = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        raise ValueError(f"{what} {path!r}: no module {exc.name!r}") from None
    except ImportError as exc:
        raise ValueError(f"{what} {path!r}: cannot import {module!r} ({exc})") from None
    except AttributeError:
        raise ValueError(f"{what} {path!r}: module {module!r} has no {name!r}") from None
    if base is not None and not (isinstance(obj, type) and issubclass(obj, base)):
        raise ValueError(f"{what} {path!r} is not a {base.__name__} class")
    return obj


def resolve(path: str | Path) -> Path:
    """A bench path as given, or the name of a bench shipped with labctl (``demo.yaml``)."""
    p = Path(path)
    if p.exists():
        return p
    shipped = importlib.resources.files(SHIPPED).joinpath(str(path))
    if shipped.is_file():
        return Path(str(shipped))
    raise FileNotFoundError(f"no bench file {path!r} (nor a shipped bench of that name)")


def shipped_benches() -> list[Path]:
    root = importlib.resources.files(SHIPPED)
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml"))


@dataclass
class DeviceSpec:
    name: str
    model: str | None
    options: dict[str, Any] = field(default_factory=dict)
    idn: str | None = None  # the device's ``*IDN?`` dialogue answer, if the file gives one
    faults: Any = None  # its ``x-faults`` (fault rates when served, :mod:`labctl.sim_backends.faults`)

    @property
    def serial(self) -> str | None:
        """This instrument's serial number: ``x-options: {serial: ...}``, else the serial field
        (the third) of its ``*IDN?`` dialogue, else None (the emulator's own)."""
        if self.options.get("serial") is not None:
            return str(self.options["serial"])
        fields = (self.idn or "").split(",")
        return fields[2].strip() if len(fields) >= 4 and fields[2].strip() else None

    def build_emulator(self, bench: Bench, name: str):
        from labctl.sim_backends.scpi import ScpiEmulator

        where = f"device {self.name!r} x-model"
        cls = import_object(self.model, ScpiEmulator, where)
        options = {k: v for k, v in self.options.items() if k != "serial"}
        try:
            emulator = cls(bench, name=name, **options)
        except TypeError as exc:  # unknown x-options
            raise ValueError(f"{where}: {exc}") from None
        if self.serial is not None:
            emulator.serial = self.serial
        return emulator


@dataclass
class BenchFile:
    path: Path
    model: str
    seed: int
    params: dict[str, Any]
    devices: dict[str, DeviceSpec]
    resources: dict[str, str]
    clock: str = "virtual"  # "wall": the bench clock follows wall time (plain scripts that time.sleep)
    faults: Any = None  # top-level ``x-faults``: fault rates of every device when served

    @classmethod
    def load(cls, path: str | Path) -> BenchFile:
        path = resolve(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ValueError(f"{path}: not a readable YAML bench file ({str(exc).splitlines()[0]})") from None
        bench = _section(data, "x-bench", path, "the bench file")
        devices = {}
        for name, d in _section(data, "devices", path, "the bench file").items():
            where = f"device {name!r}"
            devices[name] = DeviceSpec(name, _section(d, "x-model", path, where, str) or None,
                                       dict(_section(d, "x-options", path, where)), _idn_dialogue(d),
                                       d.get("x-faults"))
        resources = {}
        for r, d in _section(data, "resources", path, "the bench file").items():
            device = _section(d, "device", path, f"resource {r!r}", str)
            if not device:
                raise ValueError(f"{path}: resource {r!r} needs 'device: NAME'")
            resources[r] = device
        return cls(
            path=path,
            model=bench.get("model", "labctl.sim_backends.bench:Bench"),
            seed=int(bench.get("seed", 0)),
            params=dict(_section(bench, "params", path, "x-bench")),
            devices=devices,
            resources=resources,
            clock=_clock_mode(bench.get("clock", "virtual"), path),
            faults=data.get("x-faults"),
        )

    overrides: tuple[tuple[str, Any], ...] = ()

    def with_overrides(self, items: Iterable[tuple[str, str]]) -> BenchFile:
        """This bench with ``seed``, ``clock`` (virtual or wall) and dotted ``x-bench.params`` paths
        replaced (values read as YAML scalars: ``3``, ``0.05``, ``true``); the file is not touched."""
        items = tuple(items)
        if not items:
            return self
        seed, params, clock = self.seed, copy.deepcopy(self.params), self.clock
        for key, text in items:
            try:
                value = yaml.safe_load(text) if text else None
            except yaml.YAMLError:
                value = text
            if key == "seed":
                try:
                    seed = int(value)
                except (TypeError, ValueError):
                    raise ValueError(f"{self.path}: bench option seed={text!r} is not an integer") from None
                continue
            if key == "clock":
                clock = _clock_mode(text, self.path)
                continue
            *parents, leaf = key.split(".")
            node = params
            for part in parents:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ValueError(f"{self.path}: bench option {key!r}: {part!r} is not a mapping")
            node[leaf] = value
        return replace(self, seed=seed, params=params, clock=clock, overrides=items)

    def overrides_record(self) -> dict[str, Any]:
        """The overrides, as a run file records them (empty when there are none)."""
        return {"bench_options": "&".join(f"{k}={v}" for k, v in self.overrides)} if self.overrides else {}

    def device_for(self, name: str) -> DeviceSpec | None:
        return self.devices.get(name)

    def faults_of(self, device: str) -> Any:
        """The ``x-faults`` that hold for ``device``: its own, else the file's (None: no faults)."""
        spec = self.devices.get(device)
        return spec.faults if spec is not None and spec.faults is not None else self.faults

    def build_bench(self) -> Bench:
        try:
            bench = import_object(self.model, Bench, "x-bench model")(seed=self.seed, **self.params)
        except (TypeError, ValueError) as exc:  # unknown or bad x-bench.params: say which file
            raise ValueError(f"{self.path}: x-bench: {exc}") from None
        if self.clock == "wall":
            bench.clock.follow_wall()
        return bench


def _clock_mode(value: Any, path: Path) -> str:
    if value not in CLOCK_MODES:
        raise ValueError(f"{path}: bench clock {value!r}: use one of {', '.join(CLOCK_MODES)}")
    return str(value)


def _idn_dialogue(device: Any) -> str | None:
    """The answer a device's dialogues give to ``*IDN?`` (None if they give none)."""
    for dialogue in (device.get("dialogues") or []) if isinstance(device, dict) else []:
        if isinstance(dialogue, dict) and str(dialogue.get("q", "")).strip().upper() == "*IDN?":
            return str(dialogue.get("r", ""))
    return None


def _section(parent: Any, key: str, path: Path, where: str, kind: type = dict) -> Any:
    """``parent[key]`` checked to be a ``kind`` (empty if absent); ValueError naming the file if not."""
    if not isinstance(parent, dict):
        raise ValueError(f"{path}: {where} must be a mapping")
    value = parent.get(key) or kind()
    if not isinstance(value, kind):
        raise ValueError(f"{path}: {key!r} of {where} must be a {'mapping' if kind is dict else 'string'}")
    return value


def describe(path: str | Path) -> dict[str, Any]:
    """What ``labctl bench show`` prints: the bench model, its seed and each resource's device."""
    bf = BenchFile.load(path)
    return {
        "path": str(bf.path),
        "bench": bf.model,
        "seed": bf.seed,
        "params": bf.params,
        "resources": [
            {
                "resource": res,
                "device": dev,
                "model": bf.devices[dev].model if dev in bf.devices else None,
                "options": bf.devices[dev].options if dev in bf.devices else {},
            }
            for res, dev in bf.resources.items()
        ],
    }
