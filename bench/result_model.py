"""The result format as typed, frozen objects: one definition that parses, checks and documents it.

Each dataclass field says, in its metadata, the JSON key it reads and the range its value must
lie in. ``parse_document`` walks those declarations to turn a decoded document into a
``Result`` (a damaged field raises ``Damaged`` naming its path, e.g. ``workloads[0].phases``),
and ``json_schema`` walks the same declarations to publish the format as a JSON Schema
(docs/result-schema.json), so the parser and the published schema cannot drift apart.

Objects the format leaves open (a workload's ``config`` and ``build`` details, a meter's
parameters) are kept as read-only mappings: the harness records them, nothing ranks by them.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import math
import sys
import types
import typing
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


# ---------------------------------------------------------------------------------------------
# The model, outermost last (a figure's provenance: bench/energy.py)


@dataclass(frozen=True, kw_only=True)
class Window:
    """One measurement window: a fixed number of steps between two meter readings."""

    steps: float = key(minimum=0, doc="work steps run in the window")
    seconds: float = key(positive=True, doc="wall-clock seconds of the steps")
    meter_seconds: float = key(positive=True, doc="seconds between the meter's two readings")
    joules: float = key(positive=True, doc="energy the meter attributes to the window")
    work: float = key(minimum=0, doc="units of work done (hashes or tokens)")
    details: Mapping[str, Any] = key(rest=True)

    @property
    def rate_per_s(self) -> float:
        return self.work / self.seconds

    @property
    def per_joule(self) -> float:
        return self.work / self.joules

    @property
    def watts(self) -> float:
        return self.joules / self.meter_seconds


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
    per_joule: float = key(positive=True, doc="work per joule, median over windows")
    joules: float = key(minimum=0, doc="energy over all windows")
    energy_source: str = key(doc="where the energy figure came from, in words")
    energy_kind: EnergyKind = key(doc="measured, reported, estimated, datasheet or user")
    watts: float | None = key(positive=True, doc="draw, median over windows")
    seconds: float | None = key(minimum=0, doc="wall-clock seconds of all windows")
    work: float | None = key(minimum=0, doc="work over all windows")
    spread: Mapping[str, Spread] = key(required=False, default=_EMPTY,
                                       doc="median, min, max, quartiles and n of rate_per_s, per_joule and watts")
    above_idle: AboveIdle | None = key()
    throttled: tuple[str, ...] = key(required=False, default=(), doc="throttle reasons seen during the windows")

    @property
    def draw_watts(self) -> float:
        """The recorded draw, or, where a file has none, joules over seconds (else rate over per joule)."""
        if self.watts is not None:
            return self.watts
        if self.seconds:
            return self.joules / self.seconds
        return self.rate_per_s / self.per_joule


@dataclass(frozen=True, kw_only=True)
class Phase:
    name: str = key(doc="e.g. hash, prefill, decode, train")
    figures: Figures = key(flatten=True)
    windows: tuple[Window, ...] = key(required=False, default=())
    details: Mapping[str, Any] = key(rest=True)


def _finished(entry: Mapping[str, Any]) -> bool:
    return entry.get("status") == "ok"


@dataclass(frozen=True, kw_only=True)
class Workload:
    name: str = key(doc="a workload kind of bench/workloads (mine, infer, train)")
    status: str = key(choices=STATUSES)
    error: str | None = key(doc="why a failed workload failed")
    figures: Figures | None = key(flatten=True, when=_finished, doc="the headline phase's figures, inline")
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


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_document(document: Any) -> Result:
    """A decoded result document as a ``Result``; ``Damaged`` naming the first bad field."""
    return _parse_class(Result, document, "")


def _at(where: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{where}[{part}]"
    if where.endswith(": "):
        return where + part
    return f"{where}.{part}" if where else part


def _item_at(where: str, index: int, item: Any, value: Any) -> str:
    """A workload is named by its name in messages ("workload mine: phases[0].joules"), others by index."""
    if item is Workload and isinstance(value, dict) and isinstance(value.get("name"), str) and value["name"]:
        return f"workload {value['name'][:40]}: "
    return _at(where, index)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", dict: "an object", list: "a list", str: "a string"}.get(type(value), repr(value)[:40])


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))


def _optional(hint: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return hint, False


def _keys_read(cls: type) -> set[str]:
    keys: set[str] = set()
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if meta.get("rest"):
            continue
        if meta.get("flatten"):
            keys |= _keys_read(_optional(hints[f.name])[0])
        else:
            keys.add(meta.get("key") or f.name)
    return keys


def _parse_class(cls: type, obj: Any, where: str) -> Any:
    if not isinstance(obj, dict):
        raise Damaged(f"{where.rstrip(': ') or 'the document'}: expected an object, found {_kind(obj)}")
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if meta.get("rest"):
            read = _keys_read(cls)
            values[f.name] = types.MappingProxyType({k: v for k, v in obj.items() if k not in read})
            continue
        hint, nullable = _optional(hints[f.name])
        if meta.get("flatten"):
            if meta.get("when") is None or meta["when"](obj):
                _require_figures(obj, where)
                values[f.name] = _parse_class(hint, obj, where)
            else:
                values[f.name] = None
            continue
        name = meta.get("key") or f.name
        required = meta.get("required")
        if required is None:
            required = not nullable
        if name not in obj:
            if required:
                raise Damaged(f"{_at(where, name)}: missing")
            values[f.name] = _default(f)
            continue
        values[f.name] = _parse_value(hint, nullable, obj[name], _at(where, name), meta)
    return cls(**values)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _require_figures(obj: Mapping[str, Any], where: str) -> None:
    missing = [k for k in REQUIRED_FIGURES if k not in obj]
    if missing:
        raise Damaged(f"{where.rstrip(': ') or 'the document'} lacks {', '.join(missing)}")


def _parse_value(hint: Any, nullable: bool, value: Any, where: str, meta: Mapping[str, Any]) -> Any:
    if value is None:
        if nullable:
            return None
        expected = {str: "a string", float: "a number", int: "an integer"}.get(hint, "an object")
        if typing.get_origin(hint) is tuple:
            expected = "a list"
        raise Damaged(f"{where}: expected {expected}, found null")
    origin = typing.get_origin(hint)
    if hint is str:
        if not isinstance(value, str):
            raise Damaged(f"{where}: expected a string, found {_kind(value)}")
        if meta.get("choices") and value not in meta["choices"]:
            raise Damaged(f"{where}: {value!r} is not " + " or ".join(repr(c) for c in meta["choices"]))
        return value
    if hint is int:
        # 2.0 is an integer to JSON (and its Schema), as 2 is
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise Damaged(f"{where}: expected an integer, found {_kind(value)}")
        if meta.get("choices") and value not in meta["choices"]:
            raise Damaged(f"{where}: {value!r} is not " + " or ".join(repr(c) for c in meta["choices"]))
        return value
    if hint is float:
        return _number(value, where, meta)
    if hint is EnergyKind:
        kind = EnergyKind.parse(value)
        if kind is None:
            raise Damaged(f"{where}: {value!r} is not one of {', '.join(k.value for k in EnergyKind)}")
        return kind
    if origin is tuple:
        if not isinstance(value, list):
            raise Damaged(f"{where}: expected a list, found {_kind(value)}")
        (item,) = typing.get_args(hint)[:1]
        return tuple(_parse_value(item, False, v, _item_at(where, i, item, v), {}) for i, v in enumerate(value))
    if origin in (collections.abc.Mapping, dict) or hint is Mapping:
        if not isinstance(value, dict):
            raise Damaged(f"{where}: expected an object, found {_kind(value)}")
        item = typing.get_args(hint)[1] if typing.get_args(hint) else Any
        if item is Any:
            return types.MappingProxyType(value)
        return types.MappingProxyType({k: _parse_value(item, False, v, _at(where, k), {}) for k, v in value.items()})
    if dataclasses.is_dataclass(hint):
        return _parse_class(hint, value, where)
    raise TypeError(f"result model: no parser for {hint!r}")  # a declaration error, not a damaged file


def _number(value: Any, where: str, meta: Mapping[str, Any]) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Damaged(f"{where}: expected a number, found {_kind(value)}")
    if not math.isfinite(value):
        raise Damaged(f"{where}: {value} is not finite")
    if meta.get("positive") and not value > 0:
        raise Damaged(f"{where}: {value!r} is not positive")
    if meta.get("minimum") is not None and value < meta["minimum"]:
        raise Damaged(f"{where}: {value!r} is negative")
    return value


# ---------------------------------------------------------------------------------------------
# The published schema


def json_schema() -> dict[str, Any]:
    """The result format as a JSON Schema (draft 2020-12), from the same declarations."""
    definitions: dict[str, Any] = {}
    root = _class_schema(Result, definitions)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://joulebench.invalid/result-schema.json",
        "title": f"joulebench result file, schema_version {SCHEMA_VERSION}",
        "description": "Written by `bench run`; see docs/result-format.md. Keys not listed are allowed and kept.",
        **root,
        "$defs": dict(sorted(definitions.items())),
    }


def _class_schema(cls: type, definitions: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    conditional: list[dict[str, Any]] = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if meta.get("rest"):
            continue
        hint, nullable = _optional(hints[f.name])
        if meta.get("flatten"):
            inner = _class_schema(hint, definitions)
            figures_required = sorted(set(inner.get("required", [])) | (set(REQUIRED_FIGURES) - {"name"}))
            if meta.get("when") is _finished:
                # the loader reads a workload's figures only when it finished
                conditional.append({"if": {"properties": {"status": {"const": "ok"}}, "required": ["status"]},
                                    "then": {"properties": inner["properties"], "required": figures_required}})
            else:
                properties.update(inner["properties"])
                required += [k for k in figures_required if k not in required]
            continue
        name = meta.get("key") or f.name
        schema = _value_schema(hint, meta, definitions)
        if nullable:
            schema = {"anyOf": [schema, {"type": "null"}]}
        if meta.get("doc"):
            schema["description"] = meta["doc"]
        properties[name] = schema
        if meta.get("required") if meta.get("required") is not None else not nullable:
            required.append(name)
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    if conditional:
        out["allOf"] = conditional
    return out


def _value_schema(hint: Any, meta: Mapping[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if hint in (str, int) and meta.get("choices"):
        return {"enum": list(meta["choices"])}
    if hint is str:
        return {"type": "string"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        schema: dict[str, Any] = {"type": "number"}
        if meta.get("positive"):
            schema["exclusiveMinimum"] = 0
        if meta.get("minimum") is not None:
            schema["minimum"] = meta["minimum"]
        return schema
    if hint is EnergyKind:
        return {"enum": [k.value for k in EnergyKind]}
    if origin is tuple:
        return {"type": "array", "items": _value_schema(typing.get_args(hint)[0], {}, definitions)}
    if origin in (collections.abc.Mapping, dict) or hint is Mapping:
        item = typing.get_args(hint)[1] if typing.get_args(hint) else Any
        if item is Any:
            return {"type": "object"}
        return {"type": "object", "additionalProperties": _value_schema(item, {}, definitions)}
    if dataclasses.is_dataclass(hint):
        name = hint.__name__
        if name not in definitions:
            definitions[name] = {}  # placeholder against recursion
            definitions[name] = _class_schema(hint, definitions)
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"result model: no schema for {hint!r}")


if __name__ == "__main__":  # python -m bench.result_model > docs/result-schema.json
    print(json.dumps(json_schema(), indent=2))
