"""SIGTERM and SIGHUP stop `bench run` like Ctrl-C: finished workloads saved, status partial, 128+signum."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.results import load_result

REPO = Path(__file__).resolve().parent.parent

# A driver like tests/test_cli_run.py's: busy "spinner" workloads through the real CLI. "mine"
# finishes; "infer" touches a marker file on its first step, then spins until signalled.
DRIVER = r'''
import sys, time
from pathlib import Path
from bench import workloads
from bench.cli import main
from bench.workloads.base import BuildInfo, Phase

marker = Path(sys.argv[1])

class Spinner:
    def __init__(self, name, forever):
        self.name, self.forever = name, forever
    def config(self):
        return {}
    def source_files(self):
        return []  # run with -c: no source file to hash
    def build(self):
        return BuildInfo([Phase("spin", "spins", self.step, headline=True)])
    def step(self):
        if self.forever:
            marker.touch()
            while True:
                pass
        deadline = time.process_time() + 0.02
        while time.process_time() < deadline:
            pass
        return 1
    def check(self):
        return {}

made = {"mine": Spinner("mine", False), "infer": Spinner("infer", True)}
workloads.make_workload = lambda name, *args: made[name]
main(["run", "--device", "cpu", "--workload", "mine", "--workload", "infer", "--out", sys.argv[2]])
'''


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_saves_the_finished_workloads_as_partial_and_exits_128_plus_signum(tmp_path, signum):
    marker, out = tmp_path / "infer-started", tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", DRIVER, str(marker), str(out)], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the second workload never started"
            time.sleep(0.05)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert "interrupted: 1 finished workload(s) saved to" in err
    [path] = list(out.rglob("*.json"))
    saved = load_result(path)
    name = signal.Signals(signum).name
    assert saved["status"] == "partial"
    assert saved["partial_reason"] == f"interrupted by {name} during infer"
    assert [(w["name"], w["status"]) for w in saved["workloads"]] == [("mine", "ok")]
