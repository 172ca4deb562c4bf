"""Mining workload ``mine``: a real block header's nonces scanned for pool shares, as a miner does.

One step scans the next ``nonces_per_step`` nonces of the header of block 839,900 (April 2024,
BIP9 version bits) against an easy pool-share target, chosen so that a step finds about two
shares, which the final check can re-hash. One nonce counts as one hash: one double SHA-256 of
the 80-byte header (two compressions once the midstate is known). When the 32-bit nonce space
runs out, the header's time is rolled by one second, as miners do, and the scan starts over.

The CPU runs ``kernels.sha256d_cpu`` on ``threads`` threads, with the variant that measured
fastest here on those threads (``kernels.sha256d_choice``: timed at build, cached per machine and
kernel source; every candidate's MH/s goes into the build details), or the one asked for; "cuda" runs
``kernels.sha256d_cuda`` on the runner's device. After measuring, ``check`` re-hashes with hashlib every share found and
a sample of scanned nonces, and fails the run on any disagreement.

Run it through the harness: ``bench run --workload mine --device cpu --preset quick``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench.devices import Device
from bench.errors import BenchError, WorkloadCheckFailed
from bench.workloads.base import BuildInfo, Phase, check_preset
from kernels import sha256d

BLOCK_HEIGHT = 839900
BLOCK, BLOCK_HASH = sha256d.KNOWN_BLOCKS[BLOCK_HEIGHT]
# Nonces per step, 50-250 ms at the rates measured so far (a thread: 9-45 MH/s, by CPU and
# variant) and at a few GH/s for a datacenter GPU. One figure for every variant and preset: the
# variant is chosen at build, after the config (and so the step) is recorded.
CPU_NONCES_PER_THREAD = 2**21
CUDA_NONCES_PER_STEP = 2**29
SHARES_PER_STEP = 2  # expected; sets the share target
SAMPLE_SLICES = 4  # check: slices of scanned nonces re-hashed with hashlib, every nonce in them
SAMPLE_SLICE_NONCES = 64
# Check: fewer shares than this probability allows (Poisson) means the kernel misses hits.
MISSED_SHARES_P = 1e-9


KERNELS = {
    "sha-ni": "kernels.sha256d_cpu.scan_candidates_shani (numba.njit, x86 SHA extensions)",
    "simd": "kernels.sha256d_cpu.scan_candidates_simd (numba.njit, nonces in SIMD lanes)",
    "cuda": "kernels.sha256d_cuda.scan_kernel (numba.cuda.jit)",
    "auto": "kernels.sha256d_cpu, the variant measured fastest here at build (build.variant, build.choice)",
}
KERNEL_CHOICES = ("auto", "sha-ni", "simd")  # what --kernel accepts


@dataclass(frozen=True)
class MineConfig:
    device_kind: str
    threads: int | None  # CPU threads; None on CUDA
    nonces_per_step: int
    share_target: int
    variant: str = "cuda"  # CPU kernel asked for: "auto", "sha-ni" or "simd"; "cuda" on CUDA

    def to_dict(self) -> dict[str, Any]:
        config = {
            "kernel": KERNELS[self.variant],
            "variant": self.variant,
            "threads": self.threads,
            "nonces_per_step": self.nonces_per_step,
            "hash_unit": "one nonce = one double SHA-256 of an 80-byte header",
            "header": f"block {BLOCK_HEIGHT} {BLOCK_HASH}",
            "header_hex": BLOCK.to_bytes().hex(),
            "share_target_hex": f"{self.share_target:064x}",
            "share_difficulty": sha256d.target_to_difficulty(self.share_target),
            "time_roll": "header time + 1 s each time the 2**32 nonces are used up",
        }
        if self.device_kind == "cpu":
            from kernels import sha256d_cpu

            config["cpu_features"] = sha256d_cpu.cpu_features()
        return config


def share_target_for(nonces_per_step: int, shares_per_step: float = SHARES_PER_STEP) -> int:
    """The power-of-two share target at which a step of ``nonces_per_step`` finds about
    ``shares_per_step`` shares (each hash meets target T with probability (T + 1) / 2**256)."""
    exponent = round(math.log2(shares_per_step * 2**256 / nonces_per_step))
    return min(sha256d.MAX_TARGET, 2**exponent - 1)


class MineWorkload:
    name = "mine"

    def __init__(self, config: MineConfig, device: Device, *, choose: Callable[..., Any] | None = None):
        """``choose(threads, variant=...) -> sha256d_choice.Choice`` replaces the measured choice (tests)."""
        self._config = config
        self._device = device
        self._choose = choose
        self._variant = config.variant  # the CPU variant that runs, once build has chosen it
        self._scanner = None  # CudaScanner once built on CUDA
        self._header_prefix = BLOCK.to_bytes()[: sha256d.PREFIX_BYTES]
        self._inputs = sha256d.kernel_inputs(self._header_prefix)
        self._limbs = sha256d.target_limbs(config.share_target)
        self._next_nonce = 0
        self._scanned: list[tuple[bytes, int, int]] = []  # (header prefix, start, count)
        self._shares: list[tuple[bytes, int]] = []  # (header prefix, nonce)

    @classmethod
    def for_preset(
        cls, preset: str, device: Device, *, threads: int | None = None, variant: str | None = None,
        choose: Callable[..., Any] | None = None,
    ) -> "MineWorkload":
        """Mining on ``device``. ``variant``: the CPU kernel, "auto" (default: the fastest here,
        measured at build), "sha-ni" or "simd"; one this CPU cannot run is refused here, before
        anything runs."""
        device_kind = device.kind
        check_preset(preset, device_kind)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads <= 0):
            raise BenchError(f"threads must be a positive integer, got {threads!r}")
        if variant == "auto":
            variant = None
        if device_kind == "cuda":
            if threads is not None or variant is not None:
                raise BenchError("threads and kernel variant apply to mining on the CPU only, not on CUDA")
            nonces = CUDA_NONCES_PER_STEP
            return cls(MineConfig(device_kind, None, nonces, share_target_for(nonces)), device)
        from kernels import sha256d_cpu

        if variant is not None:
            try:
                sha256d_cpu.kernel(variant)
            except ValueError as exc:
                raise BenchError(f"mine: --kernel {variant}: {exc}") from None
        threads = threads or sha256d_cpu.default_threads()
        nonces = CPU_NONCES_PER_THREAD * threads
        return cls(MineConfig(device_kind, threads, nonces, share_target_for(nonces), variant or "auto"), device,
                   choose=choose)

    def config(self) -> dict[str, Any]:
        return self._config.to_dict()

    def source_files(self) -> list[Path]:
        kernels = Path(sha256d.__file__).parent
        return [Path(__file__), *(kernels / name for name in ("sha256d.py", "sha256_rounds.py", "sha256_ni.py", "sha256d_cpu.py", "sha256d_cuda.py"))]

    def build(self) -> BuildInfo:
        device = self._device
        if device.kind == "cuda":
            from numba import cuda

            from kernels import sha256d_cuda

            cuda.select_device(device.index or 0)
            compile_s, cached = sha256d_cuda.compile_kernel()
            self._scanner = sha256d_cuda.CudaScanner()
            details = {"launch": list(self._scanner.launch(self._config.nonces_per_step)), "sm_count": self._scanner.sm_count}
        else:
            from kernels import sha256d_choice, sha256d_cpu

            choose = self._choose or sha256d_choice.choose
            try:
                choice = choose(self._config.threads, variant=self._config.variant)
            except ValueError as exc:
                raise BenchError(f"mine: {exc}") from None
            self._variant = choice.variant
            compile_s, cached = sha256d_cpu.compile_kernel(choice.variant)
            details = {"variant": choice.variant, "kernel": KERNELS[choice.variant], "choice": choice.to_dict()}
        details.update(compile_s=compile_s, cached=cached)
        return BuildInfo(phases=[Phase("hash", "hashes", self.step, headline=True)], details=details)

    def step(self) -> int:
        """Scan the next ``nonces_per_step`` nonces; returns the hashes done (one per nonce)."""
        count = self._config.nonces_per_step
        if self._next_nonce + count > sha256d.NONCE_LIMIT:
            self._roll_time()
        start = self._next_nonce
        nonces, tops = self._candidates(self._inputs, start, count, self._limbs[0])
        for nonce in sha256d.resolve_candidates(self._inputs, nonces, tops, self._limbs):
            self._shares.append((self._header_prefix, nonce))
        self._scanned.append((self._header_prefix, start, count))
        self._next_nonce = start + count
        return count

    def _candidates(self, inputs, start, count, top_limit):
        if self._scanner is not None:
            return self._scanner.candidates(inputs, start, count, top_limit)
        from kernels import sha256d_cpu

        return sha256d_cpu.candidates(inputs, start, count, top_limit, self._config.threads, variant=self._variant)

    def _roll_time(self) -> None:
        header = sha256d.BlockHeader.from_bytes(self._header_prefix + b"\0\0\0\0")
        rolled = sha256d.BlockHeader(header.version, header.prev_hash, header.merkle_root, header.time + 1, header.bits, 0)
        self._header_prefix = rolled.to_bytes()[: sha256d.PREFIX_BYTES]
        self._inputs = sha256d.kernel_inputs(self._header_prefix)
        self._next_nonce = 0

    def check(self) -> dict[str, Any]:
        """Re-hash with hashlib every share found and every nonce of a few sampled slices of what
        was scanned; raise WorkloadCheckFailed on any disagreement or on too few shares."""
        target = self._config.share_target
        for prefix, nonce in self._shares:
            if sha256d.hash_value(prefix + nonce.to_bytes(4, "little")) > target:
                raise WorkloadCheckFailed(f"mine: nonce {nonce} reported as a share, but hashlib says its hash is above the target")
        rng = random.Random(len(self._scanned))
        slices = [rng.choice(self._scanned) for _ in range(SAMPLE_SLICES)] if self._scanned else []
        sampled = 0
        for prefix, start, count in slices:
            first = start + rng.randrange(max(1, count - SAMPLE_SLICE_NONCES))
            n = min(SAMPLE_SLICE_NONCES, start + count - first)
            self._check_slice(prefix, first, n)
            sampled += n
        scanned = sum(count for _, _, count in self._scanned)
        expected = scanned * (target + 1) / 2**256
        if _poisson_cdf(len(self._shares), expected) < MISSED_SHARES_P:
            raise WorkloadCheckFailed(
                f"mine: {len(self._shares)} shares found in {scanned} nonces where {expected:.1f} were expected: the kernel misses hits"
            )
        return {
            "method": "hashlib double SHA-256",
            "shares_found": len(self._shares),
            "shares_expected": expected,
            "shares_rehashed": len(self._shares),
            "sample_nonces_rehashed": sampled,
            "nonces_scanned": scanned,
        }

    def _check_slice(self, prefix: bytes, first: int, count: int) -> None:
        """Every nonce of the slice through the kernel with no early reject (all top words
        reported) against hashlib, and the shares among them against the recorded ones."""
        inputs = sha256d.kernel_inputs(prefix)
        nonces, tops = self._candidates(inputs, first, count, np.uint32(0xFFFFFFFF))
        expected_tops = [sha256d.hash_value(prefix + n.to_bytes(4, "little")) >> 224 for n in range(first, first + count)]
        if nonces.tolist() != list(range(first, first + count)) or tops.tolist() != expected_tops:
            raise WorkloadCheckFailed(f"mine: kernel hashes of nonces {first}..{first + count - 1} differ from hashlib's")
        reference = set(sha256d.scan_reference(prefix, first, count, self._config.share_target))
        recorded = {n for p, n in self._shares if p == prefix and first <= n < first + count}
        if reference != recorded:
            raise WorkloadCheckFailed(
                f"mine: shares in nonces {first}..{first + count - 1} were {sorted(recorded)}, hashlib finds {sorted(reference)}"
            )


def _poisson_cdf(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean), summed in log space (exp(-mean) underflows past ~745)."""
    if mean <= 0:
        return 1.0
    logs = [i * math.log(mean) - mean - math.lgamma(i + 1) for i in range(k + 1)]
    peak = max(logs)
    return min(1.0, math.exp(peak) * math.fsum(math.exp(x - peak) for x in logs))
