"""The result format as typed, frozen objects: one definition that parses, checks and documents it.

Each dataclass field says, in its metadata, the JSON key it reads and the range its value must
lie in. ``parse_document`` walks those declarations (bench/result_walk.py) to turn a decoded
document into a ``Result`` (a damaged field raises ``Damaged`` naming its path, e.g.
``workload mine: phases``), and ``json_schema`` walks the same declarations to publish the
format as a JSON Schema (docs/result-schema.json), so parser and schema cannot drift apart.

Objects the format leaves open (a workload's ``config`` and ``build`` details, a meter's
parameters) are kept as read-only mappings: the harness records them, nothing ranks by them.
"""

from __future__ import annotations

import dataclasses
import json
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from bench.energy import EnergyKind
from bench.stats import Spread

SCHEMA_VERSION = 1
FORMAT_NAME = "joulebench-result"
# Fields every finished workload entry and every phase carries (README documents them).
REQUIRED_FIGURES = ("name", "unit", "rate_per_s", "joules", "energy_source", "per_joule")
STATUSES = ("ok", "failed")

_EMPTY: Mapping[str, Any] = types.MappingProxyType({})


class Damaged(ValueError):
    """A field of a result document of the wrong type, range or kind; the message names its path."""


def key(
    name: str | None = None, *, required: bool | None = None, minimum: float | None = None, positive: bool = False,
    choices: tuple[str, ...] = (), flatten: bool = False, when: Callable[[Mapping[str, Any]], bool] | None = None,
    rest: bool = False, doc: str = "", default: Any = dataclasses.MISSING,
) -> Any:
    """A field read from the JSON key ``name`` (default: the field's name).

    ``required``: the key must be present (default: unless the type admits None). ``flatten``:
    the field's dataclass is read from the same JSON object (a workload entry carries its
    headline figures inline), only ``when`` the predicate holds. ``rest``: every key no other
    field reads.
    """
    metadata = {"key": name, "required": required, "minimum": minimum, "positive": positive,
                "choices": choices, "flatten": flatten, "when": when, "rest": rest, "doc": doc}
    if rest:
        default = _EMPTY
    if isinstance(default, types.MappingProxyType) or dataclasses.is_dataclass(default):
        # shared read-only values, given through a factory only because dataclasses insist
        return field(default_factory=lambda: default, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Rule:
    """A condition across fields of one object: checked on the JSON object by the loader and
    published in the schema as the equivalent if/then."""

    message: str
    holds: Callable[[Mapping[str, Any]], bool]
    schema: Mapping[str, Any]


def _number_or_absent(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# The model, outermost last (a figure's provenance: bench/energy.py)


@dataclass(frozen=True, kw_only=True)
class Window:
    """One measurement window: a fixed number of steps between two meter readings."""

    steps: float = key(minimum=0, doc="work steps run in the window")
    seconds: float = key(positive=True, doc="wall-clock seconds of the steps")
    meter_seconds: float = key(positive=True, doc="seconds between the meter's two readings")
    joules: float | None = key(positive=True, required=True,
                               doc="energy the meter attributes to the window; null where the device has no meter")
    work: float = key(minimum=0, doc="units of work done (hashes or tokens)")
    details: Mapping[str, Any] = key(rest=True)

    @property
    def rate_per_s(self) -> float:
        return self.work / self.seconds

    @property
    def per_joule(self) -> float | None:
        return self.work / self.joules if self.joules is not None else None

    @property
    def watts(self) -> float | None:
        return self.joules / self.meter_seconds if self.joules is not None else None


@dataclass(frozen=True, kw_only=True)
class AboveIdle:
    """Figures with the idle baseline's draw taken out of every window."""

    idle_watts: float | None = key(minimum=0, doc="the idle baseline's draw")
    joules: float | None = key(doc="joules above idle over all windows")
    watts: float | None = key(doc="mean draw above idle")
    per_joule: float | None = key(positive=True, doc="work per joule above idle; null where the draw is not above idle")


@dataclass(frozen=True, kw_only=True)
class Figures:
    """The headline figures of a phase (and, inline, of its workload): medians over windows."""

    unit: str = key(doc="unit of work: hashes or tokens")
    rate_per_s: float = key(positive=True, doc="work per second, median over windows")
    per_joule: float | None = key(positive=True, doc="work per joule, median over windows; null without energy")
    joules: float | None = key(minimum=0, doc="energy over all windows; null without energy")
    energy_source: str = key(doc="where the energy figure came from, in words ('none: ...' where there is none)")
    energy_kind: EnergyKind | None = key(doc="measured, reported, estimated, datasheet or user; null: no energy "
                                              "figure at all (a miner whose firmware reports no power)")
    watts: float | None = key(positive=True, doc="draw, median over windows")
    seconds: float | None = key(minimum=0, doc="wall-clock seconds of all windows")
    work: float | None = key(minimum=0, doc="work over all windows")
    spread: Mapping[str, Spread] = key(required=False, default=_EMPTY,
                                       doc="median, min, max, quartiles and n of rate_per_s, per_joule and watts")
    above_idle: AboveIdle | None = key()
    throttled: tuple[str, ...] = key(required=False, default=(), doc="throttle reasons seen during the windows")

    __rules__ = (Rule(
        "an energy kind needs per_joule and joules (null only where energy_kind is null)",
        lambda o: o.get("energy_kind") is None or (_number_or_absent(o, "per_joule") and _number_or_absent(o, "joules")),
        {"if": {"properties": {"energy_kind": {"type": "string"}}, "required": ["energy_kind"]},
         "then": {"properties": {"per_joule": {"type": "number"}, "joules": {"type": "number"}}}},
    ),)

    @property
    def has_energy(self) -> bool:
        return self.energy_kind is not None and self.per_joule is not None

    @property
    def draw_watts(self) -> float | None:
        """The recorded draw, or, where a file has none, joules over seconds (else rate over per
        joule); None without energy."""
        if self.watts is not None:
            return self.watts
        if not self.has_energy:
            return None
        if self.seconds:
            return self.joules / self.seconds
        return self.rate_per_s / self.per_joule


@dataclass(frozen=True, kw_only=True)
class Phase:
    name: str = key(doc="e.g. hash, prefill, decode, train")
    figures: Figures = key(flatten=True)
    windows: tuple[Window, ...] = key(required=False, default=())
    details: Mapping[str, Any] = key(rest=True)


def finished(entry: Mapping[str, Any]) -> bool:
    return entry.get("status") == "ok"


@dataclass(frozen=True, kw_only=True)
class Workload:
    name: str = key(doc="a workload kind of bench/workloads (mine, infer, train)")
    status: str = key(choices=STATUSES)
    error: str | None = key(doc="why a failed workload failed")
    figures: Figures | None = key(flatten=True, when=finished, doc="the headline phase's figures, inline")
    headline_phase: str | None = key()
    config: Mapping[str, Any] = key(required=False, default=_EMPTY, doc="what the workload ran, as it recorded it")
    source_sha256: str | None = key(doc="hash of the workload's code")
    phases: tuple[Phase, ...] = key(required=False, default=())
    details: Mapping[str, Any] = key(rest=True)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)


@dataclass(frozen=True, kw_only=True)
class Device:
    kind: str | None = key(doc="cpu, cuda or asic")
    name: str | None = key()
    slug: str | None = key(doc="file-name-safe device id")
    details: Mapping[str, Any] = key(rest=True)


@dataclass(frozen=True, kw_only=True)
class Machine:
    hostname: str | None = key()
    details: Mapping[str, Any] = key(rest=True)


@dataclass(frozen=True, kw_only=True)
class Protocol:
    preset: str | None = key(doc="quick, standard or long")
    details: Mapping[str, Any] = key(rest=True)


@dataclass(frozen=True, kw_only=True)
class Meter:
    kind: str | None = key(doc="the energy kind of the meter's figures")
    details: Mapping[str, Any] = key(rest=True)


@dataclass(frozen=True, kw_only=True)
class Idle:
    seconds: float | None = key(minimum=0)
    joules: float | None = key(minimum=0)
    watts: float | None = key(minimum=0)
    details: Mapping[str, Any] = key(rest=True)


@dataclass(frozen=True, kw_only=True)
class Result:
    """One run of ``bench run`` (or ``bench asic``) on one device."""

    format: str = key(choices=(FORMAT_NAME,))
    schema_version: int = key(choices=(SCHEMA_VERSION,))
    device: Device = key(required=True)
    workloads: tuple[Workload, ...] = key()
    created_utc: str | None = key()
    status: str | None = key(doc="complete or partial")
    partial_reason: str | None = key()
    tool: Mapping[str, Any] = key(required=False, default=_EMPTY)
    machine: Machine = key(required=False, default=Machine(hostname=None))
    protocol: Protocol = key(required=False, default=Protocol(preset=None))
    meter: Meter = key(required=False, default=Meter(kind=None))
    idle: Idle | None = key()
    details: Mapping[str, Any] = key(rest=True)

    def ok_workloads(self) -> dict[str, Workload]:
        """The workloads that finished, by name."""
        return {w.name: w for w in self.workloads if w.ok}

    def workload(self, name: str) -> Workload | None:
        return next((w for w in self.workloads if w.name == name), None)


def parse_document(document: Any) -> Result:
    """A decoded result document as a ``Result``; ``Damaged`` naming the first bad field."""
    from bench.result_walk import parse_class

    return parse_class(Result, document, "")


def json_schema() -> dict[str, Any]:
    """The result format as a JSON Schema (draft 2020-12), from the same declarations."""
    from bench.result_walk import schema_of

    return schema_of(Result)


if __name__ == "__main__":  # python -m bench.result_model > docs/result-schema.json
    from bench import result_model  # the module's own objects, not this __main__ copy of them

    print(json.dumps(result_model.json_schema(), indent=2))
