"""Header tools, targets, the hashlib reference and the round functions (run as plain Python)."""

from __future__ import annotations

import hashlib
import struct
from fractions import Fraction

import numpy as np
import pytest

from kernels import sha256_rounds as rounds
from kernels import sha256d
from kernels.sha256d import KNOWN_BLOCKS, BlockHeader


@pytest.mark.parametrize("height", sorted(KNOWN_BLOCKS))
def test_known_block_header_hashes_to_its_published_hash(height):
    header, expected = KNOWN_BLOCKS[height]
    assert sha256d.display_hash(sha256d.sha256d(header.to_bytes())) == expected
    assert header.hash_hex() == expected


@pytest.mark.parametrize("height", sorted(KNOWN_BLOCKS))
def test_known_block_meets_its_own_bits_target(height):
    header, _ = KNOWN_BLOCKS[height]
    value = sha256d.hash_value(header.to_bytes())
    assert value <= sha256d.bits_to_target(header.bits)
    # ... and the nonce just before does not: a real proof of work, not a coincidence
    assert sha256d.hash_value(sha256d.with_nonce(header.to_bytes(), header.nonce - 1)) > sha256d.bits_to_target(header.bits)


def test_recent_block_has_bip9_version_bits():
    header, _ = KNOWN_BLOCKS[839900]
    assert header.version >> 29 == 0b001


def test_header_layout_is_little_endian_fields_and_reversed_hashes():
    genesis, _ = KNOWN_BLOCKS[0]
    raw = genesis.to_bytes()
    assert len(raw) == 80
    assert raw[:4] == b"\x01\x00\x00\x00"
    assert raw[4:36] == bytes(32)
    assert raw[36:68] == bytes.fromhex(genesis.merkle_root)[::-1]
    assert struct.unpack("<III", raw[68:]) == (1231006505, 0x1D00FFFF, 2083236893)
    assert BlockHeader.from_bytes(raw) == genesis


def test_with_nonce_replaces_only_the_nonce_and_accepts_76_bytes():
    raw = KNOWN_BLOCKS[125552][0].to_bytes()
    assert sha256d.with_nonce(raw, 7)[:76] == raw[:76]
    assert sha256d.with_nonce(raw[:76], 7) == sha256d.with_nonce(raw, 7)
    assert sha256d.with_nonce(raw, 7)[76:] == b"\x07\x00\x00\x00"


@pytest.mark.parametrize(
    "field, kwargs, message",
    [
        ("prev_hash", {"prev_hash": "zz" * 32}, "prev_hash must be 64 hex digits"),
        ("merkle_root", {"merkle_root": "00" * 31}, "merkle_root must be 64 hex digits"),
        ("time", {"time": 2**32}, "time must be an integer"),
        ("version", {"version": -1}, "version must be an integer"),
    ],
)
def test_build_header_names_the_bad_field(field, kwargs, message):
    fields = dict(version=1, prev_hash="00" * 32, merkle_root="00" * 32, time=0, bits=0x1D00FFFF, nonce=0)
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        sha256d.build_header(**fields)


def test_bits_expand_to_the_known_targets():
    assert sha256d.bits_to_target(0x1D00FFFF) == 0xFFFF << 208 == sha256d.DIFFICULTY_1_TARGET
    assert sha256d.bits_to_target(0x1A44B9F2) == 0x44B9F2 << (8 * (0x1A - 3))
    assert sha256d.bits_to_target(0x03123456) == 0x123456
    assert sha256d.bits_to_target(0x02123456) == 0x1234  # exponent below 3 shifts right
    assert sha256d.bits_to_target(0x01003456) == 0


def test_bits_with_sign_bit_or_too_large_are_refused():
    with pytest.raises(ValueError, match="negative target"):
        sha256d.bits_to_target(0x04923456)
    with pytest.raises(ValueError, match="above 2\\*\\*256"):
        sha256d.bits_to_target(0x23000001 | 0x00010000)


def test_difficulty_and_target_convert_both_ways():
    assert sha256d.difficulty_to_target(1) == sha256d.DIFFICULTY_1_TARGET
    assert sha256d.difficulty_to_target(2) == sha256d.DIFFICULTY_1_TARGET // 2
    assert sha256d.difficulty_to_target(Fraction(1, 4)) == sha256d.DIFFICULTY_1_TARGET * 4
    assert sha256d.difficulty_to_target(1e-30) == sha256d.MAX_TARGET  # capped at 2**256 - 1
    assert sha256d.target_to_difficulty(sha256d.bits_to_target(0x1D00FFFF)) == 1.0
    # block 125552's difficulty as published: 244112.49...
    assert sha256d.target_to_difficulty(sha256d.bits_to_target(0x1A44B9F2)) == pytest.approx(244112.4877, rel=1e-9)


@pytest.mark.parametrize("bad", [0, -1.5, float("nan"), float("inf"), "1", True])
def test_difficulty_must_be_positive_and_finite(bad):
    with pytest.raises(ValueError, match="difficulty"):
        sha256d.difficulty_to_target(bad)


def test_target_limbs_are_most_significant_first():
    limbs = sha256d.target_limbs(sha256d.DIFFICULTY_1_TARGET)
    assert limbs.dtype == np.uint32
    assert limbs.tolist() == [0, 0xFFFF0000, 0, 0, 0, 0, 0, 0]


def test_compress_matches_hashlib_on_one_padded_block():
    message = b"abc"
    block = message + b"\x80" + bytes(64 - len(message) - 9) + struct.pack(">Q", 8 * len(message))
    words = np.frombuffer(block, dtype=">u4").astype(np.uint32)
    with np.errstate(over="ignore"):
        state = rounds.compress(*rounds.IV, *words)
    assert b"".join(struct.pack(">I", int(x)) for x in state) == hashlib.sha256(message).digest()


@pytest.mark.parametrize("height", sorted(KNOWN_BLOCKS))
def test_kernel_words_run_as_python_match_hashlib(height):
    """sha256d_words with the per-header inputs (midstate, rounds 0..2 hoisted) is SHA-256d."""
    raw = KNOWN_BLOCKS[height][0].to_bytes()
    nonce = KNOWN_BLOCKS[height][0].nonce
    with np.errstate(over="ignore"):
        words = rounds.sha256d_words(*sha256d.kernel_inputs(raw), np.uint32(nonce))
    assert b"".join(struct.pack(">I", int(x)) for x in words) == sha256d.sha256d(raw)


def test_digest_compare_is_little_endian_and_inclusive():
    raw = KNOWN_BLOCKS[0][0].to_bytes()
    digest = np.frombuffer(sha256d.sha256d(raw), dtype=">u4").astype(np.uint32)
    value = sha256d.hash_value(raw)
    assert rounds.digest_meets_target(*digest, sha256d.target_limbs(value))
    assert not rounds.digest_meets_target(*digest, sha256d.target_limbs(value - 1))
    assert rounds.digest_meets_target(*digest, sha256d.target_limbs(value + 2**200))


def test_scan_reference_finds_the_genesis_nonce_and_nothing_after():
    genesis, _ = KNOWN_BLOCKS[0]
    target = sha256d.bits_to_target(genesis.bits)
    assert sha256d.scan_reference(genesis.to_bytes(), genesis.nonce - 20, 40, target) == [genesis.nonce]
    assert sha256d.scan_reference(genesis.to_bytes(), genesis.nonce + 1, 40, target) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"header": b"\0" * 79}, "header must be 76 or 80 bytes, got 79"),
        ({"header": "00" * 80}, "header must be bytes"),
        ({"start": -1}, "start must be a nonce"),
        ({"start": 2**32}, "start must be a nonce"),
        ({"count": -5}, "count must be a non-negative integer"),
        ({"start": 2**32 - 10, "count": 11}, "runs past the last nonce"),
        ({"target": 2**256}, "target must be an integer"),
        ({"target": -1}, "target must be an integer"),
        ({"device": "tpu"}, "device must be one of cpu, cuda"),
    ],
)
def test_scan_rejects_bad_arguments_naming_them(kwargs, message):
    args = {"header": bytes(80), "start": 0, "count": 10, "target": 2**255, "device": "cpu"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        sha256d.scan(**args)


def test_scan_of_an_empty_range_is_empty():
    assert sha256d.scan(bytes(80), 5, 0, sha256d.MAX_TARGET) == []
