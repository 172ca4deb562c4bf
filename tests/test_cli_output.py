"""`bench run` output on odd terminals: no columns, an ASCII-only encoding."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# One short busy workload through the real CLI (like tests/test_cli_run.py's spinner).
DRIVER = r'''
import sys, time
from bench import workloads
from bench.cli import main
from bench.workloads.base import BuildInfo, Phase

class Spinner:
    name = "mine"
    def config(self):
        return {}
    def source_files(self):
        return []
    def build(self):
        return BuildInfo([Phase("spin", "spins", self.step, headline=True)])
    def step(self):
        deadline = time.process_time() + 0.02
        while time.process_time() < deadline:
            pass
        return 1
    def check(self):
        return {}

workloads.make_workload = lambda name, *args: Spinner()
main(["run", "--device", "cpu", "--workload", "mine", "--out", sys.argv[1]])
'''


@pytest.mark.parametrize("env", [{"COLUMNS": "0"}, {"PYTHONIOENCODING": "ascii"}], ids=["COLUMNS=0", "ascii"])
def test_the_summary_and_where_it_saved_print_on_any_terminal(tmp_path, env):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(out)], cwd=REPO, capture_output=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )
    text = (done.stdout + done.stderr).decode("ascii", errors="replace")
    assert done.returncode == 0, text
    assert "Traceback" not in text
    [path] = list(out.rglob("*.json"))
    assert f"saved complete result to {path}\n" in text
    assert "spin" in text  # the summary table's phase row
