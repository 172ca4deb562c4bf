"""Text renderings of a Comparison: one-line cells, CSV, JSON and Markdown (the rich table lives
in bench/commands/compare.py)."""

from __future__ import annotations

import json
from typing import Any

from bench.compare.rank import BEST, NOT_COMPARABLE, Cell, Column, Comparison
from bench.units import fmt, format_number, ratio



def describe_cell(cell: Cell, column: Column) -> str:
    """One line for a cell: value, spread, ratio to the best and the verdict, e.g.
    ``1.23 M ±2% x0.51 beyond spread (estimated)``; a mining cell adds J/TH."""
    if cell.value is None:
        return f"- ({cell.note})" if cell.note else "-"
    parts = [format_number(cell.value, column.unit)]
    if column.key == "hashes_per_joule" and cell.value > 0:
        parts.append(f"({fmt(1e12 / cell.value)} J/TH)")  # the miner's unit for the same figure
    if cell.spread is not None and cell.spread.n > 1 and cell.value:
        parts.append(f"±{100 * (cell.spread.max - cell.spread.min) / (2 * abs(cell.value)):.1f}%")
    if cell.ratio_to_best is not None and cell.verdict != BEST:
        parts.append(ratio(cell.ratio_to_best))
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
