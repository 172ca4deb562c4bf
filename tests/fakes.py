"""Test doubles for the runner: a clock we control, a meter drawing a known power, a workload."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.devices import Device
from bench.meters.base import ESTIMATED, Measurement
from bench.workloads.base import BuildInfo, Phase

CPU = Device("cpu", None, "Test CPU")


class ManualClock:
    """Time that moves only when the test sets ``now``."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeClock(ManualClock):
    """Fake time, and an energy counter advancing at ``watts`` with it (like a hardware counter)."""

    def __init__(self, watts: float = 100.0) -> None:
        super().__init__(1000.0)
        self.watts = watts
        self.joules = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.joules += self.watts * seconds


class FakeMeter:
    """Reads the fake clock's energy counter, so every figure of a test is known in advance."""

    name = "fake"
    kind = ESTIMATED

    def __init__(self, clock: FakeClock, watts: float = 100.0, min_window_s: float = 0.0):
        self.clock = clock
        clock.watts = watts
        self.min_window_s = min_window_s
        self.open: dict[str, tuple[float, float]] = {}
        self.closed = False
        self.throttled: tuple[str, ...] = ()  # reasons every window reports, as the NVML meter does

    @property
    def watts(self) -> float:
        return self.clock.watts

    @watts.setter
    def watts(self, value: float) -> None:
        self.clock.watts = value

    def begin(self, key: str) -> None:
        self.open[key] = (self.clock(), self.clock.joules)

    def end(self, key: str) -> Measurement:
        t0, j0 = self.open.pop(key)
        details = {"throttled": list(self.throttled)} if self.throttled else {}
        return Measurement(self.clock.joules - j0, self.clock() - t0, "estimated: fake meter", ESTIMATED, details)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "label": "estimated: fake meter"}

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeWorkload:
    """Each step costs ``step_s`` fake seconds and does ``work_per_step`` units; the first step is slow."""

    clock: FakeClock
    name: str = "mine"
    step_s: float = 0.01
    work_per_step: int = 1000
    first_step_s: float = 0.5
    build_s: float = 2.0
    fail_in: str | None = None  # "build", "step" or "check"
    interrupt_after_steps: int | None = None
    steps_done: int = 0
    phase_names: tuple[str, ...] = ("hash",)
    checked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        return {"step_s": self.step_s}

    def source_files(self) -> list[Path]:
        return [Path(__file__)]

    def build(self) -> BuildInfo:
        self.clock.sleep(self.build_s)
        if self.fail_in == "build":
            raise RuntimeError("build broke")
        return BuildInfo(
            [Phase(n, "hashes", self.step, headline=(i == len(self.phase_names) - 1)) for i, n in enumerate(self.phase_names)],
            {"compile_s": self.build_s},
        )

    def step(self) -> int:
        self.steps_done += 1
        if self.interrupt_after_steps is not None and self.steps_done > self.interrupt_after_steps:
            raise KeyboardInterrupt
        if self.fail_in == "step" and self.steps_done > 3:
            raise RuntimeError("step broke")
        self.clock.sleep(self.first_step_s if self.steps_done == 1 else self.step_s)
        return self.work_per_step

    def check(self) -> dict[str, Any]:
        if self.fail_in == "check":
            from bench.errors import WorkloadCheckFailed

            raise WorkloadCheckFailed("nonce 7: kernel hash differs from hashlib")
        self.checked = True
        return {"checked": True}
