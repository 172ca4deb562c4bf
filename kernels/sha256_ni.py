"""SHA-256 compression with the x86 SHA extensions (SHA-NI), as a Numba intrinsic.

Numba has no vector types, so ``compress_ni`` writes LLVM IR directly: the state is held as the
two 4-lane vectors the instructions expect (ABEF and CDGH), ``sha256rnds2`` does two rounds at a
time, and ``sha256msg1``/``sha256msg2`` expand the message schedule four words at a time, in the
order of Intel's reference code (Gulley et al., "Intel SHA Extensions", 2013). Called from an
``njit`` function it takes and returns plain tuples of ``uint32``, so it is checked against
hashlib like the scalar rounds; LLVM removes the tuple/vector conversions between two calls.

``compress_ni_x2`` runs two independent compressions side by side, round pair by round pair.
``sha256rnds2`` has a 4-cycle latency and a throughput of about one a cycle (Zen 3, measured by
``benchmarks/bench_sha256d.py --sha-unit``), so one chain alone leaves the unit idle three cycles
in four. LLVM's scheduler, left to itself, put the two chains back one after the other (read off
the machine code); the rounds are therefore emitted as inline assembly with side effects, which
keeps them in the order written, while the message schedule stays free intrinsics LLVM places
around them. Two chains, not more: with three or four the state and schedule no longer fit the 16
XMM registers, and the spills make them slower (docs/mining-kernels.md).

Two of the 32 ``sha256rnds2`` stay plain (pure) intrinsics, so LLVM may move or drop them, which
inline assembly with side effects forbids: rounds 0-1, fed message words 0 and 1 alone, so that
when those do not change in a loop (a block header's words 16 and 17) LLVM computes them once,
outside it; and rounds 62-63, which feed only A, B, E, F, so that a caller reading only word 7
(the hash's top word) does not pay for them.

Only for CPUs with the SHA extensions (``available()``): LLVM cannot lower these intrinsics for
a target without them. CUDA and the simulator use ``kernels.sha256_rounds`` instead.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from kernels.sha256_rounds import K

_I32 = ir.IntType(32)
_V4 = ir.VectorType(_I32, 4)


def available() -> bool:
    """Whether Numba compiles for a CPU with the SHA extensions (honours NUMBA_CPU_NAME/FEATURES)."""
    import llvmlite.binding as llvm
    from numba.core import config

    if config.CPU_FEATURES:
        return "+sha" in config.CPU_FEATURES.split(",")
    if config.CPU_NAME not in (None, "host"):
        return False  # a named generic target: do not assume extensions
    return bool(llvm.get_host_cpu_features().get("sha", False))


def _vector(builder: ir.IRBuilder, values) -> ir.Value:
    vector = ir.Constant(_V4, ir.Undefined)
    for lane, value in enumerate(values):
        vector = builder.insert_element(vector, value, ir.Constant(_I32, lane))
    return vector


def _shuffle(builder: ir.IRBuilder, a: ir.Value, b: ir.Value, lanes: list[int]) -> ir.Value:
    """Lanes 0-3 pick from ``a``, 4-7 from ``b``."""
    return builder.shuffle_vector(a, b, ir.Constant(_V4, [ir.Constant(_I32, lane) for lane in lanes]))


_RNDS2_ASM = "sha256rnds2 %xmm0, $2, $0"  # AT&T: dst $0 (CDGH in, ABEF out), src $2 (ABEF), wk in xmm0
_RNDS2_CONSTRAINTS = "=x,0,x,{xmm0}"


def _enable_inline_asm() -> None:
    """Inline assembly needs LLVM's x86 assembly parser, which Numba does not initialise."""
    import llvmlite.binding as llvm

    initialize = getattr(llvm, "initialize_native_asmparser", None)
    if initialize is not None:  # an llvmlite without it is assumed to set the parser up itself
        initialize()


_enable_inline_asm()


def _emit_compressions(builder: ir.IRBuilder, states: list[list], blocks: list[list]) -> list[list]:
    """LLVM IR for one compression per (state, block) pair, interleaved; returns the new states."""
    module = builder.module
    rnds2 = cgutils.get_or_insert_function(module, ir.FunctionType(_V4, [_V4, _V4, _V4]), "llvm.x86.sha256rnds2")
    msg1 = cgutils.get_or_insert_function(module, ir.FunctionType(_V4, [_V4, _V4]), "llvm.x86.sha256msg1")
    msg2 = cgutils.get_or_insert_function(module, ir.FunctionType(_V4, [_V4, _V4]), "llvm.x86.sha256msg2")
    rnds2_in_order = ir.FunctionType(_V4, [_V4, _V4, _V4])
    undefined = ir.Constant(_V4, ir.Undefined)
    zero_word = ir.Constant(_I32, 0)
    chains = []
    for words, message in zip(states, blocks):
        abcd, efgh = _vector(builder, words[:4]), _vector(builder, words[4:])
        abef = _shuffle(builder, abcd, efgh, [5, 4, 1, 0])  # lanes f, e, b, a
        cdgh = _shuffle(builder, abcd, efgh, [7, 6, 3, 2])  # lanes h, g, d, c
        groups = [_vector(builder, message[4 * g : 4 * g + 4]) for g in range(4)]  # W[4g .. 4g+3]
        chains.append({"abef": abef, "cdgh": cdgh, "start": (abef, cdgh), "groups": groups, "message": message})
    for g in range(16):
        constants = ir.Constant(_V4, [ir.Constant(_I32, int(k)) for k in K[4 * g : 4 * g + 4]])
        for chain in chains:  # W[4g..4g+3] from the four groups before it, then rounds 4g, 4g+1
            groups = chain["groups"]
            if g >= 4:
                partial = builder.call(msg1, [groups[g - 4], groups[g - 3]])
                partial = builder.add(partial, _shuffle(builder, groups[g - 2], groups[g - 1], [1, 2, 3, 4]))
                groups.append(builder.call(msg2, [partial, groups[g - 1]]))
            chain["wk"] = builder.add(groups[g], constants)
            # Two rounds make the old A, B, E, F the new C, D, G, H: the vectors trade roles.
            if g == 0:  # pure, and built from words 0-1 alone: hoistable when they are loop-invariant
                low_words = builder.add(_vector(builder, chain["message"][:2] + [zero_word, zero_word]), constants)
                chain["cdgh"] = builder.call(rnds2, [chain["cdgh"], chain["abef"], low_words])
            else:
                chain["cdgh"] = builder.asm(
                    rnds2_in_order, _RNDS2_ASM, _RNDS2_CONSTRAINTS, [chain["cdgh"], chain["abef"], chain["wk"]], True
                )
        for chain in chains:  # rounds 4g+2, 4g+3 (lanes 2, 3 of wk)
            high_words = _shuffle(builder, chain["wk"], undefined, [2, 3, 0, 0])
            if g == 15:  # pure: a caller reading only C, D, G, H (word 7, say) lets LLVM drop it
                chain["abef"] = builder.call(rnds2, [chain["abef"], chain["cdgh"], high_words])
            else:
                chain["abef"] = builder.asm(
                    rnds2_in_order, _RNDS2_ASM, _RNDS2_CONSTRAINTS, [chain["abef"], chain["cdgh"], high_words], True
                )
    out = []
    for chain in chains:
        abef, cdgh = builder.add(chain["abef"], chain["start"][0]), builder.add(chain["cdgh"], chain["start"][1])
        abcd = _shuffle(builder, abef, cdgh, [3, 2, 7, 6])
        efgh = _shuffle(builder, abef, cdgh, [1, 0, 5, 4])
        out.append([builder.extract_element(v, ir.Constant(_I32, i)) for v in (abcd, efgh) for i in range(4)])
    return out


_STATE = types.UniTuple(types.uint32, 8)
_BLOCK = types.UniTuple(types.uint32, 16)


def _codegen(compressions: int):
    """Codegen for arguments (state, block) repeated ``compressions`` times."""

    def codegen(context, builder, sig, args):
        states = [[builder.extract_value(args[2 * i], j) for j in range(8)] for i in range(compressions)]
        blocks = [[builder.extract_value(args[2 * i + 1], j) for j in range(16)] for i in range(compressions)]
        out = [context.make_tuple(builder, _STATE, words) for words in _emit_compressions(builder, states, blocks)]
        return out[0] if compressions == 1 else context.make_tuple(builder, sig.return_type, out)

    return codegen


@intrinsic
def compress_ni(typingctx, state, block):
    """SHA-256 compression of ``block`` (16 uint32 words, big-endian values) into ``state``
    (8 uint32 words); returns the new state, like ``sha256_rounds.compress``."""
    if state != _STATE or block != _BLOCK:
        return None
    return _STATE(state, block), _codegen(1)


@intrinsic
def compress_ni_x2(typingctx, state_a, block_a, state_b, block_b):
    """Two independent compressions, interleaved: ``(compress_ni(state_a, block_a),
    compress_ni(state_b, block_b))``, each hiding the other's round latency."""
    if (state_a, block_a, state_b, block_b) != (_STATE, _BLOCK, _STATE, _BLOCK):
        return None
    return types.UniTuple(_STATE, 2)(state_a, block_a, state_b, block_b), _codegen(2)
