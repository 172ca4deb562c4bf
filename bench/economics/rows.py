"""Money per watt: mining against AI work on one device, from rates, draws and a market scenario.

Pure arithmetic: numbers and a Scenario in, EconomicsRow out; no I/O, no network.

  BTC per hash (expected)    = (subsidy_btc + fees_btc_per_block) / (difficulty * 2**32)
  mining revenue, USD/s      = hashes_per_s * BTC per hash * (1 - pool_fee) * btc_usd    (FPPS payout)
  hashprice, USD/(PH/s)/day  = 1e15 * 86,400 * BTC per hash * btc_usd  (gross of pool fee, as published)
  AI revenue, tokens, USD/s  = tokens_per_s * usd_per_million_tokens / 1e6
  AI revenue, rental, USD/day = gpu_hour_usd * 24 * utilization
  electricity, USD/day       = watts * 24 / 1000 * pue * electricity_usd_per_kwh

"Per kWh" means per kWh the device itself draws (what its meter reads); the facility overhead
(PUE) enters on the cost side only:

  profit_usd_per_kwh             = revenue_usd_per_kwh - pue * electricity_usd_per_kwh
  break-even electricity price   = revenue_usd_per_kwh / pue
  break-even BTC price (flip)    = the btc_usd at which this device's mining revenue per kWh equals
                                   its AI (decode) revenue per kWh; mining pays more above it.
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

SOURCES = tuple(kind.value for kind in EnergyKind)
PRICINGS = ("tokens", "rental")


@dataclass(frozen=True)
class EconomicsRow:
    """One device doing one kind of work, priced under one scenario. Money per day assumes the
    device runs around the clock at the measured rate and draw."""

    name: str
    workload: str  # "mine" | "infer" | "train"
    source: str  # an EnergyKind value: where the rate and watts come from
    watts: float
    revenue_usd_per_day: float
    electricity_usd_per_day: float  # device watts x PUE x electricity price
    profit_usd_per_day: float
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

    @property
    def is_mining(self) -> bool:
        return self.workload == "mine"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["notes"] = list(self.notes)
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
    return hashprice_usd_per_phs_day(
        scenario.get("btc_usd"), scenario.get("difficulty"), scenario.get("subsidy_btc"),
        scenario.get("fees_btc_per_block"),
    )


def mining_usd_per_hash(scenario: Scenario) -> float:
    """What one hash pays a miner in USD under FPPS, after the pool fee."""
    per_hash = btc_per_hash(scenario.get("difficulty"), scenario.get("subsidy_btc"), scenario.get("fees_btc_per_block"))
    return per_hash * (1 - scenario.get("pool_fee")) * scenario.get("btc_usd")


def usd_per_token(scenario: Scenario) -> float:
    return scenario.get("usd_per_million_tokens") / TOKENS_PER_MILLION


def rental_revenue_usd_per_day(scenario: Scenario) -> float:
    return scenario.get("gpu_hour_usd") * HOURS_PER_DAY * scenario.get("utilization")


def kwh_per_day(watts: float) -> float:
    return watts * HOURS_PER_DAY / WATTS_PER_KILOWATT


def electricity_usd_per_day(watts: float, pue: float, electricity_usd_per_kwh: float) -> float:
    return kwh_per_day(watts) * pue * electricity_usd_per_kwh


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
    revenue_usd_per_day: float,
    scenario: Scenario,
    card_usd: float | None,
    breakeven: dict[str, float | None],
    notes: tuple[str, ...],
    **fields: Any,
) -> EconomicsRow:
    """The figures every row shares, from its revenue per day and its draw."""
    pue = scenario.get("pue")
    price = scenario.get("electricity_usd_per_kwh")
    electricity = electricity_usd_per_day(watts, pue, price)
    profit = revenue_usd_per_day - electricity
    revenue_per_kwh = revenue_usd_per_day / kwh_per_day(watts)
    breakeven = {**breakeven, "electricity_usd_per_kwh": revenue_per_kwh / pue}
    payback = None
    if card_usd is not None:
        card_usd = _require_positive("card price (USD)", card_usd)
        if profit > 0:
            payback = card_usd / profit
        else:
            notes = (*notes, "no payback: profit is not positive at these inputs")
    return EconomicsRow(
        name=name,
        workload=workload,
        source=source,
        watts=watts,
        revenue_usd_per_day=revenue_usd_per_day,
        electricity_usd_per_day=electricity,
        profit_usd_per_day=profit,
        revenue_usd_per_kwh=revenue_per_kwh,
        profit_usd_per_kwh=revenue_per_kwh - pue * price,
        revenue_usd_per_watt_day=revenue_usd_per_day / watts,
        profit_usd_per_watt_day=profit / watts,
        breakeven=breakeven,
        payback_days=payback,
        card_usd=card_usd,
        notes=notes,
        **fields,
    )


def mining_row(
    name: str,
    hashes_per_s: float,
    watts: float,
    scenario: Scenario,
    *,
    source: str,
    card_usd: float | None = None,
    device: str = "",
    source_detail: str = "",
    notes: tuple[str, ...] = (),
) -> EconomicsRow:
    """SHA-256d mining at ``hashes_per_s`` drawing ``watts``, paid FPPS under ``scenario``."""
    hashes_per_s = _require_positive(f"{name}: hash rate (H/s)", hashes_per_s)
    watts = _require_positive(f"{name}: watts", watts)
    usd_per_hash = mining_usd_per_hash(scenario)
    revenue = hashes_per_s * usd_per_hash * SECONDS_PER_DAY
    pue, price = scenario.get("pue"), scenario.get("electricity_usd_per_kwh")
    hashes_per_joule = hashes_per_s / watts
    # Zero profit: revenue per kWh (proportional to the BTC price) equals PUE x electricity price.
    usd_per_kwh_per_btc_usd = hashes_per_joule * JOULES_PER_KWH * usd_per_hash / scenario.get("btc_usd")
    pricing = (
        f"FPPS: (subsidy {scenario.get('subsidy_btc'):g} + fees {scenario.get('fees_btc_per_block'):g} BTC/block)"
        f" x (1 - pool fee {scenario.get('pool_fee'):g}) x BTC ${scenario.get('btc_usd'):,.0f}"
        f" / (difficulty {scenario.get('difficulty'):.4g} x 2^32)"
    )
    return _money(
        name=name, workload="mine", source=_require_source(source), watts=watts, revenue_usd_per_day=revenue,
        scenario=scenario, card_usd=card_usd, notes=notes,
        breakeven={"btc_usd": None, "btc_usd_zero_profit": pue * price / usd_per_kwh_per_btc_usd},
        device=device, source_detail=source_detail, pricing_basis="fpps", pricing=pricing,
        hashes_per_s=hashes_per_s, hashes_per_joule=hashes_per_joule,
        hashprice_usd_per_phs_day=scenario_hashprice_usd_per_phs_day(scenario),
    )


def ai_row(
    name: str,
    tokens_per_s: float,
    watts: float,
    scenario: Scenario,
    *,
    workload: str = "infer",
    source: str,
    card_usd: float | None = None,
    pricing: str | None = None,
    device: str = "",
    source_detail: str = "",
    notes: tuple[str, ...] = (),
) -> EconomicsRow:
    """AI work at ``tokens_per_s`` drawing ``watts``: priced per output token (``pricing="tokens"``,
    the default for inference) or as a rented GPU-hour x utilization (the default for training)."""
    if workload not in ("infer", "train"):
        raise BenchError(f"AI workload must be infer or train, got {workload!r}")
    pricing = pricing or ("tokens" if workload == "infer" else "rental")
    if pricing not in PRICINGS:
        raise BenchError(f"AI pricing must be one of {', '.join(PRICINGS)}, got {pricing!r}")
    tokens_per_s = _require_positive(f"{name}: token rate (tokens/s)", tokens_per_s)
    watts = _require_positive(f"{name}: watts", watts)
    pue, price = scenario.get("pue"), scenario.get("electricity_usd_per_kwh")
    breakeven: dict[str, float | None] = {"btc_usd": None}
    if pricing == "tokens":
        revenue = tokens_per_s * usd_per_token(scenario) * SECONDS_PER_DAY
        tokens_per_kwh = tokens_per_s / watts * JOULES_PER_KWH
        # Zero profit: tokens per kWh x price per token = PUE x electricity price.
        breakeven["usd_per_million_tokens"] = pue * price / tokens_per_kwh * TOKENS_PER_MILLION
        text = (f"output tokens at ${scenario.get('usd_per_million_tokens'):g}/1M "
                f"({scenario.model_class} class)")
    else:
        revenue = rental_revenue_usd_per_day(scenario)
        text = (f"GPU rental ${scenario.get('gpu_hour_usd'):g}/GPU-hour x utilization "
                f"{scenario.get('utilization'):g} (rate of an H100-class GPU; independent of tokens/s)")
    return _money(
        name=name, workload=workload, source=_require_source(source), watts=watts, revenue_usd_per_day=revenue,
        scenario=scenario, card_usd=card_usd, notes=notes, breakeven=breakeven,
        device=device, source_detail=source_detail, pricing_basis=pricing, pricing=text,
        tokens_per_s=tokens_per_s, tokens_per_joule=tokens_per_s / watts,
    )


def pair(mining: EconomicsRow, ai: EconomicsRow, scenario: Scenario) -> tuple[EconomicsRow, EconomicsRow]:
    """Both rows with the flip BTC price filled in: where this device's mining earns per kWh what
    its AI work earns per kWh."""
    if not mining.is_mining or ai.is_mining or mining.hashes_per_joule is None:
        raise BenchError("pair() takes a mining row and an AI row")
    flip = breakeven_btc_usd(mining.hashes_per_joule, ai.revenue_usd_per_kwh, scenario)
    return (
        replace(mining, breakeven={**mining.breakeven, "btc_usd": flip}),
        replace(ai, breakeven={**ai.breakeven, "btc_usd": flip}),
    )


def recompute(row: EconomicsRow, scenario: Scenario) -> EconomicsRow:
    """The same device and work priced under another scenario (e.g. one point of a sweep)."""
    common = dict(source=row.source, card_usd=row.card_usd, device=row.device,
                  source_detail=row.source_detail, notes=row.notes)
    if row.is_mining:
        assert row.hashes_per_s is not None
        return mining_row(row.name, row.hashes_per_s, row.watts, scenario, **common)
    assert row.tokens_per_s is not None
    return ai_row(row.name, row.tokens_per_s, row.watts, scenario, workload=row.workload, pricing=row.pricing_basis,
                  **common)
