"""The economics as rich tables (printing is the caller's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.economics.rows import WATTS_PER_KILOWATT, EconomicsRow, scenario_hashprice_usd_per_phs_day
from bench.market import Scenario
from bench.units import fmt, si

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

def _efficiency(row: EconomicsRow) -> str:
    if row.hashes_per_joule is not None:
        return f"{si(row.hashes_per_joule)}H/J"
    assert row.tokens_per_joule is not None
    return f"{si(row.tokens_per_joule)}tok/J"


def render_table(rows: list[EconomicsRow], scenario: Scenario) -> RenderableType:
    """The comparison as a rich renderable for console.print: money per day and per kWh, then the
    break-even points, then the scenario's inputs in one line and the rows' notes."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.markup import escape
    from rich.text import Text

    def table(title: str, headers: tuple[str, ...]) -> Table:
        t = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        for header in headers:
            t.add_column(escape(header), justify="left" if header in ("row", "energy") else "right",
                         min_width=12 if header == "row" else None)
        return t

    notes: list[str] = []

    def label(row: EconomicsRow) -> str:
        marks = []
        for note in row.notes:
            if note not in notes:
                notes.append(note)
            marks.append(str(notes.index(note) + 1))
        return row.name + (f" [{','.join(marks)}]" if marks else "")

    per_day = table(
        f"Money per watt, scenario {scenario.name}: {scenario.description}",
        ("row", "energy", "W", "per J", "revenue $/d", "power $/d", "profit $/d"),
    )
    per_kwh = table("Per kWh and per watt, and where it flips",
                    ("row", "revenue $/kWh", "profit $/kWh", "profit $/kW/d", "flip BTC $", "zero-profit BTC $",
                     "b/e $/kWh", "payback d"))
    for row in rows:
        name = escape(label(row))
        per_day.add_row(
            name, escape(row.source), fmt(row.watts), _efficiency(row), fmt(row.revenue_usd_per_day, money=True),
            fmt(row.electricity_usd_per_day, money=True), fmt(row.profit_usd_per_day, money=True),
        )
        per_kwh.add_row(
            name, fmt(row.revenue_usd_per_kwh, money=True), fmt(row.profit_usd_per_kwh, money=True),
            # per kW rather than per W, so the table shows digits instead of leading zeros
            fmt(row.profit_usd_per_watt_day * WATTS_PER_KILOWATT, money=True),
            fmt(row.breakeven.get("btc_usd"), money=True),
            fmt(row.breakeven.get("btc_usd_zero_profit"), money=True),
            fmt(row.breakeven.get("electricity_usd_per_kwh"), money=True), fmt(row.payback_days),
        )
    lines = [
        f"inputs: BTC ${scenario.get('btc_usd'):,.0f}, difficulty {scenario.get('difficulty'):.4g}, hashprice "
        f"${scenario_hashprice_usd_per_phs_day(scenario):.2f}/PH/s/day (computed, gross), pool fee "
        f"{scenario.get('pool_fee'):g} FPPS; tokens ${scenario.get('usd_per_million_tokens'):g}/1M output "
        f"({scenario.model_class} class); rental ${scenario.get('gpu_hour_usd'):g}/GPU-hour x "
        f"{scenario.get('utilization'):g}; electricity ${scenario.get('electricity_usd_per_kwh'):g}/kWh x PUE "
        f"{scenario.get('pue'):g}",
        "energy: measured by a meter, estimated from a model, datasheet figures, or typed by the user. "
        "/d: per day; /kWh: per kWh the device draws; flip BTC $: the BTC price at which this device earns as "
        "much per kWh mining as decoding tokens; b/e $/kWh: the electricity price at which profit is zero.",
        *[f"[{i}] {note}" for i, note in enumerate(notes, 1)],
    ]
    return Group(per_day, per_kwh, Text("\n".join(lines)))


def render_inputs(scenario: Scenario) -> Table:
    """Every market input with its unit, date and source."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"Market inputs, scenario {scenario.name}"), title_justify="left")
    for header in ("input", "value", "unit", "date", "source"):
        table.add_column(header, overflow="fold")
    for key, value in scenario.values.items():
        table.add_row(*(escape(cell) for cell in (key, f"{value.value:g}", value.unit, value.date, value.source)))
    if scenario.published_hashprice is not None:
        published = scenario.published_hashprice
        table.caption = escape(f"published hashprice for {published.date}: ${published.value:g}/PH/s/day "
                         f"({published.source}); computed from these inputs: "
                         f"${scenario_hashprice_usd_per_phs_day(scenario):.2f}")
        table.caption_justify = "left"
    return table
