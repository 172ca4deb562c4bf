"""Result files: one JSON document per run, versioned apart from the tool, written atomically.

Format history (``schema_version``):
  1 (joulebench 0.1.0) first format: tool/commit, machine and device fingerprint, protocol,
    meter, idle baseline, and per workload its phases with windows, medians and spread.

A file of another schema version is refused with a message naming both versions, never guessed at.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.errors import BenchError

SCHEMA_VERSION = 1
FORMAT_NAME = "joulebench-result"
# Fields every workload entry and every phase carries (README documents them).
REQUIRED_FIGURES = ("name", "unit", "rate_per_s", "joules", "energy_source", "per_joule")


def write_atomic(path: Path, document: dict[str, Any]) -> None:
    """Write JSON to ``path`` so that a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, sort_keys=False, allow_nan=False, default=_jsonable)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a result file")


def clean_floats(value: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_floats(v) for v in value]
    return value


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


def result_path(out_dir: Path, machine: str, timestamp: str, device_slug: str) -> Path:
    return out_dir / machine / f"{timestamp}_{device_slug}.json"


def ok_workloads(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The workloads of a result that finished, by name."""
    return {w["name"]: w for w in document["workloads"] if w.get("status") == "ok"}


def phase(workload: dict[str, Any], name: str) -> dict[str, Any] | None:
    for item in workload.get("phases", []):
        if item["name"] == name:
            return item
    return None
