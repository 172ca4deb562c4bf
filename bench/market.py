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


def _positive(x: float) -> bool:
    return x > 0


def _non_negative(x: float) -> bool:
    return x >= 0


# The inputs, their units and what values make sense. Electricity may be free (curtailed or
# stranded power is a real case) but not negative; a pool fee of 100% would leave nothing.
KEYS: dict[str, KeySpec] = {
    "btc_usd": KeySpec("USD/BTC", "bitcoin price", _positive, "a positive number"),
    "difficulty": KeySpec("dimensionless", "network difficulty", _positive, "a positive number"),
    "subsidy_btc": KeySpec("BTC/block", "block subsidy", _positive, "a positive number"),
    "fees_btc_per_block": KeySpec("BTC/block", "average transaction fees per block", _non_negative, "zero or more"),
    "pool_fee": KeySpec("fraction", "pool fee (FPPS)", lambda x: 0 <= x < 1, "a fraction in [0, 1)"),
    "electricity_usd_per_kwh": KeySpec("USD/kWh", "electricity price", _non_negative, "zero or more"),
    "pue": KeySpec("ratio", "facility overhead (PUE)", lambda x: x >= 1, "1 or more"),
    "usd_per_million_tokens": KeySpec("USD/1M output tokens", "AI output token price", _positive, "a positive number"),
    "gpu_hour_usd": KeySpec("USD/GPU-hour", "GPU rental rate", _positive, "a positive number"),
    "utilization": KeySpec("fraction", "share of hours a rented GPU is paid for", lambda x: 0 < x <= 1,
                           "a fraction in (0, 1]"),
}

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?|-Q[1-4])?$")
_DATA_FILE = "markets.json"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    values: dict[str, MarketValue]
    model_class: str = "8B"  # the model size class usd_per_million_tokens is a price for
    published_hashprice: MarketValue | None = None  # the index value for this date, to check against

    def get(self, key: str) -> float:
        try:
            return self.values[key].value
        except KeyError:
            raise BenchError(f"unknown market input {key!r} (known: {', '.join(KEYS)})") from None

    def with_value(self, key: str, value: float, source: str, date: str | None = None) -> Scenario:
        """A copy with one input replaced; the value is checked like any other input."""
        market_value = _checked(key, value, where=source)
        values = dict(self.values)
        values[key] = MarketValue(key, market_value, KEYS[key].unit, date or self.values[key].date, source)
        return replace(self, values=values)

    def inputs_dict(self) -> dict[str, dict[str, Any]]:
        """Every input with its unit, date and source, for JSON output."""
        return {key: self.values[key].to_dict() for key in KEYS}


@dataclass(frozen=True)
class _Catalog:
    default: str
    scenarios: dict[str, Scenario]
    token_price_classes: dict[str, MarketValue] = field(default_factory=dict)


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
    classes = {
        name: _market_value("usd_per_million_tokens", v, f"{where} token_price_classes.{name}")
        for name, v in document.get("token_price_classes", {}).items()
    }
    scenarios: dict[str, Scenario] = {}
    for name, raw in document.get("scenarios", {}).items():
        here = f"{where} scenario {name!r}"
        values = dict(shared)
        values.update({k: _market_value(k, v, here) for k, v in raw.get("values", {}).items()})
        missing = [k for k in KEYS if k not in values]
        if missing:
            raise BenchError(f"{here} lacks {', '.join(missing)}")
        published = raw.get("published_hashprice")
        scenarios[name] = Scenario(
            name=name,
            description=str(raw.get("description", "")),
            values={k: values[k] for k in KEYS},
            model_class=str(raw.get("model_class", "8B")),
            published_hashprice=_market_value("hashprice", published, here) if published else None,
        )
    default = document.get("default_scenario")
    if default not in scenarios:
        raise BenchError(f"{where}: default_scenario {default!r} is not one of its scenarios")
    return _Catalog(default, scenarios, classes)


@lru_cache(maxsize=1)
def _catalog() -> _Catalog:
    text = resources.files("bench").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    return parse_catalog(json.loads(text))


def _default_name() -> str:
    return _catalog().default


DEFAULT_SCENARIO: str = _default_name()


def scenario_names() -> list[str]:
    return list(_catalog().scenarios)


def token_price_classes() -> dict[str, MarketValue]:
    """Output-token prices by model size class ("1B", "8B", "70B"), each sourced."""
    return dict(_catalog().token_price_classes)


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
        price = catalog.token_price_classes[model_class]
        scenario = replace(scenario.with_value("usd_per_million_tokens", price.value, price.source, price.date),
                           model_class=model_class)
    if user_file is not None:
        for key, value in _read_user_file(Path(user_file)).items():
            scenario = scenario.with_value(key, value.value, value.source, value.date)
    for key, value in _parse_overrides(overrides).items():
        scenario = scenario.with_value(key, value, f"user: --set {key}={_plain(value)}", "user")
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
    """A JSON object of market inputs: ``{"btc_usd": 65000}`` or ``{"btc_usd": {"value": ..., "unit": ...,
    "date": ..., "source": ...}}``, optionally under a top-level ``"values"`` key."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(f"{path}: no such market input file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"{path}: cannot read market input file ({exc})") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if isinstance(document, Mapping) and isinstance(document.get("values"), Mapping):
        document = document["values"]
    if not isinstance(document, Mapping):
        raise BenchError(f"{path}: expected a JSON object of market inputs")
    out: dict[str, MarketValue] = {}
    for key, raw in document.items():
        where = f"{path}"
        if key not in KEYS:
            raise BenchError(f"unknown market input {key!r} in {where} (known: {', '.join(KEYS)})")
        if isinstance(raw, Mapping):
            value = _checked(key, raw.get("value"), where=where)
            date = str(raw.get("date") or "user")
            source = f"user file {path}" + (f": {raw['source']}" if raw.get("source") else "")
        else:
            value = _checked(key, raw, where=where)
            date, source = "user", f"user file {path}"
        out[key] = MarketValue(key, value, KEYS[key].unit, date, source)
    return out


def subsidy_btc_at_height(height: int) -> float:
    """Block subsidy in BTC at a block height: 50 BTC halved every 210,000 blocks, as the
    consensus rule computes it in satoshis (integer shifts), so it reaches exactly zero."""
    if height < 0:
        raise BenchError(f"block height must be 0 or more, got {height}")
    halvings = height // 210_000
    if halvings >= 64:
        return 0.0
    return ((50 * 100_000_000) >> halvings) / 100_000_000
