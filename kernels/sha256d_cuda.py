"""SHA-256d nonce scan on an NVIDIA GPU with numba-cuda: the CPU kernel's algorithm, one nonce per
thread per loop trip.

  * The round functions are ``kernels.sha256_rounds``, the same source the CPU kernel compiles;
    here each becomes a plain device function and NVVM inlines them into straight-line code with
    the state in registers (checked by ``ptx_report``: no ``ld.local``/``st.local``).
  * Per header, the midstate and the nonce-independent rounds 0..2 are computed once on the host
    and passed in one small array; each thread reads them once and then hashes several nonces,
    a grid-stride loop, so the launch size depends on the GPU and not on the range.
  * Early reject on the hash's top word; candidates (top word <= the target's top limb) go
    through an atomic counter into a small buffer. The counter keeps counting past the buffer,
    so an overflow is seen and the range is scanned again with room for all: never dropped.
  * The launch is sized from the SM count (``launch_shape``).

Runs unchanged under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set before numba is first
imported), which hashes about 50 nonces/s: keep simulated ranges to a few hundred nonces.
Not yet run on GPU hardware in this project: figures for it come from a GPU session only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from numba import config, cuda

from kernels import sha256_rounds
from kernels.sha256_rounds import sha256d_words_of_word, u32

THREADS_PER_BLOCK = 256
BLOCKS_PER_SM = 4  # 48 registers a thread (ptx_report, sm_90) fit 5 blocks of 256 per SM; 4 fill it
DEFAULT_CAPACITY = 4096  # candidates a launch can return before it must be rerun
SIMULATOR_THREADS = 32  # the simulator runs each thread as a Python thread: keep it small
SIGNATURE = "void(uint32[::1], int64, int64, uint32, int64[::1], uint32[::1], int64[::1])"
BSWAP_SELECTOR = 0x0123  # __byte_perm(x, 0, s): result byte i is source byte nibble i of s


def byte_perm_model(x, y, selector):
    """What CUDA's ``__byte_perm`` computes, in Python: byte i of the result is byte
    ``(selector >> 4 i) & 7`` of the 8 bytes ``y:x`` (x the low four). The simulator, which has no
    libdevice, runs this; on hardware it is one PRMT instruction."""
    source = (int(y) << 32) | int(x)
    return u32(sum(((source >> 8 * ((int(selector) >> 4 * i) & 7)) & 0xFF) << 8 * i for i in range(4)))


if config.ENABLE_CUDASIM:
    _byte_perm = byte_perm_model
else:
    from numba.cuda import libdevice

    _byte_perm = libdevice.byte_perm


@cuda.jit(device=True)
def bswap32_prmt(x):
    """Byte-reverse a word in one PRMT: NVVM leaves ``sha256_rounds.bswap32``'s shifts and masks
    as seven instructions (read off the SASS, docs/mining-kernels.md)."""
    return u32(_byte_perm(x, 0, BSWAP_SELECTOR))


@cuda.jit(cache=True)
def scan_kernel(inputs, start, count, top_limit, found_nonces, found_tops, found_count):
    """Candidates of [start, start + count): nonce and top word of every hash whose top word is
    <= ``top_limit``, in any order; ``found_count[0]`` counts them all, even past the buffer."""
    m0, m1, m2, m3, m4, m5, m6, m7 = inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], inputs[6], inputs[7]
    p0, p1, p2, p3, p4, p5, p6, p7 = inputs[8], inputs[9], inputs[10], inputs[11], inputs[12], inputs[13], inputs[14], inputs[15]
    w0, w1, w2 = inputs[16], inputs[17], inputs[18]
    for index in range(cuda.grid(1), count, cuda.gridsize(1)):
        nonce = start + index
        w3 = bswap32_prmt(u32(nonce))
        digest = sha256d_words_of_word(m0, m1, m2, m3, m4, m5, m6, m7, p0, p1, p2, p3, p4, p5, p6, p7, w0, w1, w2, w3)
        top = bswap32_prmt(digest[7])
        if top <= top_limit:
            slot = cuda.atomic.add(found_count, 0, 1)
            if slot < found_nonces.shape[0]:
                found_nonces[slot] = nonce
                found_tops[slot] = top


sha256_rounds.cache_also_keyed_on(scan_kernel, sha256_rounds.__file__)


def launch_shape(count: int, sm_count: int, threads_per_block: int = THREADS_PER_BLOCK) -> tuple[int, int]:
    """(blocks, threads per block) for ``count`` nonces: enough blocks to fill every SM, fewer when
    the range is too small to give each thread a nonce."""
    blocks = min(sm_count * BLOCKS_PER_SM, -(-count // threads_per_block))
    return max(1, blocks), threads_per_block


def _sm_count() -> int | None:
    if config.ENABLE_CUDASIM:
        return None
    return cuda.get_current_device().MULTIPROCESSOR_COUNT


class CudaScanner:
    """Launches ``scan_kernel`` on the current CUDA device, reusing its buffers between calls."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        self.sm_count = _sm_count()
        self._allocate(capacity)
        self._inputs_host: np.ndarray | None = None
        self._inputs = None

    def _allocate(self, capacity: int) -> None:
        self.capacity = capacity
        self._nonces = cuda.device_array(capacity, dtype=np.int64)
        self._tops = cuda.device_array(capacity, dtype=np.uint32)
        self._count = cuda.to_device(np.zeros(1, dtype=np.int64))

    def launch(self, count: int) -> tuple[int, int]:
        if self.sm_count is None:
            return launch_shape(count, 1, SIMULATOR_THREADS)
        return launch_shape(count, self.sm_count)

    def candidates(self, inputs: np.ndarray, start: int, count: int, top_limit: np.uint32):
        """Nonces in [start, start + count) whose hash's top word is <= ``top_limit``, sorted, and
        their top words (as ``sha256d_cpu.candidates``). Waits for the kernel."""
        if count == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint32)
        if self._inputs_host is None or not np.array_equal(self._inputs_host, inputs):
            self._inputs_host = np.array(inputs, dtype=np.uint32)
            self._inputs = cuda.to_device(self._inputs_host)
        found = self._run(start, count, np.uint32(top_limit))
        if found > self.capacity:  # overflowed: never drop candidates, rerun with room for all
            self._allocate(found)
            found = self._run(start, count, np.uint32(top_limit))
        nonces = self._nonces[:found].copy_to_host()
        tops = self._tops[:found].copy_to_host()
        order = np.argsort(nonces, kind="stable")
        return nonces[order], tops[order]

    def _run(self, start: int, count: int, top_limit: np.uint32) -> int:
        self._count.copy_to_device(np.zeros(1, dtype=np.int64))
        blocks, threads = self.launch(count)
        with warnings.catch_warnings():
            # In the simulator the kernel runs as Python on numpy uint32 scalars, whose wrapping
            # sums warn; on hardware the filter is a no-op.
            warnings.simplefilter("ignore", RuntimeWarning)
            scan_kernel[blocks, threads](self._inputs, start, count, top_limit, self._nonces, self._tops, self._count)
        return int(self._count.copy_to_host()[0])


def compile_kernel() -> tuple[float, bool]:
    """Compile the kernel for the current device, or load it from the on-disk cache; returns
    (seconds, from_cache). Under the simulator there is nothing to compile."""
    before = time.perf_counter()
    if not config.ENABLE_CUDASIM:
        scan_kernel.compile(SIGNATURE)
    seconds = time.perf_counter() - before
    cached = not config.ENABLE_CUDASIM and bool(scan_kernel.stats.cache_hits)
    return seconds, cached


def ptx_report(cc: tuple[int, int] = (9, 0)) -> dict:
    """Compile the kernel to PTX for compute capability ``cc`` without a GPU, and say whether the
    rounds stayed in registers: local-memory loads/stores in the PTX and, when the CUDA
    toolkit's ``ptxas`` is found, its register and spill counts. Needs NVVM and NVRTC."""
    from numba.cuda import dispatcher as cuda_dispatcher

    # Device functions ask the *current* GPU for its compute capability while compiling, which
    # fails on a machine with none; answer with ``cc`` for the duration of this compile.
    original = cuda_dispatcher.get_current_device
    cuda_dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=cc)
    try:
        before = time.perf_counter()
        ptx, _ = cuda.compile_ptx(scan_kernel.py_func, SIGNATURE, cc=cc, opt=True)
        compile_s = time.perf_counter() - before
    finally:
        cuda_dispatcher.get_current_device = original
    report = {
        "cc": list(cc),
        "compile_s": round(compile_s, 2),
        "ptx_lines": ptx.count("\n"),
        "ld_local": len(re.findall(r"\bld\.local\b", ptx)),
        "st_local": len(re.findall(r"\bst\.local\b", ptx)),
        "prmt": len(re.findall(r"\bprmt\.b32\b", ptx)),  # the byte swaps: two a nonce
    }
    report.update(_ptxas_usage(ptx, cc))
    return report


def _cuda_tool(name: str) -> str | None:
    """A CUDA toolkit program: on PATH, in /usr/local/cuda*, or from the nvidia-cuda-* wheels."""
    found = shutil.which(name) or next((str(p) for p in sorted(Path("/usr/local").glob(f"cuda*/bin/{name}"), reverse=True)), None)
    if found is None:
        import importlib.util

        spec = importlib.util.find_spec("nvidia")
        for root in (spec.submodule_search_locations or []) if spec else []:
            found = next((str(p) for p in Path(root).glob(f"cu*/bin/{name}")), None)
            if found:
                break
    return found


def _ptxas_usage(ptx: str, cc: tuple[int, int]) -> dict:
    """Registers and spills from ``ptxas -v``; with ``nvdisasm`` also the SASS instruction mix."""
    ptxas = _cuda_tool("ptxas")
    if ptxas is None:
        return {"ptxas": None}
    with tempfile.TemporaryDirectory() as tmp:
        source, cubin = Path(tmp) / "scan.ptx", Path(tmp) / "scan.cubin"
        source.write_text(ptx)
        done = subprocess.run(
            [ptxas, "-v", f"--gpu-name=sm_{cc[0]}{cc[1]}", "-o", str(cubin), str(source)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        text = done.stdout + done.stderr
        if done.returncode != 0:
            return {"ptxas": ptxas, "ptxas_error": text.strip().splitlines()[-1:]}
        report = {"ptxas": ptxas, **_sass_mix(cubin)}

    def number(pattern: str) -> int | None:
        match = re.search(pattern, text)
        return int(match.group(1)) if match else None

    report.update(
        registers=number(r"Used (\d+) registers"),
        stack_frame_bytes=number(r"(\d+) bytes stack frame"),
        spill_stores_bytes=number(r"(\d+) bytes spill stores"),
        spill_loads_bytes=number(r"(\d+) bytes spill loads"),
    )
    return report


_SASS_INSTRUCTION = re.compile(r"^\s+/\*[0-9a-f]{4,}\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)[^`]*(?:`\((\.L\w+)\))?")
_SASS_LABEL = re.compile(r"^(\.L\w+):")


def _counted(opcodes) -> dict[str, int]:
    mix: dict[str, int] = {}
    for opcode in opcodes:
        mix[opcode] = mix.get(opcode, 0) + 1
    return dict(sorted(mix.items(), key=lambda kv: -kv[1]))


def sass_nonce_loop(sass: str) -> dict:
    """Instructions a nonce: the grid-stride loop (the longest backward branch's span, one nonce
    a trip; ptxas ends kernels with a one-instruction ``BRA`` to itself, which is no loop) less the blocks its forward branches skip (the candidate
    store, run for one nonce in 2**32 at mining targets), by opcode."""
    rows, labels = [], {}  # rows: (opcode, predicated, branch target)
    for line in sass.splitlines():
        label = _SASS_LABEL.match(line)
        if label:
            labels[label.group(1)] = len(rows)
            continue
        match = _SASS_INSTRUCTION.match(line)
        if match:
            rows.append((match.group(2), bool(match.group(1)), match.group(3)))
    back = [(i, labels[t]) for i, (op, _, t) in enumerate(rows) if op == "BRA" and t in labels and labels[t] < i]
    if not back:
        return {}
    end, start = max(back, key=lambda b: b[0] - b[1])
    cold = set()
    for i in range(start, end):
        op, predicated, target = rows[i]
        if op == "BRA" and predicated and target in labels and i < labels[target] <= end:
            cold.update(range(i + 1, labels[target]))
    hot = [rows[i][0] for i in range(start, end + 1) if i not in cold]
    return {"sass_loop_instructions": end + 1 - start, "sass_per_nonce": len(hot), "sass_per_nonce_mix": _counted(hot)}


def _sass_mix(cubin: Path) -> dict:
    """SASS instructions of the kernel by opcode and of its nonce loop, when nvdisasm is there."""
    nvdisasm = _cuda_tool("nvdisasm")
    if nvdisasm is None:
        return {"sass_instructions": None}
    done = subprocess.run([nvdisasm, str(cubin)], capture_output=True, text=True, check=False)
    opcodes = [m.group(2) for m in map(_SASS_INSTRUCTION.match, done.stdout.splitlines()) if m]
    return {"sass_instructions": len(opcodes), "sass_mix": _counted(opcodes), **sass_nonce_loop(done.stdout)}
