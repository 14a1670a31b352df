"""Linear algebra: products, transpose, trace, determinant and inverse."""

from __future__ import annotations

import math

import numpy as np

from gradcheck.engine import batched as bt
from gradcheck.engine.ops.core import Op


def _square(shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError("it needs a square matrix")
    return shape


def _square_to_scalar(shape: tuple[int, ...]) -> tuple[int, ...]:
    _square(shape)
    return ()


def _matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if not a or not b:
        raise ValueError("@ needs arrays on both sides; use * to multiply by a scalar")
    inner_a = a[-1]
    inner_b = b[0] if len(b) == 1 else b[-2]
    if inner_a != inner_b:
        raise ValueError(f"the inner dimensions differ ({inner_a} vs {inner_b})")
    return a[:-1] + b[1:]


def _dot_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if a != b:
        raise ValueError("dot needs two arrays of the same shape")
    return ()


def _outer_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return (math.prod(a), math.prod(b))


def _sym_dot(sp, a, b):
    return np.asarray(sp.Add(*(u * v for u, v in zip(a.flat, b.flat))), dtype=object)


def _sym_outer(sp, a, b):
    return np.array([[u * v for v in b.flat] for u in a.flat], dtype=object)


def _sym_matmul(sp, a, b):
    a2 = a if a.ndim == 2 else a.reshape(1, -1)
    b2 = b if b.ndim == 2 else b.reshape(-1, 1)
    out = np.empty((a2.shape[0], b2.shape[1]), dtype=object)
    for i in range(a2.shape[0]):
        for j in range(b2.shape[1]):
            out[i, j] = sp.Add(*(a2[i, k] * b2[k, j] for k in range(a2.shape[1])))
    if b.ndim == 1:
        out = out[:, 0]
    if a.ndim == 1:
        out = out[0]
    return np.asarray(out, dtype=object)


def _sym_trace(sp, a):
    return np.asarray(sp.Add(*np.diagonal(a)), dtype=object)


def _sym_det(sp, a):
    with sp.evaluate(True):  # matrix algorithms need canonical forms to cancel terms
        return np.asarray(sp.Matrix(a.tolist()).det(method="berkowitz"), dtype=object)


def _sym_inv(sp, a):
    with sp.evaluate(True):
        inverse = sp.Matrix(a.tolist()).inv(method="ADJ")
    return np.array(inverse.tolist(), dtype=object).reshape(a.shape)


# fmt: off
TABLE = [
    # linear algebra
    Op("dot", arity=(2, 2), shape=_dot_shape, forward=bt.dot, sympy=_sym_dot,
       summary="sum(a * b) for two arrays of the same shape", vjps=(bt.dot_vjp_a, bt.dot_vjp_b)),
    Op("outer", arity=(2, 2), shape=_outer_shape, forward=bt.outer, sympy=_sym_outer,
       summary="outer product of the flattened a and b", vjps=(bt.outer_vjp_a, bt.outer_vjp_b)),
    Op("matmul", arity=(2, 2), shape=_matmul_shape, forward=bt.matmul, sympy=_sym_matmul,
       summary="a @ b", vjps=(bt.matmul_vjp_a, bt.matmul_vjp_b), public=False),
    Op("transpose", arity=(1, 1), shape=lambda s: s[::-1], forward=bt.reverse_axes,
       sympy=lambda sp, x: x.T, summary="x.T, every axis reversed",
       vjps=(lambda g, o, x: bt.reverse_axes(g),)),  # reversing twice is the identity
    Op("trace", arity=(1, 1), shape=_square_to_scalar, forward=bt.trace, sympy=_sym_trace,
       summary="sum of the diagonal", vjps=(bt.trace_vjp,)),
    Op("det", arity=(1, 1), shape=_square_to_scalar, forward=bt.det, sympy=_sym_det,
       summary="determinant", vjps=(bt.det_vjp,)),
    Op("inv", arity=(1, 1), shape=_square, forward=bt.inv, sympy=_sym_inv,
       summary="matrix inverse", vjps=(bt.inv_vjp,)),
]
# fmt: on
