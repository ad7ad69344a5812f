"""Where labctl's import packages live: four top-level folders, installed as ``labctl.*``.

The repository keeps the four side by side (``labctl/``, ``instruments/``, ``protocols/``,
``sim_backends/``). Every package folder under them is found here, so a new sub-package
cannot be left out of the wheel; ``labctl/__init__.py`` maps the same folders in a source checkout.
Everything else about the distribution is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

ROOTS = {
    "labctl": "labctl",
    "labctl.instruments": "instruments",
    "labctl.protocols": "protocols",
    "labctl.sim_backends": "sim_backends",
}
DATA = ["*.yaml", "*.txt", "*.dat"]


def packages() -> list[str]:
    found = []
    for name, folder in ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"])]
    return found


setup(
    packages=packages(),
    package_dir=ROOTS,
    package_data={name: DATA for name in packages()},
    py_modules=["pyvisa_labsim"],
)
