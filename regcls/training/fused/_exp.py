"""A vectorisable `exp` for the kernel's softmax (numba vectorises `math.exp` only with Intel's
SVML, which is not a dependency): Cody-Waite range reduction, a Taylor polynomial and the
power of two written into the exponent bits. Accurate to ~1 ulp for x <= 0 (the shifted
logits); NaN in, NaN out (a diverging model must keep a non-finite loss)."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

_LOG2E = 1.4426950408889634
# ln 2 split so that k * _LN2_HI is exact for the |k| of the clamped range.
_LN2_HI_64, _LN2_LO_64 = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_LN2_HI_32, _LN2_LO_32 = np.float32(0.693359375), np.float32(-2.12194440e-4)
_MIN_64, _MIN_32 = -708.0, np.float32(-87.0)  # 2^k stays a normal number
# 1/n! for n = 13 .. 0 (float64: |r| <= ln2 / 2 gives a truncation error < 1e-17).
_TAYLOR_64 = tuple(1.0 / float(np.prod(np.arange(1, n + 1))) for n in range(13, -1, -1))
_C32 = tuple(np.float32(1.0 / float(np.prod(np.arange(1, n + 1)))) for n in range(7, -1, -1))
_LOG2E_32, _HALF_32 = np.float32(_LOG2E), np.float32(0.5)


@intrinsic
def _as_float64(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _as_float32(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


def exp_neg(x):
    """e^x for x <= 0 (or NaN), in x's own precision; usable from jitted code only."""
    raise NotImplementedError("exp_neg runs inside numba-compiled code")


@overload(exp_neg, inline="always", fastmath={"contract"})
def _exp_neg(x):
    if x == types.float32:
        return _exp32
    return _exp64


def _exp64(x):
    x = x if not x < _MIN_64 else _MIN_64  # NaN passes
    k = np.floor(x * _LOG2E + 0.5)
    r = (x - k * _LN2_HI_64) - k * _LN2_LO_64
    p = _TAYLOR_64[0]
    for c in _TAYLOR_64[1:]:
        p = p * r + c
    return p * _as_float64((np.int64(k) + 1023) << 52)


def _exp32(x):
    x = x if not x < _MIN_32 else _MIN_32
    k = np.floor(x * _LOG2E_32 + _HALF_32)
    r = (x - k * _LN2_HI_32) - k * _LN2_LO_32
    p = _C32[0]
    for c in _C32[1:]:
        p = p * r + c
    return p * _as_float32((np.int32(k) + np.int32(127)) << np.int32(23))
