"""Bitcoin block headers and double SHA-256: the hashlib reference, header tools and ``scan``.

Variants of the nonce scan, in the order of the files that hold them:
  * ``scan_reference`` (here): hashlib, one nonce at a time; the truth every kernel is checked
    against, and the speed baseline of a plain Python miner;
  * ``kernels.sha256d_cpu``: numba.njit, through the x86 SHA extensions (``sha-ni``) or with
    nonces in SIMD lanes (``simd``), threads over parts of the range;
  * ``kernels.sha256d_cuda``: numba.cuda.jit, several nonces per thread, hits through an atomic
    counter.
``scan(..., device=..., variant=...)`` is the one entry point the harness, the tests and users
call; on the CPU its default variant is chosen by measurement (``kernels.sha256d_choice``).

Conventions (as in Bitcoin Core): header fields are little-endian; hashes are *displayed*
byte-reversed (the genesis hash starts with zeros when shown); a hash meets a target when the
32-byte digest read as a little-endian 256-bit number is <= the target.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from kernels import sha256_rounds as rounds

HEADER_BYTES = 80
PREFIX_BYTES = 76  # the header without its nonce
NONCE_LIMIT = 2**32  # nonces are 32-bit; a scan may not wrap past this
MAX_TARGET = 2**256 - 1
DIFFICULTY_1_TARGET = 0xFFFF << 208  # 0x00000000FFFF0000...0000: pool share difficulty 1
DEVICES = ("cpu", "cuda")


def sha256d(data: bytes) -> bytes:
    """Double SHA-256 of ``data`` with hashlib: the reference every kernel is checked against."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def hash_value(header: bytes) -> int:
    """The header's SHA-256d digest read as a little-endian number, the value compared with targets."""
    return int.from_bytes(sha256d(header), "little")


def display_hash(digest: bytes) -> str:
    """A digest as block explorers and Bitcoin Core show it: bytes reversed, in hex."""
    return digest[::-1].hex()


def _hash_field(name: str, display_hex: str) -> bytes:
    try:
        raw = bytes.fromhex(display_hex)
    except ValueError:
        raise ValueError(f"{name} must be 64 hex digits, got {display_hex!r}") from None
    if len(raw) != 32:
        raise ValueError(f"{name} must be 64 hex digits, got {len(display_hex)} characters")
    return raw[::-1]  # displayed byte-reversed, stored little-endian


def _uint32_field(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise ValueError(f"{name} must be an integer in [0, 2**32), got {value!r}")
    return value


@dataclass(frozen=True)
class BlockHeader:
    """The six fields of a block header; hashes as displayed (byte-reversed hex)."""

    version: int
    prev_hash: str
    merkle_root: str
    time: int
    bits: int
    nonce: int

    def to_bytes(self) -> bytes:
        return build_header(self.version, self.prev_hash, self.merkle_root, self.time, self.bits, self.nonce)

    @classmethod
    def from_bytes(cls, header: bytes) -> "BlockHeader":
        if len(header) != HEADER_BYTES:
            raise ValueError(f"header must be {HEADER_BYTES} bytes, got {len(header)}")
        version, prev, merkle, time, bits, nonce = struct.unpack("<I32s32sIII", header)
        return cls(version, prev[::-1].hex(), merkle[::-1].hex(), time, bits, nonce)

    def hash_hex(self) -> str:
        return display_hash(sha256d(self.to_bytes()))


# Real blocks, fields as Bitcoin Core shows them, with their displayed hashes; the tests check
# each with hashlib and against its own target, and the kernels find each nonce in a window.
KNOWN_BLOCKS: dict[int, tuple[BlockHeader, str]] = {
    0: (  # genesis
        BlockHeader(
            version=1,
            prev_hash="00" * 32,
            merkle_root="4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
            time=1231006505,
            bits=0x1D00FFFF,
            nonce=2083236893,
        ),
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    ),
    125552: (  # the worked example on the Bitcoin wiki's block hashing page
        BlockHeader(
            version=1,
            prev_hash="00000000000008a3a41b85b8b29ad444def299fee21793cd8b9e567eab02cd81",
            merkle_root="2b12fcf1b09288fcaff797d71e950e71ae42b91e8bdb2304758dfcffc2b620e3",
            time=1305998791,
            bits=0x1A44B9F2,
            nonce=2504433986,
        ),
        "00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d",
    ),
    839900: (  # April 2024: BIP9 version bits (0b001 top bits) with rolled version bits
        BlockHeader(
            version=0x2A966000,
            prev_hash="000000000000000000015d7eee767c24abd355f70fb382d2ef47398610439ba3",
            merkle_root="088083f58ddef995494fec492880da49e3463cc73dee1306dbdf6cf3af77454c",
            time=1713511391,
            bits=0x17034219,
            nonce=3529540887,
        ),
        "000000000000000000023dfafae2b6e6b5ecf9d1365fafa075dec49625721f37",
    ),
}


def build_header(version: int, prev_hash: str, merkle_root: str, time: int, bits: int, nonce: int) -> bytes:
    """The 80-byte header; ``prev_hash`` and ``merkle_root`` as displayed (byte-reversed hex)."""
    return struct.pack(
        "<I32s32sIII",
        _uint32_field("version", version),
        _hash_field("prev_hash", prev_hash),
        _hash_field("merkle_root", merkle_root),
        _uint32_field("time", time),
        _uint32_field("bits", bits),
        _uint32_field("nonce", nonce),
    )


def with_nonce(header: bytes, nonce: int) -> bytes:
    """The 80-byte header with its nonce field set (``header`` may be 76 or 80 bytes)."""
    return _header_prefix(header) + struct.pack("<I", _uint32_field("nonce", nonce))


def bits_to_target(bits: int) -> int:
    """Expand the compact ``bits`` field to its 256-bit target (Bitcoin Core's SetCompact)."""
    _uint32_field("bits", bits)
    exponent, mantissa = bits >> 24, bits & 0x007FFFFF
    if bits & 0x00800000 and mantissa:
        raise ValueError(f"bits {bits:#010x} encodes a negative target")
    target = mantissa >> 8 * (3 - exponent) if exponent <= 3 else mantissa << 8 * (exponent - 3)
    if target > MAX_TARGET:
        raise ValueError(f"bits {bits:#010x} encodes a target above 2**256")
    return target


def difficulty_to_target(difficulty: float | int | Fraction) -> int:
    """Pool share target of ``difficulty``: floor(difficulty-1 target / difficulty)."""
    if (
        isinstance(difficulty, bool)
        or not isinstance(difficulty, (int, float, Fraction))
        or not math.isfinite(difficulty)
        or difficulty <= 0
    ):
        raise ValueError(f"difficulty must be a positive finite number, got {difficulty!r}")
    return min(MAX_TARGET, int(DIFFICULTY_1_TARGET / Fraction(difficulty)))


def target_to_difficulty(target: int) -> float:
    """Share difficulty of ``target``: difficulty-1 target / target."""
    _check_target(target)
    if target == 0:
        raise ValueError("target 0 has no difficulty (no hash can meet it)")
    return DIFFICULTY_1_TARGET / target


def _check_target(target: int) -> int:
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target <= MAX_TARGET:
        raise ValueError(f"target must be an integer in [0, 2**256), got {target!r}")
    return target


def _header_prefix(header: bytes) -> bytes:
    if not isinstance(header, (bytes, bytearray, memoryview)):
        raise ValueError(f"header must be bytes, got {type(header).__name__}")
    header = bytes(header)
    if len(header) not in (PREFIX_BYTES, HEADER_BYTES):
        raise ValueError(f"header must be {PREFIX_BYTES} or {HEADER_BYTES} bytes, got {len(header)}")
    return header[:PREFIX_BYTES]


def _check_range(start: int, count: int) -> None:
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < NONCE_LIMIT:
        raise ValueError(f"start must be a nonce in [0, 2**32), got {start!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    if start + count > NONCE_LIMIT:
        raise ValueError(f"start + count = {start + count} runs past the last nonce 2**32 - 1 (no wrapping)")


def target_limbs(target: int) -> np.ndarray:
    """The target as eight uint32 limbs, most significant first, as the kernels compare it."""
    _check_target(target)
    return np.array([(target >> (224 - 32 * i)) & 0xFFFFFFFF for i in range(8)], dtype=np.uint32)


def kernel_inputs(header: bytes) -> np.ndarray:
    """What the kernels need of a header, as 19 uint32 words: the midstate (8), the state after
    the nonce-independent rounds 0..2 of the second block (8) and header words 16..18 (3)."""
    prefix = _header_prefix(header)
    words = np.frombuffer(prefix, dtype=">u4").astype(np.uint32)  # SHA-256 reads big-endian words
    with np.errstate(over="ignore"):  # uint32 sums wrap by design
        midstate = rounds.compress(*rounds.IV, *words[:16])
        prefix_state = rounds.nonce_block_prefix(*midstate, *words[16:19])
    return np.array([*midstate, *prefix_state, *words[16:19]], dtype=np.uint32)


def scan_reference(header: bytes, start: int, count: int, target: int) -> list[int]:
    """``scan`` with hashlib, one nonce at a time: slow, and obviously right."""
    prefix = _header_prefix(header)
    _check_range(start, count)
    _check_target(target)
    pack = struct.Struct("<I").pack
    return [n for n in range(start, start + count) if int.from_bytes(sha256d(prefix + pack(n)), "little") <= target]


def resolve_candidates(inputs: np.ndarray, nonces: np.ndarray, tops: np.ndarray, limbs: np.ndarray) -> list[int]:
    """Hits among a kernel's candidates: a top word below the target's top limb meets the target;
    a tie is settled on all 256 bits with the kernels' own round functions, run by Python."""
    top_limit = int(limbs[0])
    hits = []
    for nonce, top in zip(nonces.tolist(), tops.tolist()):
        if top < top_limit:
            hits.append(nonce)
        elif top == top_limit:
            with np.errstate(over="ignore"):  # uint32 sums wrap by design
                digest = rounds.sha256d_words(*inputs, np.uint32(nonce))
                if rounds.digest_meets_target(*digest, limbs):
                    hits.append(nonce)
    return hits


def scan(header: bytes, start: int, count: int, target: int, device: str = "cpu", variant: str = "auto") -> list[int]:
    """Every nonce in [start, start + count), in increasing order, whose header hash is <= target.

    ``header`` is 80 bytes (its nonce field is ignored) or the 76 bytes before the nonce.
    Nonces are 32-bit and the range may not wrap. ``device`` is "cpu" or "cuda". On the CPU,
    ``variant`` "auto" is the one the mine workload would choose here (measured once per
    machine and kernel source, then cached: ``kernels.sha256d_choice``); "sha-ni" or "simd"
    forces one (ValueError where the CPU lacks it).
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cuda" and variant != "auto":
        raise ValueError(f"variant applies to the CPU kernels only, got {variant!r} for cuda")
    inputs = kernel_inputs(header)
    _check_range(start, count)
    limbs = target_limbs(target)
    if device == "cpu":
        from kernels import sha256d_choice, sha256d_cpu

        if count == 0 and variant == "auto":
            return []  # nothing to scan: no reason to time the variants
        threads = sha256d_cpu.default_threads()
        chosen = sha256d_choice.choose(threads, variant=variant).variant
        nonces, tops = sha256d_cpu.candidates(inputs, start, count, limbs[0], threads, variant=chosen)
    else:
        from kernels import sha256d_cuda

        nonces, tops = sha256d_cuda.CudaScanner().candidates(inputs, start, count, limbs[0])
    return resolve_candidates(inputs, nonces, tops, limbs)
