"""The decision in one line per device: which work earns more per kWh here, by how much, and
where it flips."""

from __future__ import annotations

from typing import Sequence

from bench.economics.rows import EconomicsRow
from bench.market import Scenario
from bench.units import fmt


def verdict_lines(rows: Sequence[EconomicsRow], scenario: Scenario) -> list[str]:
    """One line per device of ``rows`` (in their order): its mining against its AI work."""
    by_device: dict[str, list[EconomicsRow]] = {}
    for row in rows:
        if row.source != "datasheet":  # reference rows, not a device the user has
            by_device.setdefault(row.device or row.name, []).append(row)
    return [_line(device, device_rows, scenario) for device, device_rows in by_device.items()]


def _line(device: str, rows: list[EconomicsRow], scenario: Scenario) -> str:
    mining = next((r for r in rows if r.is_mining), None)
    ai = next((r for r in rows if r.workload == "infer"), None) or next((r for r in rows if r.workload == "train"), None)
    if mining is None or ai is None:
        only = mining or ai or rows[0]
        work = "mining" if only.is_mining else _work(only)
        return (f"{device}: only {work} priced: {fmt(only.revenue_usd_per_kwh, money=True)} revenue and "
                f"{fmt(only.profit_usd_per_kwh, money=True)} profit per kWh ({only.source} energy)")
    ai_better = ai.revenue_usd_per_kwh >= mining.revenue_usd_per_kwh
    high, low = (ai, mining) if ai_better else (mining, ai)
    ratio = high.revenue_usd_per_kwh / low.revenue_usd_per_kwh
    flip_btc = scenario.get("btc_usd") * ai.revenue_usd_per_kwh / mining.revenue_usd_per_kwh
    where = (f"mining pays more above BTC {fmt(flip_btc, money=True)}" if ai_better
             else f"AI pays more below BTC {fmt(flip_btc, money=True)}")
    if ai.pricing_basis == "tokens":
        flip_tokens = scenario.get("usd_per_million_tokens") * mining.revenue_usd_per_kwh / ai.revenue_usd_per_kwh
        where += f", or with tokens {'below' if ai_better else 'above'} {fmt(flip_tokens, money=True)}/1M output"
    kinds = sorted({mining.source, ai.source})
    return (f"{device}: {_work(high) if ai_better else 'mining'} earns {fmt(ratio)}x more per kWh than "
            f"{'mining' if ai_better else _work(low)} ({fmt(high.revenue_usd_per_kwh, money=True)} vs "
            f"{fmt(low.revenue_usd_per_kwh, money=True)}); {where} ({' and '.join(kinds)} energy)")


def _work(row: EconomicsRow) -> str:
    return {"infer": "AI inference", "train": "AI training (rented)"}.get(row.workload, row.workload)
