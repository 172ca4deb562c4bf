"""Comparing devices from saved result files: merge per device, check comparability, rank, judge.

Pure: result documents in, dataclasses out; no files, no printing (bench/commands/compare.py
reads the files and renders). The steps, in order:

1. ``merge_devices``: files of one device become one ``DeviceRuns``. Their measurement windows
   are pooled, so the merged median and spread cover run-to-run variation as well as the
   variation inside a run. Files that ran different code, another preset, other settings or
   another kind of energy figure (measured vs estimated) are refused, never averaged together.
2. ``build_comparison``: one ``Row`` per device (plus optional ASIC datasheet rows), one
   ``Cell`` per column. Each column declares its unit and whether higher is better. A cell
   carries its ratio to the best comparable row and a verdict on whether its difference from
   that row is larger than the run-to-run spread. Rows whose workload came from other code, an
   other preset or schema version, or another model are marked not comparable, with the reason.

Spread rule: two figures differ "beyond spread" when their [min, max] ranges over all windows
do not overlap, i.e. the worse device's best window is still worse than the better device's
worst window. This is conservative and needs no distribution assumption; with fewer than
``MIN_WINDOWS_FOR_VERDICT`` windows on either side no verdict is given. Datasheet (ASIC) rows
have no spread: when one is best, the ratio is still to it, but the spread verdicts of the runs
are against the best run.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from bench import workloads
from bench.devices import slugify
from bench.energy import EnergyKind
from bench.errors import BenchError
from bench.stats import Spread, spread

MIN_WINDOWS_FOR_VERDICT = 3

# Verdicts of a cell against the best comparable row of its column.
BEST = "best"
BEST_RUN = "best run"  # the best measured or estimated device where a datasheet row is best overall
BEYOND_SPREAD = "beyond spread"
WITHIN_SPREAD = "within spread"
FEW_WINDOWS = "too few windows"
NO_SPREAD = "no spread"  # a datasheet figure: one number, no windows
NOT_COMPARABLE = "not comparable"
NO_VERDICT = ""  # no value, or a column without a spread to judge by

# Where a cell's energy figure came from (bench/energy.py); names kept for readers of this module.
MEASURED = EnergyKind.MEASURED
ESTIMATED = EnergyKind.ESTIMATED
DATASHEET = EnergyKind.DATASHEET


@dataclass(frozen=True)
class Loaded:
    """One result file as read: its path (for messages) and its checked document."""

    path: str
    document: dict[str, Any]


@dataclass(frozen=True)
class Provenance:
    """What must match for two figures of one workload to be compared."""

    schema_version: Any
    preset: Any
    source_sha256: Any
    work: tuple[tuple[str, str], ...]  # work-defining config items, values as JSON text

    def differences(self, other: "Provenance") -> list[str]:
        """Human reasons why ``self`` and ``other`` differ; empty when they match."""
        reasons = []
        if self.schema_version != other.schema_version:
            reasons.append(f"schema_version {self.schema_version} vs {other.schema_version}")
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
        schema_version=document.get("schema_version"),
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
        energy_kind=str(first.get("energy_kind", ESTIMATED)),
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


# ---------------------------------------------------------------------------------------------
# The comparison table


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    unit: str
    higher_is_better: bool
    workload: str  # whose spread and comparability the column follows
    ratio: bool  # a ratio to the best row means something (a positive quantity)
    economics: bool = False
    # False: a figure with no better direction (the flip price depends on both workloads), shown
    # but given no best, ratio or verdict; sorting by it goes low to high.
    ranked: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "title": self.title, "unit": self.unit,
            "higher_is_better": self.higher_is_better if self.ranked else None, "workload": self.workload,
        }


EFFICIENCY_COLUMNS = (
    Column("hashes_per_joule", "mining hashes/J", "hashes/J", True, "mine", True),
    Column("decode_tokens_per_joule", "decode tokens/J", "tokens/J", True, "infer", True),
    Column("train_tokens_per_joule", "training tokens/J", "tokens/J", True, "train", True),
)
# (column, economics row workload, economics row field), fields of ``EconomicsRow.to_dict()``.
# Revenue per kWh, profit per watt-day and the zero-profit BTC price are monotone in the
# workload's per-joule figure under one scenario, so they take its spread verdict.
ECONOMICS_COLUMNS = (
    (Column("mining_usd_per_kwh", "mining revenue $/kWh", "USD/kWh", True, "mine", True, True), "mine", "revenue_usd_per_kwh"),
    (Column("ai_usd_per_kwh", "AI revenue $/kWh (decode tokens)", "USD/kWh", True, "infer", True, True), "infer", "revenue_usd_per_kwh"),
    (Column("mining_profit_usd_per_watt_day", "mining profit $/W/day", "USD/(W*day)", True, "mine", False, True), "mine", "profit_usd_per_watt_day"),
    (Column("ai_profit_usd_per_watt_day", "AI profit $/W/day", "USD/(W*day)", True, "infer", False, True), "infer", "profit_usd_per_watt_day"),
    (Column("breakeven_btc_usd", "break-even BTC $ (zero mining profit)", "USD/BTC", False, "mine", False, True), "mine", "breakeven.btc_usd_zero_profit"),
    (Column("flip_btc_usd", "mining beats AI above BTC $", "USD/BTC", False, "mine", False, True, ranked=False), "mine", "breakeven.btc_usd"),
    (Column("mining_payback_days", "mining payback days", "days", False, "mine", False, True), "mine", "payback_days"),
    (Column("ai_payback_days", "AI payback days", "days", False, "infer", False, True), "infer", "payback_days"),
)
# Payback also depends on watts and the card price, so the per-joule spread cannot judge it.
_NO_VERDICT_COLUMNS = {"mining_payback_days", "ai_payback_days"}


def columns(with_economics: bool) -> tuple[Column, ...]:
    extra = tuple(c for c, _, _ in ECONOMICS_COLUMNS) if with_economics else ()
    return EFFICIENCY_COLUMNS + extra


def column_keys(with_economics: bool = True) -> list[str]:
    return [c.key for c in columns(with_economics)]


@dataclass(frozen=True)
class Cell:
    value: float | None
    ratio_to_best: float | None = None
    verdict: str = NO_VERDICT
    note: str = ""  # why not comparable, or why there is no value
    energy_kind: str | None = None  # MEASURED, ESTIMATED or DATASHEET
    energy_source: str | None = None
    spread: Spread | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "ratio_to_best": self.ratio_to_best,
            "verdict": self.verdict,
            "note": self.note,
            "energy_kind": self.energy_kind,
            "energy_source": self.energy_source,
            "spread": self.spread.to_dict() if self.spread else None,
        }


@dataclass(frozen=True)
class Row:
    label: str
    slug: str
    kind: str  # "cpu", "cuda" or "asic"
    cells: dict[str, Cell]
    files: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    economics: tuple[dict[str, Any], ...] = ()  # the full economics rows behind the money cells

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.label,
            "slug": self.slug,
            "kind": self.kind,
            "files": list(self.files),
            "hosts": list(self.hosts),
            "notes": list(self.notes),
            "cells": {key: cell.to_dict() for key, cell in self.cells.items()},
            "economics": list(self.economics),
        }


@dataclass(frozen=True)
class Comparison:
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    sort_key: str
    notes: tuple[str, ...] = ()
    inputs: dict[str, Any] = field(default_factory=dict)  # scenario and other named inputs

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "joulebench-comparison",
            "format_version": 1,
            "sort": self.sort_key,
            "spread_rule": "beyond spread = the [min, max] ranges over all windows do not overlap",
            "columns": [c.to_dict() for c in self.columns],
            "rows": [r.to_dict() for r in self.rows],
            "notes": list(self.notes),
            "inputs": self.inputs,
        }


def build_comparison(
    devices: Sequence[DeviceRuns],
    *,
    economics: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    asics: Sequence[Mapping[str, Any]] = (),
    sort_key: str = "hashes_per_joule",
    inputs: Mapping[str, Any] | None = None,
) -> Comparison:
    """Rank devices by ``sort_key`` (best first) and judge every cell against its column's best.

    ``economics``: per device slug, the dicts of its economics rows (``EconomicsRow.to_dict()``),
    one per workload. ``asics``: datasheet rows with ``name``, ``hashes_per_joule`` and the same
    economics fields, shown with energy kind "datasheet".
    """
    cols = columns(economics is not None)
    keys = [c.key for c in cols]
    if sort_key not in keys:
        raise BenchError(f"unknown sort column {sort_key!r}: expected one of {', '.join(keys)}")
    raw = [_device_row(d, (economics or {}).get(d.slug, ())) for d in devices]
    raw += [_asic_row(a) for a in asics]
    notes: list[str] = []
    judged = _judge(cols, raw, notes)
    sort_column = next(c for c in cols if c.key == sort_key)
    ordered = sorted(judged, key=lambda row: _sort_value(row.cells[sort_key], sort_column))
    return Comparison(cols, tuple(ordered), sort_key, tuple(notes), dict(inputs or {}))


def _sort_value(cell: Cell, column: Column) -> tuple[int, float]:
    if cell.value is None:
        return (1, 0.0)
    return (0, -cell.value if column.higher_is_better and column.ranked else cell.value)


@dataclass
class _RawRow:
    label: str
    slug: str
    kind: str
    values: dict[str, float | None]
    figures: dict[str, WorkloadFigure]  # by workload; empty for ASICs
    missing: dict[str, str]  # workload or column key -> why no figure
    files: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    datasheet: bool = False
    economics: tuple[dict[str, Any], ...] = ()


def _device_row(device: DeviceRuns, economics_rows: Sequence[Mapping[str, Any]]) -> _RawRow:
    values: dict[str, float | None] = {}
    for column in EFFICIENCY_COLUMNS:
        figure = device.figures.get(column.workload)
        values[column.key] = figure.per_joule if figure else None
    by_workload = {str(r.get("workload")): r for r in economics_rows}
    missing = dict(device.not_run)
    for column, workload, path in ECONOMICS_COLUMNS:
        economics_row = by_workload.get(workload)
        values[column.key] = _lookup(economics_row, path)
        if values[column.key] is None and economics_row is not None:
            missing[column.key] = _why_no_money(column, economics_row)
    notes = []
    if device.partial:
        notes.append("partial run: some workloads did not finish")
    notes += [f"{w} {why}" for w, why in device.not_run.items()]
    for economics_row in economics_rows:
        notes += [f"{economics_row.get('workload')} economics: {n}" for n in economics_row.get("notes") or ()]
    return _RawRow(
        device.label, device.slug, device.kind, values, dict(device.figures), missing,
        device.paths, device.hosts, tuple(dict.fromkeys(notes)), economics=tuple(dict(r) for r in economics_rows),
    )


def _why_no_money(column: Column, economics_row: Mapping[str, Any]) -> str:
    if column.key.endswith("payback_days"):
        return "no card price (--card-price)" if economics_row.get("card_usd") is None else "profit not positive"
    return "not computed for this workload"


def _asic_row(asic: Mapping[str, Any]) -> _RawRow:
    values: dict[str, float | None] = {c.key: None for c in EFFICIENCY_COLUMNS}
    values["hashes_per_joule"] = _lookup(asic, "hashes_per_joule")
    for column, workload, path in ECONOMICS_COLUMNS:
        values[column.key] = _lookup(asic, path) if workload == "mine" else None
    name = str(asic.get("name", "ASIC"))
    source = asic.get("source_detail") or asic.get("source")
    notes = (str(source),) if source else ("datasheet figures",)
    return _RawRow(name, "asic-" + slugify(name), "asic", values, {}, {}, notes=notes, datasheet=True,
                   economics=(dict(asic),))


def _lookup(row: Mapping[str, Any] | None, path: str) -> float | None:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _judge(cols: Sequence[Column], raw: list[_RawRow], notes: list[str]) -> list[Row]:
    cells: list[dict[str, Cell]] = [{} for _ in raw]
    for workload in dict.fromkeys(c.workload for c in cols):
        reference = _reference_provenance(workload, raw)
        if reference is not None and _has_mixed_groups(workload, raw):
            holders = [r.label for r in raw if workload in r.figures and not reference.differences(r.figures[workload].provenance)]
            notes.append(f"{workload}: compared against the runs of {', '.join(holders)}; others are marked not comparable")
        kinds = {r.figures[workload].energy_kind for r in raw if workload in r.figures}
        if len(kinds) > 1:
            notes.append(f"{workload}: mixes measured and estimated energy; ratios between them carry the estimate's error")
        for column in (c for c in cols if c.workload == workload):
            for i, row in enumerate(raw):
                cells[i][column.key] = _base_cell(row, column, reference)
            _rank_column(column, raw, cells)
    return [
        Row(r.label, r.slug, r.kind, cells[i], r.files, r.hosts, r.notes, r.economics) for i, r in enumerate(raw)
    ]


def _reference_provenance(workload: str, raw: list[_RawRow]) -> Provenance | None:
    """The provenance most devices share for ``workload`` (ties: the first device given)."""
    groups: dict[Provenance, int] = {}
    for row in raw:
        if workload in row.figures:
            p = row.figures[workload].provenance
            groups[p] = groups.get(p, 0) + 1
    if not groups:
        return None
    return max(groups, key=lambda p: groups[p])  # max keeps the first of equal counts


def _has_mixed_groups(workload: str, raw: list[_RawRow]) -> bool:
    return len({r.figures[workload].provenance for r in raw if workload in r.figures}) > 1


def _base_cell(row: _RawRow, column: Column, reference: Provenance | None) -> Cell:
    value = row.values.get(column.key)
    if row.datasheet:
        if value is None:
            return Cell(None)
        return Cell(value, verdict=NO_SPREAD, energy_kind=DATASHEET, energy_source=row.notes[0] if row.notes else None)
    figure = row.figures.get(column.workload)
    if figure is None:
        return Cell(None, note=row.missing.get(column.workload, "not run"))
    if value is None:
        return Cell(None, note=row.missing.get(column.key, "no economics for this workload"))
    # This row's own value first: "preset long vs quick" reads as "this row ran long, the others quick".
    reasons = figure.provenance.differences(reference) if reference is not None else []
    return Cell(
        value,
        verdict=NOT_COMPARABLE if reasons else NO_VERDICT,
        note="; ".join(reasons),
        energy_kind=figure.energy_kind,
        energy_source=figure.energy_source,
        # Only columns proportional to per-joule figures can carry its spread rescaled.
        spread=_scaled_spread(figure, value) if column.ratio else None,
    )


def _scaled_spread(figure: WorkloadFigure, value: float) -> Spread | None:
    """The per-joule spread, rescaled to a column proportional to per-joule figures."""
    s = figure.per_joule_spread
    if not s.median:
        return None
    k = value / s.median
    lo, hi = sorted((s.min * k, s.max * k))
    q1, q3 = sorted((s.q1 * k, s.q3 * k))
    return Spread(median=value, min=lo, max=hi, q1=q1, q3=q3, n=s.n)


def _rank_column(column: Column, raw: list[_RawRow], cells: list[dict[str, Cell]]) -> None:
    if not column.ranked:
        return
    candidates = [
        i for i, row in enumerate(raw)
        if cells[i][column.key].value is not None and cells[i][column.key].verdict != NOT_COMPARABLE
    ]
    if not candidates:
        return
    pick = max if column.higher_is_better else min
    best_index = pick(candidates, key=lambda i: cells[i][column.key].value)
    best = cells[best_index][column.key]
    # Spread verdicts need a spread on both sides: datasheet rows have none, so runs are judged
    # against the best run, which is the best row unless a datasheet row beats it.
    runs = [i for i in candidates if not raw[i].datasheet]
    best_run = pick(runs, key=lambda i: cells[i][column.key].value) if runs else None
    for i in candidates:
        cell = cells[i][column.key]
        ratio = cell.value / best.value if column.ratio and best.value and best.value > 0 and cell.value > 0 else None
        if i == best_index:
            verdict = BEST
        elif column.key in _NO_VERDICT_COLUMNS:
            verdict = NO_VERDICT
        elif raw[i].datasheet:
            verdict = NO_SPREAD
        elif i == best_run:
            verdict = BEST_RUN
        else:
            verdict = significance(
                raw[best_run].figures[column.workload].per_joule_spread, raw[i].figures[column.workload].per_joule_spread
            )
        cells[i][column.key] = Cell(
            cell.value, ratio, verdict, cell.note, cell.energy_kind, cell.energy_source, cell.spread
        )


def significance(a: Spread, b: Spread) -> str:
    """Whether two spreads of per-joule figures are apart by more than their run-to-run spread."""
    if a.n < MIN_WINDOWS_FOR_VERDICT or b.n < MIN_WINDOWS_FOR_VERDICT:
        return FEW_WINDOWS
    apart = a.max < b.min or b.max < a.min
    return BEYOND_SPREAD if apart else WITHIN_SPREAD


def _short(sha: Any) -> str:
    return str(sha)[:8] if sha else "none"


# ---------------------------------------------------------------------------------------------
# Text renderings (the rich table lives in bench/commands/compare.py)


def format_number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"


def describe_cell(cell: Cell, column: Column) -> str:
    """One line for a cell: value, spread, ratio to the best and the verdict, e.g.
    ``1.23e+06 ±2% x0.51 beyond spread (estimated)``."""
    if cell.value is None:
        return f"- ({cell.note})" if cell.note else "-"
    parts = [format_number(cell.value)]
    if cell.spread is not None and cell.spread.n > 1 and cell.value:
        parts.append(f"±{100 * (cell.spread.max - cell.spread.min) / (2 * abs(cell.value)):.1f}%")
    if cell.ratio_to_best is not None and cell.verdict != BEST:
        parts.append(f"x{cell.ratio_to_best:.3g}")
    if cell.verdict:
        parts.append(cell.verdict if cell.verdict != NOT_COMPARABLE else f"not comparable: {cell.note}")
    if cell.energy_kind and not column.economics:
        parts.append(f"({cell.energy_kind})")
    return " ".join(parts)


CSV_FIELDS_PER_COLUMN = ("", "_ratio_to_best", "_verdict", "_energy_kind", "_windows")


def to_csv(comparison: Comparison) -> str:
    """One line per row; numbers in full precision (repr) so they parse back to the same floats."""
    import csv
    import io

    header = ["device", "slug", "kind", "files"]
    for column in comparison.columns:
        header += [column.key + suffix for suffix in CSV_FIELDS_PER_COLUMN]
    header += ["notes"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in comparison.rows:
        line: list[Any] = [row.label, row.slug, row.kind, len(row.files)]
        for column in comparison.columns:
            cell = row.cells[column.key]
            line += [
                _csv_number(cell.value),
                _csv_number(cell.ratio_to_best),
                cell.verdict if cell.verdict != NOT_COMPARABLE else f"{NOT_COMPARABLE}: {cell.note}",
                cell.energy_kind or "",
                cell.spread.n if cell.spread else "",
            ]
        line.append(" | ".join(row.notes))
        writer.writerow(line)
    return out.getvalue()


def _csv_number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def to_json(comparison: Comparison) -> str:
    from bench.storage import clean_floats

    return json.dumps(clean_floats(comparison.to_dict()), indent=2, allow_nan=False)


def to_markdown(comparison: Comparison) -> str:
    titles = ["device"] + [c.title + (f" ({'higher' if c.higher_is_better else 'lower'} is better)" if c.ranked else "")
                           for c in comparison.columns]
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for row in comparison.rows:
        cells = [describe_cell(row.cells[c.key], c).replace("|", "/") for c in comparison.columns]
        lines.append("| " + " | ".join([row.label.replace("|", "/"), *cells]) + " |")
    lines.append("")
    lines.append(f"Sorted by {comparison.column(comparison.sort_key).title}, best first. "
                 "±: half the min-max range over all windows; xN: ratio to the best comparable row; "
                 "beyond spread: the min-max ranges do not overlap.")
    for note in comparison.notes:
        lines.append(f"- {note}")
    for row in comparison.rows:
        for note in row.notes:
            lines.append(f"- {row.label}: {note}")
    return "\n".join(lines) + "\n"
