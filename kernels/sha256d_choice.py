"""Which CPU variant of the SHA-256d scan is fastest on this machine: measured, then remembered.

Neither variant wins everywhere: on a Zen 3 ``sha-ni`` is 2.4x ``simd``; on a Zen 5 with AVX-512
``simd`` is 2x ``sha-ni`` (issue 12). So the choice is a measurement, not a rule:

  * ``measure_rates`` times every candidate on the run's threads, a calibrated burst each
    (grown until one outlasts a floor well above the timer's resolution, then sized to
    ``burst_s``), in rounds whose order rotates so drift hits all alike; the median per variant;
  * ``choose`` keeps the fastest and stores it in a small JSON file keyed on what decides the
    speed: the CPU (model, LLVM's name and features, Numba's target overrides), the thread count
    and the SHA-256 of the kernel sources. A later run on the same machine and code reads the
    choice back (milliseconds, and only the chosen kernel is compiled); an edited kernel or
    another CPU measures afresh.

The cache lives in ``$JOULEBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/joulebench``, else
``~/.cache/joulebench``. A cache that cannot be read or written never fails a scan: the choice
is measured and the reason it was not stored is reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from kernels import sha256_ni, sha256_rounds, sha256d_cpu

CACHE_ENV = "JOULEBENCH_CACHE_DIR"
CACHE_FILE = "sha256d-kernel-choice.json"
CACHE_FORMAT = "joulebench-kernel-choice"
CACHE_VERSION = 1
ASK_AUTO = "auto"
BURST_S = 0.1  # each timed burst: ~10 steps of the OS scheduler, long enough to read a rate
ROUNDS = 3
PROBE_NONCES_PER_THREAD = 2**14
MAX_BURST_NONCES = 2**28  # well inside the 2**32 nonce space from nonce 0
SOURCES = (Path(sha256d_cpu.__file__), Path(sha256_ni.__file__), Path(sha256_rounds.__file__))

Scan = Callable[[str, int, int], object]  # (variant, nonces, threads): scan nonces 0..n-1


@dataclass(frozen=True)
class Choice:
    """The variant a scan runs, and why: ``source`` is "measured", "cache", "forced" or "only"."""

    variant: str
    source: str
    threads: int
    rates_hps: dict[str, float] = field(default_factory=dict)  # median hashes/s per candidate
    measured_utc: str | None = None
    compile_s: dict[str, float] = field(default_factory=dict)  # candidates compiled while choosing
    cache_file: str | None = None
    cache_note: str | None = None  # why the choice was not stored or read, when it was not

    def to_dict(self) -> dict:
        return {
            "chosen": self.variant,
            "source": self.source,
            "threads": self.threads,
            "candidates_mhs": {v: round(r / 1e6, 3) for v, r in self.rates_hps.items()},
            "measured_utc": self.measured_utc,
            "compile_s": {v: round(s, 3) for v, s in self.compile_s.items()},
            "cache_file": self.cache_file,
            "cache_note": self.cache_note,
            "method": f"median of {ROUNDS} rotated bursts of ~{BURST_S:g} s per candidate on the run's threads",
        }


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "joulebench"


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (Linux), else what platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_key(threads: int, sources=SOURCES) -> dict:
    """What decides which variant is fastest; its hash is the cache key."""
    import llvmlite.binding as llvm
    from numba.core import config

    features = llvm.get_host_cpu_features()
    return {
        "cpu_model": cpu_model(),
        "llvm_cpu": llvm.get_host_cpu_name(),
        "features": sorted(name for name, on in features.items() if on),
        "numba_cpu_name": config.CPU_NAME,
        "numba_cpu_features": config.CPU_FEATURES,
        "threads": threads,
        "sources_sha256": [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in sources],
    }


def _key_hash(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _scan_block(variant: str, nonces: int, threads: int) -> None:
    """A burst of the real scan over block 839,900's header, as the mine workload runs it."""
    from kernels import sha256d

    header = sha256d.KNOWN_BLOCKS[839900][0].to_bytes()
    sha256d_cpu.candidates(sha256d.kernel_inputs(header), 0, nonces, 0, threads, variant=variant)


def measure_rates(
    variants, threads: int, *, burst_s: float = BURST_S, rounds: int = ROUNDS,
    scan: Scan = _scan_block, clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median hashes/s of each variant over ``rounds`` rotated bursts of about ``burst_s``."""
    variants = list(variants)
    sizes = {}
    for variant in variants:  # calibrate: double until a burst outlasts a quarter of burst_s
        nonces = PROBE_NONCES_PER_THREAD * threads
        while True:
            start = clock()
            scan(variant, nonces, threads)
            elapsed = clock() - start
            if elapsed >= burst_s / 4 or nonces >= MAX_BURST_NONCES:
                break
            nonces *= 2
        sizes[variant] = min(MAX_BURST_NONCES, max(nonces, int(nonces * burst_s / max(elapsed, 1e-9))))
    rates: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(rounds):
        for variant in variants[r % len(variants):] + variants[: r % len(variants)]:
            start = clock()
            scan(variant, sizes[variant], threads)
            rates[variant].append(sizes[variant] / max(clock() - start, 1e-9))
    return {v: statistics.median(x) for v, x in rates.items()}


def _read_cache(path: Path) -> dict:
    document = json.loads(path.read_text())
    if not isinstance(document, dict) or document.get("format") != CACHE_FORMAT or document.get("version") != CACHE_VERSION:
        raise ValueError("not a kernel-choice cache of this version")
    entries = document.get("entries")
    if not isinstance(entries, dict):
        raise ValueError("no entries")
    return entries


def _write_cache(path: Path, entries: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "entries": entries}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kernel-choice-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(document, out, indent=1, sort_keys=True)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the new one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def choose(
    threads: int, *, variant: str = ASK_AUTO, directory: Path | None = None, sources=SOURCES,
    measure: Callable[[list[str], int], dict[str, float]] | None = None,
) -> Choice:
    """The variant to scan with on ``threads`` threads: ``variant`` itself when forced (refused
    with ValueError where the CPU lacks it), else the cached or freshly measured fastest.
    ``measure`` (variants, threads) -> hashes/s replaces the timing (tests)."""
    if variant != ASK_AUTO:
        sha256d_cpu.kernel(variant)  # refuses an unknown variant or one this CPU cannot run
        return Choice(variant, "forced", threads)
    candidates = list(sha256d_cpu.available_variants())
    if len(candidates) == 1:
        return Choice(candidates[0], "only", threads)
    path = (directory or cache_dir()) / CACHE_FILE
    key = machine_key(threads, sources)
    digest = _key_hash(key)
    entries, note = {}, None
    try:
        entries = _read_cache(path)
        entry = entries.get(digest)
        if isinstance(entry, dict) and entry.get("variant") in candidates:
            rates = {v: float(r) for v, r in entry.get("rates_hps", {}).items()}
            return Choice(entry["variant"], "cache", threads, rates, entry.get("measured_utc"), cache_file=str(path))
    except FileNotFoundError:
        pass
    except (OSError, ValueError, TypeError, AttributeError) as exc:  # damaged or foreign: measure and replace it
        entries, note = {}, f"cache {path} unreadable ({exc}); measured afresh"
    compile_s = {}
    if measure is None:
        for candidate in candidates:  # compile first, or the first burst would time the compiler
            compile_s[candidate] = sha256d_cpu.compile_kernel(candidate)[0]
        rates = measure_rates(candidates, threads)
    else:
        rates = measure(candidates, threads)
    best = max(candidates, key=lambda v: rates[v])
    measured_utc = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries[digest] = {"variant": best, "rates_hps": rates, "measured_utc": measured_utc, "key": key}
    try:
        _write_cache(path, entries)
    except OSError as exc:
        note = f"choice not cached: cannot write {path} ({exc.strerror or exc})"
    return Choice(best, "measured", threads, rates, measured_utc, compile_s, str(path), note)
