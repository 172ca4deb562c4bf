"""The CPU's microarchitecture, from its family and model, and the issue rates the mining bounds use.

``benchmarks/bench_sha256d.py`` turns instruction counts into MH/s bounds with these figures, so
a bound is the one of the CPU it ran on, not of the Zen 3 the kernels were first tuned on:

  * ``vector_ops_per_cycle[width]``: simple integer vector instructions (add, logic, shift) a
    core issues a cycle at that register width, i.e. its vector ALU pipes;
  * ``rnds2_cycles`` / ``rnds2_latency``: reciprocal throughput and latency of ``sha256rnds2``;
    None where no source at hand gave them (``--sha-unit`` measures them on the machine).

Sources, per row (what each figure rests on, no more):
  * Zen 3: four 256-bit vector ALU pipes, two of which shift (AMD, Software Optimization Guide
    for AMD EPYC 7003 processors, pub. 56665, FPU section); ``sha256rnds2`` latency 4, one a
    cycle, as ``bench_sha256d.py --sha-unit`` measured on this project's Zen 3 (4.1 / 1.05);
  * Zen 4: the same four 256-bit pipes, a 512-bit instruction run as two halves, so two 512-bit
    instructions a cycle (A. J. Yee, "Zen5's AVX512 Teardown", numberworld.org, 2024, on Zen 4's
    "double-pumping"; also his Zen 4 teardown of 2022);
  * Zen 5: native 512-bit pipes, so four 512-bit instructions a cycle on desktop and server cores
    (same article; mobile Zen 5 keeps 256-bit halves, which this table cannot tell apart);
  * Ice Lake (Sunny Cove) and Sapphire Rapids (Golden Cove): vector ALUs on ports 0, 1 and 5;
    512-bit work on ports 0+1 fused and 5 (WikiChip, "Sunny Cove - Microarchitectures - Intel";
    Intel's Optimization Reference Manual describes the same ports).
SHA figures for all but Zen 3 are None: no source at hand gave them, so ``--sha-unit`` measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Microarchitecture:
    name: str
    vector_ops_per_cycle: dict[str, float]  # by register width: "ymm" (AVX2), "zmm" (AVX-512)
    rnds2_cycles: float | None
    rnds2_latency: float | None
    source: str
    note: str = ""
    models: tuple[range, ...] = field(default=(), repr=False)


_WIKICHIP = "WikiChip, {} microarchitecture: execution ports 0, 1, 5"

# (vendor, family) -> rows with their model ranges; the first row whose range holds the model wins.
TABLE: dict[tuple[str, int], list[Microarchitecture]] = {
    ("AuthenticAMD", 0x19): [
        Microarchitecture("Zen 3", {"ymm": 4}, 1.0, 4.0, "AMD Software Optimization Guide, pub. 56665 (FPU); SHA: measured here",
                          "four 256-bit vector ALU pipes, two of them shift",
                          (range(0x00, 0x10), range(0x20, 0x30), range(0x40, 0x60))),
        Microarchitecture("Zen 4", {"ymm": 4, "zmm": 2}, None, None, "A. J. Yee, Zen 4 and Zen 5 AVX512 teardowns, numberworld.org",
                          "512-bit instructions run as two 256-bit halves",
                          (range(0x10, 0x20), range(0x60, 0x80), range(0xA0, 0xB0))),
    ],
    ("AuthenticAMD", 0x1A): [
        Microarchitecture("Zen 5", {"ymm": 4, "zmm": 4}, None, None, "A. J. Yee, Zen5's AVX512 Teardown, numberworld.org, 2024",
                          "desktop and server cores: four 512-bit pipes (mobile Zen 5 halves 512-bit work)",
                          (range(0x00, 0x100),)),
    ],
    ("GenuineIntel", 6): [
        Microarchitecture("Ice Lake", {"ymm": 3, "zmm": 2}, None, None, _WIKICHIP.format("Sunny Cove"),
                          "vector ALUs on ports 0, 1, 5; 512-bit on 0+1 fused and 5",
                          (range(0x6A, 0x6B), range(0x6C, 0x6D), range(0x7D, 0x7F))),
        Microarchitecture("Sapphire Rapids", {"ymm": 3, "zmm": 2}, None, None, _WIKICHIP.format("Golden Cove"),
                          "vector ALUs on ports 0, 1, 5; 512-bit on 0+1 fused and 5",
                          (range(0x8F, 0x90),)),
    ],
}


def parse_cpuinfo(text: str) -> tuple[str | None, int | None, int | None]:
    """(vendor_id, cpu family, model) of the first processor in /proc/cpuinfo's text."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # end of the first processor's block
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())

    def number(key: str) -> int | None:
        try:
            return int(fields[key])
        except (KeyError, ValueError):
            return None

    return fields.get("vendor_id"), number("cpu family"), number("model")


def identify(vendor: str | None, family: int | None, model: int | None) -> Microarchitecture | None:
    """The table's row for this CPU, or None when it is not in the table."""
    for row in TABLE.get((vendor, family), []):
        if any(model in r for r in row.models):
            return row
    return None


def this_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[Microarchitecture | None, str]:
    """This machine's row (None if unknown) and the family/model it was read from, said in words."""
    try:
        vendor, family, model = parse_cpuinfo(cpuinfo.read_text())
    except OSError as exc:
        return None, f"cannot read {cpuinfo} ({exc.strerror or exc})"
    said = f"{vendor} family {family:#x} model {model:#x}" if family is not None and model is not None else f"{vendor}, family/model unknown"
    return identify(vendor, family, model), said
