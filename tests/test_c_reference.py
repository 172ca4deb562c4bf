"""The C SHA-NI yardstick the mining benchmark times our kernel against must itself be right:
a fast wrong baseline would flatter nothing and mislead everyone."""

import hashlib
import importlib.util
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from kernels import sha256_ni, sha256d

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sha256d.py"

pytestmark = [
    pytest.mark.skipif(not sha256_ni.available(), reason="this CPU has no SHA extensions"),
    pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler"),
]


@pytest.fixture(scope="module")
def c_reference():
    spec = importlib.util.spec_from_file_location("bench_sha256d", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CReference()  # builds, then refuses itself unless it finds the real blocks' nonces


def test_c_reference_finds_each_real_block_nonce_and_nothing_else_around_it(c_reference):
    for header, _ in sha256d.KNOWN_BLOCKS.values():
        inputs = sha256d.kernel_inputs(header.to_bytes())
        top = int(sha256d.target_limbs(sha256d.bits_to_target(header.bits))[0])
        assert c_reference.candidates(inputs, header.nonce - 600, 1200, top) == [header.nonce]


def test_c_reference_candidates_equal_hashlib_on_a_random_header(c_reference):
    prefix = np.random.default_rng(3).bytes(76)
    top_limit = 0x00FFFFFF  # about one nonce in 256
    expected = [
        n for n in range(5000, 9000)
        if int.from_bytes(hashlib.sha256(hashlib.sha256(prefix + struct.pack("<I", n)).digest()).digest()[28:], "little") <= top_limit
    ]  # fmt: skip
    assert len(expected) > 5
    assert c_reference.candidates(sha256d.kernel_inputs(prefix), 5000, 4000, top_limit, room=4000) == expected
