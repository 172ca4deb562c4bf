"""SHA-256 compression with the x86 SHA extensions (SHA-NI), as a Numba intrinsic.

Numba has no vector types, so ``compress_ni`` writes LLVM IR directly: the state is held as the
two 4-lane vectors the instructions expect (ABEF and CDGH), ``sha256rnds2`` does two rounds at a
time, and ``sha256msg1``/``sha256msg2`` expand the message schedule four words at a time, in the
order of Intel's reference code (Gulley et al., "Intel SHA Extensions", 2013). Called from an
``njit`` function it takes and returns plain tuples of ``uint32``, so it is checked against
hashlib like the scalar rounds; LLVM removes the tuple/vector conversions between two calls.

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


@intrinsic
def compress_ni(typingctx, state, block):
    """SHA-256 compression of ``block`` (16 uint32 words, big-endian values) into ``state``
    (8 uint32 words); returns the new state, like ``sha256_rounds.compress``."""
    if not (
        isinstance(state, types.UniTuple) and state.count == 8 and state.dtype == types.uint32
        and isinstance(block, types.UniTuple) and block.count == 16 and block.dtype == types.uint32
    ):  # fmt: skip
        return None
    signature = types.UniTuple(types.uint32, 8)(state, block)

    def codegen(context, builder, sig, args):
        module = builder.module
        rnds2 = cgutils.get_or_insert_function(module, ir.FunctionType(_V4, [_V4, _V4, _V4]), "llvm.x86.sha256rnds2")
        msg1 = cgutils.get_or_insert_function(module, ir.FunctionType(_V4, [_V4, _V4]), "llvm.x86.sha256msg1")
        msg2 = cgutils.get_or_insert_function(module, ir.FunctionType(_V4, [_V4, _V4]), "llvm.x86.sha256msg2")
        words = [builder.extract_value(args[0], i) for i in range(8)]
        message = [builder.extract_value(args[1], i) for i in range(16)]
        abcd, efgh = _vector(builder, words[:4]), _vector(builder, words[4:])
        abef = _shuffle(builder, abcd, efgh, [5, 4, 1, 0])  # lanes f, e, b, a
        cdgh = _shuffle(builder, abcd, efgh, [7, 6, 3, 2])  # lanes h, g, d, c
        abef_in, cdgh_in = abef, cdgh
        groups = [_vector(builder, message[4 * g : 4 * g + 4]) for g in range(4)]  # W[4g .. 4g+3]
        undefined = ir.Constant(_V4, ir.Undefined)
        for g in range(16):
            if g >= 4:  # W[4g..4g+3] from the four groups before it
                partial = builder.call(msg1, [groups[g - 4], groups[g - 3]])
                partial = builder.add(partial, _shuffle(builder, groups[g - 2], groups[g - 1], [1, 2, 3, 4]))
                groups.append(builder.call(msg2, [partial, groups[g - 1]]))
            constants = ir.Constant(_V4, [ir.Constant(_I32, int(k)) for k in K[4 * g : 4 * g + 4]])
            wk = builder.add(groups[g], constants)
            # Two rounds make the old A, B, E, F the new C, D, G, H: the vectors trade roles.
            cdgh = builder.call(rnds2, [cdgh, abef, wk])  # rounds 4g, 4g+1 (lanes 0, 1 of wk)
            abef = builder.call(rnds2, [abef, cdgh, _shuffle(builder, wk, undefined, [2, 3, 0, 0])])
        abef, cdgh = builder.add(abef, abef_in), builder.add(cdgh, cdgh_in)
        abcd = _shuffle(builder, abef, cdgh, [3, 2, 7, 6])
        efgh = _shuffle(builder, abef, cdgh, [1, 0, 5, 4])
        out = [builder.extract_element(v, ir.Constant(_I32, i)) for v in (abcd, efgh) for i in range(4)]
        return context.make_tuple(builder, sig.return_type, out)

    return signature, codegen
