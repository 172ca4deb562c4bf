"""Comparing devices from saved result files: merge per device, check comparability, rank, judge.

Pure: parsed results (bench/result_model.py) in, dataclasses out; no files, no printing
(bench/commands/compare.py reads the files and renders). merge.py, rank.py and render.py hold
the steps. The steps, in order:

1. ``merge_devices``: files of one device become one ``DeviceRuns``. Their measurement windows
   are pooled, so the merged median and spread cover run-to-run variation as well as the
   variation inside a run. Files that ran different code, another preset, other settings or
   another kind of energy figure (measured vs estimated) are refused, never averaged together.
2. ``build_comparison``: one ``Row`` per device (plus optional ASIC datasheet rows), one
   ``Cell`` per column. Each column declares its unit and whether higher is better. A cell
   carries its ratio to the best comparable row and a verdict on whether its difference from
   that row is larger than the run-to-run spread. Rows whose workload came from other code, an
   other preset or another model are marked not comparable, with the reason.

Spread rule: two figures differ "beyond spread" when their [min, max] ranges over all windows
do not overlap, i.e. the worse device's best window is still worse than the better device's
worst window. This is conservative and needs no distribution assumption; with fewer than
``MIN_WINDOWS_FOR_VERDICT`` windows on either side no verdict is given. Datasheet (ASIC) rows
have no spread: when one is best, the ratio is still to it, but the spread verdicts of the runs
are against the best run.
"""

from __future__ import annotations

from bench.compare.merge import DeviceRuns, Loaded, Provenance, WorkloadFigure, merge_devices
from bench.compare.rank import (
    BEST, BEST_RUN, BEYOND_SPREAD, DATASHEET, ECONOMICS_COLUMNS, EFFICIENCY_COLUMNS, ESTIMATED, FEW_WINDOWS,
    MEASURED, MIN_WINDOWS_FOR_VERDICT, NO_SPREAD, NO_VERDICT, NOT_COMPARABLE, WITHIN_SPREAD, Cell, Column,
    Comparison, Row, build_comparison, column_keys, columns, significance,
)
from bench.compare.render import describe_cell, format_number, to_csv, to_json, to_markdown
from bench.compare.fleet import FleetRuns, merge_fleets  # ranks of a launch summed (fleet.py)

__all__ = [
    "BEST", "BEST_RUN", "BEYOND_SPREAD", "DATASHEET", "ECONOMICS_COLUMNS", "EFFICIENCY_COLUMNS", "ESTIMATED",
    "FEW_WINDOWS", "FleetRuns", "MEASURED", "MIN_WINDOWS_FOR_VERDICT", "NO_SPREAD", "NO_VERDICT", "NOT_COMPARABLE",
    "WITHIN_SPREAD", "Cell", "Column", "Comparison", "DeviceRuns", "Loaded", "Provenance", "Row",
    "WorkloadFigure", "build_comparison", "column_keys", "columns", "describe_cell", "format_number",
    "merge_devices", "merge_fleets", "significance", "to_csv", "to_json", "to_markdown",
]
