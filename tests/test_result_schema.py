"""The published JSON Schema is the model's, describes the files we write, and agrees with the
loader; damaged documents of any shape are refused as BenchError by every reader."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.compare import Loaded, build_comparison, merge_devices
from bench.economics import rows_for_device
from bench.errors import BenchError
from bench.market import load_scenario
from bench.result_model import json_schema
from bench.results import parse_result

ROOT = Path(__file__).parent.parent
SCHEMA_PATH = ROOT / "docs" / "result-schema.json"
# real runs: the test fixtures and the committed examples (never the user's own results/)
COMMITTED = sorted([*(ROOT / "tests" / "fixtures" / "results").rglob("*.json"),
                    *(ROOT / "results" / "examples").rglob("*.json")])
SMALLEST = min(COMMITTED, key=lambda p: p.stat().st_size)


def test_the_published_schema_is_the_one_the_model_generates() -> None:
    published = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert published == json_schema(), (
        "docs/result-schema.json is stale: python -m bench.result_model > docs/result-schema.json"
    )


def test_the_published_schema_is_a_valid_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(json_schema())


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_every_committed_result_matches_the_schema(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    errors = [e.message for e in jsonschema.Draft202012Validator(json_schema()).iter_errors(document)]
    assert errors == []


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key or index path in a document, windows' meter details left out (free-form)."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:2]):  # two of each list are enough
            out += _paths(item, (*prefix, index))
    return out


DOCUMENT = json.loads(SMALLEST.read_text(encoding="utf-8"))
PATHS = _paths(DOCUMENT)
REPLACEMENTS = st.sampled_from(
    [None, [], {}, "", "x", "ok", "failed", "measured", True, False, 0, -1, 1, 0.5, -0.5, 1e308, -1e308, 2.0,
     {"name": "x"}, [1, 2], [{}], {"median": 1}]
)
VALIDATOR = jsonschema.Draft202012Validator(json_schema())


@st.composite
def damaged_documents(draw) -> dict:
    document = copy.deepcopy(DOCUMENT)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        target = document
        try:
            for part in path[:-1]:
                target = target[part]
            if draw(st.booleans()) and isinstance(target, dict):
                target.pop(path[-1], None)
            else:
                target[path[-1]] = draw(REPLACEMENTS)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this path
    return document


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_documents())
def test_a_damaged_document_is_refused_by_the_loader_exactly_when_the_schema_refuses_it(document) -> None:
    try:
        result = parse_result(document, "fuzzed.json")
    except BenchError as exc:
        assert "\n" not in str(exc)
        assert not VALIDATOR.is_valid(document), f"the schema accepts what the loader refused: {exc}"
        return
    assert VALIDATOR.is_valid(document), [e.message for e in VALIDATOR.iter_errors(document)][:3]
    # What loads, every reader takes; a figure it cannot price is one BenchError, never a crash.
    try:
        devices = merge_devices([Loaded("fuzzed.json", result)])
        scenario = load_scenario()
        rows = {d.slug: rows_for_device(d, scenario) for d in devices}
        build_comparison(devices, economics=rows).to_dict()
    except BenchError as exc:
        assert "\n" not in str(exc)
