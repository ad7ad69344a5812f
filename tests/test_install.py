"""The distribution installs as labctl.* packages only, from a wheel as from an editable install."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMPORTS = "import labctl, labctl.instruments, labctl.protocols, labctl.sim_backends.physics, pyvisa_labsim"


def _run(args, cwd, **kw):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                 "-w", str(out), str(ROOT)], cwd=out)
    if proc.returncode:
        pytest.skip(f"cannot build a wheel offline here: {proc.stderr.strip()[-200:]}")
    return next(out.glob("*.whl"))


def test_wheel_holds_only_labctl_packages_and_the_backend_module(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"labctl", "pyvisa_labsim.py"}
    assert "labctl/sim_backends/benches/demo.yaml" in names
    assert "labctl/instruments/__init__.py" in names and "labctl/protocols/__init__.py" in names


def test_wheel_install_imports(wheel, tmp_path):
    target = tmp_path / "site"
    proc = _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    code = IMPORTS + "; import sys; assert labctl.__file__.startswith(sys.argv[1]), labctl.__file__"
    proc = _run([sys.executable, "-c", code, str(target)], cwd=tmp_path, env={"PYTHONPATH": str(target)})
    assert proc.returncode == 0, proc.stderr


def test_installed_import_from_elsewhere(tmp_path):
    proc = _run([sys.executable, "-c", IMPORTS + "; print(labctl.sim_backends.physics.__name__)"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
