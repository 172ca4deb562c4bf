"""joulebench: hashes per joule against tokens per joule, on one device, under one method.

``from bench import measure`` measures your own code (bench/api.py). Importing ``bench`` imports
nothing else: the CLI and GPU machines depend on a fast import, so the API loads on first use.
"""

from __future__ import annotations

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
