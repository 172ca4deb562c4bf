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
    assert report["prmt"] == 2, report  # the nonce's and the top word's byte swaps, one byte-permute each
    if report.get("sass_per_nonce_mix") is not None:  # nvdisasm found
        assert report["sass_per_nonce_mix"].get("PRMT") == 2, report
    if report.get("registers") is not None:  # ptxas found: no stack, no spills, few registers
        assert report["stack_frame_bytes"] == 0 and report["spill_stores_bytes"] == 0, report
        assert report["registers"] <= 64, report


def test_byte_perm_model_reverses_bytes_with_the_bswap_selector_and_picks_from_both_words():
    """The simulator's stand-in for __byte_perm (CUDA's definition), checked against bswap32."""
    import numpy as np

    from kernels.sha256_rounds import bswap32
    from kernels.sha256d_cuda import BSWAP_SELECTOR, byte_perm_model

    rng = np.random.default_rng(3)
    for x in rng.integers(0, 2**32, 50, dtype=np.uint64).astype(np.uint32):
        assert byte_perm_model(x, 0, BSWAP_SELECTOR) == bswap32(x)
    assert byte_perm_model(0x33221100, 0x77665544, 0x7654) == 0x77665544  # nibbles 4..7 pick from y
    assert byte_perm_model(0x33221100, 0x77665544, 0x0000) == 0x00000000


SASS = """
        /*0000*/                   S2R R0, SR_CTAID.X ;
        /*0010*/              @!P0 EXIT ;
.L_x_2:
        /*0020*/                   SHF.L.W.U32.HI R1, R2, 0x1a, R2 ;
        /*0030*/                   LOP3.LUT R3, R1, R4, R5, 0x96, !PT ;
        /*0040*/                   ISETP.GT.U32.AND P1, PT, R3, c[0x0][0x380], PT ;
        /*0050*/               @P1 BRA `(.L_x_1) ;
        /*0060*/                   ATOMG.E.ADD.64.STRONG.GPU PT, R6, [R8.64], R10 ;
        /*0070*/                   STG.E.64 desc[UR4][R12.64], R14 ;
.L_x_1:
        /*0080*/                   IADD3 R2, R2, R16, RZ ;
        /*0090*/               @P0 BRA `(.L_x_2) ;
        /*00a0*/                   EXIT ;
.L_x_3:
        /*00b0*/                   BRA `(.L_x_3);
"""


def test_sass_nonce_loop_counts_the_hot_path_of_the_longest_loop():
    from kernels.sha256d_cuda import sass_nonce_loop

    loop = sass_nonce_loop(SASS)
    assert loop["sass_loop_instructions"] == 8  # .L_x_2 .. the backward branch; not the trap at the end
    assert loop["sass_per_nonce"] == 6  # less the candidate store the forward branch skips
    assert loop["sass_per_nonce_mix"] == {"BRA": 2, "SHF": 1, "LOP3": 1, "ISETP": 1, "IADD3": 1}
