"""The economics as rich tables (printing is the caller's)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.economics.rows import (
    WATTS_PER_KILOWATT, EconomicsRow, scenario_hashprice_btc_per_phs_day, scenario_hashprice_usd_per_phs_day,
)
from bench.market import Scenario
from bench.units import fmt, si

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

def _efficiency(row: EconomicsRow) -> str:
    if row.hashes_per_joule is not None:
        # miners read J/TH and TH/s; hashes per joule is the same figure, inverted
        return (f"{si(row.hashes_per_joule)}H/J\n{fmt(1e12 / row.hashes_per_joule)} J/TH\n"
                f"{si(row.hashes_per_s)}H/s")
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
            # Numbers never wrap (a wrapped "1,234" reads as "1,"): narrow terminals fold the row
            # names and the headers instead.
            t.add_column(escape(header), justify="left" if header in ("row", "energy") else "right",
                         min_width=12 if header == "row" else None, no_wrap=header not in ("row",),
                         overflow="fold" if header == "row" else "ignore")
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
        ("row", "energy", "W", "per J", "revenue\n$/d", "power\n$/d", "profit\n$/d"),
    )
    # Two narrow tables rather than one wide one, so no number is cut on an 80-column terminal.
    per_kwh = table("Per kWh and per kW", ("row", "revenue\n$/kWh", "profit\n$/kWh", "profit\n$/kW/d"))
    flips = table("Where it flips", ("row", "flip\nBTC $", "0-profit\nBTC $", "b/e\n$/kWh", "payback\ndays"))
    for row in rows:
        name = escape(label(row))
        per_day.add_row(
            name, escape(row.source), fmt(row.watts), _efficiency(row), fmt(row.revenue_usd_per_day, money=True),
            fmt(row.electricity_usd_per_day + row.hosting_usd_per_day, money=True),
            fmt(row.profit_usd_per_day, money=True),
        )
        per_kwh.add_row(
            name, fmt(row.revenue_usd_per_kwh, money=True), fmt(row.profit_usd_per_kwh, money=True),
            # per kW rather than per W, so the table shows digits instead of leading zeros
            fmt(row.profit_usd_per_watt_day * WATTS_PER_KILOWATT, money=True),
        )
        flips.add_row(
            name, fmt(row.breakeven.get("btc_usd"), money=True),
            fmt(row.breakeven.get("btc_usd_zero_profit"), money=True),
            fmt(row.breakeven.get("electricity_usd_per_kwh"), money=True), fmt(row.payback_days),
        )
    rental = (f"rental ${scenario.get('gpu_hour_usd'):g}/GPU-hour (user)" if scenario.has("gpu_hour_usd")
              else "rental at each GPU model's listed rate")
    lines = [
        f"inputs: BTC ${scenario.get('btc_usd'):,.0f}, difficulty {si(scenario.get('difficulty'))}, hashprice "
        f"${scenario_hashprice_usd_per_phs_day(scenario):.2f}/PH/s/day (computed, gross), pool fee "
        f"{scenario.get('pool_fee'):g} FPPS, uptime {scenario.get('uptime'):g}; tokens "
        f"${scenario.get('usd_per_million_tokens'):g}/1M output and ${scenario.get('usd_per_million_input_tokens'):g}/1M "
        f"input ({scenario.model_class} class), {rental}, utilization {scenario.get('utilization'):g}; electricity "
        f"${scenario.get('electricity_usd_per_kwh'):g}/kWh x PUE {scenario.get('pue'):g}, hosting "
        f"${scenario.get('hosting_usd_per_kw_month'):g}/kW/month",
        "energy: measured by a meter, reported by firmware, estimated from a model, datasheet figures, or typed by "
        "the user. /d: per day, busy for the uptime or utilization and idle the rest; power $/d includes hosting; "
        "/kWh: per kWh the device draws; flip BTC $: the BTC price at which this device earns as much per kWh "
        "mining as doing its AI work; b/e $/kWh: the electricity price at which profit is zero.",
        *[f"[{i}] {note}" for i, note in enumerate(notes, 1)],
    ]
    return Group(per_day, per_kwh, flips, Text("\n".join(lines)))


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
        published, in_btc = scenario.published_hashprice, scenario.published_btc_hashprice
        computed = f"${scenario_hashprice_usd_per_phs_day(scenario):.2f}"
        if in_btc is not None:
            computed += f" and {scenario_hashprice_btc_per_phs_day(scenario):.8f} BTC"
        table.caption = escape(f"published hashprice for {published.date}: ${published.value:g}/PH/s/day"
                               + (f" and {in_btc.value:g} BTC" if in_btc is not None else "")
                               + f" ({published.source}); computed from these inputs: {computed}")
        table.caption_justify = "left"
    return table


def render_horizons(rows: list[EconomicsRow], switches: list[tuple[str, Any]], months: int) -> RenderableType:
    """Each row's horizon in one line (the months themselves are in --json), then each device's
    switching between its mining and AI work."""
    from rich import box
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Over {months} months (a month = 365.25/12 days)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("row", overflow="fold", min_width=12)
    for header in ("price $", f"profit $\n{months} mo", "payback\nmonth", "NPV $", "last month\nprofit $"):
        table.add_column(header, justify="right", no_wrap=True)

    def add(name: str, horizon: Any) -> None:
        table.add_row(escape(name), fmt(horizon.price_usd, money=True), fmt(horizon.cumulative_profit_usd, money=True),
                      str(horizon.payback_month) if horizon.payback_month is not None else "-",
                      fmt(horizon.npv_usd, money=True), fmt(horizon.months[-1].profit_usd, money=True))

    for row in rows:
        if row.horizon is not None:
            add(row.name, row.horizon)
    for device, horizon in switches:
        add(f"{device} switch (mine or AI, whichever earns more each month)", horizon)
    halving = next((r.horizon.halving_date for r in rows if r.horizon is not None), None)
    text = ("next halving (block 1,050,000) estimated " + halving + " at 144 blocks a day" if halving else "")
    return Group(table, Text(text + "; payback: first month the cumulative profit reaches the price paid; "
                             "- without a price (--card-price) or not within the horizon"))
