"""Walks the declarations of bench/result_model.py: parses a decoded document into its dataclasses
(checking every field where it is read) and writes the same declarations out as a JSON Schema."""

from __future__ import annotations

import collections.abc
import dataclasses
import math
import sys
import types
import typing
from typing import Any, Mapping

from bench.energy import EnergyKind
from bench.result_model import REQUIRED_FIGURES, SCHEMA_VERSION, Damaged, Workload, finished

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


def parse_class(cls: type, obj: Any, where: str) -> Any:
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
                values[f.name] = parse_class(hint, obj, where)
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
    for rule in getattr(cls, "__rules__", ()):
        if not rule.holds(obj):
            raise Damaged(f"{where.rstrip(': ') or 'the document'}: {rule.message}")
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
        return parse_class(hint, value, where)
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


def schema_of(cls: type) -> dict[str, Any]:
    """``cls`` (a result document) as a JSON Schema, draft 2020-12."""
    definitions: dict[str, Any] = {}
    root = _class_schema(cls, definitions)
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
            if meta.get("when") is finished:
                # the loader reads a workload's figures only when it finished
                then: dict[str, Any] = {"properties": inner["properties"], "required": figures_required}
                if inner.get("allOf"):
                    then["allOf"] = inner["allOf"]
                conditional.append({"if": {"properties": {"status": {"const": "ok"}}, "required": ["status"]},
                                    "then": then})
            else:
                properties.update(inner["properties"])
                required += [k for k in figures_required if k not in required]
                conditional += inner.get("allOf", [])
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
    conditional += [dict(rule.schema) for rule in getattr(cls, "__rules__", ())]
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
