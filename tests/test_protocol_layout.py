"""The protocols package: one protocol per module; shared code lives in private helper packages that no
protocol module bypasses by importing another protocol module."""

import ast
import pkgutil
from pathlib import Path

import labctl.protocols
from labctl.protocol import DISCOVERY_ERRORS, protocols

ROOT = Path(labctl.protocols.__file__).parent
PUBLIC = sorted(info.name for info in pkgutil.iter_modules([str(ROOT)]) if not info.name.startswith("_"))


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of the labctl.protocols modules that a file imports (relative imports resolved)."""
    package = "labctl.protocols." + ".".join(path.relative_to(ROOT).parent.parts)
    package = package.rstrip(".")
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}".rstrip(".")
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {n for n in names if n.startswith("labctl.protocols.")}


def test_each_protocol_module_holds_one_protocol():
    found = protocols()
    assert not {k: v for k, v in DISCOVERY_ERRORS.items() if k.startswith("labctl.protocols.")}
    for name in PUBLIC:
        held = [p for p in found.values() if p.__module__ == f"labctl.protocols.{name}"]
        assert len(held) == 1, f"{name}: {[p.NAME for p in held]}"


def test_no_module_of_the_package_imports_a_protocol_module():
    """Protocol modules share code through `_rram`, `_stno`, ...; helpers never reach back into protocols."""
    protocol_modules = {f"labctl.protocols.{name}" for name in PUBLIC}
    for path in sorted(ROOT.rglob("*.py")):
        reached = {n for n in _imported_modules(path) for m in protocol_modules if n == m or n.startswith(m + ".")}
        assert not reached, f"{path.relative_to(ROOT)} imports {sorted(reached)}"
