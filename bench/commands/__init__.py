"""Commands beyond ``run`` and ``devices``; bench/cli.py registers COMMANDS.

Every module of this package is imported and every click command defined in it is collected
(``economics.py`` defines ``economics``; ``compare.py`` defines ``compare`` and ``report``), so a
new command needs no edit here. A module that fails to import raises: a broken command is never
silently missing.
"""

from __future__ import annotations

import importlib
import pkgutil

import click


def _load() -> list[click.Command]:
    commands: dict[str, click.Command] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, click.Command) and value.callback is not None \
                    and value.callback.__module__ == module.__name__:
                commands.setdefault(value.name or "", value)
    return list(commands.values())


COMMANDS: list[click.Command] = _load()
