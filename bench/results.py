"""Result files: one JSON document per run, versioned apart from the tool, written atomically.

Format history (``schema_version``):
  1 (joulebench 0.1.0) first format: tool/commit, machine and device fingerprint, protocol,
    meter, idle baseline, and per workload its phases with windows, medians and spread.

A file of another schema version is refused with a message naming both versions, never guessed at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.errors import BenchError

SCHEMA_VERSION = 1
FORMAT_NAME = "joulebench-result"
# Fields every workload entry and every phase carries (README documents them).
REQUIRED_FIGURES = ("name", "unit", "rate_per_s", "joules", "energy_source", "per_joule")


def load_result(path: str | Path) -> dict[str, Any]:
    """Read and check a result file; raise BenchError naming the file and what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchError(f"{path}: no such result file") from None
    except IsADirectoryError:
        raise BenchError(f"{path}: is a directory, not a result file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"{path}: cannot read result file ({exc})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: damaged result file (invalid JSON at line {exc.lineno}: {exc.msg})") from None
    return validate(document, str(path))


def validate(document: Any, where: str = "result") -> dict[str, Any]:
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise BenchError(f"{where}: not a joulebench result file")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BenchError(
            f"{where}: schema_version {version!r} is not supported "
            f"(this joulebench reads schema_version {SCHEMA_VERSION})"
        )
    workloads = document.get("workloads")
    if not isinstance(workloads, list) or not isinstance(document.get("device"), dict):
        raise BenchError(f"{where}: damaged result file (no device or workloads list)")
    for entry in workloads:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise BenchError(f"{where}: damaged result file (a workload entry has no name)")
        if entry.get("status") != "ok":
            continue
        for item in [entry, *entry.get("phases", [])]:
            missing = [k for k in REQUIRED_FIGURES if k not in item]
            if missing:
                raise BenchError(
                    f"{where}: damaged result file (workload {entry['name']!r} lacks {', '.join(missing)})"
                )
    return document


def ok_workloads(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The workloads of a result that finished, by name."""
    return {w["name"]: w for w in document["workloads"] if w.get("status") == "ok"}


def phase(workload: dict[str, Any], name: str) -> dict[str, Any] | None:
    for item in workload.get("phases", []):
        if item["name"] == name:
            return item
    return None
