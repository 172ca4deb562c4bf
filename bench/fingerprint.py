"""What produced a result: tool version and commit, the machine, and the device's state."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from bench import __version__
from bench.devices import Device, cpu_name, slugify
from bench.errors import BenchError

_PACKAGES = ("torch", "numba", "numba-cuda", "numpy", "nvidia-ml-py")


def tool_info() -> dict[str, Any]:
    """Version, and the git commit and dirty flag when running from a checkout."""
    commit, dirty = _git_state(Path(__file__).resolve().parent.parent)
    return {"name": "joulebench", "version": __version__, "commit": commit, "dirty": dirty}


def _git_state(repo: Path) -> tuple[str | None, bool | None]:
    if not (repo / ".git").exists():
        return None, None
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, bool(status.strip())


def machine_name() -> str:
    return slugify(socket.gethostname())


def machine_info() -> dict[str, Any]:
    memory = psutil.virtual_memory()
    return {
        "hostname": socket.gethostname(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_name(),
        "cpu_cores_logical": psutil.cpu_count(logical=True),
        "cpu_cores_physical": psutil.cpu_count(logical=False),
        "cpu_flags_simd": _simd_flags(),
        "process_cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_bytes": memory.total,
        "packages": {name: _version(name) for name in _PACKAGES},
    }


def _simd_flags() -> list[str]:
    wanted = {"avx2", "avx512f", "avx512bw", "avx512vl", "sha_ni", "neon", "asimd", "sha2"}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return sorted(wanted & set(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return []


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def device_info(device: Device) -> dict[str, Any]:
    """Name and state of the measured device; for GPUs the NVML state (driver, power limit, clocks, temperature)."""
    info: dict[str, Any] = {"kind": device.kind, "index": device.index, "name": device.name, "slug": device.slug}
    if device.kind == "cpu":
        info["cores_logical"] = psutil.cpu_count(logical=True)
        frequency = psutil.cpu_freq()
        info["clock_mhz"] = frequency.current if frequency else None
        return info
    import torch

    props = torch.cuda.get_device_properties(device.index)
    info.update(
        memory_bytes=props.total_memory,
        compute_capability=f"{props.major}.{props.minor}",
        sm_count=props.multi_processor_count,
        torch_cuda_version=torch.version.cuda,
    )
    try:
        from bench.nvml import gpu_snapshot

        info["nvml"] = gpu_snapshot(device.index)
    except BenchError as exc:
        info["nvml"] = {"unavailable": str(exc)}
    return info
