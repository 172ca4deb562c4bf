"""What the PyTorch workloads (infer, train) share when they are configured and built for a device.

Option checks with one-line refusals, the model and dtype looked up by name, a memory check
before anything is allocated, the largest batch that fits on a GPU (out of memory is an answer,
anything else is raised), and the choice between the eager and the ``torch.compile`` form of a
step, timed on the device.
"""

from __future__ import annotations

import time
from typing import Any, Callable, TypeVar

import torch

from bench.errors import BenchError
from kernels import transformer
from kernels.transformer import ModelConfig

STEP_FORMS = ("auto", "eager", "compiled")  # eager or torch.compile'd step; auto: the faster on CUDA

T = TypeVar("T")


def check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise BenchError(f"{name.replace('_', '-')} must be a positive integer, got {value!r}")


def check_step_form(what: str, form: str) -> None:
    if form not in STEP_FORMS:
        raise BenchError(f"unknown {what} {form!r}: expected one of {', '.join(STEP_FORMS)}")


def shape(name: str) -> ModelConfig:
    """The named model shape; an unknown name is a one-line BenchError."""
    try:
        return transformer.shape(name)
    except ValueError as exc:
        raise BenchError(str(exc)) from None


def parse_dtype(name: str) -> torch.dtype:
    try:
        return transformer.parse_dtype(name)
    except ValueError as exc:
        raise BenchError(str(exc)) from None


def default_dtype(device_kind: str) -> str:
    return "bfloat16" if device_kind == "cuda" else "float32"


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB"


def check_memory(device_kind: str, torch_device: torch.device, *, gpu_need_bytes: int,
                 gpu_refusal: Callable[[str, str], str], host_need_bytes: int,
                 host_refusal: Callable[[str, str], str]) -> None:
    """Refuse, before allocating, work that cannot fit: ``gpu_need_bytes`` against the GPU's free
    memory on CUDA, ``host_need_bytes`` against 90 % of the host's available memory on CPU.
    A refusal is given (needed, free) as GiB figures and returns the message."""
    if device_kind == "cuda":
        free_bytes, _total = torch.cuda.mem_get_info(torch_device)
        if gpu_need_bytes > free_bytes:
            raise BenchError(gpu_refusal(gib(gpu_need_bytes), gib(free_bytes)))
        return
    import psutil

    available = psutil.virtual_memory().available
    if host_need_bytes > 0.9 * available:
        raise BenchError(host_refusal(gib(host_need_bytes), gib(available)))


# What running out of device memory looks like besides torch's own OutOfMemoryError: cuBLAS
# allocating its workspace (a RuntimeError "CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate"
# or "... cublasLtMatmul"), cuDNN likewise, and CUDA's own "out of memory".
_OOM_TEXTS = ("out of memory", "cublas_status_alloc_failed", "cudnn_status_alloc_failed")


def is_out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, torch.cuda.OutOfMemoryError) or any(t in text for t in _OOM_TEXTS)


def largest_fitting_batch(fits: Callable[[int], bool], wanted: int) -> int | None:
    """Largest batch <= ``wanted`` for which ``fits`` holds, assuming it holds below some size.

    Halves until one fits, then bisects between it and the smallest failure, stopping within
    1/16 of the answer (each try costs an allocation and a step). None if even 1 fails.
    """
    if fits(wanted):
        return wanted
    high, low = wanted, wanted // 2
    while low >= 1 and not fits(low):
        high, low = low, low // 2
    if low < 1:
        return None
    while high - low > max(1, low // 16):
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def fits_in_memory(device, attempt: Callable[[], object], release: Callable[[], None]) -> bool:
    """Run ``attempt`` and synchronize: False if it ran out of memory (any other error is raised).
    ``release`` then frees what it left allocated, and the allocator's cache is emptied."""
    try:
        attempt()
        device.synchronize()
        return True
    except Exception as exc:  # noqa: BLE001 - only out-of-memory is an answer; the rest is raised
        if not is_out_of_memory(exc):
            raise
        return False
    finally:
        release()
        torch.cuda.empty_cache()


def fitting_batch(device, wanted: int, fits: Callable[[int], bool], what: str, details: dict[str, Any]) -> int:
    """The largest batch up to ``wanted`` that ``fits``; a smaller one is noted in ``details``."""
    batch = largest_fitting_batch(fits, wanted)
    if batch is None:
        raise BenchError(f"{what} at batch 1 does not fit in {device.name}'s memory")
    if batch != wanted:
        details.update(oom_batch=wanted, largest_batch_that_fit=batch)
    return batch


def choose_step_form(device, wanted: str, *, eager: T, compile: Callable[[], T], use: Callable[[T], None],
                     warm_up: Callable[[], None], run: Callable[[], None], runs: int, what: str,
                     timings_key: str, after_failure: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Eager or compiled step, as ``wanted`` ("auto": whichever is faster on CUDA, eager on CPU).

    Each form is installed with ``use``, warmed up (compile, CUDA graph capture), then ``run``
    ``runs`` times between synchronizations; the faster is left installed. A failing compiled
    form falls back to eager with the reason kept, or, when asked for, is a BenchError.
    """
    if wanted == "eager" or (wanted == "auto" and device.kind != "cuda"):
        return {"mode": "eager", "why": "asked for" if wanted == "eager" else "auto on CPU: eager (torch.compile not tried)"}
    candidates = {"compiled": compile()} if wanted == "compiled" else {"eager": eager, "compiled": compile()}
    seconds: dict[str, float] = {}
    info: dict[str, Any] = {}
    for name, form in candidates.items():
        use(form)
        try:
            t0 = time.perf_counter()
            warm_up()
            device.synchronize()
            warmup_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(runs):
                run()
            device.synchronize()
            seconds[name] = (time.perf_counter() - t0) / runs
        except Exception as exc:  # noqa: BLE001 - a failed compile falls back to eager, said why
            if name == "eager":
                raise  # a bug, not a compiler limitation
            if wanted == "compiled":
                raise BenchError(f"compiled {what} failed: {type(exc).__name__}: {exc}") from exc
            after_failure()
            info[f"{name}_error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            continue
        if name == "compiled":
            info["compile_s"] = warmup_s
    best = min(seconds, key=seconds.get) if seconds else "eager"
    use(candidates.get(best, eager))
    return {"mode": best, "why": "asked for" if wanted == "compiled" else "faster of those timed",
            timings_key: seconds, **info}


# Square GEMM sizes for measuring a peak: big enough to run at full speed, short on each device
# (CPU: 2.1 GFLOP, tens of ms on a few cores; GPU: 1.1 TFLOP, about 1-2 ms on an H100).
PEAK_GEMM_N = {"cpu": 1024, "cuda": 8192}
PEAK_BUDGET_S = 0.2  # timed repeats stop once this much has passed (one more GEMM at most)


def measure_peak(device, dtype: torch.dtype, *, n: int | None = None, budget_s: float = PEAK_BUDGET_S,
                 clock: Callable[[], float] = time.perf_counter) -> "peaks.MeasuredPeak":
    """The best FLOP/s of an n x n matmul in ``dtype`` on ``device``, over ``budget_s`` of repeats
    after one warm-up (which pays for kernel selection and, on a GPU, clock ramp-up)."""
    from kernels import peaks

    n = n or PEAK_GEMM_N.get(device.kind, 1024)
    torch_device = torch.device(device.torch_device)
    generator = torch.Generator(device=torch_device).manual_seed(0)
    a = torch.randn(n, n, device=torch_device, dtype=dtype, generator=generator)
    b = torch.randn(n, n, device=torch_device, dtype=dtype, generator=generator)
    start = clock()
    with torch.no_grad():
        torch.mm(a, b)
        device.synchronize()
        best_s, repeats = float("inf"), 0
        timed_from = clock()
        while repeats < 1 or clock() - timed_from < budget_s:
            t0 = clock()
            torch.mm(a, b)
            device.synchronize()
            best_s = min(best_s, clock() - t0)
            repeats += 1
    return peaks.MeasuredPeak(flops_per_s=2.0 * n ** 3 / max(best_s, 1e-12), n=n,
                              dtype=transformer.dtype_name(dtype), seconds=clock() - start, repeats=repeats)


def peak_for_mfu(device, dtype: torch.dtype, details: dict[str, Any],
                 measure: Callable[..., Any] = measure_peak) -> "peaks.MeasuredPeak | None":
    """None where the peak table knows ``device`` at ``dtype``; else a peak measured now, kept in
    ``details["measured_peak"]`` so MFU can be given on every device."""
    from kernels import peaks

    if peaks.peak_flops_per_s(device.name, transformer.dtype_name(dtype))[0] is not None:
        return None
    measured = measure(device, dtype)
    details["measured_peak"] = measured.to_dict()
    return measured
