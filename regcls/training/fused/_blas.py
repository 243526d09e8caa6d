"""The BLAS matrix product the fused kernel calls: the `sgemm_` / `dgemm_` that torch ships.

torch's CPU library exports the Fortran BLAS symbols of the BLAS it links (MKL on x86 wheels),
the library the torch path's matmuls run on. They are registered with LLVM under names of our
own, and `gemm` calls them *by name*, so compiled functions stay cacheable (a function that holds
a raw address cannot be cached; a named symbol is resolved again when a cached function loads).
Measured on the dev machine (1 thread, `[256, 16] x [16, 1024]` float32): 122-158 GFLOP/s through
this route, 58-82 through numba's `np.dot` (scipy's OpenBLAS), 18-72 for the best hand-written
numba loops (`benchmarks/NOTES.md`, round 5).
"""

from __future__ import annotations

import ctypes
import os

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_SYMBOLS = {"sgemm_": "regcls_fused_sgemm", "dgemm_": "regcls_fused_dgemm"}
_N, _T = np.uint8(ord("N")), np.uint8(ord("T"))


def register_symbols() -> None:
    """Register torch's `sgemm_` / `dgemm_` for the kernel; OSError / AttributeError when torch's
    library does not export them (the kernel is then unavailable)."""
    import torch

    folder = os.path.join(os.path.dirname(torch.__file__), "lib")
    names = [n for n in os.listdir(folder) if n.startswith("libtorch_cpu.")]
    if not names:
        raise OSError(f"no libtorch_cpu library in {folder}")
    library = ctypes.CDLL(os.path.join(folder, names[0]))
    for symbol, ours in _SYMBOLS.items():
        address = ctypes.cast(getattr(library, symbol), ctypes.c_void_p).value
        llvm.add_symbol(ours, address)


@intrinsic
def _fortran_gemm(typingctx, ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc):
    """`c = op(a) op(b) + beta c` in column-major (Fortran) BLAS convention, alpha = 1."""
    sig = types.void(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc)
    single = a.dtype == types.float32

    def codegen(context, builder, signature, args):
        real = ir.FloatType() if single else ir.DoubleType()
        int32, char = ir.IntType(32), ir.IntType(8)
        pointers = [char, char, int32, int32, int32, real, real, int32, real, int32]
        pointers += [real, real, int32]
        fnty = ir.FunctionType(ir.VoidType(), [t.as_pointer() for t in pointers])
        name = _SYMBOLS["sgemm_" if single else "dgemm_"]
        fn = cgutils.get_or_insert_function(builder.module, fnty, name)

        def ref(value, ty):  # Fortran takes every argument by reference
            slot = cgutils.alloca_once(builder, ty)
            builder.store(value, slot)
            return slot

        def integer(i):
            return ref(builder.trunc(args[i], int32), int32)

        def data(i):
            return context.make_array(signature.args[i])(context, builder, args[i]).data

        dtype = signature.args[5].dtype
        one = ref(context.get_constant(dtype, 1.0), real)
        beta_value = context.cast(builder, args[9], signature.args[9], dtype)
        call_args = [ref(args[0], char), ref(args[1], char), integer(2), integer(3), integer(4)]
        call_args += [one, data(5), integer(6), data(7), integer(8), ref(beta_value, real)]
        call_args += [data(10), integer(11)]
        builder.call(fn, call_args)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def gemm(a, trans_a, b, trans_b, c, beta):
    """Row-major `c[M, N] = op(a) @ op(b) + beta * c`, op = transpose when `trans_*`; every
    operand has unit stride along its last axis (any row stride)."""
    m, n = c.shape
    k = a.shape[0] if trans_a else a.shape[1]
    if m == 0 or n == 0:
        return
    size = a.itemsize
    # Row-major c = op(a) op(b) is column-major c^T = op(b)^T op(a)^T: swap the operands.
    _fortran_gemm(
        _T if trans_b else _N,
        _T if trans_a else _N,
        n,
        m,
        k,
        b,
        b.strides[0] // size,
        a,
        a.strides[0] // size,
        beta,
        c,
        c.strides[0] // size,
    )
