"""Market inputs: named, dated, sourced values that turn hashes and tokens into money.

A *scenario* is one set of inputs (BTC price, difficulty, fees, electricity...) at a date, shipped
in ``bench/data/markets.json`` with a source for every value. Any value can be replaced from the
command line (``--set KEY=VALUE``) or a user file; a replaced value says so in its source, so a
printed figure can always be traced to what produced it. No network: prices are never fetched.

Usage::

    scenario = load_scenario("2026-01", overrides=["btc_usd=70000"])
    scenario.get("btc_usd")  # 70000.0
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

from bench.errors import BenchError


@dataclass(frozen=True)
class MarketValue:
    key: str
    value: float
    unit: str
    date: str  # the date the value describes: YYYY, YYYY-MM, YYYY-MM-DD or YYYY-Qn
    source: str  # where it comes from, or "assumption: ..." / "user ..."

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "date": self.date, "source": self.source}


@dataclass(frozen=True)
class KeySpec:
    unit: str
    meaning: str
    check: Callable[[float], bool]
    allowed: str  # said in the error when ``check`` fails


def _within(low: float, high: float, *, low_open: bool = False) -> Callable[[float], bool]:
    return lambda x: (low < x if low_open else low <= x) and x <= high


# The inputs, their units and the values that make physical and economic sense (a difficulty of
# 1e300 or a BTC price of 1e-320 is a typo, and would only overflow the arithmetic). Electricity
# may be free (curtailed or stranded power is a real case) but not negative; a pool fee of 100%
# would leave nothing.
KEYS: dict[str, KeySpec] = {
    "btc_usd": KeySpec("USD/BTC", "bitcoin price", _within(0.01, 1e15), "between $0.01 and $1e15"),
    "difficulty": KeySpec("dimensionless", "network difficulty", _within(1, 1e20), "between 1 and 1e20"),
    "subsidy_btc": KeySpec("BTC/block", "block subsidy", _within(0, 50, low_open=True), "more than 0 and at most 50"),
    "fees_btc_per_block": KeySpec("BTC/block", "average transaction fees per block", _within(0, 1000),
                                  "between 0 and 1000"),
    "pool_fee": KeySpec("fraction", "pool fee (FPPS)", lambda x: 0 <= x < 1, "a fraction in [0, 1)"),
    "electricity_usd_per_kwh": KeySpec("USD/kWh", "electricity price", _within(0, 100), "between 0 and 100"),
    "pue": KeySpec("ratio", "facility overhead (PUE)", _within(1, 10), "between 1 and 10"),
    "usd_per_million_tokens": KeySpec("USD/1M output tokens", "AI output token price", _within(0, 1e4, low_open=True),
                                      "more than 0 and at most 10,000"),
    "usd_per_million_input_tokens": KeySpec("USD/1M input tokens", "AI input (prompt) token price",
                                            _within(0, 1e4), "between 0 and 10,000"),
    "gpu_hour_usd": KeySpec("USD/GPU-hour", "GPU rental rate", _within(0, 1e4, low_open=True),
                            "more than 0 and at most 10,000"),
    "utilization": KeySpec("fraction", "share of AI capacity sold (tokens sold, or rented hours)",
                           lambda x: 0 < x <= 1, "a fraction in (0, 1]"),
    "uptime": KeySpec("fraction", "share of hours a miner hashes", lambda x: 0 < x <= 1, "a fraction in (0, 1]"),
    "hosting_usd_per_kw_month": KeySpec("USD/kW/month", "hosting fee per kW of draw", _within(0, 1e4),
                                        "between 0 and 10,000"),
    "difficulty_growth_per_month": KeySpec("fraction/month", "difficulty growth a month", _within(-0.5, 1),
                                           "between -0.5 and 1"),
    "btc_usd_growth_per_month": KeySpec("fraction/month", "BTC price growth a month", _within(-0.5, 1),
                                        "between -0.5 and 1"),
    "discount_rate_per_year": KeySpec("fraction/year", "discount rate", _within(0, 1), "between 0 and 1"),
    "block_height": KeySpec("blocks", "block height at the inputs' date", lambda x: 0 <= x <= 1e8 and x == int(x),
                            "a whole number of blocks"),
}
# Not every scenario has these: a GPU-hour rate belongs to a GPU model (gpu_rental_rates), not to
# a date; it enters a scenario only when the user gives one.
OPTIONAL_KEYS = frozenset({"gpu_hour_usd"})
# A user file may give these units; each converts to the key's own unit.
_UNIT_CONVERSIONS = {("electricity_usd_per_kwh", "USD/MWh"): 1e-3, ("electricity_usd_per_kwh", "USD/Wh"): 1e3}

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?|-Q[1-4])?$")
_DATA_FILE = "markets.json"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    values: dict[str, MarketValue]
    model_class: str = "8B"  # the model size class usd_per_million_tokens is a price for
    published_hashprice: MarketValue | None = None  # the index value for this date, to check against
    published_btc_hashprice: MarketValue | None = None  # the same index in BTC, where it is published

    def get(self, key: str) -> float:
        try:
            return self.values[key].value
        except KeyError:
            if key in OPTIONAL_KEYS:
                raise BenchError(f"no {key} in scenario {self.name}: give one with --set {key}=...") from None
            raise BenchError(f"unknown market input {key!r} (known: {', '.join(KEYS)})") from None

    def has(self, key: str) -> bool:
        return key in self.values

    @property
    def date(self) -> str:
        """The day the inputs describe (that of the block height, from which the horizon counts)."""
        return self.values["block_height"].date

    def with_value(self, key: str, value: float, source: str, date: str | None = None) -> Scenario:
        """A copy with one input replaced; the value is checked like any other input."""
        market_value = _checked(key, value, where=source)
        values = dict(self.values)
        date = date or (self.values[key].date if key in self.values else "user")
        values[key] = MarketValue(key, market_value, KEYS[key].unit, date, source)
        return replace(self, values=values)

    def inputs_dict(self) -> dict[str, dict[str, Any]]:
        """Every input with its unit, date and source, for JSON output."""
        return {key: self.values[key].to_dict() for key in KEYS if key in self.values}


@dataclass(frozen=True)
class RentalRate:
    """A GPU model's hourly rental rate; ``matches`` says whether a device name is that model."""

    model: str
    name_contains: tuple[str, ...]  # all of these, lower case
    name_lacks: tuple[str, ...]  # none of these
    rate: MarketValue

    def matches(self, device_name: str) -> bool:
        name = device_name.lower()
        return all(p in name for p in self.name_contains) and not any(p in name for p in self.name_lacks)


@dataclass(frozen=True)
class TokenPrices:
    output: MarketValue  # per 1M output (generated) tokens
    input: MarketValue  # per 1M input (prompt) tokens


@dataclass(frozen=True)
class _Catalog:
    default: str
    scenarios: dict[str, Scenario]
    token_price_classes: dict[str, TokenPrices] = field(default_factory=dict)
    rental_rates: tuple[RentalRate, ...] = ()


def _checked(key: str, value: Any, *, where: str) -> float:
    if key not in KEYS:
        raise BenchError(f"unknown market input {key!r} in {where} (known: {', '.join(KEYS)})")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BenchError(f"market input {key} in {where}: {value!r} is not a number")
    value = float(value)
    spec = KEYS[key]
    if not math.isfinite(value) or not spec.check(value):
        raise BenchError(f"market input {key} in {where}: {value!r} is not allowed ({spec.meaning} must be {spec.allowed})")
    return value


def _parse_number(key: str, text: str, where: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise BenchError(f"market input {key} in {where}: {text!r} is not a number") from None


def _market_value(key: str, raw: Any, where: str) -> MarketValue:
    if not isinstance(raw, Mapping):
        raise BenchError(f"{where}: {key} must be an object with value, unit, date and source")
    missing = [k for k in ("value", "unit", "date", "source") if k not in raw]
    if missing:
        raise BenchError(f"{where}: {key} lacks {', '.join(missing)}")
    if key in KEYS and raw["unit"] != KEYS[key].unit:
        raise BenchError(f"{where}: {key} is in {raw['unit']!r}, expected {KEYS[key].unit!r}")
    if not isinstance(raw["date"], str) or not _DATE.match(raw["date"]):
        raise BenchError(f"{where}: {key} date {raw['date']!r} is not YYYY, YYYY-MM, YYYY-MM-DD or YYYY-Qn")
    if not isinstance(raw["source"], str) or not raw["source"].strip():
        raise BenchError(f"{where}: {key} has no source")
    value = _checked(key, raw["value"], where=where) if key in KEYS else float(raw["value"])
    return MarketValue(key, value, str(raw["unit"]), raw["date"], raw["source"])


def parse_catalog(document: Any, where: str = _DATA_FILE) -> _Catalog:
    """Check a market data document: every scenario has every input, each with unit, date and source."""
    if not isinstance(document, Mapping) or document.get("format") != "joulebench-markets":
        raise BenchError(f"{where}: not a joulebench market data file")
    shared = {k: _market_value(k, v, f"{where} shared_values") for k, v in document.get("shared_values", {}).items()}
    classes = {}
    for name, prices in document.get("token_price_classes", {}).items():
        here = f"{where} token_price_classes.{name}"
        if not isinstance(prices, Mapping) or not {"input", "output"} <= set(prices):
            raise BenchError(f"{here}: expected an object with input and output prices")
        classes[name] = TokenPrices(
            output=_market_value("usd_per_million_tokens", prices["output"], here + ".output"),
            input=_market_value("usd_per_million_input_tokens", prices["input"], here + ".input"),
        )
    rates = []
    for i, raw in enumerate(document.get("gpu_rental_rates", [])):
        here = f"{where} gpu_rental_rates[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("model"), str) or not raw.get("name_contains"):
            raise BenchError(f"{here}: expected model, name_contains and a sourced value")
        rates.append(RentalRate(raw["model"], tuple(p.lower() for p in raw["name_contains"]),
                                tuple(p.lower() for p in raw.get("name_lacks", ())),
                                _market_value("gpu_hour_usd", raw, here)))
    scenarios: dict[str, Scenario] = {}
    for name, raw in document.get("scenarios", {}).items():
        here = f"{where} scenario {name!r}"
        values = dict(shared)
        values.update({k: _market_value(k, v, here) for k, v in raw.get("values", {}).items()})
        missing = [k for k in KEYS if k not in values and k not in OPTIONAL_KEYS]
        if missing:
            raise BenchError(f"{here} lacks {', '.join(missing)}")
        published = raw.get("published_hashprice")
        published_btc = raw.get("published_btc_hashprice")
        scenarios[name] = Scenario(
            name=name,
            description=str(raw.get("description", "")),
            values={k: values[k] for k in KEYS if k in values},
            model_class=str(raw.get("model_class", "8B")),
            published_hashprice=_market_value("hashprice", published, here) if published else None,
            published_btc_hashprice=_market_value("btc_hashprice", published_btc, here) if published_btc else None,
        )
    default = document.get("default_scenario")
    if default not in scenarios:
        raise BenchError(f"{where}: default_scenario {default!r} is not one of its scenarios")
    return _Catalog(default, scenarios, classes, tuple(rates))


@lru_cache(maxsize=1)
def _catalog() -> _Catalog:
    text = resources.files("bench").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    return parse_catalog(json.loads(text))


def _default_name() -> str:
    return _catalog().default


DEFAULT_SCENARIO: str = _default_name()


def scenario_names() -> list[str]:
    return list(_catalog().scenarios)


def token_price_classes() -> dict[str, TokenPrices]:
    """Input and output token prices by model size class ("1B", "8B", "70B"), each sourced."""
    return dict(_catalog().token_price_classes)


def rental_rates() -> tuple[RentalRate, ...]:
    return _catalog().rental_rates


def gpu_hour_usd(scenario: Scenario, device_name: str, device_kind: str) -> MarketValue | None:
    """The GPU-hour rate a device rents at: the user's (--set gpu_hour_usd), else its GPU model's
    listed rate; None for a device with no rental market here (a CPU, an unlisted GPU). A device
    never borrows another model's rate."""
    if scenario.has("gpu_hour_usd"):
        return scenario.values["gpu_hour_usd"]
    if device_kind != "cuda":
        return None
    return next((r.rate for r in rental_rates() if r.matches(device_name)), None)


def load_scenario(
    name: str | None = None,
    *,
    overrides: list[str] | Mapping[str, Any] | None = None,
    user_file: Path | None = None,
    model_class: str | None = None,
) -> Scenario:
    """The named scenario (default: DEFAULT_SCENARIO), then the user file's values, then overrides.

    ``overrides``: ``["KEY=VALUE", ...]`` from ``--set``, or a mapping of key to number.
    ``model_class``: price output tokens at that size class's sourced price ("1B", "8B", "70B").
    Bad names, keys and values raise BenchError naming the input.
    """
    catalog = _catalog()
    name = name or catalog.default
    if name not in catalog.scenarios:
        raise BenchError(f"unknown scenario {name!r} (known: {', '.join(catalog.scenarios)})")
    scenario = replace(catalog.scenarios[name], values=dict(catalog.scenarios[name].values))  # never the cached dict
    if model_class is not None:
        if model_class not in catalog.token_price_classes:
            raise BenchError(
                f"unknown model class {model_class!r} (known: {', '.join(catalog.token_price_classes)})"
            )
        prices = catalog.token_price_classes[model_class]
        scenario = scenario.with_value("usd_per_million_tokens", prices.output.value, prices.output.source,
                                       prices.output.date)
        scenario = replace(scenario.with_value("usd_per_million_input_tokens", prices.input.value,
                                               prices.input.source, prices.input.date), model_class=model_class)
    if user_file is not None:
        for key, value in _read_user_file(Path(user_file)).items():
            scenario = scenario.with_value(key, value.value, value.source, value.date)
    for key, value in _parse_overrides(overrides).items():
        # a height is given for the scenario's own date, from which the horizon counts
        date = scenario.values[key].date if key == "block_height" else "user"
        scenario = scenario.with_value(key, value, f"user: --set {key}={_plain(value)}", date)
    return scenario


def _plain(value: float) -> str:
    return f"{value:g}"


def _parse_overrides(overrides: list[str] | Mapping[str, Any] | None) -> dict[str, float]:
    if overrides is None:
        return {}
    parsed: dict[str, float] = {}
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            parsed[key] = _checked(key, value, where="overrides")
        return parsed
    for item in overrides:
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise BenchError(f"--set {item!r}: expected KEY=VALUE, e.g. --set btc_usd=65000")
        if key not in KEYS:
            raise BenchError(f"--set {item!r}: unknown market input {key!r} (known: {', '.join(KEYS)})")
        parsed[key] = _checked(key, _parse_number(key, text, f"--set {item!r}"), where=f"--set {item!r}")
    return parsed


def _read_user_file(path: Path) -> dict[str, MarketValue]:
    """A JSON object of market inputs, each ``{"value": ..., "unit": ..., "date": ..., "source": ...}``
    (source optional), optionally under a top-level ``"values"`` key. Units are checked against the
    input's own (USD/MWh converts to USD/kWh); prices in other currencies are refused."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(f"{path}: no such market input file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"{path}: cannot read market input file ({exc})") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise BenchError(f"{path}: nested too deeply") from None
    if isinstance(document, Mapping) and isinstance(document.get("values"), Mapping):
        document = document["values"]
    if not isinstance(document, Mapping):
        raise BenchError(f"{path}: expected a JSON object of market inputs")
    out: dict[str, MarketValue] = {}
    for key, raw in document.items():
        where = f"{path}"
        if key not in KEYS:
            raise BenchError(f"unknown market input {key!r} in {where} (known: {', '.join(KEYS)})")
        if not isinstance(raw, Mapping) or "unit" not in raw or "date" not in raw:
            raise BenchError(f"{where}: {key} needs a value, its unit and the date it describes, e.g. "
                             f'{{"value": 0.05, "unit": "{KEYS[key].unit}", "date": "2026-03", "source": "my PPA"}}')
        unit = raw["unit"]
        factor = 1.0
        if unit != KEYS[key].unit:
            if (key, unit) in _UNIT_CONVERSIONS:
                factor = _UNIT_CONVERSIONS[(key, unit)]
            else:
                currency = _currency(unit)
                why = (f"prices must be in USD, not {currency}" if currency not in (None, "USD")
                       else f"expected {KEYS[key].unit!r}")
                raise BenchError(f"{where}: {key} is in {unit!r}: {why}")
        date = raw["date"]
        if not isinstance(date, str) or not _DATE.match(date):
            raise BenchError(f"{where}: {key} date {date!r} is not YYYY, YYYY-MM, YYYY-MM-DD or YYYY-Qn")
        value = raw.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BenchError(f"market input {key} in {where}: {value!r} is not a number")
        value = _checked(key, value * factor, where=where)
        converted = f" (converted from {_plain(raw['value'])} {unit})" if factor != 1.0 else ""
        source = f"user file {path}" + (f": {raw['source']}" if raw.get("source") else "") + converted
        out[key] = MarketValue(key, value, KEYS[key].unit, date, source)
    return out


def _currency(unit: Any) -> str | None:
    """The currency a unit names first ("EUR/BTC" -> "EUR"), or None when it names none."""
    match = re.match(r"^([A-Z]{3})(/|$)", str(unit))
    return match.group(1) if match else None


def subsidy_btc_at_height(height: int) -> float:
    """Block subsidy in BTC at a block height: 50 BTC halved every 210,000 blocks, as the
    consensus rule computes it in satoshis (integer shifts), so it reaches exactly zero."""
    if height < 0:
        raise BenchError(f"block height must be 0 or more, got {height}")
    halvings = height // 210_000
    if halvings >= 64:
        return 0.0
    return ((50 * 100_000_000) >> halvings) / 100_000_000
