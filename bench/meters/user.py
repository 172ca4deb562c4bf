"""Power the user supplies: a constant figure (``--watts``) or a command that prints watts.

A constant is one number the user read off a wall meter at some time, not a reading taken during
the windows, so its joules (watts x elapsed time) are labelled *estimated*. A command is run during
every window and its readings integrated, so its joules are labelled *measured*, by that command.
"""

from __future__ import annotations

import math
import subprocess
import time
from typing import Any, Callable

from bench.errors import BenchError
from bench.meters.base import ESTIMATED, MEASURED
from bench.meters.sampler import PowerIntegrator
from bench.meters.window import Reading, RunningTotalMeter


# Physical sense for a device's draw: a milliwatt (a microcontroller) to a megawatt (a rack row).
# Outside it a figure is a typo, and its joules overflow or vanish in the arithmetic.
MIN_WATTS = 1e-3
MAX_WATTS = 1e6


def positive_watts(value: Any, option: str) -> float:
    """``value`` as a float within [MIN_WATTS, MAX_WATTS], or a BenchError naming ``option``."""
    try:
        watts = float(value)
    except (TypeError, ValueError):
        raise BenchError(f"{option} must be a positive number of watts, got {value!r}") from None
    if not (watts > 0 and math.isfinite(watts)):
        raise BenchError(f"{option} must be a positive number of watts, got {value!r}")
    if not MIN_WATTS <= watts <= MAX_WATTS:
        raise BenchError(f"{option} {watts:g} W is outside {MIN_WATTS:g}..{MAX_WATTS:g} W, the range a device can draw")
    return watts


class ConstantPowerMeter(RunningTotalMeter):
    name = "user-watts"
    kind = ESTIMATED
    min_window_s = 0.0  # elapsed time is exact; there is no counter to wait for

    def __init__(self, watts: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.watts = positive_watts(watts, "--watts")
        self._clock = clock
        self._t0 = clock()
        self.label = f"estimated: user-supplied {self.watts:g} W constant (--watts) x elapsed time; not read during the run"

    def _read(self) -> Reading:
        seconds = self._clock()
        return Reading(seconds, self.watts * (seconds - self._t0))

    def _describe(self) -> dict[str, Any]:
        return {"watts": self.watts, "model": "joules = watts x window seconds"}


_COMMAND_TIMEOUT_S = 10.0


def run_watts_command(command: str) -> float:
    """Run ``command`` in a shell; its output must start with a number of watts (e.g. ``231.5`` or ``231.5 W``)."""
    try:
        done = subprocess.run(
            command, shell=True, capture_output=True, timeout=_COMMAND_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"--watts-command {command!r} took over {_COMMAND_TIMEOUT_S:g} s") from None
    # Bytes decoded leniently: a command printing binary is refused below, in one line.
    stdout = done.stdout.decode("utf-8", errors="replace")
    stderr = done.stderr.decode("utf-8", errors="replace")
    if done.returncode != 0:
        why = (stderr.strip().splitlines() or [""])[-1][:120]
        raise BenchError(f"--watts-command {command!r} exited with status {done.returncode}" + (f": {why}" if why else ""))
    words = stdout.split()
    try:
        watts = float(words[0])
    except (IndexError, ValueError):
        raise BenchError(f"--watts-command {command!r} printed {stdout.strip()[:60]!r}, not a number of watts") from None
    if not (0 <= watts <= MAX_WATTS and math.isfinite(watts)):
        raise BenchError(f"--watts-command {command!r} printed {watts}, not a non-negative number of watts")
    return watts


class CommandPowerMeter(RunningTotalMeter):
    name = "user-watts-command"
    kind = MEASURED

    def __init__(self, command: str, *, period_s: float = 1.0, read: Callable[[str], float] = run_watts_command) -> None:
        super().__init__()
        if not command.strip():
            raise BenchError("--watts-command is empty: give a shell command that prints watts")
        self.command = command
        self.period_s = period_s
        # Five samples at least, so the trapezoids have something to integrate.
        self.min_window_s = 5 * period_s
        self.label = f"measured: `{command}` sampled every {period_s:g} s, trapezoid-integrated"
        self._integrator = PowerIntegrator(lambda: read(command), period_s, thread_name="joulebench-watts-command")

    def _read(self) -> Reading:
        seconds, joules, samples = self._integrator.sample()
        return Reading(seconds, joules, {"samples": samples})

    def _describe(self) -> dict[str, Any]:
        return {"command": self.command, "sampling_period_s": self.period_s, "integration": "trapezoids"}

    def close(self) -> None:
        self._integrator.close()
