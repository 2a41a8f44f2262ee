"""Map the top-level folders onto the one `virga` import namespace."""

from setuptools import find_packages, setup

ROOTS = {"virga": "app", "virga.drivers": "drivers", "virga.appliance": "appliance"}


def _packages() -> list[str]:
    """Every package below each mapped folder, named in the virga namespace."""
    found: list[str] = []
    for name, folder in ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder)]
    return found


setup(packages=_packages(), package_dir=ROOTS)
