"""Energy meters (see base.py for the interface): choosing one for a run, and surveying them all.

Precedence in ``select_meter``: what the user supplies (``--watts`` or ``--watts-command``), then the
device's own counter (NVML for a GPU, RAPL for a CPU), then, for a CPU only, an estimate from its
TDP. A GPU that NVML cannot read is refused rather than guessed at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench import nvml
from bench.devices import Device, cpu_name
from bench.errors import BenchError
from bench.meters.base import ESTIMATED, MEASURED, Measurement, Meter
from bench.meters.estimate import EstimatedCpuMeter, given_tdp, lookup_tdp, table_median_tdp
from bench.meters.nvml_meter import open_nvml_meter
from bench.meters.rapl import ROOT_ENV, RaplMeter, discover_zones, powercap_root
from bench.meters.user import CommandPowerMeter, ConstantPowerMeter, positive_watts

__all__ = [
    "ESTIMATED", "MEASURED", "NODE_LEVEL", "Measurement", "Meter", "MeterStatus", "for_rank", "select_meter", "survey",
]


def select_meter(
    device: Device,
    *,
    cpu_tdp_watts: float | None = None,
    watts: float | None = None,
    watts_command: str | None = None,
) -> Meter:
    """The meter a run on ``device`` uses; BenchError (one line) when the inputs are bad or none works."""
    if watts is not None and watts_command is not None:
        raise BenchError("--watts and --watts-command both given: choose one source of power readings")
    if cpu_tdp_watts is not None and (watts is not None or watts_command is not None):
        given = "--watts" if watts is not None else "--watts-command"
        raise BenchError(f"{given} and --cpu-tdp-watts both given: the TDP estimate is only used without {given}; choose one")
    if cpu_tdp_watts is not None:
        cpu_tdp_watts = positive_watts(cpu_tdp_watts, "--cpu-tdp-watts")
    if watts is not None:
        return ConstantPowerMeter(positive_watts(watts, "--watts"))
    if watts_command is not None:
        return CommandPowerMeter(watts_command)
    if device.kind == "cuda":
        try:
            return open_nvml_meter(device.index or 0)
        except BenchError as exc:
            raise BenchError(f"no energy meter for {device.torch_device}: {exc}; pass --watts or --watts-command") from None
    return _cpu_meter(device, cpu_tdp_watts)


def _cpu_meter(device: Device, cpu_tdp_watts: float | None) -> Meter:
    root, chosen = powercap_root()
    try:
        return RaplMeter.open(root)
    except BenchError as exc:
        if chosen:  # the user pointed at a tree: its failure is the answer, not a quiet estimate
            raise BenchError(f"{ROOT_ENV}={root}: {exc}") from None
        why_not_measured = f"RAPL unusable: {exc}"
    if cpu_tdp_watts is not None:
        tdp = given_tdp(cpu_tdp_watts)
    else:
        tdp = lookup_tdp(device.name) or table_median_tdp()
    return EstimatedCpuMeter(tdp, why_not_measured=why_not_measured)


# Meters that read a whole node (its CPU packages, the wall), not one device: under a launcher
# one rank per node reads them, so the node's joules are counted once, not once per rank.
NODE_LEVEL = frozenset({"rapl", "user-watts", "user-watts-command"})


def for_rank(
    meter: Meter, device: Device, *, rank: int, reader: int, node: str, node_ranks: list[int],
    cpu_tdp_watts: float | None = None,
) -> Meter:
    """The meter one rank of a launch uses. A node-level meter stays with the node's reader rank,
    labelled as covering the node; the node's other ranks close it and read their own device
    (NVML, or the CPU estimate of this process), labelled "node meter read by rank R"."""
    if meter.name not in NODE_LEVEL:
        return _Scoped(meter, {"scope": "device"}, meter.describe().get("label", meter.name))
    ranks = ", ".join(map(str, node_ranks))
    if rank == reader:
        label = f"node meter of {node} (ranks {ranks}), read by rank {rank}: {meter.describe().get('label', meter.name)}"
        return _Scoped(meter, {"scope": "node", "node": node, "covers_ranks": node_ranks, "read_by_rank": rank}, label)
    name = meter.name
    meter.close()
    if device.kind == "cuda":
        try:
            own: Meter = open_nvml_meter(device.index or 0)
        except BenchError as exc:
            raise BenchError(f"rank {rank}: node meter {name} is read by rank {reader}, and this rank's own "
                             f"{device.torch_device} has no meter: {exc}") from None
    else:
        own = EstimatedCpuMeter(given_tdp(cpu_tdp_watts) if cpu_tdp_watts is not None
                                else lookup_tdp(device.name) or table_median_tdp(),
                                why_not_measured=f"node meter {name} read by rank {reader}")
    own_label = own.describe().get("label", own.name)
    label = f"node meter {name} read by rank {reader}; this rank's own figures: {own_label}"
    return _Scoped(own, {"scope": "device", "node_meter": {"name": name, "read_by_rank": reader, "node": node}}, label)


class _Scoped:
    """A meter whose description also says what it covers under a launcher (``scope``)."""

    def __init__(self, meter: Meter, extra: dict[str, Any], label: str) -> None:
        self._meter, self._extra, self.label = meter, extra, label
        self.name, self.kind, self.min_window_s = meter.name, meter.kind, meter.min_window_s

    def begin(self, key: str) -> None:
        self._meter.begin(key)

    def end(self, key: str) -> Measurement:
        return self._meter.end(key)

    def describe(self) -> dict[str, Any]:
        return {**self._meter.describe(), **self._extra, "label": self.label}

    def close(self) -> None:
        self._meter.close()


@dataclass(frozen=True)
class MeterStatus:
    meter: str  # e.g. "rapl", "nvml-energy"
    device: str  # e.g. "cpu", "cuda:0"
    usable: bool
    reason: str  # what it reads when usable; why not and how to fix it when not

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def survey(device: Device | None = None) -> list[MeterStatus]:
    """Every meter for ``device`` (or for the CPU and every NVML GPU): usable or not, and why. Never raises."""
    if device is None:
        statuses = survey(Device("cpu", None, cpu_name()))
        try:
            count = nvml.gpu_count()
        except BenchError as exc:
            return statuses + [MeterStatus("nvml", "cuda", False, str(exc))]
        for index in range(count):
            statuses += _gpu_statuses(f"cuda:{index}", index)
        return statuses
    if device.kind == "cuda":
        return _gpu_statuses(device.torch_device, device.index or 0)
    return _cpu_statuses(device)


def _user_meters(label: str) -> MeterStatus:
    return MeterStatus(
        "user", label, True, "on request: --watts W (constant, labelled estimated) or --watts-command CMD (sampled, measured)"
    )


def _cpu_statuses(device: Device) -> list[MeterStatus]:
    root, _chosen = powercap_root()
    try:
        zones = discover_zones(root)
        rapl = MeterStatus("rapl", "cpu", True, f"{', '.join(z.label for z in zones)} at {root}")
    except BenchError as exc:
        rapl = MeterStatus("rapl", "cpu", False, str(exc))
    tdp = lookup_tdp(device.name)
    if tdp is not None:
        estimate = MeterStatus("estimated-cpu", "cpu", True, f"fallback estimate from {tdp.source}")
    else:
        fallback = table_median_tdp()
        estimate = MeterStatus(
            "estimated-cpu", "cpu", True,
            f"fallback estimate: {fallback.source} (CPU model {device.name!r} is not in the TDP table; "
            "--cpu-tdp-watts W gives the real figure)",
        )
    return [rapl, estimate, _user_meters("cpu")]


def _gpu_statuses(label: str, cuda_index: int) -> list[MeterStatus]:
    try:
        gpu = nvml.open_gpu(cuda_index)
    except BenchError as exc:
        return [MeterStatus("nvml", label, False, str(exc)), _user_meters(label)]
    try:
        if gpu.mig_mode() == "enabled":
            why = "MIG enabled: NVML's energy covers the whole GPU, not one slice"
            return [MeterStatus("nvml", label, False, why), _user_meters(label)]
        return [
            _probe(label, "nvml-energy", lambda: f"energy counter at {gpu.energy_mj() / 1000:.3f} J ({gpu.name})"),
            _probe(label, "nvml-power-sampling", lambda: f"power reads {gpu.power_watts():.1f} W ({gpu.name})"),
            _user_meters(label),
        ]
    except BenchError as exc:
        return [MeterStatus("nvml", label, False, str(exc)), _user_meters(label)]
    finally:
        gpu.close()


def _probe(label: str, meter: str, read: Any) -> MeterStatus:
    try:
        return MeterStatus(meter, label, True, read())
    except BenchError as exc:
        return MeterStatus(meter, label, False, str(exc))
