"""Which device a run measures: parsing ``--device``, availability checks, synchronization."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

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


# -- CUDA compiler pieces (the mining kernel's toolchain) ------------------------------------
# numba-cuda compiles a kernel with NVVM, needs NVRTC besides (see shared notes), links with
# nvJitLink where present (else the driver's linker), and the driver runs it. Without its
# cu12/cu13 extra numba-cuda brings none of them, so a GPU machine may have none.
CUDA_EXTRAS_HINT = (
    'install joulebench[cu12] or joulebench[cu13], the CUDA major that nvidia-smi reports '
    '(NVVM 13 needs a 580+ driver)'
)


@dataclass(frozen=True)
class CudaPiece:
    name: str  # "NVVM", "NVRTC", "nvJitLink", "CUDA driver"
    found: bool
    version: str | None  # e.g. "13.5"; NVVM gives its own version, not the toolkit's
    where: str  # the library's path and how it was found, or why it was not
    required: bool  # mining on CUDA cannot compile or run without it

    def to_dict(self) -> dict:
        return {"name": self.name, "found": self.found, "version": self.version, "where": self.where,
                "required": self.required}


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _locate(libname: str) -> str:
    """Path and search route of an NVIDIA library; raises when it cannot be loaded."""
    from cuda.pathfinder import load_nvidia_dynamic_lib

    loaded = load_nvidia_dynamic_lib(libname)
    return f"{loaded.abs_path} (via {loaded.found_via})"


def _probe(name: str, libname: str, version: Callable[[], str], required: bool) -> CudaPiece:
    try:
        where = _locate(libname)
        return CudaPiece(name, True, version(), where, required)
    except Exception as exc:  # noqa: BLE001 - any failure to load is the answer, said in one line
        if type(exc).__name__ == "DynamicLibNotFoundError":  # its text lists every directory searched
            why = f"lib{libname} not in site-packages (the cu12/cu13 extras), CUDA_HOME or the system library path"
        else:
            why = _one_line(exc)
        return CudaPiece(name, False, None, why, required)


def _nvvm_version() -> str:
    from cuda.bindings import nvvm

    major, minor = nvvm.version()
    return f"NVVM {major}.{minor}"


def _nvrtc_version() -> str:
    from cuda.bindings import nvrtc

    result, major, minor = nvrtc.nvrtcVersion()
    if int(result) != 0:
        raise RuntimeError(f"nvrtcVersion returned {result}")
    return f"{major}.{minor}"


def _nvjitlink_version() -> str:
    from cuda.bindings import nvjitlink

    major, minor = nvjitlink.version()
    return f"{major}.{minor}"


def _driver_piece() -> CudaPiece:
    from bench import nvml

    try:
        driver, cuda = nvml.driver_versions()
    except BenchError as exc:
        return CudaPiece("CUDA driver", False, None, str(exc), True)
    shown = f"CUDA {cuda}" if cuda else "CUDA version unknown"
    return CudaPiece("CUDA driver", True, shown, f"NVIDIA driver {driver}", True)


def cuda_compiler_pieces() -> list[CudaPiece]:
    """NVVM, NVRTC, nvJitLink and the driver as this machine has them; never raises."""
    return [
        _probe("NVVM", "nvvm", _nvvm_version, required=True),
        _probe("NVRTC", "nvrtc", _nvrtc_version, required=True),
        _probe("nvJitLink", "nvJitLink", _nvjitlink_version, required=False),
        _driver_piece(),
    ]


def _major(version: str | None) -> int | None:
    match = re.search(r"(\d+)\.\d+", version or "")
    return int(match.group(1)) if match else None


def cuda_compiler_problem(pieces: list[CudaPiece] | None = None) -> str | None:
    """Why the CUDA mining kernel cannot compile or run here (one line), or None when it can."""
    pieces = cuda_compiler_pieces() if pieces is None else pieces
    missing = [p.name for p in pieces if p.required and not p.found]
    if missing:
        return f"CUDA mining needs {', '.join(missing)}, not found here: {CUDA_EXTRAS_HINT}"
    by_name = {p.name: p for p in pieces}
    toolkit, driver = _major(by_name["NVRTC"].version), _major(by_name["CUDA driver"].version)
    if toolkit is not None and driver is not None and toolkit > driver:
        # Code from a newer toolkit than the driver knows does not load (CUDA minor-version
        # compatibility holds within one major only).
        return (f"CUDA mining: NVRTC {by_name['NVRTC'].version} is newer than the driver's "
                f"{by_name['CUDA driver'].version}: install joulebench[cu{driver}] or a newer driver")
    return None


def require_cuda_compiler() -> None:
    """Refuse CUDA mining in one line (BenchError) when its compiler pieces are missing.

    The CUDA simulator (NUMBA_ENABLE_CUDASIM=1) compiles nothing, so it needs none of them.
    """
    import os

    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return
    problem = cuda_compiler_problem()
    if problem:
        raise BenchError(problem + "; or leave mining out: --workload infer --workload train")
