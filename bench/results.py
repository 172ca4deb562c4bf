"""Result files: one JSON document per run, read once into the typed model of bench/result_model.py.

Format history (``schema_version``): docs/result-format.md. The format is published as a JSON
Schema, docs/result-schema.json, generated from the model (``python -m bench.result_model``).

A file of another schema version is refused with a message naming both versions, never guessed
at; a damaged one with one line naming the file and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.result_model import (
    FORMAT_NAME, REQUIRED_FIGURES, SCHEMA_VERSION, Damaged, Result, parse_document,
)

__all__ = [
    "FORMAT_NAME", "REQUIRED_FIGURES", "SCHEMA_VERSION", "Result", "load_result", "parse_result", "read_result",
    "validate",
]


def read_result(path: str | Path) -> Result:
    """Read and check a result file into a ``Result``; BenchError naming the file and the field."""
    return parse_result(_read_json(Path(path)), str(path))


def load_result(path: str | Path) -> dict[str, Any]:
    """The checked document of a result file as written (for tools that keep the JSON as is)."""
    path = Path(path)
    document = _read_json(path)
    parse_result(document, str(path))
    return document


def parse_result(document: Any, where: str = "result") -> Result:
    """A decoded result document checked and parsed into a ``Result``."""
    _check_format(document, where)
    try:
        return parse_document(document)
    except Damaged as exc:
        raise BenchError(f"{where}: damaged result file ({exc})") from None


def validate(document: Any, where: str = "result") -> dict[str, Any]:
    """``document`` itself once it parses; BenchError otherwise."""
    parse_result(document, where)
    return document


def _check_format(document: Any, where: str) -> None:
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise BenchError(f"{where}: not a joulebench result file")
    version = document.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, (int, float)) or version != SCHEMA_VERSION:
        raise BenchError(
            f"{where}: schema_version {version!r} is not supported "
            f"(this joulebench reads schema_version {SCHEMA_VERSION})"
        )


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchError(f"{path}: no such result file") from None
    except IsADirectoryError:
        raise BenchError(f"{path}: is a directory, not a result file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"{path}: cannot read result file ({exc})") from None
    try:
        return json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_int=_int_in_range,
        )
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: damaged result file (invalid JSON at line {exc.lineno}: {exc.msg})") from None
    except Damaged as exc:
        raise BenchError(f"{path}: damaged result file ({exc})") from None
    except RecursionError:
        raise BenchError(f"{path}: damaged result file (nested too deeply)") from None
    except ValueError as exc:
        raise BenchError(f"{path}: damaged result file ({exc})") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise Damaged(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise Damaged(f"{name} is not a number a result file may hold")


def _int_in_range(text: str) -> int:
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise Damaged(f"integer of {len(text)} digits is too large") from None
    return value
