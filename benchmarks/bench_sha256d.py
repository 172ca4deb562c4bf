"""SHA-256d mining speed: the CPU kernels per thread count beside a hashlib loop, the ops per hash
they execute, and the bound those imply; the CUDA kernel's GH/s where a GPU is present.

Run (about a minute with the defaults, plus a cold compile of ~10 s the first time):

    .venv/bin/python benchmarks/bench_sha256d.py [--seconds 1] [--rounds 5] [--threads 1,2] [--json out.json]
        [--cpuminer $(../shared/tools/build-cpuminer-opt)] [--count-ops] [--sha-unit]

Each round runs every configuration once, in an order rotated every round so that drift and
other load hit all alike; figures are medians over rounds, and ratios are taken within a round
(same moment, same machine) before the median. ``--count-ops`` compiles the kernels afresh
(a temporary Numba cache, ~10 s) and counts the instructions in their machine code, so the
ops-per-hash figures are read from the binary, not estimated. ``--sha-unit`` times the SHA
instructions themselves (latency: one dependent chain; throughput: four independent chains),
which sets the ``sha-ni`` bound.

Beside them, where a C compiler and the SHA extensions are present: ``c-shani``, a plain C
SHA-NI scanner (``benchmarks/c_reference/sha256d_shani.c``, ours, built with ``cc -O3
-march=native`` and checked on real blocks before it is timed), the C miner's speed on this very
CPU for the Numba ``sha-ni`` kernel to be read against. It follows the loop of a SHA-NI miner
such as cpuminer-opt's, but it is not cpuminer-opt, and the output says so.

``--cpuminer PATH`` adds cpuminer-opt itself (GPL, built outside the project by
``../shared/tools/build-cpuminer-opt``, run as a separate program, never linked or copied):
``PATH -a sha256d --benchmark -t N --time-limit S`` in the same rotated rounds, 1 thread and all
threads. It prints ``Total: X MH/s`` every few seconds; the first is dropped (start-up), the
median of the rest is its rate for that round, and the report gives our variants' ratios to it,
round by round. ``auto`` is what ``bench run`` would pick here (``kernels.sha256d_choice``).

Bounds: ``--count-ops`` and the SHA bound take ops per cycle from this CPU's microarchitecture
(``kernels.cpu_uarch``: family/model from /proc/cpuinfo, a sourced table of Zen 3, Zen 4, Zen 5,
Ice Lake and Sapphire Rapids); ``--vector-ops-per-cycle`` / ``--rnds2-cycles`` override it, and
``--sha-unit`` measures the SHA figures instead.

What a hash is: one nonce, i.e. one double SHA-256 of an 80-byte header (two compressions per
nonce once the per-header midstate is known). The hashlib baseline is a plain Python miner:
``hashlib.sha256(hashlib.sha256(prefix + nonce).digest())`` per nonce, one thread.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Issue rates come from kernels.cpu_uarch (by this CPU's family/model) unless given here.
RNDS2_PER_NONCE = 62  # 32 per compression, less rounds 0-1 (once per header) and the last pair (feeds no needed word)
RNDS2_CHAINS = 2  # the sha-ni kernel runs two nonces' chains side by side
CPUMINER = "cpuminer-opt"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="target length of one measurement")
    parser.add_argument("--rounds", type=int, default=5, help="rounds over all configurations")
    parser.add_argument("--threads", default=None, help="comma-separated thread counts (default: 1..CPUs)")
    parser.add_argument("--count-ops", action="store_true", help="count the SIMD loop's vector instructions")
    parser.add_argument("--vector-ops-per-cycle", type=float, help="override the microarchitecture table")
    parser.add_argument("--rnds2-cycles", type=float, help="override the table's sha256rnds2 reciprocal throughput")
    parser.add_argument("--cpuminer", type=Path, help="cpuminer-opt binary to time beside our kernels")
    parser.add_argument("--cpuminer-seconds", type=float, default=25.0,
                        help="length of one cpuminer-opt run (it reports every ~5 s; the first report is dropped)")
    parser.add_argument("--sha-unit", action="store_true", help="time sha256rnds2/msg1/msg2 (latency and throughput)")
    parser.add_argument("--no-c-reference", action="store_true", help="leave out the C SHA-NI yardstick")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def hashlib_rate(prefix: bytes, nonces: int) -> float:
    """Hashes/s of a plain Python loop over hashlib."""
    sha256, pack = hashlib.sha256, struct.Struct("<I").pack
    start = time.perf_counter()
    for nonce in range(nonces):
        sha256(sha256(prefix + pack(nonce)).digest()).digest()
    return nonces / (time.perf_counter() - start)


def kernel_rate(inputs, nonces: int, threads: int, variant: str) -> float:
    from kernels import sha256d_cpu

    start = time.perf_counter()
    sha256d_cpu.candidates(inputs, 0, nonces, 0, threads=threads, variant=variant)
    return nonces / (time.perf_counter() - start)


class CReference:
    """The C SHA-NI scanner of benchmarks/c_reference, compiled for this CPU and loaded with ctypes."""

    SOURCE = Path(__file__).resolve().parent / "c_reference" / "sha256d_shani.c"
    LABEL = "c-shani"
    NOTE = "C SHA-NI scanner written for joulebench (benchmarks/c_reference), cc -O3 -march=native; not cpuminer-opt"

    def __init__(self, lanes: int = 2):
        import ctypes
        import shutil
        import subprocess

        compiler = shutil.which(os.environ.get("CC", "cc"))
        if compiler is None:
            raise RuntimeError("no C compiler (cc) on PATH")
        with tempfile.TemporaryDirectory(prefix="bench-c-shani-") as build_dir:
            library = Path(build_dir) / "sha256d_shani.so"
            command = [compiler, "-O3", "-march=native", "-shared", "-fPIC", f"-DLANES={lanes}", "-o", str(library), str(self.SOURCE)]
            built = subprocess.run(command, capture_output=True, text=True)
            if built.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed: {built.stderr.strip().splitlines()[-1:]}")
            lib = ctypes.CDLL(str(library))  # stays mapped once loaded; the file can go
        self.compiler = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        self.lanes = lanes
        words = np.ctypeslib.ndpointer(np.uint32, flags="C_CONTIGUOUS")
        lib.scan.restype = ctypes.c_uint64
        lib.scan.argtypes = [words, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_uint32, words, ctypes.c_uint64]
        self._scan = lib.scan
        self._check()

    def candidates(self, inputs: np.ndarray, start: int, count: int, top_limit: int, room: int = 64) -> list[int]:
        count -= count % self.lanes  # whole trips only, as the C loop asks
        found = np.zeros(room, dtype=np.uint32)
        hits = self._scan(np.ascontiguousarray(inputs, dtype=np.uint32), start, count, top_limit, found, room)
        if hits > room:
            raise RuntimeError(f"C reference: {hits} candidates for room {room}")
        return [int(n) for n in found[:hits]]

    def _check(self) -> None:
        """Real blocks' nonces found, and nothing else, in a window around each; else it is not timed."""
        from kernels import sha256d

        for height, (header, _) in sha256d.KNOWN_BLOCKS.items():
            inputs = sha256d.kernel_inputs(header.to_bytes())
            top = int(sha256d.target_limbs(sha256d.bits_to_target(header.bits))[0])
            found = self.candidates(inputs, header.nonce - 1000, 2000, top)
            if found != [header.nonce]:
                raise RuntimeError(f"C reference found {found} around block {height}'s nonce {header.nonce}")

    def rate(self, inputs: np.ndarray, nonces: int, threads: int) -> float:
        """Hashes/s over ``threads`` threads (ctypes releases the GIL for the call)."""
        from concurrent.futures import ThreadPoolExecutor

        part = (nonces // threads) - (nonces // threads) % self.lanes
        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda t: self.candidates(inputs, t * part, part, 0), range(threads)))
        return part * threads / (time.perf_counter() - start)


class CpuMiner:
    """cpuminer-opt's own benchmark mode, run as a program: ``-a sha256d --benchmark -t N``."""

    TOTAL = re.compile(r"Total:\s*([0-9.]+)\s*([kMGT]?)H/s")
    SCALE = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}

    def __init__(self, path: Path, seconds: float):
        import subprocess

        if not path.is_file() or not os.access(path, os.X_OK):
            raise RuntimeError(f"{path} is not an executable file")
        self.path, self.seconds = path, seconds
        done = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30)
        self.version = next((line.strip(" *") for line in done.stdout.splitlines() if "cpuminer" in line.lower()), "unknown version")

    def rate(self, threads: int) -> float:
        """Hashes/s: the median of its ``Total`` reports after the first."""
        import subprocess

        command = [str(self.path), "-a", "sha256d", "--benchmark", "-t", str(threads), "--time-limit", f"{self.seconds:.0f}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=self.seconds + 60)
        return self.parse_rate(done.stdout + done.stderr, " ".join(command))

    @classmethod
    def parse_rate(cls, output: str, command: str = "cpuminer-opt") -> float:
        totals = [float(x) * cls.SCALE[unit] for x, unit in cls.TOTAL.findall(output)]
        if len(totals) < 2:
            raise RuntimeError(f"{command}: {len(totals)} 'Total:' reports, need 2 or more (a longer --cpuminer-seconds?)")
        return statistics.median(totals[1:])


def core_clock_ghz() -> float:
    """Estimate of the clock a busy core runs at: a chain of dependent adds (one per cycle)."""
    from numba import njit

    @njit(cache=False)
    def chain(n, x):
        for i in range(n):
            x = (x ^ i) + 1  # xor + add: two dependent one-cycle ops
        return x

    chain(10, 1)
    n = 200_000_000
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        chain(n, 1)
        best = min(best, time.perf_counter() - start)
    return 2 * n / best / 1e9


def count_ops(variant: str) -> dict:
    """Instructions of a CPU kernel, read from its machine code (compiled in this process)."""
    from kernels import sha256d_cpu

    kernel = sha256d_cpu.kernel(variant)
    kernel.compile(sha256d_cpu.SIGNATURE)
    asm = kernel.inspect_asm(kernel.signatures[0])
    ops = [line.split()[0] for line in asm.splitlines() if line.startswith("\t") and not line.startswith("\t.")]
    if variant == "sha-ni":
        # One copy of the loop body, two nonces a trip; rounds 0-1's sha256rnds2 sits outside it.
        nonces_per_trip = 2
        return {
            "instructions": len(ops),
            "per_nonce_approx": len(ops) / nonces_per_trip,
            "sha_per_nonce": {op: ops.count(op) / nonces_per_trip for op in ("sha256rnds2", "sha256msg1", "sha256msg2")},
            "note": "whole function (one loop body of two nonces plus set-up) over two: an upper estimate per nonce",
        }
    width = "zmm" if any("zmm" in line for line in asm.splitlines()) else "ymm"
    lanes = 16 if width == "zmm" else 8
    vector = [line.split()[0] for line in asm.splitlines() if line.startswith("\t") and width in line]
    shifts = sum(op.startswith(("vpsrl", "vpsll", "vpsra", "vpro")) for op in vector)
    moves = sum(op.startswith(("vmov", "vpbroadcast", "vbroadcast")) for op in vector)
    return {
        "register": width,
        "lanes": lanes,
        "vector_instructions": len(vector),
        "per_nonce": len(vector) / lanes,
        "shifts_per_nonce": shifts / lanes,
        "moves_and_broadcasts_per_nonce": moves / lanes,
        "note": "whole function; the vector loop dominates (the rest runs once per 4096 nonces)",
    }


def sha_unit_cycles(clock_ghz: float) -> dict:
    """Cycles per SHA instruction: one dependent chain (latency) and four independent chains
    (throughput), each a burst of 64 instructions emitted as LLVM IR."""
    from llvmlite import ir
    from numba import njit, types
    from numba.core import cgutils
    from numba.extending import intrinsic

    i32 = ir.IntType(32)
    v4 = ir.VectorType(i32, 4)

    def timed(name: str, chains: int) -> float:
        @intrinsic
        def burst(typingctx, seed):
            def codegen(context, builder, sig, args):
                arity = 3 if name == "sha256rnds2" else 2
                fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v4, [v4] * arity), f"llvm.x86.{name}")
                splat = builder.insert_element(ir.Constant(v4, ir.Undefined), args[0], ir.Constant(i32, 0))
                a = [builder.add(splat, ir.Constant(v4, [ir.Constant(i32, c + 1)] * 4)) for c in range(chains)]
                b = [builder.add(splat, ir.Constant(v4, [ir.Constant(i32, c + 7)] * 4)) for c in range(chains)]
                for _ in range(64):
                    for c in range(chains):
                        a[c] = builder.call(fn, [a[c], b[c], b[c]][:arity])
                acc = a[0]
                for c in range(1, chains):
                    acc = builder.xor(acc, a[c])
                return builder.extract_element(acc, ir.Constant(i32, 0))

            return types.uint32(seed), codegen

        @njit
        def run(n, seed):
            for _ in range(n):
                seed = burst(seed)
            return seed

        run(10, np.uint32(1))
        n = 100_000
        start = time.perf_counter()
        run(n, np.uint32(1))
        return (time.perf_counter() - start) * clock_ghz * 1e9 / (n * 64 * chains)

    return {name: {"latency": timed(name, 1), "throughput": timed(name, 4)} for name in ("sha256rnds2", "sha256msg1", "sha256msg2")}


def cuda_rate(prefix: bytes, rounds: int) -> dict | None:
    try:
        from numba import cuda

        if not cuda.is_available():
            return None
        from kernels import sha256d, sha256d_cuda
    except Exception:  # no driver, no toolkit: nothing to measure here
        return None
    device = cuda.get_current_device()
    compile_s, cached = sha256d_cuda.compile_kernel()
    scanner = sha256d_cuda.CudaScanner()
    inputs = sha256d.kernel_inputs(prefix)
    nonces = 2**30
    scanner.candidates(inputs, 0, 2**24, 0)  # load the module
    rates = []
    for r in range(rounds):
        start = time.perf_counter()
        scanner.candidates(inputs, r * nonces, nonces, 0)  # waits for the kernel
        rates.append(nonces / (time.perf_counter() - start))
    sm_count = device.MULTIPROCESSOR_COUNT
    clock_ghz = device.CLOCK_RATE / 1e6
    return {
        "device": device.name.decode() if isinstance(device.name, bytes) else str(device.name),
        "compile_s": compile_s,
        "cached": cached,
        "launch": list(scanner.launch(nonces)),
        "ghs_median": statistics.median(rates) / 1e9,
        "ghs_all": [x / 1e9 for x in rates],
        "sm_count": sm_count,
        "clock_ghz": clock_ghz,
        "int32_lane_ops_per_s": sm_count * 64 * clock_ghz * 1e9,
        "note": "bound = int32_lane_ops_per_s / integer instructions per nonce (from SASS; see docs/mining-kernels.md)",
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.count_ops:  # before numba is imported: compile afresh so the machine code can be read
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-sha256d-")
    from kernels import cpu_uarch, sha256_ni, sha256d, sha256d_choice, sha256d_cpu

    cpuminer = None
    if args.cpuminer:
        try:
            cpuminer = CpuMiner(args.cpuminer, args.cpuminer_seconds)
        except (RuntimeError, OSError) as exc:
            print(f"--cpuminer: {exc}", file=sys.stderr)
            return 2
    cpus = sha256d_cpu.default_threads()
    thread_counts = [int(t) for t in args.threads.split(",")] if args.threads else list(range(1, cpus + 1))
    variants = list(sha256d_cpu.available_variants())
    header, _ = sha256d.KNOWN_BLOCKS[839900]
    prefix = header.to_bytes()[:76]
    inputs = sha256d.kernel_inputs(prefix)

    compile_report = {}
    for variant in variants:
        seconds, cached = sha256d_cpu.compile_kernel(variant)
        compile_report[variant] = {"seconds": round(seconds, 2), "from_cache": cached}
    print(f"compile: {compile_report}")
    c_reference = None
    if not args.no_c_reference and sha256_ni.available():
        try:
            c_reference = CReference()
            print(f"{CReference.LABEL}: {CReference.NOTE}; {c_reference.compiler}; checked on {len(sha256d.KNOWN_BLOCKS)} real blocks")
        except RuntimeError as exc:
            print(f"{CReference.LABEL}: left out ({exc})")
    rivals = [CReference.LABEL] if c_reference else []
    if cpuminer:
        rivals.append(CPUMINER)
        print(f"{CPUMINER}: {cpuminer.version}, {cpuminer.path}; -a sha256d --benchmark, {args.cpuminer_seconds:g} s a run,"
              " first 'Total' report dropped, median of the rest")
    auto = {t: sha256d_choice.choose(t) for t in thread_counts}  # what bench run picks here (cached or measured)
    print("auto (bench run's choice): " + ", ".join(
        f"{t} thread(s) -> {c.variant} ({c.source}: " + ", ".join(f"{v} {r / 1e6:.1f}" for v, r in c.rates_hps.items()) + " MH/s)"
        for t, c in auto.items()))

    def measure(variant: str, n: int, threads: int) -> float:
        if variant == "hashlib":
            return hashlib_rate(prefix, n)
        if variant == CPUMINER:
            return cpuminer.rate(threads)
        if variant == CReference.LABEL:
            return c_reference.rate(inputs, n, threads)
        return kernel_rate(inputs, n, threads, variant)

    # Size each configuration's run to about --seconds from a short probe.
    configs = [("hashlib", 1)] + [(v, t) for v in variants + rivals for t in thread_counts]
    sizes = {}
    for variant, threads in configs:
        if variant == CPUMINER:  # runs for --cpuminer-seconds, whatever the size
            sizes[(variant, threads)] = 0
            continue
        probe = 2**14 if variant == "hashlib" else 2**18 * threads
        sizes[(variant, threads)] = max(2**12, int(measure(variant, probe, threads) * args.seconds))

    rates: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
    for r in range(args.rounds):
        order = configs[r % len(configs) :] + configs[: r % len(configs)]
        for variant, threads in order:
            rates[(variant, threads)].append(measure(variant, sizes[(variant, threads)], threads))

    def ratio(a, b):
        return statistics.median(x / y for x, y in zip(rates[a], rates[b]))

    base = ("hashlib", 1)
    print(f"\nmachine: {sha256d_choice.cpu_model()}, {cpus} CPUs; shared with other work, so read ratios")
    print(f"{'kernel':12} {'threads':>7} {'MH/s median':>12} {'min..max':>15} {'x hashlib':>10} {'MH/s/thread':>12}")
    table = []
    for variant, threads in configs:
        values = rates[(variant, threads)]
        median = statistics.median(values)
        row = {
            "kernel": variant,
            "threads": threads,
            "mhs_median": median / 1e6,
            "mhs_min": min(values) / 1e6,
            "mhs_max": max(values) / 1e6,
            "x_hashlib": ratio((variant, threads), base),
        }
        table.append(row)
        print(
            f"{variant:12} {threads:7d} {median / 1e6:12.2f} {min(values) / 1e6:7.2f}..{max(values) / 1e6:<7.2f}"
            f" {row['x_hashlib']:10.1f} {median / 1e6 / threads:12.2f}"
        )
    if len(variants) == 2:
        for threads in thread_counts:
            print(f"sha-ni / simd at {threads} thread(s): {ratio(('sha-ni', threads), ('simd', threads)):.2f}x (same rounds)")
    if c_reference and "sha-ni" in variants:
        for threads in thread_counts:
            print(f"sha-ni (Numba) / {CReference.LABEL} (C) at {threads} thread(s):"
                  f" {ratio(('sha-ni', threads), (CReference.LABEL, threads)):.2f}x (same rounds)")
    cpuminer_ratios = {}
    if cpuminer:
        for threads in thread_counts:
            row = {v: ratio((v, threads), (CPUMINER, threads)) for v in variants}
            row["auto"] = row[auto[threads].variant]
            cpuminer_ratios[threads] = row
            print(f"ours / {CPUMINER} at {threads} thread(s), same rounds: "
                  + ", ".join(f"{v} {x:.2f}x" for v, x in row.items()) + f" (auto = {auto[threads].variant})")

    clock = core_clock_ghz()
    print(f"\nbusy-core clock estimate: {clock:.2f} GHz (dependent-add chain)")
    uarch, cpu_said = cpu_uarch.this_cpu()
    print(f"microarchitecture: {uarch.name if uarch else 'not in the table'} ({cpu_said})"
          + (f"; {uarch.note}; source: {uarch.source}" if uarch else ""))
    bounds = {"clock_ghz_estimate": clock, "microarchitecture": uarch.name if uarch else None, "cpu": cpu_said,
              "source": uarch.source if uarch else None}
    rnds2_cycles = args.rnds2_cycles or (uarch.rnds2_cycles if uarch else None)
    latency = uarch.rnds2_latency if uarch else None
    sha_from = "--rnds2-cycles" if args.rnds2_cycles else "table"
    if args.sha_unit and "sha-ni" in variants:
        unit = sha_unit_cycles(clock)
        bounds["sha_unit_cycles"] = unit
        rnds2_cycles, latency, sha_from = unit["sha256rnds2"]["throughput"], unit["sha256rnds2"]["latency"], "--sha-unit"
        print("SHA unit, cycles (latency / throughput):", ", ".join(
            f"{name} {v['latency']:.1f} / {v['throughput']:.2f}" for name, v in unit.items()))
    if "sha-ni" in variants and (rnds2_cycles is None or latency is None):
        print("sha-ni bound: no sha256rnds2 figures for this CPU in the table; run with --sha-unit to measure them")
    elif "sha-ni" in variants:
        bound = clock * 1e9 / (RNDS2_PER_NONCE * rnds2_cycles)
        chain_bound = clock * 1e9 * RNDS2_CHAINS / (RNDS2_PER_NONCE * latency)
        best = max(r["mhs_median"] for r in table if r["kernel"] == "sha-ni" and r["threads"] == 1) * 1e6
        bounds["sha-ni"] = {"rnds2_per_nonce": RNDS2_PER_NONCE, "rnds2_cycles": rnds2_cycles, "rnds2_latency": latency,
                            "figures_from": sha_from, "chains": RNDS2_CHAINS, "bound_mhs_per_core": bound / 1e6,
                            "chain_bound_mhs_per_core": chain_bound / 1e6, "measured_fraction": best / bound,
                            "measured_fraction_of_chain_bound": best / chain_bound}
        print(f"sha-ni: {RNDS2_PER_NONCE} sha256rnds2 per nonce x {rnds2_cycles:.2f} cycles ({sha_from}) -> {bound / 1e6:.1f}"
              f" MH/s per core bound (the SHA unit alone); {RNDS2_CHAINS} chains x {latency:.1f}-cycle latency ->"
              f" {chain_bound / 1e6:.1f} MH/s; 1 thread measured {best / 1e6:.1f} ({best / bound:.0%} / {best / chain_bound:.0%})")
    if args.count_ops:
        for variant in variants:
            ops = count_ops(variant)
            bounds.setdefault(variant, {})["machine_code"] = ops
            if variant == "sha-ni":
                print(f"sha-ni machine code: ~{ops['per_nonce_approx']:.0f} instructions per nonce, of them "
                      + ", ".join(f"{v:.0f} {k}" for k, v in ops["sha_per_nonce"].items()))
                continue
            per_cycle = args.vector_ops_per_cycle or (uarch.vector_ops_per_cycle.get(ops["register"]) if uarch else None)
            if per_cycle is None:
                print(f"simd: {ops['per_nonce']:.0f} {ops['register']} vector ops per nonce; no issue rate for this CPU in the"
                      " table: pass --vector-ops-per-cycle for a bound")
                continue
            bound = clock * 1e9 * per_cycle / ops["per_nonce"]
            best = max(r["mhs_median"] for r in table if r["kernel"] == "simd" and r["threads"] == 1) * 1e6
            bounds["simd"].update(vector_ops_per_cycle=per_cycle, bound_mhs_per_core=bound / 1e6, measured_fraction=best / bound)
            print(f"simd: {ops['vector_instructions']} {ops['register']} instructions / {ops['lanes']} lanes = {ops['per_nonce']:.0f}"
                  f" vector ops per nonce ({ops['shifts_per_nonce']:.0f} shifts, {ops['moves_and_broadcasts_per_nonce']:.0f} moves)"
                  f" at {per_cycle:g}/cycle ({'--vector-ops-per-cycle' if args.vector_ops_per_cycle else uarch.name})"
                  f" -> {bound / 1e6:.1f} MH/s per core bound; 1 thread measured {best / 1e6:.1f} ({best / bound:.0%})")

    gpu = cuda_rate(prefix, args.rounds)
    print("\ncuda:", "no CUDA GPU here, nothing measured" if gpu is None else json.dumps(gpu))
    if args.json:
        args.json.write_text(json.dumps({
            "machine": platform.node(), "cpus": cpus, "compile": compile_report, "cpu": table,
            "c_reference": {"note": CReference.NOTE, "compiler": c_reference.compiler} if c_reference else None,
            "cpu_model": sha256d_choice.cpu_model(),
            "auto": {t: c.to_dict() for t, c in auto.items()},
            "cpuminer": {"path": str(cpuminer.path), "version": cpuminer.version, "seconds": cpuminer.seconds,
                         "ratios_ours_over_cpuminer": cpuminer_ratios} if cpuminer else None,
            "bounds": bounds, "cuda": gpu, "shared_machine_note": "medians over rotated rounds; ratios within rounds",
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
