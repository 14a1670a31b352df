"""Running sums and products along an axis: ``cumsum(x, axis=0)``, ``cumprod(x, axis=1)``.
As in NumPy, with no axis the entries are taken in order, flattened, and the result is a
vector."""

from __future__ import annotations

import math

import numpy as np

from gradcheck.engine import batched as bt
from gradcheck.engine.ops.core import Keyword, Op, normal_axes
from gradcheck.engine.ops.reductions import along

AXIS = Keyword("axis", None, "int")


def _shape(shape: tuple[int, ...], *, axis=None) -> tuple[int, ...]:
    if axis is None:
        return (math.prod(shape),)
    normal_axes(len(shape), axis)
    return shape


def _cost(out, x, axis=None) -> int:
    return math.prod(x)


def _last(x: np.ndarray, axis) -> np.ndarray:
    """The running axis last: (B, ..., n); with no axis, every entry in order."""
    if axis is None:
        return bt.rows(x)
    return np.moveaxis(x, axis % (x.ndim - 1) + 1, -1)


def _back(y: np.ndarray, x: np.ndarray, axis) -> np.ndarray:
    """The inverse of ``_last``, for an argument shaped like ``x``."""
    if axis is None:
        return y.reshape(bt.adjoint_shape(y, x))
    return np.moveaxis(y, -1, axis % (x.ndim - 1) + 1)


def cumsum(x: np.ndarray, axis=None) -> np.ndarray:
    running = np.cumsum(_last(x, axis), axis=-1)
    return running if axis is None else _back(running, x, axis)


def cumsum_vjp(g, out, x, axis=None):
    """Each entry reaches the running sums from itself on: g summed from the end."""
    return _back(np.cumsum(_last(g, axis)[..., ::-1], axis=-1)[..., ::-1], x, axis)


def cumprod(x: np.ndarray, axis=None) -> np.ndarray:
    running = np.cumprod(_last(x, axis), axis=-1)
    return running if axis is None else _back(running, x, axis)


def cumprod_vjp(g, out, x, axis=None):
    """d/dx_i of sum_j g_j prod_{k<=j} x_k is (prod_{k<i} x_k) S_i, with S_i = g_i +
    x_{i+1} S_{i+1}: products of the other entries only, never out / x_i, so that an
    entry of 0 gets its true derivative."""
    xs, gs = _last(x, axis), _last(g, axis)
    before = np.cumprod(np.concatenate([np.ones_like(xs[..., :1]), xs[..., :-1]], axis=-1), axis=-1)
    shape = np.broadcast_shapes(xs.shape, gs.shape)
    later = np.empty(shape, dtype=np.result_type(xs, gs))
    later[..., -1] = gs[..., -1]
    for i in range(shape[-1] - 2, -1, -1):
        later[..., i] = gs[..., i] + xs[..., i + 1] * later[..., i + 1]
    return _back(before * later, x, axis)


def _running(combine):
    """The SymPy lowering: each running value built on the one before (shared)."""

    def lower(sp, x, axis=None):
        def run(entries):
            out = [entries[0]]
            for v in entries[1:]:
                out.append(combine(sp, out[-1], v))
            return out

        return along(x.reshape(-1), 0, run) if axis is None else along(x, axis, run)

    return lower


# fmt: off
TABLE = [
    Op("cumsum", arity=(1, 1), shape=_shape, forward=cumsum, vjps=(cumsum_vjp,),
       sympy=_running(lambda sp, a, b: sp.Add(a, b)), keywords=(AXIS,), cost=_cost,
       summary="running sum along axis (of every entry in order, flattened, by default)"),
    Op("cumprod", arity=(1, 1), shape=_shape, forward=cumprod, vjps=(cumprod_vjp,),
       sympy=_running(lambda sp, a, b: sp.Mul(a, b)), keywords=(AXIS,), cost=_cost,
       summary="running product along axis (of every entry in order, flattened, by default)"),
]
# fmt: on
