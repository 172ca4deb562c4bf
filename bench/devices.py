"""Which device a run measures: parsing ``--device``, availability checks, synchronization."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.errors import BenchError

_SPEC = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


@dataclass(frozen=True)
class Device:
    kind: str  # "cpu" | "cuda"
    index: int | None  # CUDA ordinal; None for the CPU
    name: str  # marketing name, e.g. "AMD EPYC" or "NVIDIA H100 80GB HBM3"

    @property
    def torch_device(self) -> str:
        return "cpu" if self.kind == "cpu" else f"cuda:{self.index}"

    @property
    def slug(self) -> str:
        """File-name-safe id, e.g. ``cpu-amd-epyc`` or ``cuda0-nvidia-h100-80gb-hbm3``."""
        prefix = "cpu" if self.kind == "cpu" else f"cuda{self.index}"
        return f"{prefix}-{slugify(self.name)}"

    def synchronize(self) -> None:
        """Wait for all queued work on the device, so a timestamp taken next is honest."""
        if self.kind == "cuda":
            import torch

            # cudaDeviceSynchronize: covers torch streams and Numba kernels (same primary context).
            torch.cuda.synchronize(self.index)


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown CPU"


def cuda_device_count() -> int:
    """CUDA devices that torch can use (0 with a CPU build of torch)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_device(spec: str) -> Device:
    """Turn ``auto|cpu|cuda|cuda:N`` into a Device, or raise BenchError saying why not."""
    match = _SPEC.match(spec.strip().lower())
    if not match:
        raise BenchError(f"unknown device {spec!r}: expected auto, cpu, cuda or cuda:N")
    kind, index = match.group(1), match.group(2)
    if kind == "cpu":
        if index is not None:
            raise BenchError(f"unknown device {spec!r}: the CPU takes no index")
        return Device("cpu", None, cpu_name())
    count = cuda_device_count()
    if kind == "auto":
        if index is not None:
            raise BenchError(f"unknown device {spec!r}: auto takes no index")
        return _cuda_device(0) if count else Device("cpu", None, cpu_name())
    wanted = int(index) if index is not None else 0
    if count == 0:
        raise BenchError(f"device {spec!r} asked for, but {_why_no_cuda()}")
    if wanted >= count:
        raise BenchError(f"device {spec!r} does not exist: this machine has {count} CUDA device(s)")
    return _cuda_device(wanted)


def _cuda_device(index: int) -> Device:
    import torch

    return Device("cuda", index, torch.cuda.get_device_name(index))


def _why_no_cuda() -> str:
    import torch

    if torch.version.cuda is None:
        return f"this torch build has no CUDA (torch {torch.__version__}); see README for the CUDA install"
    return "no CUDA GPU is visible to torch on this machine"
