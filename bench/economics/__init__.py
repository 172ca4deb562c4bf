"""Money per watt: mining against AI work on one device, from measured rates and a market scenario.

rows.py: the arithmetic (pure; its docstring gives the formulas); measured.py: rows of measured
devices and of the datasheet ASICs; render.py: the rich tables.
"""

from bench.economics.measured import asic_rows, rows_for_device, rows_from_result, unpriced
from bench.economics.render import render_horizons, render_inputs, render_table
from bench.economics.rows import (
    HASHES_PER_DIFFICULTY_1, HASHES_PER_PETAHASH, HOURS_PER_DAY, JOULES_PER_KWH, PRICINGS, SECONDS_PER_DAY, SOURCES,
    TOKENS_PER_MILLION, WATTS_PER_KILOWATT, EconomicsRow, ai_row, breakeven_btc_usd, btc_per_hash,
    electricity_usd_per_day, hashprice_usd_per_phs_day, kwh_per_day, mining_row, mining_usd_per_hash, pair,
    recompute, hosting_usd_per_day, scenario_hashprice_btc_per_phs_day, scenario_hashprice_usd_per_phs_day,
    usd_per_token, DAYS_PER_MONTH,
)
from bench.units import fmt, si

__all__ = [
    "HASHES_PER_DIFFICULTY_1", "HASHES_PER_PETAHASH", "HOURS_PER_DAY", "JOULES_PER_KWH", "PRICINGS",
    "SECONDS_PER_DAY", "SOURCES", "TOKENS_PER_MILLION", "WATTS_PER_KILOWATT", "EconomicsRow", "ai_row",
    "asic_rows", "breakeven_btc_usd", "btc_per_hash", "electricity_usd_per_day", "fmt",
    "hashprice_usd_per_phs_day", "kwh_per_day", "mining_row", "mining_usd_per_hash", "pair", "recompute",
    "render_horizons", "render_inputs", "render_table", "hosting_usd_per_day", "DAYS_PER_MONTH", "rows_for_device", "rows_from_result", "unpriced",
    "scenario_hashprice_btc_per_phs_day", "scenario_hashprice_usd_per_phs_day", "si", "usd_per_token",
]
