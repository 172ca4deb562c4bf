"""Runs the CUDA kernel under numba-cuda's simulator; started by tests/test_sha256d_cuda.py.

NUMBA_ENABLE_CUDASIM=1 only takes effect if set before numba is first imported, hence a process
of its own. Reads a JSON list of scans from argv, prints a JSON object of what the kernel found;
the calling test compares that with hashlib.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from numba import config

from bench.devices import Device
from kernels import sha256d, sha256d_cuda
from bench.workloads.mine import MineConfig, MineWorkload, share_target_for


def main() -> None:
    scans = json.loads(sys.argv[1])
    found = [
        sha256d.scan(bytes.fromhex(header_hex), start, count, int(target_hex, 16), device="cuda")
        for header_hex, start, count, target_hex in scans
    ]
    # A buffer of 2 candidates for 40 nonces that are all candidates: the kernel must flag the
    # overflow and the scanner rescan, losing none.
    header_hex, start, count, _ = scans[0]
    scanner = sha256d_cuda.CudaScanner(capacity=2)
    nonces, tops = scanner.candidates(sha256d.kernel_inputs(bytes.fromhex(header_hex)), start, 40, np.uint32(0xFFFFFFFF))
    # The mine workload's CUDA path, with steps of 64 nonces and about 8 shares a step.
    workload = MineWorkload(MineConfig("cuda", None, 64, share_target_for(64, 8)), Device("cuda", 0, "CUDA simulator"))
    build = workload.build()
    hashes = sum(build.phases[0].step() for _ in range(2))
    print(
        json.dumps(
            {
                "simulator": bool(config.ENABLE_CUDASIM),
                "found": found,
                "overflow": {"start": start, "nonces": nonces.tolist(), "tops": tops.tolist(), "capacity": scanner.capacity},
                "mine": {"hashes": hashes, "check": workload.check(), "build": build.details},
            }
        )
    )


if __name__ == "__main__":
    main()
