"""The CUDA kernel: under the simulator in its own process (CI has no GPU), its launch sizing,
and its PTX (compiled for sm_90 without a GPU: no local memory, registers counted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernels import sha256d
from kernels.sha256d import KNOWN_BLOCKS

ROOT = Path(__file__).resolve().parents[1]


def _run(code_or_script: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *code_or_script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_cuda_kernel_and_mine_workload_under_the_simulator_equal_hashlib():
    genesis, _ = KNOWN_BLOCKS[0]
    recent, _ = KNOWN_BLOCKS[839900]
    easy_header = bytes(range(76))
    scans = [
        (genesis.to_bytes(), genesis.nonce - 100, 200, sha256d.bits_to_target(genesis.bits)),
        (genesis.to_bytes(), genesis.nonce + 1, 100, sha256d.bits_to_target(genesis.bits)),
        (recent.to_bytes(), recent.nonce - 50, 100, sha256d.bits_to_target(recent.bits)),
        (easy_header, 2**32 - 96, 96, 2**254),  # many hits, up to the last nonce
    ]
    done = _run(
        ["tests/cudasim/scan_in_simulator.py", json.dumps([(h.hex(), s, c, f"{t:x}") for h, s, c, t in scans])],
        NUMBA_ENABLE_CUDASIM="1",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["simulator"] is True
    assert report["found"][0] == [genesis.nonce]
    assert report["found"][1] == []
    assert report["found"][2] == [recent.nonce]
    assert report["found"][3] == sha256d.scan_reference(easy_header, 2**32 - 96, 96, 2**254)
    assert len(report["found"][3]) > 10

    overflow = report["overflow"]
    start = overflow["start"]
    assert overflow["nonces"] == list(range(start, start + 40))
    assert overflow["tops"] == [sha256d.hash_value(sha256d.with_nonce(genesis.to_bytes(), n)) >> 224 for n in overflow["nonces"]]
    assert overflow["capacity"] >= 40  # grown after the overflow, not truncated

    mine = report["mine"]  # the workload's CUDA path, checked by its own hashlib check
    assert mine["hashes"] == 128
    assert mine["check"]["shares_found"] == mine["check"]["shares_rehashed"] > 0


def test_launch_fills_every_sm_and_shrinks_for_small_ranges():
    from kernels.sha256d_cuda import BLOCKS_PER_SM, launch_shape

    assert launch_shape(2**29, sm_count=132) == (132 * BLOCKS_PER_SM, 256)
    assert launch_shape(1000, sm_count=132) == (4, 256)
    assert launch_shape(1, sm_count=132) == (1, 256)
    assert launch_shape(200, sm_count=1, threads_per_block=32) == (BLOCKS_PER_SM, 32)


PTX_SCRIPT = """
import json
from kernels import sha256d_cuda
print(json.dumps(sha256d_cuda.ptx_report(cc=(9, 0))))
"""


def _ptx_toolchain_missing() -> str | None:
    """Why the PTX cannot be built here, or None: numba-cuda needs libNVVM and NVRTC."""
    probe = _run(
        ["-c", "from cuda.bindings import nvrtc; print(nvrtc.nvrtcVersion())\nfrom numba.cuda.cudadrv import nvvm; nvvm.NVVM()"]
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"NVRTC/NVVM not loadable ({last[:160]}); install cuda-toolkit[nvrtc]==13.* to run this test"
    return None


@pytest.mark.slow
def test_cuda_kernel_compiles_to_ptx_with_the_rounds_in_registers():
    reason = _ptx_toolchain_missing()
    if reason:
        pytest.skip(reason)
    done = _run(["-c", PTX_SCRIPT])
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ld_local"] == 0 and report["st_local"] == 0, report
    if report.get("registers") is not None:  # ptxas found: no stack, no spills, few registers
        assert report["stack_frame_bytes"] == 0 and report["spill_stores_bytes"] == 0, report
        assert report["registers"] <= 64, report
