"""Files of one device become one DeviceRuns: their windows pooled, their provenance checked.

Files that ran different code, another preset, other settings or another kind of energy figure
(measured vs estimated) are refused, never averaged together.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

from bench import workloads
from bench.energy import EnergyKind
from bench.devices import slugify
from bench.errors import BenchError
from bench.stats import Spread, spread


@dataclass(frozen=True)
class Loaded:
    """One result file as read: its path (for messages) and its checked document."""

    path: str
    document: dict[str, Any]


@dataclass(frozen=True)
class Provenance:
    """What must match for two figures of one workload to be compared."""

    preset: Any
    source_sha256: Any
    work: tuple[tuple[str, str], ...]  # work-defining config items, values as JSON text

    def differences(self, other: "Provenance") -> list[str]:
        """Human reasons why ``self`` and ``other`` differ; empty when they match."""
        reasons = []
        if self.preset != other.preset:
            reasons.append(f"preset {self.preset} vs {other.preset}")
        if self.source_sha256 != other.source_sha256:
            reasons.append(
                f"different workload code (source {_short(self.source_sha256)} vs {_short(other.source_sha256)})"
            )
        mine, theirs = dict(self.work), dict(other.work)
        for key in sorted(set(mine) | set(theirs)):
            if mine.get(key) != theirs.get(key):
                a, b = _shown(mine.get(key)), _shown(theirs.get(key))
                reasons.append(f"{key} {a} vs {b}" if a != b else f"{key} settings differ")
        return reasons


def _shown(json_text: str | None) -> str:
    """A config value for a message: a model's name rather than its whole shape."""
    if json_text is None:
        return "unset"
    value = json.loads(json_text)
    if isinstance(value, dict) and "name" in value:
        return json.dumps(value["name"])
    return json_text if len(json_text) <= 60 else json_text[:57] + "..."


@dataclass(frozen=True)
class WorkloadFigure:
    """One workload's headline figures on one device, merged over that device's files."""

    workload: str
    phase: str
    unit: str  # work unit, "hashes" or "tokens"
    per_joule: float  # median over all windows of all files
    per_joule_spread: Spread
    rate_per_s: float
    watts: float
    energy_kind: str  # MEASURED or ESTIMATED
    energy_source: str  # e.g. "measured: nvml energy counter"
    provenance: Provenance
    config: dict[str, Any]

    @property
    def windows(self) -> int:
        return self.per_joule_spread.n


@dataclass(frozen=True)
class DeviceRuns:
    """All files of one device, merged."""

    slug: str
    name: str
    kind: str  # "cpu" | "cuda"
    hosts: tuple[str, ...]
    paths: tuple[str, ...]
    figures: dict[str, WorkloadFigure]  # by workload name
    not_run: dict[str, str]  # workload -> why it has no figure ("failed: ...", "skipped")
    partial: bool  # some file stopped before all its workloads ran
    document: dict[str, Any]  # a result-shaped document holding the merged figures

    @property
    def label(self) -> str:
        return self.name


def merge_devices(loaded: Sequence[Loaded]) -> list[DeviceRuns]:
    """Group result files by device and merge each group; BenchError when a group can't be merged."""
    if not loaded:
        raise BenchError("no result files given")
    _refuse_duplicates(loaded)
    groups: dict[str, list[Loaded]] = {}
    for item in loaded:
        groups.setdefault(_device_slug(item), []).append(item)
    return [_merge_device(slug, items) for slug, items in groups.items()]


def _device_slug(item: Loaded) -> str:
    device = item.document["device"]
    if device.get("slug"):
        return str(device["slug"])
    return slugify(f"{device.get('kind', 'device')}-{device.get('name', 'unknown')}")


def _refuse_duplicates(loaded: Sequence[Loaded]) -> None:
    # The same run given twice would count its windows twice and shrink the spread.
    seen: dict[tuple[Any, ...], str] = {}
    for item in loaded:
        doc = item.document
        key = (doc.get("created_utc"), (doc.get("machine") or {}).get("hostname"), _device_slug(item))
        if key[0] is not None and key in seen:
            raise BenchError(f"{item.path}: the same run as {seen[key]} (given twice)")
        seen[key] = item.path


def _merge_device(slug: str, items: list[Loaded]) -> DeviceRuns:
    first = items[0].document
    figures: dict[str, WorkloadFigure] = {}
    not_run: dict[str, str] = {}
    names: list[str] = []
    for item in items:
        for entry in item.document["workloads"]:
            if entry["name"] not in names:
                names.append(entry["name"])
    for name in names:
        ok = [(item, _workload(item.document, name)) for item in items]
        ok = [(item, entry) for item, entry in ok if entry is not None and entry.get("status") == "ok"]
        if ok:
            figures[name] = _merge_workload(name, ok)
        else:
            not_run[name] = _why_not_run(items, name)
    device = first["device"]
    return DeviceRuns(
        slug=slug,
        name=str(device.get("name", slug)),
        kind=str(device.get("kind", "unknown")),
        hosts=tuple(sorted({str((i.document.get("machine") or {}).get("hostname", "?")) for i in items})),
        paths=tuple(i.path for i in items),
        figures=figures,
        not_run=not_run,
        partial=any(i.document.get("status") != "complete" for i in items),
        document=_merged_document(first, figures),
    )


def _workload(document: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((w for w in document["workloads"] if w.get("name") == name), None)


def _why_not_run(items: list[Loaded], name: str) -> str:
    entry = next(e for e in (_workload(i.document, name) for i in items) if e is not None)
    status = entry.get("status", "unknown")
    error = entry.get("error")
    return f"{status}: {error}" if error else str(status)


def _provenance(document: dict[str, Any], entry: dict[str, Any]) -> Provenance:
    config = entry.get("config") or {}
    work = tuple(
        (key, json.dumps(config.get(key), sort_keys=True)) for key in _work_defining_config(entry["name"])
    )
    return Provenance(
        preset=(document.get("protocol") or {}).get("preset"),
        source_sha256=entry.get("source_sha256"),
        work=work,
    )


def _work_defining_config(name: str) -> tuple[str, ...]:
    """Config keys that define what one unit of work is (bench/workloads KINDS); a kind this
    version does not know has none."""
    known = workloads.KINDS.get(name)
    return known.work_defining_config if known else ()


def _headline_phase(name: str) -> str:
    known = workloads.KINDS.get(name)
    return known.headline_phase if known else name


def _merge_workload(name: str, ok: list[tuple[Loaded, dict[str, Any]]]) -> WorkloadFigure:
    (first_item, first), rest = ok[0], ok[1:]
    provenance = _provenance(first_item.document, first)
    for item, entry in rest:
        reasons = provenance.differences(_provenance(item.document, entry))
        if (entry.get("config") or {}) != (first.get("config") or {}):
            reasons.append("settings differ (" + _config_difference(first.get("config"), entry.get("config")) + ")")
        if entry.get("energy_kind") != first.get("energy_kind"):
            reasons.append(f"energy {first.get('energy_kind')} vs {entry.get('energy_kind')}")
        if reasons:
            raise BenchError(
                f"cannot merge {first_item.path} and {item.path} (same device, workload {name!r}): "
                + "; ".join(reasons)
            )
    per_joule: list[float] = []
    rates: list[float] = []
    watts: list[float] = []
    for item, entry in ok:
        headline = _headline(entry)
        windows = headline.get("windows") or []
        if not windows:
            # No windows kept: the file's own median stands as one value (and gives no spread).
            per_joule.append(_number(headline, "per_joule", item.path, name))
            rates.append(_number(headline, "rate_per_s", item.path, name))
            watts.append(_number(headline, "watts", item.path, name))
            continue
        for window in windows:
            work = _number(window, "work", item.path, name)
            joules = _number(window, "joules", item.path, name)
            seconds = _number(window, "seconds", item.path, name)
            meter_seconds = window.get("meter_seconds", seconds)
            if joules <= 0 or seconds <= 0:
                raise BenchError(f"{item.path}: damaged result file (workload {name!r} has a window of zero length or energy)")
            per_joule.append(work / joules)
            rates.append(work / seconds)
            watts.append(joules / meter_seconds)
    sources = sorted({str(entry.get("energy_source", "unknown")) for _, entry in ok})
    return WorkloadFigure(
        workload=name,
        phase=str(_headline(first).get("name", first.get("headline_phase", _headline_phase(name)))),
        unit=str(first.get("unit", "units")),
        per_joule=spread(per_joule).median,
        per_joule_spread=spread(per_joule),
        rate_per_s=spread(rates).median,
        watts=spread(watts).median,
        energy_kind=str(first.get("energy_kind", EnergyKind.ESTIMATED)),
        energy_source="; ".join(sources),
        provenance=provenance,
        config=dict(first.get("config") or {}),
    )


def _headline(entry: dict[str, Any]) -> dict[str, Any]:
    wanted = entry.get("headline_phase") or _headline_phase(entry["name"])
    for item in entry.get("phases") or []:
        if item.get("name") == wanted:
            return item
    return entry  # the workload entry carries copies of its headline phase's figures


def _number(item: dict[str, Any], key: str, path: str, workload: str) -> float:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BenchError(f"{path}: damaged result file (workload {workload!r} has no number for {key})")
    return float(value)


def _config_difference(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    a, b = a or {}, b or {}
    keys = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    shown = lambda c, k: _shown(json.dumps(c[k], sort_keys=True)) if k in c else "unset"  # noqa: E731
    return ", ".join(f"{k} {shown(a, k)} vs {shown(b, k)}" for k in keys)


def _merged_document(first: dict[str, Any], figures: dict[str, WorkloadFigure]) -> dict[str, Any]:
    """A result-shaped copy of the first file whose headline figures are the merged medians,
    so code that reads one result (economics) reads a merged device the same way."""
    document = copy.deepcopy(first)
    document["workloads"] = []
    for name, figure in figures.items():
        merged = {
            "unit": figure.unit,
            "rate_per_s": figure.rate_per_s,
            "per_joule": figure.per_joule,
            "watts": figure.watts,
            "energy_kind": figure.energy_kind,
            "energy_source": figure.energy_source,
            "spread": {"per_joule": figure.per_joule_spread.to_dict()},
        }
        original = _workload(first, name) or {}
        phases = [dict(p, **merged) if p.get("name") == figure.phase else dict(p) for p in original.get("phases", [])]
        document["workloads"].append(
            {**original, "name": name, "status": "ok", "headline_phase": figure.phase, **merged, "phases": phases}
        )
    return document


def _short(sha: Any) -> str:
    return str(sha)[:8] if sha else "none"
