"""Ranking merged devices: one Row per device (plus ASIC datasheet rows), one Cell per column,
each judged against its column's best comparable row (see the package docstring for the spread rule)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from bench.devices import slugify
from bench.energy import EnergyKind
from bench.errors import BenchError
from bench.stats import Spread

if TYPE_CHECKING:
    from bench.compare.merge import DeviceRuns, Provenance, WorkloadFigure
    from bench.economics import EconomicsRow

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
# (column, economics row workload, the row's figure). Revenue per kWh, profit per watt-day and
# the zero-profit BTC price are monotone in the workload's per-joule figure under one scenario,
# so they take its spread verdict.
ECONOMICS_COLUMNS: tuple[tuple[Column, str, Callable[[EconomicsRow], float | None]], ...] = (
    (Column("mining_usd_per_kwh", "mining revenue $/kWh", "USD/kWh", True, "mine", True, True), "mine",
     lambda row: row.revenue_usd_per_kwh),
    (Column("ai_usd_per_kwh", "AI revenue $/kWh (inference requests)", "USD/kWh", True, "infer", True, True), "infer",
     lambda row: row.revenue_usd_per_kwh),
    # per kW rather than per W: digits instead of leading zeros
    (Column("mining_profit_usd_per_kw_day", "mining profit $/kW/day", "USD/(kW*day)", True, "mine", False, True),
     "mine", lambda row: row.profit_usd_per_watt_day * 1000),
    (Column("ai_profit_usd_per_kw_day", "AI profit $/kW/day", "USD/(kW*day)", True, "infer", False, True), "infer",
     lambda row: row.profit_usd_per_watt_day * 1000),
    (Column("breakeven_btc_usd", "break-even BTC $ (zero mining profit)", "USD/BTC", False, "mine", False, True),
     "mine", lambda row: row.breakeven.get("btc_usd_zero_profit")),
    (Column("flip_btc_usd", "mining beats AI above BTC $", "USD/BTC", False, "mine", False, True, ranked=False),
     "mine", lambda row: row.breakeven.get("btc_usd")),
    (Column("mining_payback_days", "mining payback days", "days", False, "mine", False, True), "mine",
     lambda row: row.payback_days),
    (Column("ai_payback_days", "AI payback days", "days", False, "infer", False, True), "infer",
     lambda row: row.payback_days),
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
    loses_money: bool = False  # a money cell of work that does not pay its power: never shown as best

    @property
    def highlighted(self) -> bool:
        """Shown as the column's best: the best (or best run) and not a money-losing row."""
        return self.verdict in (BEST, BEST_RUN) and not self.loses_money

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "loses_money": self.loses_money,
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
    economics: tuple[EconomicsRow, ...] = ()  # the full economics rows behind the money cells

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.label,
            "slug": self.slug,
            "kind": self.kind,
            "files": list(self.files),
            "hosts": list(self.hosts),
            "notes": list(self.notes),
            "cells": {key: cell.to_dict() for key, cell in self.cells.items()},
            "economics": [r.to_dict() for r in self.economics],
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
    economics: Mapping[str, Sequence[EconomicsRow]] | None = None,
    asics: Sequence[EconomicsRow] = (),
    sort_key: str = "hashes_per_joule",
    inputs: Mapping[str, Any] | None = None,
) -> Comparison:
    """Rank devices by ``sort_key`` (best first) and judge every cell against its column's best.

    ``economics``: per device slug, its economics rows, one per workload. ``asics``: datasheet
    mining rows, shown with energy kind "datasheet".
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
    # Presets grouped, the most common first (datasheet rows with it); best first within a group,
    # the newest run first among equals.
    presets = [r.preset for r in raw if not r.datasheet]
    common = max(dict.fromkeys(presets), key=presets.count) if presets else None
    group = {id(row): (0 if r.datasheet or r.preset == common else 1, str(r.preset)) for row, r in zip(judged, raw)}
    newest_first = sorted(judged, key=lambda row: next(r.newest_utc for r in raw if r.slug == row.slug), reverse=True)
    ordered = sorted(newest_first, key=lambda row: (group[id(row)], _sort_value(row.cells[sort_key], sort_column)))
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
    economics: tuple[EconomicsRow, ...] = ()
    preset: str | None = None
    newest_utc: str = ""
    losing: frozenset[str] = frozenset()  # workloads whose economics lose money


def _device_row(device: DeviceRuns, economics_rows: Sequence[EconomicsRow]) -> _RawRow:
    values: dict[str, float | None] = {}
    for column in EFFICIENCY_COLUMNS:
        figure = device.figures.get(column.workload)
        values[column.key] = figure.per_joule if figure else None
    by_workload = {r.workload: r for r in economics_rows}
    missing = dict(device.not_run)
    losing = frozenset(r.workload for r in economics_rows if r.profit_usd_per_day < 0)
    for column, workload, figure_of in ECONOMICS_COLUMNS:
        economics_row = by_workload.get(workload)
        values[column.key] = _finite(figure_of(economics_row)) if economics_row is not None else None
        if values[column.key] is None and economics_row is not None:
            missing[column.key] = _why_no_money(column, economics_row)
    notes = [device.note] if device.note else []
    if device.partial:
        notes.append("partial run: some workloads did not finish")
    notes += [f"{w} {why}" for w, why in device.not_run.items()]
    for economics_row in economics_rows:
        notes += [f"{economics_row.workload} economics: {n}" for n in economics_row.notes]
    return _RawRow(
        device.label, device.slug, device.kind, values, dict(device.figures), missing,
        device.paths, device.hosts, tuple(dict.fromkeys(notes)), economics=tuple(economics_rows),
        preset=device.preset, newest_utc=device.newest_utc or "", losing=losing,
    )


def _why_no_money(column: Column, economics_row: EconomicsRow) -> str:
    if column.key.endswith("payback_days"):
        return "no card price (--card-price)" if economics_row.card_usd is None else "profit not positive"
    return "not computed for this workload"


def _asic_row(asic: EconomicsRow) -> _RawRow:
    values: dict[str, float | None] = {c.key: None for c in EFFICIENCY_COLUMNS}
    values["hashes_per_joule"] = asic.hashes_per_joule
    for column, workload, figure_of in ECONOMICS_COLUMNS:
        values[column.key] = _finite(figure_of(asic)) if workload == "mine" else None
    notes = (asic.source_detail or asic.source,)
    return _RawRow(asic.name, "asic-" + slugify(asic.name), "asic", values, {}, {}, notes=notes, datasheet=True,
                   economics=(asic,), losing=frozenset({"mine"}) if asic.profit_usd_per_day < 0 else frozenset())


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _judge(cols: Sequence[Column], raw: list[_RawRow], notes: list[str]) -> list[Row]:
    cells: list[dict[str, Cell]] = [{} for _ in raw]
    for workload in dict.fromkeys(c.workload for c in cols):
        reference = _reference_provenance(workload, raw)
        if reference is not None and _has_mixed_groups(workload, raw):
            holders = [r.label for r in raw if workload in r.figures and not _differences(workload, r, reference)]
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


def _firmware_figure(workload: str, row: _RawRow) -> bool:
    """A measured ASIC's figure: its own firmware counted the work, not our code under a preset, so
    for a kind whose unit the protocol fixes (a hash) it ranks beside any run of that kind."""
    from bench import workloads

    known = workloads.KINDS.get(workload)
    return row.kind == "asic" and not row.datasheet and known is not None and known.unit_fixed_by_protocol


def _differences(workload: str, row: _RawRow, reference: Provenance) -> list[str]:
    """Why ``row``'s figure cannot rank with the reference runs; a firmware figure only by what
    defines the unit of work."""
    from dataclasses import replace

    provenance = row.figures[workload].provenance
    if _firmware_figure(workload, row):
        blank = {"preset": None, "source_sha256": None}
        return replace(provenance, **blank).differences(replace(reference, **blank))
    return provenance.differences(reference)


def _reference_provenance(workload: str, raw: list[_RawRow]) -> Provenance | None:
    """The provenance most runs share for ``workload`` (ties: the first device given); measured
    ASICs do not vote, their firmware figures rank beside whichever runs there are."""
    groups: dict[Provenance, int] = {}
    for row in raw:
        if workload in row.figures and not _firmware_figure(workload, row):
            p = row.figures[workload].provenance
            groups[p] = groups.get(p, 0) + 1
    if not groups:
        return None
    return max(groups, key=lambda p: groups[p])  # max keeps the first of equal counts


def _has_mixed_groups(workload: str, raw: list[_RawRow]) -> bool:
    return len({r.figures[workload].provenance for r in raw
                if workload in r.figures and not _firmware_figure(workload, r)}) > 1


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
    reasons = _differences(column.workload, row, reference) if reference is not None else []
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
            cell.value, ratio, verdict, cell.note, cell.energy_kind, cell.energy_source, cell.spread,
            loses_money=column.economics and column.workload in raw[i].losing,
        )


def significance(a: Spread, b: Spread) -> str:
    """Whether two spreads of per-joule figures are apart by more than their run-to-run spread."""
    if a.n < MIN_WINDOWS_FOR_VERDICT or b.n < MIN_WINDOWS_FOR_VERDICT:
        return FEW_WINDOWS
    apart = a.max < b.min or b.max < a.min
    return BEYOND_SPREAD if apart else WITHIN_SPREAD
