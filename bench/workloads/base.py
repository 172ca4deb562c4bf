"""The one interface every workload implements, so the runner measures all of them the same way.

A workload is built once for a device (compile, allocate, load), then exposes one or more
*phases*. Each phase is a callable doing one step of work and returning how many work units
(hashes, tokens) it did. The runner times warm-up apart, then runs fixed-duration measurement
windows of whole steps with the device synchronized before every timestamp and meter reading.
Workloads never time or meter themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from bench.errors import BenchError


@dataclass
class Phase:
    """One measured part of a workload, e.g. ``hash``, ``prefill``, ``decode`` or ``train``."""

    name: str
    unit: str  # plural work unit: "hashes" or "tokens"
    step: Callable[[], int]  # one step of work; may only enqueue it: the runner synchronizes
    # Figures derived from the measured rate, e.g. model FLOPs utilisation; receives the median
    # work rate (units/s) and returns JSON-able extras for the result file.
    derived: Callable[[float], dict[str, Any]] | None = None
    headline: bool = False  # the phase whose figures stand for the whole workload


@dataclass
class BuildInfo:
    """What building a workload produced besides its phases (compile time split, notes)."""

    phases: list[Phase]
    details: dict[str, Any] = field(default_factory=dict)  # e.g. {"compile_s": 1.2, "cached": true}


class Workload(Protocol):
    name: str  # "mine" | "infer" | "train"

    def config(self) -> dict[str, Any]:
        """JSON-able settings that define the work (model, batch, kernel variant...)."""

    def source_files(self) -> list[Path]:
        """Files whose contents define the work; their hash says which code produced a result."""

    def build(self) -> BuildInfo:
        """Compile and allocate on the device the workload was configured for (it is given the
        device once, when made); the runner times this as build time."""

    def check(self) -> dict[str, Any]:
        """Self-check after measuring; raise WorkloadCheckFailed on a wrong result."""

    def close(self) -> None:
        """Optional: drop every reference to what build allocated (model, caches, optimizer state,
        compiled functions), so ``release`` can free it before the next workload builds. A
        workload holding nothing big (mine) need not define it."""


def release(workload: Workload, device: "Device") -> dict[str, Any]:  # noqa: F821
    """Free what ``workload`` holds and say how much memory is still in use after.

    Called by the runner after every workload, failed ones included: llama-8b's weights and KV
    cache would otherwise leave train no room on the same card. Never raises; a failure to free
    is recorded, not fatal.
    """
    import gc
    import sys

    notes: dict[str, Any] = {}
    close = getattr(workload, "close", None)
    if close is not None:
        try:
            close()
        except Exception as exc:  # noqa: BLE001 - the next workload must still run
            notes["close_error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    torch = sys.modules.get("torch")  # a run that never imported torch has nothing of torch to free
    try:
        if torch is not None:
            torch._dynamo.reset()  # compiled graphs and, on CUDA, the CUDA-graph trees' memory pools
        gc.collect()
        if device.kind == "cuda" and torch is not None:
            torch.cuda.synchronize(device.index)
            torch.cuda.empty_cache()
            free_bytes, total_bytes = torch.cuda.mem_get_info(device.index)
            notes.update(
                device_bytes_in_use=total_bytes - free_bytes,  # every process and context on the GPU
                torch_allocated_bytes=torch.cuda.memory_allocated(device.index),
                torch_reserved_bytes=torch.cuda.memory_reserved(device.index),
                basis="cudaMemGetInfo (total - free) after dynamo reset, gc and empty_cache",
            )
        else:
            import psutil

            notes.update(process_rss_bytes=psutil.Process().memory_info().rss,
                         basis="this process's resident memory after dynamo reset and gc")
    except Exception as exc:  # noqa: BLE001 - a GPU error here shows again in the next build
        notes["release_error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    return notes


def check_preset(preset: str, device_kind: str) -> None:
    """Refuse a preset the runner's table does not name, or a device kind no workload runs on."""
    from bench.protocol import protocol_for  # the one table of presets; measure imports this module

    protocol_for(preset)
    if device_kind not in ("cpu", "cuda"):
        raise BenchError(f"unknown device kind {device_kind!r}: expected cpu or cuda")
