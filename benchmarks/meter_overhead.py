"""Meter overhead: how much of a workload's throughput a meter's background thread costs.

Run (about a minute per workload with the defaults):

    .venv/bin/python benchmarks/meter_overhead.py [--rounds 24] [--seconds 0.5]

Each round runs the workload bare and then with each meter open (its background thread running),
in an order rotated every round so drift hits all alike. Window edges (one reading each, a file
read or one run of the command, per window of a second or more) are not included. The figure per meter
is the median over rounds of (throughput with meter / bare throughput in the same round) - 1,
with the spread of those ratios, and the CPU time the meter's thread (and any commands it ran)
used, as a share of one CPU's time over the runs. Target: under 1%.

Workloads:
  * sha256d-python: double SHA-256 of 80-byte headers with hashlib in one Python thread. It holds
    the GIL between hashes, so every sample has to take the GIL from it: the worst case.
  * sha256-all-cpus: one thread per CPU hashing 1 MiB buffers (hashlib releases the GIL), so the
    meter's thread has to find CPU time on a fully busy machine, as beside a multi-core mining kernel.

Meters, on fake hardware the script writes (NVML cannot be read on a machine without a GPU):
  * sampler-50ms: the power sampler at joulebench's NVML sampling period (50 ms), reading a sysfs-style file;
  * sampler-10ms: the same at 10 ms, to show how the cost scales with the rate;
  * rapl-guard-0.25s: the RAPL meter's wrap guard, on a counter range that makes it poll every
    0.25 s (a real AMD package's range gives ~2 s, Intel's 10 s): a stress case;
  * watts-command-0.25s: ``--watts-command 'echo 100'`` sampled every 0.25 s, four times the
    default rate (a process per sample): a stress case.

Each run must outlast the meter's period, or its thread never wakes inside it: hence 0.5 s runs.
The throughput change is what a user sees but on a shared machine its noise is far above 1%; the
meter's CPU share (its thread's own CPU clock, plus the commands it ran) is the precise figure, and
bounds what it can take from a CPU-bound workload.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import resource
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.devices import cpu_name  # noqa: E402
from bench.meters.rapl import RaplMeter, discover_zones  # noqa: E402
from bench.meters.sampler import PowerIntegrator  # noqa: E402
from bench.meters.user import CommandPowerMeter  # noqa: E402

# 500 J: the guard polls every 500 J / 1000 W / 2 = 0.25 s (an AMD package range of 4295 J: ~2 s).
STRESS_RANGE_UJ = 500_000_000


def sha256d_python(seconds: float) -> float:
    """Double SHA-256s per second in one GIL-holding thread."""
    header = bytearray(os.urandom(80))
    hashes = 0
    end = time.perf_counter() + seconds
    start = time.perf_counter()
    while True:
        for nonce in range(hashes, hashes + 2000):
            struct.pack_into("<I", header, 76, nonce & 0xFFFFFFFF)
            hashlib.sha256(hashlib.sha256(header).digest()).digest()
        hashes += 2000
        now = time.perf_counter()
        if now >= end:
            return hashes / (now - start)


def sha256_all_cpus(seconds: float) -> float:
    """Bytes hashed per second by one thread per CPU (hashlib drops the GIL on large buffers)."""
    buffer = os.urandom(1 << 20)
    threads = os.cpu_count() or 1
    done = [0] * threads
    stop = threading.Event()

    def work(slot: int) -> None:
        h = hashlib.sha256()
        while not stop.is_set():
            h.update(buffer)
            done[slot] += len(buffer)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    return sum(done) / (time.perf_counter() - start)


def thread_cpu_seconds(name_prefix: str) -> float:
    """CPU time so far of this process's threads whose Python name starts with ``name_prefix``.

    Read from each thread's own CPU clock (nanoseconds), not psutil's per-thread times, which tick
    in 10 ms steps: far coarser than what a sampler thread uses.
    """
    return sum(
        time.clock_gettime(time.pthread_getcpuclockid(t.ident))
        for t in threading.enumerate()
        if t.name.startswith(name_prefix) and t.ident is not None
    )


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class FakeHardware:
    """A sysfs-style power file and a powercap tree in a temporary directory."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="joulebench-overhead-"))
        (self.dir / "power_uw").write_text("150000000\n")
        zone = self.dir / "powercap" / "intel-rapl:0"
        zone.mkdir(parents=True)
        (zone / "name").write_text("package-0\n")
        (zone / "energy_uj").write_text("123456789\n")
        (zone / "max_energy_range_uj").write_text(f"{STRESS_RANGE_UJ}\n")

    def read_watts(self) -> float:
        return int((self.dir / "power_uw").read_text()) / 1e6


def meters(hw: FakeHardware) -> dict[str, tuple[Callable[[], object], str]]:
    """name -> (open the meter, prefix of its thread's name)."""
    return {
        "sampler-50ms": (lambda: PowerIntegrator(hw.read_watts, 0.05), "joulebench-power-sampler"),
        "sampler-10ms": (lambda: PowerIntegrator(hw.read_watts, 0.01), "joulebench-power-sampler"),
        "rapl-guard-0.25s": (
            lambda: RaplMeter(discover_zones(hw.dir / "powercap"), hw.dir / "powercap"),
            "joulebench-rapl-wrap-guard",
        ),
        "watts-command-0.25s": (lambda: CommandPowerMeter("echo 100", period_s=0.25), "joulebench-watts-command"),
    }


def measure(workload: Callable[[float], float], seconds: float, open_meter, thread_prefix: str):
    """Throughput of one run with the meter open (None: bare), and the meter's CPU seconds."""
    if open_meter is None:
        return workload(seconds), 0.0
    meter = open_meter()
    try:
        cpu0, child0 = thread_cpu_seconds(thread_prefix), children_cpu_seconds()
        rate = workload(seconds)
        cpu = thread_cpu_seconds(thread_prefix) - cpu0 + children_cpu_seconds() - child0
    finally:
        meter.close()
    return rate, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=0.5, help="length of each run")
    args = parser.parse_args()

    hw = FakeHardware()
    configs = {"bare": (None, ""), **meters(hw)}
    names = list(configs)
    cpus = os.cpu_count() or 1
    load = os.getloadavg()
    print(f"machine: {cpu_name()}, {cpus} logical CPUs, {platform.python_implementation()} {platform.python_version()}")
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (the machine is shared; timings are noisy)")
    print(f"{args.rounds} rounds x {len(names)} runs x {args.seconds:g} s per workload, order rotated each round\n")

    for workload_name, workload in (("sha256d-python", sha256d_python), ("sha256-all-cpus", sha256_all_cpus)):
        workload(0.3)  # warm-up
        rates: dict[str, list[float]] = {name: [] for name in names}
        cpu_seconds: dict[str, float] = {name: 0.0 for name in names}
        for r in range(args.rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                rate, cpu = measure(workload, args.seconds, *configs[name])
                rates[name].append(rate)
                cpu_seconds[name] += cpu
        bare = rates["bare"]
        print(f"{workload_name}: bare median {statistics.median(bare):,.0f}/s, "
              f"spread of bare runs {(max(bare) - min(bare)) / statistics.median(bare):.1%}")
        print(f"  {'meter':<18} {'median change':>13} {'q1':>8} {'q3':>8} {'CPU, of one core':>16}")
        for name in names[1:]:
            ratios = [m / b - 1.0 for m, b in zip(rates[name], bare)]
            q1, _median, q3 = statistics.quantiles(ratios, n=4)
            # The meter's thread (and commands) as a share of one CPU: the conservative bound.
            share = cpu_seconds[name] / (args.rounds * args.seconds)
            print(f"  {name:<18} {statistics.median(ratios):>+13.2%} {q1:>+8.2%} {q3:>+8.2%} {share:>16.4%}")
        print()


if __name__ == "__main__":
    main()
