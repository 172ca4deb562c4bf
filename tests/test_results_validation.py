"""A damaged result file is refused at load with one message naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.results import load_result

FIXTURES = Path(__file__).parent / "fixtures" / "results"
REAL = sorted((FIXTURES / "vm").glob("*.json"))[0]


def _set(document: dict, path: tuple, value) -> None:
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


@pytest.mark.parametrize("path, value, named", [
    (("device",), None, "device"),
    (("tool",), [], "tool"),
    (("workloads", 0, "phases"), None, "phases"),
    (("workloads", 0, "config"), "fast", "config"),
    (("workloads", 0, "phases", 0, "windows", 0, "meter_seconds"), 0, "meter_seconds"),
    (("workloads", 0, "phases", 0, "work"), -1, "work"),
    (("workloads", 0, "energy_kind"), "guessed", "energy_kind"),
    (("schema_version",), True, "schema_version"),
])
def test_a_damaged_field_is_refused_naming_it(tmp_path: Path, path, value, named) -> None:
    document = json.loads(REAL.read_text(encoding="utf-8"))
    _set(document, path, value)
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(BenchError, match=named) as caught:
        load_result(damaged)
    assert str(damaged) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("text, why", [
    ('{"format": "joulebench-result", "format": "x"}', "duplicate"),
    ('{"format": "joulebench-result", "schema_version": 1, "x": NaN}', "NaN"),
    ('{"format": "joulebench-result", "schema_version": 1, "x": 1' + "0" * 400 + "}", "float"),
    ("[" * 100_000 + "]" * 100_000, "deep"),
])
def test_json_a_writer_of_ours_never_produces_is_refused(tmp_path: Path, text: str, why: str) -> None:
    damaged = tmp_path / "damaged.json"
    damaged.write_text(text, encoding="utf-8")
    with pytest.raises(BenchError):
        load_result(damaged)


def test_the_committed_results_still_load() -> None:
    examples = Path(__file__).parent.parent / "results" / "examples"  # committed, never a user's run
    for path in [*FIXTURES.rglob("*.json"), *examples.rglob("*.json")]:
        assert load_result(path)["format"] == "joulebench-result"


def test_compare_on_a_damaged_file_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    from bench.cli import main

    document = json.loads(REAL.read_text(encoding="utf-8"))
    document["workloads"][0]["phases"] = None
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        main(["compare", str(damaged)])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "phases" in err
