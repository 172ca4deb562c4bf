"""Datasheet figures of Bitcoin mining ASICs (``bench/data/asics.json``), so a measured GPU or
CPU stands beside what a mining farm actually runs. Nameplate figures, never measured here."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

from bench.errors import BenchError

HASHES_PER_TERAHASH = 1e12


@dataclass(frozen=True)
class AsicPrice:
    usd: float
    date: str
    source: str


@dataclass(frozen=True)
class AsicSpec:
    name: str
    terahashes_per_s: float
    watts: float
    date: str
    source: str
    price: AsicPrice | None = None  # a sourced unit price, where one is published

    @property
    def hashes_per_s(self) -> float:
        return self.terahashes_per_s * HASHES_PER_TERAHASH


def parse_asics(document: Any, where: str = "asics.json") -> list[AsicSpec]:
    if not isinstance(document, Mapping) or document.get("format") != "joulebench-asics":
        raise BenchError(f"{where}: not a joulebench ASIC data file")
    specs = []
    for raw in document.get("asics", []):
        name = raw.get("name") if isinstance(raw, Mapping) else None
        if not isinstance(name, str) or not name:
            raise BenchError(f"{where}: an ASIC entry has no name")
        for key in ("terahashes_per_s", "watts"):
            value = raw.get(key)
            if not _positive_number(value):
                raise BenchError(f"{where}: {name} {key} must be a positive number, got {value!r}")
        if not str(raw.get("source", "")).strip() or not str(raw.get("date", "")).strip():
            raise BenchError(f"{where}: {name} needs a source and a date")
        specs.append(AsicSpec(name, float(raw["terahashes_per_s"]), float(raw["watts"]), str(raw["date"]),
                              str(raw["source"]), _price(raw.get("price"), f"{where}: {name} price")))
    return specs


def _price(raw: Any, where: str) -> AsicPrice | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or raw.get("unit") != "USD":
        raise BenchError(f"{where}: expected an object with value, unit 'USD', date and source")
    value = raw.get("value")
    if not _positive_number(value):
        raise BenchError(f"{where}: value must be a positive number of USD, got {value!r}")
    if not str(raw.get("source", "")).strip() or not str(raw.get("date", "")).strip():
        raise BenchError(f"{where}: needs a source and a date")
    return AsicPrice(float(value), str(raw["date"]), str(raw["source"]))


def _positive_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@lru_cache(maxsize=1)
def _load() -> tuple[AsicSpec, ...]:
    text = resources.files("bench").joinpath("data", "asics.json").read_text(encoding="utf-8")
    return tuple(parse_asics(json.loads(text)))


def asic_specs() -> list[AsicSpec]:
    """The shipped datasheet rows: S19 XP, S21, S21 Pro, S21 XP, S21 XP Hyd, M60S, A16 XP."""
    return list(_load())


def asic_names() -> list[str]:
    return [spec.name for spec in _load()]
