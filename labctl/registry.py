"""Finding protocols: the registry by name, discovery of the shipped ones, and protocols from files.

A protocol class with a ``NAME`` enters the registry when it is defined (:func:`register`, called by
:class:`labctl.protocol.Protocol`); :func:`discover` imports every module of :mod:`labctl.protocols`
so that the shipped ones do, keeping the errors of a module that fails to import instead of hiding
every other protocol. A user may also name ``module:Class`` or ``path/to/file.py:Class``
(:func:`get_protocol`); a name read from a data file is only ever looked up in the registry
(:func:`registered_protocol`), never imported.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labctl.protocol import Protocol

__all__ = ["DISCOVERY_ERRORS", "discover", "get_protocol", "protocols", "register", "registered_protocol"]

_REGISTRY: dict[str, type[Protocol]] = {}


def register(cls: type[Protocol]) -> None:
    """Enter ``cls`` under its ``NAME`` (done when a protocol class is defined); a name taken by
    another class is refused."""
    old = _REGISTRY.get(cls.NAME)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(
            f"protocol name {cls.NAME!r} used by both {old.__module__}.{old.__qualname__} "
            f"and {cls.__module__}.{cls.__qualname__}"
        )
    _REGISTRY[cls.NAME] = cls


#: Modules of :mod:`labctl.protocols` that failed to import: module -> error text.
DISCOVERY_ERRORS: dict[str, str] = {}


def discover(package: str = "labctl.protocols") -> None:
    """Import every module of ``package`` so that its protocols register (errors are kept)."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__, prefix=f"{package}."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        try:
            importlib.import_module(info.name)
        except Exception as exc:  # one broken module must not hide every other protocol
            DISCOVERY_ERRORS[info.name] = f"{type(exc).__name__}: {exc}"


def protocols() -> dict[str, type[Protocol]]:
    """Every registered protocol by name (after :func:`discover`)."""
    discover()
    return dict(sorted(_REGISTRY.items()))


def get_protocol(name: str) -> type[Protocol]:
    """A protocol the user names: a registry name, ``module:Class`` (importable, or a module in the
    current folder) or ``path/to/file.py:Class``. KeyError with a one-line reason otherwise.

    Importing a module runs its code: only names the user typed (command line, script) come here;
    names read from run files go through :func:`registered_protocol`.
    """
    if ":" in name:
        return _load_reference(name)
    return registered_protocol(name)


def registered_protocol(name: str) -> type[Protocol]:
    """A protocol by registry name only (never imports a module the name points at): safe for names
    read from data files."""
    known = protocols()
    if name in known:
        return known[name]
    broken = "; ".join(f"{module} failed to import ({err})" for module, err in DISCOVERY_ERRORS.items())
    hint = difflib.get_close_matches(name, known, n=1)
    raise KeyError(
        f"unknown protocol {name!r}"
        + (f" (did you mean {hint[0]!r}?)" if hint else "")
        + f"; known: {', '.join(known) or 'none'} (see `labctl list`)"
        + (f"; {broken}" if broken else "")
    )


def _load_reference(ref: str) -> type[Protocol]:
    """``module:Class`` or ``file.py:Class`` -> the class (the module is imported, its code runs)."""
    target, _, attr = ref.rpartition(":")
    if not target or not attr.isidentifier():
        raise KeyError(f"protocol {ref!r}: expected NAME, module:Class or path/to/file.py:Class")
    is_file = target.endswith(".py") or "/" in target or "\\" in target
    if is_file and not Path(target).is_file():
        raise KeyError(f"protocol file {target!r} not found")
    try:
        module = _import_file(Path(target)) if is_file else _import_module(target)
    except BaseException as exc:  # whatever the user's module raises while importing: one line
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise KeyError(f"cannot import protocol {ref!r}: {_one_line(exc)}") from None
    from labctl.protocol import Protocol

    cls = getattr(module, attr, None)
    if cls is None:
        found = sorted(k for k, v in vars(module).items()
                       if isinstance(v, type) and issubclass(v, Protocol) and v.__module__ == module.__name__)
        raise KeyError(f"{target} has no {attr!r}" + (f"; its protocols: {', '.join(found)}" if found else ""))
    if not (isinstance(cls, type) and issubclass(cls, Protocol)):
        raise KeyError(f"{ref!r} is not a labctl Protocol")
    return cls


def _import_module(name: str):
    """``importlib.import_module``, also finding a module in the current folder (as ``python -m`` does,
    but without letting it shadow an installed module of the same name)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        here = str(Path.cwd())
        if exc.name != name.split(".")[0] or here in sys.path:
            raise
        sys.path.append(here)
        return importlib.import_module(name)


def _import_file(path: Path):
    """Import ``path`` as module ``<stem>`` (its folder on ``sys.path``, so it may import its siblings)."""
    import importlib.util

    path = path.resolve()
    name = path.stem if path.stem.isidentifier() else "protocol_file"
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) and Path(loaded.__file__).resolve() == path:
        return loaded
    if loaded is not None:  # another module of that name is imported: keep both apart
        name = f"labctl_file_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _one_line(exc: BaseException) -> str:
    """``SyntaxError: invalid syntax (file.py, line 3)``: the error's type and first line."""
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0].strip()}" if lines else type(exc).__name__
