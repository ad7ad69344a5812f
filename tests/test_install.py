"""One `labctl` everywhere: the wheel holds every package folder, and imports resolve the same way from
the repository root (where ./labctl shadows an installed copy) as from elsewhere, editable or not."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"labctl": "labctl", "instruments": "labctl.instruments", "protocols": "labctl.protocols",
           "sim_backends": "labctl.sim_backends"}
IMPORTS = ("import labctl, labctl.instruments, labctl.protocols, labctl.sim_backends.physics, "
           "labctl.sim_backends.visa_library, pyvisa_labsim")

pytestmark = pytest.mark.slow


def _run(args, cwd, **kw):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, **kw)


def _package_folders() -> set[str]:
    """Every folder holding files under the four roots (caches aside), by the name it installs under."""
    names = set()
    for folder, name in FOLDERS.items():
        for f in (ROOT / folder).rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts:
                names.add(".".join([name, *f.parent.relative_to(ROOT / folder).parts]))
    return names


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a clean copy of the sources (a stale build/ would leak old modules into it)."""
    out, src = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("src") / "labctl"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.h5"))
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                 "-w", str(out), str(src)], cwd=out)
    if proc.returncode:
        pytest.skip(f"cannot build a wheel offline here: {proc.stderr.strip()[-200:]}")
    return next(out.glob("*.whl"))


@pytest.fixture(scope="module")
def site(wheel, tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    proc = _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                cwd=target)
    assert proc.returncode == 0, proc.stderr
    return target


def test_wheel_holds_every_package_folder_and_nothing_else(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"labctl", "pyvisa_labsim.py"}
    packaged = {".".join(n.split("/")[:-1]) for n in names if n.startswith("labctl/")}
    assert packaged == _package_folders()
    assert "labctl/sim_backends/benches/demo.yaml" in names and "labctl/stations/rram.yaml" in names
    assert "labctl/data/hillenbrand1995/vowdata.dat" in names


def test_wheel_install_imports_from_elsewhere(site, tmp_path):
    code = IMPORTS + "; import sys; assert labctl.__file__.startswith(sys.argv[1]), labctl.__file__"
    proc = _run([sys.executable, "-c", code, str(site)], cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("args", [["-c", IMPORTS], ["-m", "labctl.cli", "--help"]])
def test_wheel_install_imports_from_the_repository_root(site, args):
    """./labctl shadows the installed package here; the checkout's folders complete it."""
    proc = _run([sys.executable, *args], cwd=ROOT, env={"PYTHONPATH": str(site)})
    assert proc.returncode == 0, proc.stderr


def test_installed_import_from_elsewhere(tmp_path):
    proc = _run([sys.executable, "-c", IMPORTS + "; print(labctl.sim_backends.physics.__name__)"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_the_core_does_not_know_the_simulator():
    """Nothing under labctl/ names the simulator's package: it is reached through library capabilities
    (labctl.capabilities) and the `labctl.commands` entry point only."""
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in (ROOT / "labctl").rglob("*.py")
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "sim_backends" in line]
    assert hits == []
