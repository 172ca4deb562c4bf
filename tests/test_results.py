import json
import os

import pytest

from bench import results, runner, storage
from bench.errors import BenchError
from tests.fakes import CPU, FakeClock, FakeMeter, FakeWorkload


@pytest.fixture
def saved(tmp_path):
    clock = FakeClock()
    document = runner.new_document(tool={"version": "t"}, machine={}, device={"name": "Test CPU", "kind": "cpu"},
                                   protocol=runner.PRESETS["quick"], meter={"name": "fake"})
    path = tmp_path / "r.json"
    runner.run(document, [FakeWorkload(clock)], CPU, FakeMeter(clock), runner.PRESETS["quick"], path,
               clock=clock, sleep=clock.sleep)
    return path, document


def test_a_written_result_reads_back_identical(saved):
    path, document = saved
    assert results.load_result(path) == json.loads(json.dumps(document))


def test_every_workload_and_phase_carries_the_required_figures(saved):
    path, _ = saved
    entry = results.load_result(path)["workloads"][0]
    for item in [entry, *entry["phases"]]:
        for key in results.REQUIRED_FIGURES:
            assert key in item, key


def test_another_schema_version_is_refused_naming_both_versions(saved, tmp_path):
    path, document = saved
    document = json.loads(path.read_text())
    document["schema_version"] = 99
    other = tmp_path / "future.json"
    other.write_text(json.dumps(document))
    with pytest.raises(BenchError, match=r"schema_version 99 is not supported \(this joulebench reads schema_version 1\)"):
        results.load_result(other)


def test_truncated_file_is_reported_as_damaged(saved, tmp_path):
    path, _ = saved
    damaged = tmp_path / "cut.json"
    damaged.write_text(path.read_text()[:200])
    with pytest.raises(BenchError, match="damaged result file"):
        results.load_result(damaged)


def test_a_json_file_that_is_not_ours_is_refused(tmp_path):
    foreign = tmp_path / "package.json"
    foreign.write_text('{"name": "left-pad"}')
    with pytest.raises(BenchError, match="not a joulebench result file"):
        results.load_result(foreign)


def test_a_workload_entry_missing_figures_is_damaged(saved, tmp_path):
    path, _ = saved
    document = json.loads(path.read_text())
    del document["workloads"][0]["per_joule"]
    broken = tmp_path / "b.json"
    broken.write_text(json.dumps(document))
    with pytest.raises(BenchError, match="lacks per_joule"):
        results.load_result(broken)


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(BenchError, match="no such result file"):
        results.load_result(tmp_path / "nope.json")


def test_failed_atomic_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    storage.write_atomic(path, {"old": True})

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        storage.write_atomic(path, {"new": True})
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_non_finite_numbers_are_stored_as_null():
    assert storage.clean_floats({"a": [float("nan"), 1.0], "b": float("inf")}) == {"a": [None, 1.0], "b": None}


def test_result_path_groups_by_machine(tmp_path):
    assert storage.result_path(tmp_path, "box", "20261121T120000Z", "cpu-amd-epyc") == \
        tmp_path / "box" / "20261121T120000Z_cpu-amd-epyc.json"
