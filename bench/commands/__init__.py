"""Commands beyond ``run`` and ``devices``, one module each; bench/cli.py registers COMMANDS.

Convention: ``bench/commands/<name>.py`` defines a click command named ``<name>``. A module listed
here that does not exist yet is skipped (engineers land them separately); one that exists but
fails to import raises, so a broken command is never silently missing.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

_MODULES = ("economics", "compare", "report")


def _load() -> list[click.Command]:
    commands = []
    for name in _MODULES:
        if importlib.util.find_spec(f"{__name__}.{name}") is None:
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        commands.append(getattr(module, name))
    return commands


COMMANDS: list[click.Command] = _load()
