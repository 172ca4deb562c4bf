"""Economics over a horizon: the month-by-month paths, the halving, payback, NPV and switching,
against hand-computed cases."""

from __future__ import annotations

import pytest

from bench import economics as econ
from bench.economics.horizon import halving_date, month_paths, project, switch
from bench.errors import BenchError
from bench.market import load_scenario

FLAT = {"difficulty_growth_per_month": 0.0, "btc_usd_growth_per_month": 0.0, "discount_rate_per_year": 0.0,
        "uptime": 1.0, "utilization": 1.0, "hosting_usd_per_kw_month": 0.0}


def scenario(**overrides):
    return load_scenario("2026-01", overrides={**FLAT, **overrides})


def test_a_flat_horizon_repeats_the_day_month_after_month():
    flat = scenario(block_height=900_000)  # far from the halving
    row = econ.mining_row("asic", 200e12, 3500, flat, source="datasheet", card_usd=3000)
    horizon = project(row, flat, 12)
    month = row.profit_usd_per_day * 365.25 / 12
    assert [m.profit_usd for m in horizon.months] == pytest.approx([month] * 12, rel=1e-9)
    assert horizon.cumulative_profit_usd == pytest.approx(-3000 + 12 * month, rel=1e-9)
    assert horizon.npv_usd == pytest.approx(horizon.cumulative_profit_usd, rel=1e-9)  # no discounting


def test_difficulty_growth_shrinks_mining_revenue_geometrically():
    grow = scenario(block_height=900_000, difficulty_growth_per_month=0.05)
    row = econ.mining_row("asic", 200e12, 3500, grow, source="datasheet")
    revenue = [m.revenue_usd for m in project(row, grow, 3).months]
    assert revenue[1] / revenue[0] == pytest.approx(1 / 1.05, rel=1e-12)
    assert revenue[2] / revenue[0] == pytest.approx(1 / 1.05**2, rel=1e-12)


def test_the_halving_at_block_1050000_halves_the_subsidy_within_the_month_it_falls_in():
    # 144 blocks a day, 4,383 blocks a month: a month starting 1,000 blocks before the halving
    # has 1,000 blocks at 3.125 BTC and 3,383 at 1.5625.
    near = scenario(block_height=1_050_000 - 1_000)
    paths = month_paths(near, 2)
    blocks = 144 * 365.25 / 12
    assert paths[0][3] == pytest.approx((1_000 * 3.125 + (blocks - 1_000) * 1.5625) / blocks, rel=1e-12)
    assert paths[1][3] == 1.5625
    assert halving_date(near) == "2026-01-18"  # 1,000 blocks / 144 a day = 6.9 days after 2026-01-12


def test_payback_is_the_first_month_the_cumulative_profit_covers_the_price():
    flat = scenario(block_height=900_000)
    ai = econ.ai_row("gpu", 1000, 300, flat, source="measured", card_usd=20.0)
    horizon = project(ai, flat, 24)
    month = ai.profit_usd_per_day * 365.25 / 12
    expected = next(m for m in range(1, 25) if m * month >= 20.0)
    assert horizon.payback_month == expected
    no_price = project(econ.ai_row("gpu", 1000, 300, flat, source="measured"), flat, 24)
    assert no_price.payback_month is None and no_price.price_usd is None


def test_discounting_lowers_the_npv_below_the_cumulative_profit():
    at = scenario(block_height=900_000, discount_rate_per_year=0.2)
    ai = econ.ai_row("gpu", 1000, 300, at, source="measured", card_usd=10.0)
    horizon = project(ai, at, 12)
    month = ai.profit_usd_per_day * 365.25 / 12
    assert horizon.npv_usd == pytest.approx(-10 + sum(month / 1.2 ** (m / 12) for m in range(1, 13)), rel=1e-12)
    assert horizon.npv_usd < horizon.cumulative_profit_usd


def test_switching_takes_the_better_work_each_month():
    # Mining loses value as difficulty grows; AI stays flat: the switch follows mining, then AI.
    at = scenario(block_height=900_000, difficulty_growth_per_month=0.5)
    mining = econ.mining_row("dev mine", 200e12, 3500, at, source="measured", device="dev")
    # AI earning 90% of mining's first month: mining wins month 1, AI from month 2 (1 / 1.5 < 0.9)
    ai = econ.ai_row("dev infer", 0.9 * 1e6 * mining.revenue_usd_per_day / 86_400 / 0.08, 3500, at,
                     source="measured", device="dev")
    horizons = project(mining, at, 6), project(ai, at, 6)
    both = switch(*horizons, at)
    works = [m.work for m in both.months]
    assert works[0] == "mine" and works[-1] == "infer"
    assert both.cumulative_profit_usd >= max(h.cumulative_profit_usd for h in horizons)


@pytest.mark.parametrize("months", [0, -1, 601, 1.5, True])
def test_a_horizon_of_no_months_or_centuries_is_refused(months):
    flat = scenario()
    with pytest.raises(BenchError, match="--months"):
        project(econ.mining_row("m", 1e12, 20, flat, source="user"), flat, months)
