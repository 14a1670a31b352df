"""The batch axis: the plumbing that keeps the op table reading as the maths.

Every value the graph handles has shape ``(B, *shape)``: ``B`` points evaluated at once,
``B == 1`` broadcasting against any ``B``. The helpers here name a node's axes on such
arrays (``axis=0`` of a node is axis 1 of its value), reshape upstream gradients around
that axis, and validate integer labels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gradcheck.errors import DomainError

# ---------------------------------------------------------------- the batch axis


def rows(x: np.ndarray) -> np.ndarray:
    """One row per batch entry: (B, *shape) -> (B, size)."""
    return x.reshape(x.shape[0], -1)


def per_entry(g: np.ndarray, like: np.ndarray) -> np.ndarray:
    """A per-row scalar (B,) reshaped to broadcast against (B, *shape)."""
    return g.reshape(g.shape + (1,) * (like.ndim - 1))


def adjoint_shape(g: np.ndarray, x: np.ndarray) -> tuple[int, ...]:
    """The shape of x's adjoint: the upstream gradient's batch, x's entries."""
    return g.shape[:1] + x.shape[1:]


def batch_of(*arrays: np.ndarray) -> int:
    """The batch size of several arrays together."""
    return max(a.shape[0] for a in arrays)


def to_batch(x: np.ndarray, batch: int) -> np.ndarray:
    """x with its batch axis stretched to ``batch`` (a view)."""
    return np.broadcast_to(x, (batch, *x.shape[1:]))


def reshape_like(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The gradient of an op that only reshapes: the same entries, in x's shape."""
    return g.reshape(adjoint_shape(g, x))


def swap(m: np.ndarray) -> np.ndarray:
    """Each matrix transposed (the last two axes swapped)."""
    return np.swapaxes(m, -1, -2)


# ---------------------------------------------------------------- axes


def axes(x: np.ndarray, axis) -> tuple[int, ...]:
    """The axes of the batched ``x`` that a node's ``axis`` names (None: all but the
    batch axis); ``axis`` was validated when the expression was typed."""
    ndim = x.ndim - 1
    if axis is None:
        return tuple(range(1, x.ndim))
    items = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(a % ndim + 1 for a in items))


def count(x: np.ndarray, axis) -> int:
    """How many entries a reduction along ``axis`` combines into each of its outputs."""
    n = 1
    for a in axes(x, axis):
        n *= x.shape[a]
    return n


def kept(g: np.ndarray, x: np.ndarray, axis, keepdims: bool = False) -> np.ndarray:
    """A reduction's value or gradient, (B, *out), with length-1 axes where ``x``'s were
    reduced, so that it broadcasts against ``x``."""
    return g if keepdims else np.expand_dims(g, axes(x, axis))


def spread(g: np.ndarray, x: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
    """A reduction's gradient given to every entry it combined (the VJP of a sum)."""
    return np.broadcast_to(kept(g, x, axis, keepdims), adjoint_shape(g, x))


def _order(ndim: int, reduced: tuple[int, ...]) -> list[int]:
    """The batch axis, the kept axes, then the reduced ones."""
    return [0, *(a for a in range(1, ndim) if a not in reduced), *reduced]


def to_last(x: np.ndarray, axis) -> np.ndarray:
    """The entries each output of a reduction combines, on one last axis: (B, *kept, n)."""
    reduced = axes(x, axis)
    moved = np.transpose(x, _order(x.ndim, reduced))
    return moved.reshape(*moved.shape[: x.ndim - len(reduced)], -1)


def from_last(y: np.ndarray, x: np.ndarray, axis) -> np.ndarray:
    """The inverse of ``to_last``: (B, *kept, n) back to the layout of ``x``."""
    reduced = axes(x, axis)
    order = _order(x.ndim, reduced)
    shape = [y.shape[0], *(x.shape[a] for a in order[1:])]
    return np.transpose(y.reshape(shape), np.argsort(order))


def sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast gradient (B, *bigger) back to (B, *shape): the leading axes it
    gained and the length-1 axes it stretched (NumPy broadcasting, undone)."""
    extra = g.ndim - 1 - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(1, 1 + extra)))
    stretched = tuple(
        1 + axis for axis, length in enumerate(shape) if length == 1 and g.shape[1 + axis] != 1
    )
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return np.broadcast_to(g, g.shape[:1] + shape)


# ---------------------------------------------------------------- labels


def labels(raw: np.ndarray, bound: int, what: str = "index") -> np.ndarray:
    """Integer labels from their float values, each in ``[-bound, bound)``.

    Raises:
        DomainError: a value that is not an integer, or out of range.
    """
    values = np.real(raw)
    rounded = np.round(values)
    if not np.all(values == rounded):
        bad = values[values != rounded].flat[0]
        raise DomainError(f"{what} {bad:g} is not an integer")
    outside = (rounded < -bound) | (rounded >= bound)
    if np.any(outside):
        raise DomainError(
            f"{what} {rounded[outside].flat[0]:g} is out of range for an axis of length {bound}"
        )
    return rounded.astype(np.intp)


def no_gradient(k: int) -> Callable[..., np.ndarray]:
    """The VJP for argument ``k`` when it is a label, never differentiated (a small move
    changes nothing): zeros."""
    return lambda g, out, *args, **params: np.zeros(adjoint_shape(g, args[k]))


# ---------------------------------------------------------------- LAPACK


def lapack(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """np.linalg takes float32/64 and complex only; other types (extended precision) go
    through float64, losing their extra digits in this one operation."""

    def call(a: np.ndarray) -> np.ndarray:
        if a.dtype in (np.float32, np.float64, np.complex64, np.complex128):
            return fn(a)
        return fn(a.astype(np.float64)).astype(a.dtype)

    return call
