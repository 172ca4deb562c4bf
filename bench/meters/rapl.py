"""RAPL energy counters of Intel and AMD CPUs, read from the Linux powercap sysfs tree.

Zones counted: every package (``intel-rapl:N`` named ``package-N``, also on AMD) and, where present,
its DRAM sub-zone. Core/uncore sub-zones lie inside the package and ``psys`` covers it, so they are
left out to avoid counting joules twice. Counters are in microjoules and wrap at
``max_energy_range_uj``; a guard thread reads them often enough that no counter can wrap twice
between two readings, so windows of any length are exact to one counter unit.

The tree is at /sys/class/powercap, or where ``JOULEBENCH_POWERCAP_ROOT`` says (a container that
mounts the host's tree elsewhere).
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bench.errors import BenchError
from bench.meters.base import MEASURED
from bench.meters.window import Reading, RunningTotalMeter

ROOT_ENV = "JOULEBENCH_POWERCAP_ROOT"
DEFAULT_ROOT = Path("/sys/class/powercap")

# No single package or DRAM domain draws a kilowatt; polling twice per wrap at that power is safe.
_WRAP_GUARD_WATTS = 1000.0
_MAX_GUARD_PERIOD_S = 10.0
_ZONE_ID = re.compile(r"^intel-rapl:(\d+)(?::(\d+))?$")


@dataclass(frozen=True)
class RaplZone:
    zone_id: str  # "intel-rapl:0" or "intel-rapl:0:1"
    label: str  # "package-0" or "package-0/dram"
    path: Path
    max_energy_range_uj: int


def powercap_root() -> tuple[Path, bool]:
    """Where to look for the tree, and whether the user chose it (then its failure is an error)."""
    chosen = os.environ.get(ROOT_ENV)
    return (Path(chosen), True) if chosen else (DEFAULT_ROOT, False)


def counter_delta_uj(before_uj: int, after_uj: int, max_energy_range_uj: int) -> int:
    """Microjoules between two readings of a counter that wraps to 0 after ``max_energy_range_uj``."""
    if after_uj >= before_uj:
        return after_uj - before_uj
    return after_uj + max_energy_range_uj - before_uj


def _permission_fix(path: Path, root: Path) -> str:
    return (
        f"{path}: permission denied (energy_uj is root-only since the CVE-2020-8694 fix); "
        f"fix: sudo chmod a+r {root}/intel-rapl:*/energy_uj (until reboot) or run as root; in a container, "
        f"mount the host's /sys/class/powercap read-only and set {ROOT_ENV} to it"
    )


def read_uj(path: Path, root: Path) -> int:
    """One integer from a powercap file, or a BenchError naming the file and the fix."""
    try:
        text = path.read_text(encoding="ascii")
    except PermissionError:
        raise BenchError(_permission_fix(path, root)) from None
    except OSError as exc:
        raise BenchError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return int(text.strip())
    except ValueError:
        raise BenchError(f"{path}: expected an integer, read {text.strip()[:40]!r}") from None


def _zone_dirs(root: Path) -> dict[str, Path]:
    """Zone directories by id: flat (/sys/class/powercap) or nested (/sys/devices/virtual/powercap)."""
    found: dict[str, Path] = {}
    for pattern in ("intel-rapl:*", "*/intel-rapl:*", "*/*/intel-rapl:*"):
        for path in sorted(root.glob(pattern)):
            if _ZONE_ID.match(path.name) and path.name not in found:
                found[path.name] = path
    return found


def _zone_name(path: Path, root: Path) -> str:
    try:
        return (path / "name").read_text(encoding="ascii").strip()
    except PermissionError:
        raise BenchError(_permission_fix(path / "name", root)) from None
    except OSError as exc:
        raise BenchError(f"{path / 'name'}: cannot read ({exc.strerror or exc})") from None


def discover_zones(root: Path) -> list[RaplZone]:
    """The package and DRAM zones under ``root``, each checked readable; BenchError says why not."""
    if not root.is_dir():
        raise BenchError(
            f"no powercap tree at {root} (no RAPL driver, or a VM/container without it; "
            f"a container can mount the host's tree and set {ROOT_ENV})"
        )
    dirs = _zone_dirs(root)
    if not dirs:
        raise BenchError(f"no RAPL zones (intel-rapl:N) under {root}; try: sudo modprobe intel_rapl_msr")
    names = {zone_id: _zone_name(path, root) for zone_id, path in dirs.items()}
    zones = []
    for zone_id, path in dirs.items():
        package, sub = _ZONE_ID.match(zone_id).groups()
        name = names[zone_id]
        if sub is None and name.startswith("package"):
            label = name
        elif sub is not None and name == "dram":
            label = f"{names.get(f'intel-rapl:{package}', f'intel-rapl:{package}')}/dram"
        else:
            continue  # psys, core, uncore: covered by or covering the package zones
        max_uj = read_uj(path / "max_energy_range_uj", root)
        read_uj(path / "energy_uj", root)  # unreadable counters are found now, with the fix
        zones.append(RaplZone(zone_id, label, path, max_uj))
    if not zones:
        raise BenchError(f"no RAPL package zone under {root} (zones found: {', '.join(sorted(names.values()))})")
    return zones


class RaplMeter(RunningTotalMeter):
    """Measured CPU energy: the sum of the package (and DRAM) RAPL counters."""

    name = "rapl"
    kind = MEASURED
    # Counters update about every millisecond; 100 ms is ~100 updates.
    min_window_s = 0.1

    def __init__(
        self, zones: list[RaplZone], root: Path, *, clock: Callable[[], float] = time.monotonic, guard: bool = True
    ) -> None:
        super().__init__()
        self.zones = zones
        self.root = root
        self._clock = clock
        self._lock = threading.Lock()
        self._last_uj = {zone.zone_id: read_uj(zone.path / "energy_uj", root) for zone in zones}
        self._total_uj = {zone.zone_id: 0 for zone in zones}
        self.label = f"measured: RAPL powercap counters ({' + '.join(zone.label for zone in zones)})"
        smallest_range_j = min(zone.max_energy_range_uj for zone in zones) / 1e6
        self.guard_period_s = min(_MAX_GUARD_PERIOD_S, max(0.001, smallest_range_j / _WRAP_GUARD_WATTS / 2))
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._guard: threading.Thread | None = None
        if guard:
            self._guard = threading.Thread(target=self._guard_loop, name="joulebench-rapl-wrap-guard", daemon=True)
            self._guard.start()

    @classmethod
    def open(cls, root: Path) -> "RaplMeter":
        return cls(discover_zones(root), root)

    def _poll(self) -> tuple[float, dict[str, int]]:
        if self._error is not None:
            raise self._error
        with self._lock:
            for zone in self.zones:
                now_uj = read_uj(zone.path / "energy_uj", self.root)
                self._total_uj[zone.zone_id] += counter_delta_uj(
                    self._last_uj[zone.zone_id], now_uj, zone.max_energy_range_uj
                )
                self._last_uj[zone.zone_id] = now_uj
            return self._clock(), dict(self._total_uj)

    def _guard_loop(self) -> None:
        while not self._stop.wait(self.guard_period_s):
            try:
                self._poll()
            except BaseException as exc:  # raised by the next window edge
                self._error = exc
                return

    def _read(self) -> Reading:
        seconds, totals_uj = self._poll()
        counts = {f"{zone.label}_joules": totals_uj[zone.zone_id] / 1e6 for zone in self.zones}
        return Reading(seconds, sum(totals_uj.values()) / 1e6, counts)

    def _describe(self) -> dict[str, Any]:
        return {
            "powercap_root": str(self.root),
            "zones": [
                {"id": z.zone_id, "label": z.label, "max_energy_range_uj": z.max_energy_range_uj} for z in self.zones
            ],
            "wrap_guard_period_s": self.guard_period_s,
            "covers": "whole CPU package(s) and DRAM: every process on the machine, not only joulebench",
        }

    def close(self) -> None:
        self._stop.set()
        if self._guard is not None:
            self._guard.join(timeout=1.0)
