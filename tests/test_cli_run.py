"""`bench run` end to end on this machine's CPU: real workloads, real result file, Ctrl-C."""

import json
import time

import pytest

from bench import workloads
from bench.cli import main
from bench.results import load_result
from bench.workloads.base import BuildInfo, Phase


def _bench(capsys, *args):
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_quick_run_of_every_workload_writes_a_complete_valid_result(capsys, tmp_path):
    code, out, err = _bench(
        capsys, "run", "--device", "cpu", "--preset", "quick", "--model", "tiny", "--out", str(tmp_path), "--json"
    )
    assert code == 0, err
    printed = json.loads(out)
    [path] = list(tmp_path.rglob("*.json"))
    saved = load_result(path)
    assert saved == printed
    assert saved["status"] == "complete"
    assert [w["name"] for w in saved["workloads"]] == ["mine", "infer", "train"]
    assert [p["name"] for p in saved["workloads"][1]["phases"]] == ["prefill", "decode"]
    for entry in saved["workloads"]:
        assert entry["energy_kind"] == "estimated" and entry["energy_source"].startswith("estimated:")
        assert entry["rate_per_s"] > 0 and entry["per_joule"] > 0
    assert saved["workloads"][0]["check"]["shares_rehashed"] == saved["workloads"][0]["check"]["shares_found"]
    assert "saved complete result to" in err


class _Spinner:
    """A real workload for the interrupt test: 20 ms busy steps, Ctrl-C at a chosen step.

    Busy, not asleep: the CPU estimate counts this process's CPU time, and a sleeping step can
    leave a window at zero joules, which the runner rightly fails.
    """

    def __init__(self, name, interrupt_at=None):
        self.name, self.interrupt_at, self.steps = name, interrupt_at, 0

    def config(self):
        return {}

    def source_files(self):
        return [__file__]

    def build(self):
        return BuildInfo([Phase("sleep", "naps", self.step, headline=True)])

    def step(self):
        self.steps += 1
        if self.steps == self.interrupt_at:
            raise KeyboardInterrupt
        deadline = time.process_time() + 0.02
        while time.process_time() < deadline:
            pass
        return 1

    def check(self):
        return {}


def test_ctrl_c_keeps_finished_workloads_and_exits_130(capsys, tmp_path, monkeypatch):
    made = {"mine": _Spinner("mine"), "infer": _Spinner("infer", interrupt_at=5)}
    monkeypatch.setattr(workloads, "make_workload", lambda name, *args: made[name])
    code, _, err = _bench(
        capsys, "run", "--device", "cpu", "--workload", "mine", "--workload", "infer", "--out", str(tmp_path)
    )
    assert code == 130
    assert "interrupted: 1 finished workload(s) saved to" in err
    [path] = list(tmp_path.rglob("*.json"))
    saved = load_result(path)
    assert saved["status"] == "partial" and saved["partial_reason"] == "interrupted during infer"
    assert [(w["name"], w["status"]) for w in saved["workloads"]] == [("mine", "ok")]
