"""Result files: one JSON document per run, versioned apart from the tool, written atomically.

Format history (``schema_version``):
  1 (joulebench 0.1.0) first format: tool/commit, machine and device fingerprint, protocol,
    meter, idle baseline, and per workload its phases with windows, medians and spread.

A file of another schema version is refused with a message naming both versions, never guessed at.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.energy import EnergyKind
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
        document = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_int=_int_in_range,
        )
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: damaged result file (invalid JSON at line {exc.lineno}: {exc.msg})") from None
    except _Damaged as exc:
        raise BenchError(f"{path}: damaged result file ({exc})") from None
    except RecursionError:
        raise BenchError(f"{path}: damaged result file (nested too deeply)") from None
    except ValueError as exc:
        raise BenchError(f"{path}: damaged result file ({exc})") from None
    return validate(document, str(path))


class _Damaged(ValueError):
    """A field of a result document of the wrong type, range or kind; the message names its path."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Damaged(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _Damaged(f"{name} is not a number a result file may hold")


def _int_in_range(text: str) -> int:
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise _Damaged(f"integer of {len(text)} digits is too large") from None
    return value


def _at(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _dict(obj: dict[str, Any], key: str, where: str, *, allow_none: bool = False) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None and allow_none:
        return None
    if not isinstance(value, dict):
        raise _Damaged(f"{_at(where, key)}: expected an object, found {_kind(value)}")
    return value


def _list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if not isinstance(value, list):
        raise _Damaged(f"{_at(where, key)}: expected a list, found {_kind(value)}")
    return value


def _str(obj: dict[str, Any], key: str, where: str, *, allow_none: bool = False, optional: bool = False) -> str | None:
    if optional and key not in obj:
        return None
    value = obj.get(key)
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise _Damaged(f"{_at(where, key)}: expected a string, found {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", dict: "an object", list: "a list", str: "a string"}.get(type(value), repr(value)[:40])


def _check_number(value: Any, path: str, *, minimum: float | None = None, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Damaged(f"{path}: expected a number, found {_kind(value)}")
    if not math.isfinite(value):
        raise _Damaged(f"{path}: {value} is not finite")
    if positive and not value > 0:
        raise _Damaged(f"{path}: {value!r} is not positive")
    if minimum is not None and value < minimum:
        raise _Damaged(f"{path}: {value!r} is negative")
    return value


def _number(
    obj: dict[str, Any], key: str, where: str, *, minimum: float | None = None, positive: bool = False,
    allow_none: bool = False, optional: bool = False,
) -> float | None:
    if optional and key not in obj:
        return None
    value = obj.get(key)
    if value is None and allow_none:
        return None
    return _check_number(value, _at(where, key), minimum=minimum, positive=positive)


def _figures(item: dict[str, Any], where: str) -> None:
    """The headline figures a workload entry and each of its phases carry."""
    _str(item, "name", where) if "name" in item or where.count("phases") else None
    _str(item, "unit", where)
    # REQUIRED_FIGURES must be there; the rest are checked where present.
    for key in ("rate_per_s", "per_joule", "watts"):
        _number(item, key, where, positive=True, optional=key not in REQUIRED_FIGURES)
    for key in ("joules", "seconds", "work"):
        _number(item, key, where, minimum=0, optional=key not in REQUIRED_FIGURES)
    _str(item, "energy_source", where)
    kind = item.get("energy_kind")
    if EnergyKind.parse(kind) is None:
        raise _Damaged(f"{_at(where, 'energy_kind')}: {kind!r} is not one of "
                       f"{', '.join(k.value for k in EnergyKind)}")
    if "spread" in item:
        spread = _dict(item, "spread", where)
        for name in spread:
            entry = _dict(spread, name, _at(where, "spread"))
            for figure in entry:
                _number(entry, figure, _at(_at(where, "spread"), name))
    if item.get("above_idle") is not None:
        above = _dict(item, "above_idle", where)
        here = _at(where, "above_idle")
        _number(above, "idle_watts", here, minimum=0, optional=True)
        _number(above, "joules", here, optional=True)
        _number(above, "watts", here, optional=True)
        _number(above, "per_joule", here, positive=True, allow_none=True, optional=True)
    if "throttled" in item:
        for i, reason in enumerate(_list(item, "throttled", where)):
            if not isinstance(reason, str):
                raise _Damaged(f"{_at(_at(where, 'throttled'), i)}: expected a string, found {_kind(reason)}")


def _window(window: Any, where: str) -> None:
    if not isinstance(window, dict):
        raise _Damaged(f"{where}: expected an object, found {_kind(window)}")
    _number(window, "steps", where, minimum=0)
    _number(window, "seconds", where, positive=True)
    _number(window, "meter_seconds", where, positive=True)
    _number(window, "joules", where, positive=True)
    _number(window, "work", where, minimum=0)
    _number(window, "rate_per_s", where, minimum=0, optional=True)
    _number(window, "per_joule", where, minimum=0, optional=True)


def _workload(entry: Any, where: str) -> None:
    if not isinstance(entry, dict):
        raise _Damaged(f"{where}: expected an object, found {_kind(entry)}")
    _str(entry, "name", where)
    status = entry.get("status")
    if status not in ("ok", "failed"):
        raise _Damaged(f"{_at(where, 'status')}: {status!r} is not 'ok' or 'failed'")
    _str(entry, "error", where, allow_none=True, optional=True)
    if status != "ok":
        return
    missing = [k for k in REQUIRED_FIGURES if k not in entry]
    if missing:
        raise _Damaged(f"workload {entry['name']!r} lacks {', '.join(missing)}")
    _figures(entry, where)
    _str(entry, "headline_phase", where, optional=True)
    if "config" in entry:
        _dict(entry, "config", where)
    _str(entry, "source_sha256", where, optional=True)
    for i, item in enumerate(_list(entry, "phases", where) if "phases" in entry else []):
        here = _at(_at(where, "phases"), i)
        if not isinstance(item, dict):
            raise _Damaged(f"{here}: expected an object, found {_kind(item)}")
        missing = [k for k in REQUIRED_FIGURES if k not in item]
        if missing:
            raise _Damaged(f"workload {entry['name']!r} lacks {', '.join(missing)} ({here})")
        _str(item, "name", here)
        _figures(item, here)
        if "windows" in item:
            for j, window in enumerate(_list(item, "windows", here)):
                _window(window, _at(_at(here, "windows"), j))


def validate(document: Any, where: str = "result") -> dict[str, Any]:
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise BenchError(f"{where}: not a joulebench result file")
    version = document.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version != SCHEMA_VERSION:
        raise BenchError(
            f"{where}: schema_version {version!r} is not supported "
            f"(this joulebench reads schema_version {SCHEMA_VERSION})"
        )
    try:
        _document(document)
    except _Damaged as exc:
        raise BenchError(f"{where}: damaged result file ({exc})") from None
    return document


def _document(document: dict[str, Any]) -> None:
    # device is required; the other sections are type-checked where present.
    sections = {key: _dict(document, key, "") for key in ("tool", "machine", "protocol", "meter") if key in document}
    device = _dict(document, "device", "")
    _str(document, "created_utc", "", optional=True, allow_none=True)
    if "machine" in sections:
        _str(sections["machine"], "hostname", "machine", optional=True, allow_none=True)
    for key in ("name", "kind", "slug"):
        _str(device, key, "device", optional=True)
    if "protocol" in sections:
        _str(sections["protocol"], "preset", "protocol", optional=True)
    if "meter" in sections:
        _str(sections["meter"], "kind", "meter", optional=True, allow_none=True)
    idle = _dict(document, "idle", "", allow_none=True)
    if idle is not None:
        for key in ("seconds", "joules", "watts"):
            _number(idle, key, "idle", minimum=0, optional=True)
    for i, entry in enumerate(_list(document, "workloads", "")):
        _workload(entry, _at("workloads", i))


def ok_workloads(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The workloads of a result that finished, by name."""
    return {w["name"]: w for w in document["workloads"] if w.get("status") == "ok"}


def phase(workload: dict[str, Any], name: str) -> dict[str, Any] | None:
    for item in workload.get("phases", []):
        if item["name"] == name:
            return item
    return None
