"""The run's progress line: "building" while a workload builds, then each phase's windows."""

from __future__ import annotations

import io

from rich.console import Console

from bench import runner
from bench.report_run import progress_bars
from tests.fakes import CPU, FakeClock, FakeMeter, FakeWorkload


def test_the_runner_announces_a_build_before_it_starts_then_the_phases_windows():
    clock = FakeClock()
    workload = FakeWorkload(clock, build_s=2.0, phase_names=("prefill", "decode"))
    calls = []
    runner.measure_workload(
        workload, CPU, FakeMeter(clock), runner.PRESETS["quick"], clock=clock,
        progress=lambda *call: calls.append((*call, clock.now, workload.steps_done)),
    )
    name, phase, done, total, at, steps = calls[0]
    assert (name, phase, done, total) == ("mine", "building", 0, 0)
    assert at == 1000.0 and steps == 0  # before the 2 s build and before any step
    windows = runner.PRESETS["quick"].windows
    assert [(c[1], c[2], c[3]) for c in calls[1:]] == (
        [("prefill", n, windows) for n in range(windows + 1)] + [("decode", n, windows) for n in range(windows + 1)]
    )


def _shown(console: Console, bars) -> str:
    with console.capture() as captured:
        console.print(bars._progress.get_renderable())
    return captured.get()


def test_the_progress_line_says_building_while_a_workload_builds():
    console = Console(file=io.StringIO(), width=100, force_terminal=False)
    with progress_bars(console, ["mine", "train"]) as bars:
        assert _shown(console, bars).count("waiting") == 2
        bars("train", "building", 0, 0)
        line = next(line for line in _shown(console, bars).splitlines() if line.startswith("train"))
        assert "building" in line and "0/0" not in line and "waiting" not in line
        bars("train", "train", 1, 3)
        line = next(line for line in _shown(console, bars).splitlines() if line.startswith("train"))
        assert "train 1/3" in line and "building" not in line
        bars.stop()
