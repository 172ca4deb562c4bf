"""Peak dense FLOP/s by device name, for model-FLOPs utilisation (MFU); pure data and lookup.

Figures are the vendors' datasheet numbers for dense (not 2:4 sparse) tensor-core math with FP32
accumulation; "float32" is plain FP32 (not TF32), which is what torch uses for float32 matmuls
unless TF32 is switched on. A device or dtype that is not in the table (any CPU: its peak depends on
clocks and SIMD width; an unlisted GPU) gets a peak measured during build instead, a short square
GEMM at the workload's dtype (``MeasuredPeak``), and MFU against it is labelled as such: it says how
close the model comes to this machine's own matmul speed, not to a datasheet figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

TERA = 1e12


@dataclass(frozen=True)
class Peak:
    label: str
    flops_per_s: dict[str, float]  # by dtype name: "bfloat16", "float16", "float32"
    source: str


# Order matters: the first entry whose every word is in the device name wins, so the more
# specific names (PCIe, NVL) come before the bare model name.
_TABLE: list[tuple[tuple[str, ...], Peak]] = [
    (("h100", "pcie"), Peak("H100 PCIe", {"bfloat16": 756 * TERA, "float16": 756 * TERA, "float32": 51 * TERA},
                            "NVIDIA H100 datasheet")),
    (("h100", "nvl"), Peak("H100 NVL", {"bfloat16": 835 * TERA, "float16": 835 * TERA, "float32": 60 * TERA},
                           "NVIDIA H100 datasheet")),
    (("h100",), Peak("H100 SXM", {"bfloat16": 989 * TERA, "float16": 989 * TERA, "float32": 67 * TERA},
                     "NVIDIA H100 datasheet")),
    (("h200", "nvl"), Peak("H200 NVL", {"bfloat16": 835 * TERA, "float16": 835 * TERA, "float32": 60 * TERA},
                           "NVIDIA H200 datasheet")),
    (("h200",), Peak("H200 SXM", {"bfloat16": 989 * TERA, "float16": 989 * TERA, "float32": 67 * TERA},
                     "NVIDIA H200 datasheet")),
    (("a100",), Peak("A100", {"bfloat16": 312 * TERA, "float16": 312 * TERA, "float32": 19.5 * TERA},
                     "NVIDIA A100 datasheet")),
    (("rtx", "4090"), Peak("GeForce RTX 4090", {"bfloat16": 165.2 * TERA, "float16": 165.2 * TERA,
                                                "float32": 82.6 * TERA},
                           "NVIDIA Ada Lovelace architecture whitepaper (FP32 accumulate)")),
    (("l40s",), Peak("L40S", {"bfloat16": 362 * TERA, "float16": 362 * TERA, "float32": 91.6 * TERA},
                     "NVIDIA L40S datasheet")),
    (("l4",), Peak("L4", {"bfloat16": 121 * TERA, "float16": 121 * TERA, "float32": 30.3 * TERA},
                   "NVIDIA L4 datasheet")),
]


def find_peak(device_name: str) -> Peak | None:
    words = set(device_name.lower().replace("-", " ").split())
    for keys, peak in _TABLE:
        if all(key in words for key in keys):
            return peak
    return None


def peak_flops_per_s(device_name: str, dtype: str) -> tuple[float | None, str]:
    """The peak for ``dtype`` on ``device_name`` and where it comes from (or why it is unknown)."""
    peak = find_peak(device_name)
    if peak is None:
        return None, f"peak FLOP/s unknown for {device_name!r} (not in the peak table)"
    value = peak.flops_per_s.get(dtype)
    if value is None:
        return None, f"peak FLOP/s for {dtype} on {peak.label} not in the peak table"
    return value, f"{peak.label} dense {dtype} peak, {peak.source}"


@dataclass(frozen=True)
class MeasuredPeak:
    """The best FLOP/s of a square (n x n) @ (n x n) matmul, timed on the device during build."""

    flops_per_s: float
    n: int  # the GEMM is (n x n) @ (n x n): 2 n^3 FLOPs
    dtype: str
    seconds: float  # wall time spent measuring (warm-up and timed repeats)
    repeats: int  # timed matmuls; the best one gives the peak

    @property
    def basis(self) -> str:
        return (f"measured peak: best of {self.repeats} {self.n}x{self.n}x{self.n} {self.dtype} GEMMs "
                f"in {self.seconds:.2f} s on this device (not a datasheet figure)")

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "shape": [self.n, self.n, self.n], "basis": self.basis}


def mfu(model_flops_per_s: float, device_name: str, dtype: str,
        measured: MeasuredPeak | None = None) -> dict[str, object]:
    """Model-FLOPs utilisation: achieved model FLOP/s over the device's table peak, else over
    ``measured`` (labelled so), else None with why."""
    peak, note = peak_flops_per_s(device_name, dtype)
    kind = "datasheet" if peak else None
    if peak is None and measured is not None:
        peak, note, kind = measured.flops_per_s, measured.basis, "measured"
    return {
        "model_flops_per_s": model_flops_per_s,
        "peak_flops_per_s": peak,
        "peak_kind": kind,
        "mfu": model_flops_per_s / peak if peak else None,
        "mfu_basis": note,
    }
