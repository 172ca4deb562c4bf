"""Saving result files: names that never collide, normal permissions, failed saves that lose nothing."""

import errno
import os
import stat
from datetime import datetime, timezone

import pytest

from bench import runner, storage
from bench.results import load_result
from tests.fakes import CPU, FakeClock, FakeMeter, FakeWorkload

NOW = datetime(2026, 12, 2, 11, 0, 0, 123456, tzinfo=timezone.utc)


def test_two_runs_in_one_second_keep_both_files(tmp_path):
    first = storage.new_result_path(tmp_path, "box", "cpu-x", now=NOW)
    second = storage.new_result_path(tmp_path, "box", "cpu-x", now=NOW)
    assert first != second
    assert first.name.startswith("20261202T110000.123Z_cpu-x_")
    storage.write_atomic(first, {"run": 1}, exclusive=True)
    storage.write_atomic(second, {"run": 2}, exclusive=True)
    assert sorted(p.name for p in (tmp_path / "box").iterdir()) == sorted([first.name, second.name])


def test_an_exclusive_save_never_overwrites_another_runs_file(tmp_path):
    path = tmp_path / "r.json"
    storage.write_atomic(path, {"run": 1}, exclusive=True)
    with pytest.raises(FileExistsError):
        storage.write_atomic(path, {"run": 2}, exclusive=True)
    assert '"run": 1' in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left behind


def test_result_files_get_the_umasks_usual_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "r.json"
        storage.write_atomic(path, {"x": 1}, exclusive=True)
        storage.write_atomic(path, {"x": 2})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def _run(path, clock, workloads):
    document = runner.new_document(tool={}, machine={}, device={"name": "Test CPU", "kind": "cpu"},
                                   protocol=runner.PRESETS["quick"], meter={"name": "fake"})
    return runner.run(document, workloads, CPU, FakeMeter(clock), runner.PRESETS["quick"], path,
                      clock=clock, sleep=clock.sleep)


def test_a_save_into_a_folder_that_is_a_file_rescues_the_finished_workload(tmp_path, monkeypatch):
    monkeypatch.setattr(storage.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    blocker = tmp_path / "machine"
    blocker.write_text("a file where the machine folder should be")
    clock = FakeClock()
    with pytest.raises(runner.SaveFailed) as caught:
        _run(blocker / "r.json", clock, [FakeWorkload(clock)])
    message = str(caught.value)
    assert str(blocker / "r.json") in message and "saved to" in message
    rescued = tmp_path / "tmp" / "joulebench-unsaved" / "r.json"
    assert str(rescued) in message
    assert [w["status"] for w in load_result(rescued)["workloads"]] == ["ok"]


def test_a_full_disk_after_measuring_rescues_the_finished_workloads(tmp_path, monkeypatch):
    monkeypatch.setattr(storage.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    real_link = os.link

    def full_disk(src, dst, *args, **kwargs):
        if "joulebench-unsaved" not in str(dst):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(storage.os, "link", full_disk)
    clock = FakeClock()
    with pytest.raises(runner.SaveFailed, match="No space left on device"):
        _run(tmp_path / "out" / "r.json", clock, [FakeWorkload(clock, name="mine"), FakeWorkload(clock, name="infer")])
    rescued = load_result(tmp_path / "tmp" / "joulebench-unsaved" / "r.json")
    assert [w["name"] for w in rescued["workloads"]] == ["mine"]
    assert not list((tmp_path / "out").glob("*.json"))
