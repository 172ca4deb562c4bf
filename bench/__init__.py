"""joulebench: hashes per joule against tokens per joule, on one device, under one method.

``from bench import measure`` measures your own code (bench/api.py). Importing ``bench`` imports
nothing else: the CLI and GPU machines depend on a fast import, so the API loads on first use.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__version__ = "0.1.0"
__all__ = ["Monitor", "measure", "__version__"]


def measure(device: Any = "cpu", **options: Any) -> Any:
    """A ``with`` block measured on ``device``'s meter; see bench.api.measure for the options."""
    from bench.api import measure as _measure

    return _measure(device, **options)


def __getattr__(name: str) -> Any:
    if name == "Monitor":
        from bench.api import Monitor

        return Monitor
    raise AttributeError(f"module 'bench' has no attribute {name!r}")


class _Package(types.ModuleType):
    # bench/measure.py (the run protocol) is a submodule of the same name: importing it would set
    # bench.measure to that module and `from bench import measure` would then give the module, not
    # the function. The submodule stays in sys.modules, so `from bench.measure import ...` works.
    def __setattr__(self, name: str, value: Any) -> None:
        if name == "measure" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
