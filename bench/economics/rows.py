"""Money per watt: mining against AI work on one device, from rates, draws and a market scenario.

Pure arithmetic: numbers and a Scenario in, EconomicsRow out; no I/O, no network.

  BTC per hash (expected)     = (subsidy_btc + fees_btc_per_block) / (difficulty * 2**32)
  mining revenue, USD/day     = hashes_per_s * 86,400 * uptime * BTC per hash * (1 - pool_fee) * btc_usd  (FPPS)
  hashprice, USD/(PH/s)/day   = 1e15 * 86,400 * BTC per hash * btc_usd  (gross of pool fee, as published)
  AI revenue, tokens, USD/day = output_tokens_per_s * 86,400 * utilization
                                * (usd_per_million_tokens + input tokens per output token
                                   * usd_per_million_input_tokens) / 1e6
  AI revenue, rental, USD/day = gpu_hour_usd (the device's own GPU model's rate) * 24 * utilization
  energy, kWh/day             = (watts * busy + idle_watts * (1 - busy)) * 24 / 1000,
                                busy = uptime (mining) or utilization (AI)
  electricity, USD/day        = kWh/day * pue * electricity_usd_per_kwh
  hosting, USD/day            = hosting_usd_per_kw_month * watts / 1000 * 12 / 365.25

The same occupancy on both sides: a miner that hashes 82% of the hours and a GPU whose capacity
sells 85% of the hours each earn for those hours and draw their idle power for the rest. "Per
kWh" means per kWh the device itself draws (what its meter reads); the facility overhead (PUE)
enters on the cost side only:

  profit_usd_per_kwh            = (revenue - electricity - hosting) / kWh
  break-even electricity price  = (revenue - hosting) / (kWh * pue)
  zero-profit BTC price         = btc_usd * (electricity + hosting) / revenue   (mining revenue is
                                  proportional to the BTC price)
  flip BTC price                = btc_usd * AI revenue per kWh / mining revenue per kWh: above it
                                  this device earns more per kWh mining than doing its AI work
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bench.energy import EnergyKind
from bench.errors import BenchError
from bench.market import Scenario

SECONDS_PER_DAY = 86_400
HOURS_PER_DAY = 24
JOULES_PER_KWH = 3.6e6
WATTS_PER_KILOWATT = 1_000
HASHES_PER_DIFFICULTY_1 = 2**32  # expected hashes to find a block at difficulty 1
HASHES_PER_PETAHASH = 1e15
TOKENS_PER_MILLION = 1e6
DAYS_PER_MONTH = 365.25 / 12

SOURCES = tuple(kind.value for kind in EnergyKind)
PRICINGS = ("tokens", "rental")


@dataclass(frozen=True)
class EconomicsRow:
    """One device doing one kind of work, priced under one scenario: a day of it, busy for the
    scenario's uptime (mining) or utilization (AI) at the measured rate and draw, idle the rest."""

    name: str
    workload: str  # "mine" | "infer" | "train"
    source: str  # an EnergyKind value: where the rate and watts come from
    watts: float
    revenue_usd_per_day: float
    electricity_usd_per_day: float  # kWh drawn x PUE x electricity price
    profit_usd_per_day: float  # revenue - electricity - hosting
    revenue_usd_per_kwh: float  # per kWh the device draws
    profit_usd_per_kwh: float
    revenue_usd_per_watt_day: float
    profit_usd_per_watt_day: float
    # btc_usd: flip price against the same device's AI work (None where there is none);
    # electricity_usd_per_kwh: price at which profit is zero; plus, for mining,
    # btc_usd_zero_profit and, for token-priced AI, usd_per_million_tokens (zero profit).
    breakeven: dict[str, float | None]
    payback_days: float | None  # None without a card price, or when profit is not positive
    device: str = ""
    source_detail: str = ""  # e.g. "measured: nvml energy counter", or the datasheet citation
    pricing_basis: str = ""  # "fpps" | "tokens" | "rental"
    pricing: str = ""  # what the revenue is priced by, in words with the numbers used
    hashes_per_s: float | None = None
    hashes_per_joule: float | None = None
    hashprice_usd_per_phs_day: float | None = None  # the scenario's, gross of pool fee
    tokens_per_s: float | None = None
    tokens_per_joule: float | None = None
    card_usd: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    busy_fraction: float = 1.0  # uptime (mining) or utilization (AI) the day is priced at
    idle_watts: float = 0.0  # drawn for the rest of the day
    hosting_usd_per_day: float = 0.0
    kwh_per_day: float = 0.0
    input_tokens_per_output_token: float = 0.0  # prompt tokens each output token is sold with
    gpu_hour_usd: float | None = None  # the rental rate a rental row earns at
    horizon: Any = None  # bench.economics.horizon.Horizon, when --months asked for one

    @property
    def is_mining(self) -> bool:
        return self.workload == "mine"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["notes"] = list(self.notes)
        out["horizon"] = self.horizon.to_dict() if self.horizon is not None else None
        return out


# ---------------------------------------------------------------------------------------------
# Formulas


def btc_per_hash(difficulty: float, subsidy_btc: float, fees_btc_per_block: float) -> float:
    """Expected BTC one hash earns: a block needs difficulty x 2^32 hashes on average."""
    return (subsidy_btc + fees_btc_per_block) / (difficulty * HASHES_PER_DIFFICULTY_1)


def hashprice_usd_per_phs_day(btc_usd: float, difficulty: float, subsidy_btc: float, fees_btc_per_block: float) -> float:
    """USD one PH/s earns in a day, before pool fees: the figure hashprice indexes publish."""
    return HASHES_PER_PETAHASH * SECONDS_PER_DAY * btc_per_hash(difficulty, subsidy_btc, fees_btc_per_block) * btc_usd


def scenario_hashprice_usd_per_phs_day(scenario: Scenario) -> float:
    return scenario.get("btc_usd") * scenario_hashprice_btc_per_phs_day(scenario)


def scenario_hashprice_btc_per_phs_day(scenario: Scenario) -> float:
    """BTC one PH/s earns in a day: the index's BTC-denominated figure, free of any BTC price."""
    return hashprice_usd_per_phs_day(1.0, scenario.get("difficulty"), scenario.get("subsidy_btc"),
                                     scenario.get("fees_btc_per_block"))


def mining_usd_per_hash(scenario: Scenario) -> float:
    """What one hash pays a miner in USD under FPPS, after the pool fee."""
    per_hash = btc_per_hash(scenario.get("difficulty"), scenario.get("subsidy_btc"), scenario.get("fees_btc_per_block"))
    return per_hash * (1 - scenario.get("pool_fee")) * scenario.get("btc_usd")


def usd_per_token(scenario: Scenario) -> float:
    return scenario.get("usd_per_million_tokens") / TOKENS_PER_MILLION


def kwh_per_day(watts: float, busy: float = 1.0, idle_watts: float = 0.0) -> float:
    """kWh drawn in a day busy for the fraction ``busy`` at ``watts`` and idle for the rest."""
    return (watts * busy + idle_watts * (1 - busy)) * HOURS_PER_DAY / WATTS_PER_KILOWATT


def electricity_usd_per_day(watts: float, pue: float, electricity_usd_per_kwh: float, busy: float = 1.0,
                            idle_watts: float = 0.0) -> float:
    return kwh_per_day(watts, busy, idle_watts) * pue * electricity_usd_per_kwh


def hosting_usd_per_day(watts: float, scenario: Scenario) -> float:
    """A hosting fee is charged per kW of the draw the site provisions for, busy or not."""
    return scenario.get("hosting_usd_per_kw_month") * watts / WATTS_PER_KILOWATT / DAYS_PER_MONTH


def breakeven_btc_usd(hashes_per_joule: float, ai_revenue_usd_per_kwh: float, scenario: Scenario) -> float:
    """The BTC price at which mining on this device earns per kWh what its AI work earns per kWh.

    Mining revenue per kWh is proportional to the BTC price (everything else fixed), so the flip
    price is the AI revenue per kWh over the mining revenue per kWh per dollar of BTC price.
    """
    usd_per_kwh_per_btc_usd = hashes_per_joule * JOULES_PER_KWH * mining_usd_per_hash(scenario) / scenario.get("btc_usd")
    return ai_revenue_usd_per_kwh / usd_per_kwh_per_btc_usd


# ---------------------------------------------------------------------------------------------
# Rows


def _require_positive(what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise BenchError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def _require_source(source: str) -> str:
    if source not in SOURCES:
        raise BenchError(f"economics source must be one of {', '.join(SOURCES)}, got {source!r}")
    return str(EnergyKind(source))


def _money(
    *,
    name: str,
    workload: str,
    source: str,
    watts: float,
    busy: float,
    idle_watts: float,
    revenue_usd_per_day: float,
    scenario: Scenario,
    card_usd: float | None,
    breakeven: dict[str, float | None],
    notes: tuple[str, ...],
    **fields: Any,
) -> EconomicsRow:
    """The figures every row shares, from its revenue per day, its draw and its occupancy."""
    pue = scenario.get("pue")
    price = scenario.get("electricity_usd_per_kwh")
    if idle_watts < 0 or not math.isfinite(idle_watts):
        raise BenchError(f"{name}: idle draw must be 0 or more watts, got {idle_watts!r}")
    kwh = kwh_per_day(watts, busy, idle_watts)
    electricity = kwh * pue * price
    hosting = hosting_usd_per_day(watts, scenario)
    profit = revenue_usd_per_day - electricity - hosting
    revenue_per_kwh = revenue_usd_per_day / kwh
    breakeven = {**breakeven, "electricity_usd_per_kwh": (revenue_usd_per_day - hosting) / (kwh * pue)}
    payback = None
    if card_usd is not None:
        card_usd = _require_positive("card price (USD)", card_usd)
        if profit > 0:
            payback = card_usd / profit
        else:
            notes = (*notes, "no payback: profit is not positive at these inputs")
    row = EconomicsRow(
        name=name,
        workload=workload,
        source=source,
        watts=watts,
        revenue_usd_per_day=revenue_usd_per_day,
        electricity_usd_per_day=electricity,
        profit_usd_per_day=profit,
        revenue_usd_per_kwh=revenue_per_kwh,
        profit_usd_per_kwh=profit / kwh,
        revenue_usd_per_watt_day=revenue_usd_per_day / watts,
        profit_usd_per_watt_day=profit / watts,
        breakeven=breakeven,
        payback_days=payback,
        card_usd=card_usd,
        notes=notes,
        busy_fraction=busy,
        idle_watts=idle_watts,
        hosting_usd_per_day=hosting,
        kwh_per_day=kwh,
        **fields,
    )
    _require_finite(row)
    return row


def _require_finite(row: EconomicsRow) -> None:
    """A figure that overflowed or vanished is an input out of range, never a printed inf or null."""
    figures = {k: v for k, v in asdict(row).items() if isinstance(v, float)}
    figures.update({f"breakeven.{k}": v for k, v in row.breakeven.items() if v is not None})
    bad = [k for k, v in figures.items() if not math.isfinite(v)]
    if bad or row.revenue_usd_per_day <= 0 or row.kwh_per_day <= 0:
        raise BenchError(f"{row.name}: the market inputs give no finite {', '.join(bad) or 'revenue'} "
                         "(an input far outside what markets have seen?)")


def mining_row(
    name: str,
    hashes_per_s: float,
    watts: float,
    scenario: Scenario,
    *,
    source: str,
    idle_watts: float = 0.0,
    card_usd: float | None = None,
    device: str = "",
    source_detail: str = "",
    notes: tuple[str, ...] = (),
) -> EconomicsRow:
    """SHA-256d mining at ``hashes_per_s`` drawing ``watts``, paid FPPS under ``scenario``."""
    hashes_per_s = _require_positive(f"{name}: hash rate (H/s)", hashes_per_s)
    watts = _require_positive(f"{name}: watts", watts)
    uptime = scenario.get("uptime")
    revenue = hashes_per_s * mining_usd_per_hash(scenario) * SECONDS_PER_DAY * uptime
    pricing = (
        f"FPPS: (subsidy {scenario.get('subsidy_btc'):g} + fees {scenario.get('fees_btc_per_block'):g} BTC/block)"
        f" x (1 - pool fee {scenario.get('pool_fee'):g}) x BTC ${scenario.get('btc_usd'):,.0f}"
        f" / (difficulty {scenario.get('difficulty'):.4g} x 2^32), hashing {uptime:g} of the hours"
    )
    row = _money(
        name=name, workload="mine", source=_require_source(source), watts=watts, busy=uptime, idle_watts=idle_watts,
        revenue_usd_per_day=revenue, scenario=scenario, card_usd=card_usd, notes=notes, breakeven={"btc_usd": None},
        device=device, source_detail=source_detail, pricing_basis="fpps", pricing=pricing,
        hashes_per_s=hashes_per_s, hashes_per_joule=hashes_per_s / watts,
        hashprice_usd_per_phs_day=scenario_hashprice_usd_per_phs_day(scenario),
    )
    # Revenue is proportional to the BTC price: zero profit where it just pays power and hosting.
    zero = scenario.get("btc_usd") * (row.electricity_usd_per_day + row.hosting_usd_per_day) / revenue
    return replace(row, breakeven={**row.breakeven, "btc_usd_zero_profit": zero})


def ai_row(
    name: str,
    tokens_per_s: float,
    watts: float,
    scenario: Scenario,
    *,
    workload: str = "infer",
    source: str,
    pricing: str | None = None,
    gpu_hour_usd: float | None = None,
    input_tokens_per_output_token: float = 0.0,
    idle_watts: float = 0.0,
    card_usd: float | None = None,
    device: str = "",
    source_detail: str = "",
    notes: tuple[str, ...] = (),
) -> EconomicsRow:
    """AI work at ``tokens_per_s`` (output tokens) drawing ``watts``: priced per token sold
    (``pricing="tokens"``, the default for inference; each output token brings
    ``input_tokens_per_output_token`` prompt tokens at the input price) or as a rented GPU-hour
    (the default for training) at ``gpu_hour_usd``, the device's own rate (a scenario's
    ``gpu_hour_usd``, given by the user, replaces it). Both earn for the utilization's share of
    the hours."""
    if workload not in ("infer", "train"):
        raise BenchError(f"AI workload must be infer or train, got {workload!r}")
    pricing = pricing or ("tokens" if workload == "infer" else "rental")
    if pricing not in PRICINGS:
        raise BenchError(f"AI pricing must be one of {', '.join(PRICINGS)}, got {pricing!r}")
    tokens_per_s = _require_positive(f"{name}: token rate (tokens/s)", tokens_per_s)
    watts = _require_positive(f"{name}: watts", watts)
    utilization = scenario.get("utilization")
    breakeven: dict[str, float | None] = {"btc_usd": None}
    rate = None
    if pricing == "tokens":
        input_price = scenario.get("usd_per_million_input_tokens")
        usd_per_output_token = (scenario.get("usd_per_million_tokens")
                                + input_tokens_per_output_token * input_price) / TOKENS_PER_MILLION
        revenue = tokens_per_s * usd_per_output_token * SECONDS_PER_DAY * utilization
        text = (f"output tokens at ${scenario.get('usd_per_million_tokens'):g}/1M ({scenario.model_class} class)"
                + (f" with {input_tokens_per_output_token:g} prompt tokens each at ${input_price:g}/1M"
                   if input_tokens_per_output_token else "")
                + f", {utilization:g} of capacity sold")
    else:
        rate = scenario.get("gpu_hour_usd") if scenario.has("gpu_hour_usd") else gpu_hour_usd
        if rate is None:
            raise BenchError(f"{name}: no GPU-hour rental rate for this device: give one with --set gpu_hour_usd=...")
        rate = _require_positive(f"{name}: GPU-hour rate", rate)
        revenue = rate * HOURS_PER_DAY * utilization
        text = f"GPU rental ${rate:g}/GPU-hour x utilization {utilization:g} (independent of tokens/s)"
    row = _money(
        name=name, workload=workload, source=_require_source(source), watts=watts, busy=utilization,
        idle_watts=idle_watts, revenue_usd_per_day=revenue, scenario=scenario, card_usd=card_usd, notes=notes,
        breakeven=breakeven, device=device, source_detail=source_detail, pricing_basis=pricing, pricing=text,
        tokens_per_s=tokens_per_s, tokens_per_joule=tokens_per_s / watts,
        input_tokens_per_output_token=input_tokens_per_output_token, gpu_hour_usd=rate,
    )
    if pricing == "tokens":
        # Revenue is proportional to the token prices: zero profit at this output price (the input
        # price scaled with it).
        zero = scenario.get("usd_per_million_tokens") * (row.electricity_usd_per_day + row.hosting_usd_per_day) / revenue
        row = replace(row, breakeven={**row.breakeven, "usd_per_million_tokens": zero})
    return row


def pair(mining: EconomicsRow, ai: EconomicsRow, scenario: Scenario) -> tuple[EconomicsRow, EconomicsRow]:
    """Both rows with the flip BTC price filled in: where this device's mining earns per kWh what
    its AI work earns per kWh (mining revenue per kWh is proportional to the BTC price)."""
    if not mining.is_mining or ai.is_mining or mining.hashes_per_joule is None:
        raise BenchError("pair() takes a mining row and an AI row")
    flip = scenario.get("btc_usd") * ai.revenue_usd_per_kwh / mining.revenue_usd_per_kwh
    if not math.isfinite(flip):
        raise BenchError(f"{mining.name}: no finite flip price at these inputs")
    return (
        replace(mining, breakeven={**mining.breakeven, "btc_usd": flip}),
        replace(ai, breakeven={**ai.breakeven, "btc_usd": flip}),
    )


def recompute(row: EconomicsRow, scenario: Scenario) -> EconomicsRow:
    """The same device and work priced under another scenario (e.g. one point of a sweep)."""
    common = dict(source=row.source, card_usd=row.card_usd, device=row.device, idle_watts=row.idle_watts,
                  source_detail=row.source_detail, notes=row.notes)
    if row.is_mining:
        assert row.hashes_per_s is not None
        return mining_row(row.name, row.hashes_per_s, row.watts, scenario, **common)
    assert row.tokens_per_s is not None
    return ai_row(row.name, row.tokens_per_s, row.watts, scenario, workload=row.workload, pricing=row.pricing_basis,
                  gpu_hour_usd=row.gpu_hour_usd, input_tokens_per_output_token=row.input_tokens_per_output_token,
                  **common)
