"""Every API command module; importing this package registers them all."""

import importlib
import pkgutil

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")

import virga.services.vm  # noqa: E402,F401  (job bodies)
import virga.services.vmops  # noqa: E402,F401
