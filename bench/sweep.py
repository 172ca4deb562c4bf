"""Sensitivity: sweep one market input and see where the decision flips.

For each economics row (a device mining, a device doing AI work, a datasheet ASIC), revenue per
kWh is recomputed at every point of the sweep. Two kinds of crossing are reported:

* ``flip``: a device's mining and its AI work earn the same per kWh (mining pays more on one side);
* ``breakeven``: a row's revenue per kWh meets the facility cost per kWh (PUE x electricity price).

Crossings are found on the grid, then refined by bisection on the same pure functions, so plugging
the reported value back into the scenario gives equal revenues (to floating-point precision).

Usage::

    result = sweep(rows, scenario, "btc_usd", 20_000, 200_000)
    save_plot(result, Path("sweep-btc_usd.png")); save_data(result, Path("sweep-btc_usd"))
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from bench.economics import EconomicsRow, recompute
from bench.errors import BenchError
from bench.market import KEYS, Scenario

DEFAULT_POINTS = 201
_BISECTIONS = 100  # halves the bracket to below double precision for any sane range


@dataclass(frozen=True)
class Crossover:
    kind: str  # "flip" | "breakeven"
    rows: tuple[str, ...]  # the two rows that cross, or the row meeting its power cost
    value: float  # the swept input's value at the crossing
    usd_per_kwh: float  # revenue per kWh there
    note: str  # in words, which side is which


@dataclass(frozen=True)
class SweepResult:
    key: str
    unit: str
    scenario: str
    values: tuple[float, ...]
    revenue_usd_per_kwh: dict[str, tuple[float, ...]]  # per row name, at each value
    cost_usd_per_kwh: tuple[float, ...]  # PUE x electricity price at each value
    crossovers: tuple[Crossover, ...]
    row_kinds: dict[str, str]  # row name -> "mine" | "infer" | "train", and datasheet rows as "asic"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["values"] = list(self.values)
        out["revenue_usd_per_kwh"] = {k: list(v) for k, v in self.revenue_usd_per_kwh.items()}
        out["cost_usd_per_kwh"] = list(self.cost_usd_per_kwh)
        out["crossovers"] = [dict(asdict(c), rows=list(c.rows)) for c in self.crossovers]
        return out


def parse_sweep(spec: str) -> tuple[str, float, float]:
    """``KEY=FROM:TO`` -> (key, from, to); both ends must be allowed values of the input."""
    key, sep, span = spec.partition("=")
    start_text, colon, stop_text = span.partition(":")
    key = key.strip()
    if not sep or not colon:
        raise BenchError(f"--sweep {spec!r}: expected KEY=FROM:TO, e.g. --sweep btc_usd=20000:200000")
    if key not in KEYS:
        raise BenchError(f"--sweep {spec!r}: unknown market input {key!r} (known: {', '.join(KEYS)})")
    ends = []
    for text in (start_text, stop_text):
        try:
            value = float(text)
        except ValueError:
            raise BenchError(f"--sweep {spec!r}: {text!r} is not a number") from None
        spec_ = KEYS[key]
        if not math.isfinite(value) or not spec_.check(value):
            raise BenchError(f"--sweep {spec!r}: {key} {value!r} is not allowed ({spec_.meaning} must be {spec_.allowed})")
        ends.append(value)
    if not ends[0] < ends[1]:
        raise BenchError(f"--sweep {spec!r}: FROM must be less than TO")
    return key, ends[0], ends[1]


def _at(scenario: Scenario, key: str, value: float) -> Scenario:
    return scenario.with_value(key, value, f"sweep of {key}")


def _kind(row: EconomicsRow) -> str:
    return "asic" if row.source == "datasheet" else row.workload


def sweep(
    rows: Sequence[EconomicsRow], scenario: Scenario, key: str, start: float, stop: float,
    points: int = DEFAULT_POINTS,
) -> SweepResult:
    """Revenue per kWh of every row across ``points`` values of ``key`` from ``start`` to ``stop``."""
    if not rows:
        raise BenchError("nothing to sweep: give a result file, --hashrate or --tokens-per-s, or keep the ASIC rows")
    if points < 2:
        raise BenchError(f"a sweep needs at least 2 points, got {points}")
    names = [row.name for row in rows]
    if len(set(names)) != len(names):
        raise BenchError("rows to sweep must have distinct names")
    values = tuple(start + (stop - start) * i / (points - 1) for i in range(points))
    curves: dict[str, list[float]] = {name: [] for name in names}
    cost: list[float] = []
    for value in values:
        here = _at(scenario, key, value)
        cost.append(here.get("pue") * here.get("electricity_usd_per_kwh"))
        for row in rows:
            curves[row.name].append(recompute(row, here).revenue_usd_per_kwh)

    def revenue(row: EconomicsRow) -> Callable[[float], float]:
        return lambda x: recompute(row, _at(scenario, key, x)).revenue_usd_per_kwh

    def power_cost(x: float) -> float:
        here = _at(scenario, key, x)
        return here.get("pue") * here.get("electricity_usd_per_kwh")

    crossovers: list[Crossover] = []
    # The decision of a device: its mining against each of its AI workloads.
    for mining in (r for r in rows if r.is_mining and r.source != "datasheet"):
        for ai in (r for r in rows if not r.is_mining and r.device == mining.device):
            f_mining, f_ai = revenue(mining), revenue(ai)
            for x in _roots(lambda x: f_mining(x) - f_ai(x), values):
                crossovers.append(Crossover(
                    "flip", (mining.name, ai.name), x, f_ai(x),
                    f"{mining.name} and {ai.name} earn the same per kWh at {key} = {x:.6g}",
                ))
    # Each row against its own power cost.
    for row in rows:
        f_row = revenue(row)
        for x in _roots(lambda x: f_row(x) - power_cost(x), values):
            crossovers.append(Crossover(
                "breakeven", (row.name,), x, f_row(x),
                f"{row.name} revenue per kWh meets the power cost (PUE x electricity) at {key} = {x:.6g}",
            ))
    return SweepResult(
        key=key, unit=KEYS[key].unit, scenario=scenario.name, values=values,
        revenue_usd_per_kwh={name: tuple(curve) for name, curve in curves.items()},
        cost_usd_per_kwh=tuple(cost), crossovers=tuple(crossovers),
        row_kinds={row.name: _kind(row) for row in rows},
    )


def _roots(f: Callable[[float], float], grid: Sequence[float]) -> list[float]:
    """Where ``f`` changes sign between grid points (or is zero on one), refined by bisection."""
    found: list[float] = []
    samples = [f(x) for x in grid]
    for i, (x0, y0) in enumerate(zip(grid, samples)):
        if y0 == 0:
            found.append(x0)
            continue
        if i + 1 == len(grid):
            break
        x1, y1 = grid[i + 1], samples[i + 1]
        if y1 == 0 or (y0 < 0) == (y1 < 0):
            continue
        lo, hi, f_lo = x0, x1, y0
        for _ in range(_BISECTIONS):
            mid = (lo + hi) / 2
            f_mid = f(mid)
            if f_mid == 0 or mid in (lo, hi):
                lo = hi = mid
                break
            if (f_mid < 0) == (f_lo < 0):
                lo, f_lo = mid, f_mid
            else:
                hi = mid
        found.append((lo + hi) / 2)
    return found


# ---------------------------------------------------------------------------------------------
# Output: data files and the plot (the only I/O here)


def save_data(result: SweepResult, stem: Path) -> list[Path]:
    """Write ``<stem>.csv`` (the curves) and ``<stem>.json`` (curves, crossings); return the paths."""
    stem = Path(stem)
    csv_path, json_path = stem.with_suffix(".csv"), stem.with_suffix(".json")
    names = list(result.revenue_usd_per_kwh)
    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
        with open(csv_path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow([f"{result.key} ({result.unit})", "power cost USD/kWh",
                             *[f"{name} revenue USD/kWh" for name in names]])
            for i, value in enumerate(result.values):
                writer.writerow([repr(value), repr(result.cost_usd_per_kwh[i]),
                                 *[repr(result.revenue_usd_per_kwh[name][i]) for name in names]])
        json_path.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"cannot write the sweep data {stem}: {exc.strerror or exc}") from None
    return [csv_path, json_path]


def save_plot(result: SweepResult, path: Path) -> Path:
    """Revenue per kWh of every row against the swept input, the power cost line and the
    crossings, as PNG or SVG (by the file suffix)."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise BenchError(f"{path}: the plot is written as .png or .svg")
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Mathtext off: row names come from result files and are drawn as written, never parsed.
        with matplotlib.rc_context({"text.parse_math": False}):
            _draw(plt, result, path)
    except OSError as exc:
        raise BenchError(f"cannot write the sweep plot {path}: {exc.strerror or exc}") from None
    return path


def _draw(plt: Any, result: SweepResult, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(10, 6))
    try:
        positive = [v for curve in result.revenue_usd_per_kwh.values() for v in curve if v > 0]
        positive += [v for v in result.cost_usd_per_kwh if v > 0]
        # Mining on a CPU earns a millionth of what an ASIC does: only a log axis shows both.
        log_scale = bool(positive) and max(positive) / min(positive) > 1e3
        styles = {"mine": "-", "infer": "-", "train": "-.", "asic": ":"}
        for name, curve in result.revenue_usd_per_kwh.items():
            kind = result.row_kinds.get(name, "")
            ax.plot(result.values, curve, styles.get(kind, "-"), label=name,
                    linewidth=0.9 if kind == "asic" else 1.8, alpha=0.7 if kind == "asic" else 1.0)
        cost = [(x, c) for x, c in zip(result.values, result.cost_usd_per_kwh) if c > 0 or not log_scale]
        if cost:
            ax.plot([x for x, _ in cost], [c for _, c in cost], "k--", linewidth=1.5, label="power cost (PUE x price)")
        for crossing in result.crossovers:
            if log_scale and crossing.usd_per_kwh <= 0:
                continue
            marker = "o" if crossing.kind == "flip" else "x"
            ax.plot([crossing.value], [crossing.usd_per_kwh], marker, color="red" if crossing.kind == "flip" else "black")
            if crossing.kind == "flip":
                ax.annotate(f"flip {crossing.value:.4g}", (crossing.value, crossing.usd_per_kwh),
                            textcoords="offset points", xytext=(5, 5), fontsize=8, color="red")
        if log_scale:
            from bench.report.axes import plain_log_ticks

            ax.set_yscale("log")
            plain_log_ticks(ax.yaxis)
        ax.set_xlabel(f"{result.key} ({result.unit})")
        ax.set_ylabel("revenue, USD per kWh the device draws")
        ax.set_title(f"Revenue per kWh against {result.key}, scenario {result.scenario}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
