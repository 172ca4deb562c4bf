"""Economics over a horizon: a row's money month by month, as operators' calculators project it.

Pure arithmetic on a priced row and its scenario. A month is 365.25 / 12 days. Each month:

  difficulty  = difficulty * (1 + difficulty_growth_per_month) ** m      (m = 0 for the first)
  btc_usd     = btc_usd * (1 + btc_usd_growth_per_month) ** m
  subsidy_btc = the consensus subsidy averaged over the month's blocks, counted from block_height at
                144 blocks a day: it halves at block 1,050,000 (and every 210,000 blocks)
  mining revenue = hashes/s x seconds x uptime x (subsidy + fees) / (difficulty x 2^32)
                   x (1 - pool fee) x btc_usd;  AI revenue, power and hosting stay at the day's rates
  profit = revenue - power - hosting; cumulative profit starts at minus the card (or ASIC) price
  npv_usd = -price + sum of profit / (1 + discount_rate_per_year) ** (month / 12)

``switch`` is the same device doing, each month, whichever of its mining and AI work earns more.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any, Sequence

from bench.economics.rows import DAYS_PER_MONTH, SECONDS_PER_DAY, EconomicsRow, btc_per_hash
from bench.errors import BenchError
from bench.market import Scenario, subsidy_btc_at_height

BLOCKS_PER_DAY = 144
HALVING_INTERVAL = 210_000
MAX_MONTHS = 600  # fifty years: further than any hardware or price path means anything


@dataclass(frozen=True)
class Month:
    month: int  # 1 for the first month after the inputs' date
    date: str  # the month's first day, YYYY-MM-DD
    revenue_usd: float
    power_usd: float
    hosting_usd: float
    profit_usd: float
    cumulative_profit_usd: float
    subsidy_btc: float
    difficulty: float
    btc_usd: float
    work: str = ""  # for a switch: which work the month did ("mine" or the AI workload)


@dataclass(frozen=True)
class Horizon:
    months: tuple[Month, ...]
    price_usd: float | None  # the card or ASIC price the cumulative profit starts from
    cumulative_profit_usd: float
    payback_month: int | None  # first month the cumulative profit reaches 0; None: not within the horizon
    npv_usd: float
    halving_date: str | None  # estimated date of the next halving, from the block height

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["months"] = [asdict(m) for m in self.months]
        return out


def months_checked(months: Any) -> int:
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MAX_MONTHS:
        raise BenchError(f"--months must be a whole number from 1 to {MAX_MONTHS}, got {months!r}")
    return months


def month_paths(scenario: Scenario, months: int) -> list[tuple[str, float, float, float]]:
    """(first day, difficulty, btc_usd, mean subsidy) of each month of the horizon."""
    start = _start_date(scenario)
    height = scenario.get("block_height")
    blocks_per_month = BLOCKS_PER_DAY * DAYS_PER_MONTH
    out = []
    for m in range(months):
        first_block = height + m * blocks_per_month
        out.append((
            (start + timedelta(days=m * DAYS_PER_MONTH)).isoformat(),
            scenario.get("difficulty") * (1 + scenario.get("difficulty_growth_per_month")) ** m,
            scenario.get("btc_usd") * (1 + scenario.get("btc_usd_growth_per_month")) ** m,
            _mean_subsidy(first_block, first_block + blocks_per_month),
        ))
    return out


def project(row: EconomicsRow, scenario: Scenario, months: int) -> Horizon:
    """``row`` month by month over ``months`` months of ``scenario``'s paths."""
    months = months_checked(months)
    power = row.electricity_usd_per_day * DAYS_PER_MONTH
    hosting = row.hosting_usd_per_day * DAYS_PER_MONTH
    fees, pool_fee = scenario.get("fees_btc_per_block"), scenario.get("pool_fee")
    out = []
    for m, (first_day, difficulty, btc_usd, subsidy) in enumerate(month_paths(scenario, months), 1):
        if row.is_mining:
            assert row.hashes_per_s is not None
            hashes = row.hashes_per_s * SECONDS_PER_DAY * DAYS_PER_MONTH * row.busy_fraction
            revenue = hashes * btc_per_hash(difficulty, subsidy, fees) * (1 - pool_fee) * btc_usd
        else:
            revenue = row.revenue_usd_per_day * DAYS_PER_MONTH
        out.append(Month(m, first_day, revenue, power, hosting, revenue - power - hosting, 0.0, subsidy,
                         difficulty, btc_usd, row.workload))
    return _totals(out, row.card_usd, scenario)


def switch(mining: Horizon, ai: Horizon, scenario: Scenario) -> Horizon:
    """Each month the better of the two (same device, same card price)."""
    if len(mining.months) != len(ai.months):
        raise BenchError("switch: the two horizons differ in length")
    best = [m if m.profit_usd >= a.profit_usd else a for m, a in zip(mining.months, ai.months)]
    return _totals(best, mining.price_usd, scenario)


def _totals(months: Sequence[Month], price_usd: float | None, scenario: Scenario) -> Horizon:
    rate = scenario.get("discount_rate_per_year")
    cumulative = -(price_usd or 0.0)
    npv = cumulative
    payback = None
    out = []
    for month in months:
        cumulative += month.profit_usd
        npv += month.profit_usd / (1 + rate) ** (month.month / 12)
        if payback is None and price_usd is not None and cumulative >= 0:
            payback = month.month
        out.append(Month(**{**asdict(month), "cumulative_profit_usd": cumulative}))
    return Horizon(tuple(out), price_usd, cumulative, payback, npv, halving_date(scenario))


def halving_date(scenario: Scenario) -> str | None:
    """The next halving's estimated date at 144 blocks a day from the inputs' height."""
    height = int(scenario.get("block_height"))
    next_halving = (height // HALVING_INTERVAL + 1) * HALVING_INTERVAL
    if subsidy_btc_at_height(next_halving) == 0:
        return None
    return (_start_date(scenario) + timedelta(days=(next_halving - height) / BLOCKS_PER_DAY)).isoformat()


def _mean_subsidy(first_block: float, end_block: float) -> float:
    """The subsidy averaged over blocks [first_block, end_block), halvings inside counted exactly."""
    total, at = 0.0, first_block
    while at < end_block:
        boundary = min(end_block, (int(at) // HALVING_INTERVAL + 1) * HALVING_INTERVAL)
        total += subsidy_btc_at_height(int(at)) * (boundary - at)
        at = boundary
    return total / (end_block - first_block)


def _start_date(scenario: Scenario) -> date:
    text = scenario.date
    try:
        return date.fromisoformat(text if len(text) == 10 else f"{text[:7]}-01" if len(text) == 7 else f"{text[:4]}-01-01")
    except ValueError:
        raise BenchError(f"block_height date {text!r} is not a calendar date: give YYYY-MM-DD") from None
