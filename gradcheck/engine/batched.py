"""Array operations over a leading batch axis: the plumbing that keeps the op table short.

Every value the graph handles has shape ``(B, *shape)``: ``B`` points evaluated at once,
``B == 1`` broadcasting against any ``B``. The helpers here reshape upstream gradients and
operands around that axis, and compute the batched kernels (matrix products, softmax,
determinants, indexing) whose rules would not fit on one line of ``ops.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class DomainError(Exception):
    """An operation that has no value at the point (singular matrix, index out of range)."""


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


def spread(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A per-row scalar gradient given to every entry of x (the VJP of a sum)."""
    return np.broadcast_to(per_entry(g, x), adjoint_shape(g, x))


def reverse_axes(x: np.ndarray) -> np.ndarray:
    """NumPy's ``x.T`` for each batch entry: every axis reversed but the batch axis."""
    return np.transpose(x, (0, *range(x.ndim - 1, 0, -1)))


def swap(m: np.ndarray) -> np.ndarray:
    """Each matrix transposed (the last two axes swapped)."""
    return np.swapaxes(m, -1, -2)


# ---------------------------------------------------------------- matrix products


def as_matrices(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectors promoted as NumPy's matmul does: a row on the left, a column on the right."""
    return (a[:, None, :] if a.ndim == 2 else a), (b[:, :, None] if b.ndim == 2 else b)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for each batch entry, vectors promoted and the promoted axes dropped."""
    a2, b2 = as_matrices(a, b)
    out = a2 @ b2
    if b.ndim == 2:
        out = out[..., 0]
    if a.ndim == 2:
        out = out[..., 0, :] if b.ndim > 2 else out[..., 0]
    return out


def matmul_g(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The upstream gradient reshaped to the promoted (matrix) product's shape."""
    if a.ndim == 2 and b.ndim == 2:
        return g[:, None, None]
    if a.ndim == 2:
        return g[:, None, :]
    if b.ndim == 2:
        return g[:, :, None]
    return g


def matmul_vjp_a(g, out, a, b):
    """d(a @ b) / da, applied to g: g @ b^T."""
    if a.ndim == 3 and b.ndim == 2:  # matrix @ vector: the gradient is an outer product,
        return g[:, :, None] * b[:, None, :]  # which matmul with inner size 1 does slowly
    _, b2 = as_matrices(a, b)
    return (matmul_g(g, a, b) @ swap(b2)).reshape(adjoint_shape(g, a))


def matmul_vjp_b(g, out, a, b):
    """d(a @ b) / db, applied to g: a^T @ g."""
    a2, _ = as_matrices(a, b)
    return (swap(a2) @ matmul_g(g, a, b)).reshape(adjoint_shape(g, b))


def outer(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The outer product of the flattened a and b, for each batch entry."""
    return rows(a)[:, :, None] * rows(b)[:, None, :]


def outer_vjp_a(g, out, a, b):
    return np.sum(g * rows(b)[:, None, :], axis=2).reshape(adjoint_shape(g, a))


def outer_vjp_b(g, out, a, b):
    return np.sum(g * rows(a)[:, :, None], axis=1).reshape(adjoint_shape(g, b))


# ---------------------------------------------------------------- reductions


def total(x: np.ndarray) -> np.ndarray:
    """The sum of each batch entry's entries."""
    return np.sum(rows(x), axis=1)


def mean(x: np.ndarray) -> np.ndarray:
    """The mean of each batch entry's entries."""
    return np.mean(rows(x), axis=1)


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum(a * b) for each batch entry."""
    return total(a * b)


def dot_vjp_a(g, out, a, b):
    return per_entry(g, b) * b


def dot_vjp_b(g, out, a, b):
    return per_entry(g, a) * a


def norm(x: np.ndarray) -> np.ndarray:
    """The Euclidean (Frobenius) norm of each batch entry."""
    return np.sqrt(np.sum(rows(x) ** 2, axis=1))


def logsumexp(x: np.ndarray) -> np.ndarray:
    """log(sum(exp(x))) of each batch entry, shifted by its largest entry to stay in range."""
    flat = rows(x)
    top = np.max(flat.real, axis=1)  # complex step: the real part's largest
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.sum(np.exp(flat - top[:, None]), axis=1))


def logsumexp_vjp(g, out, x):
    """g times softmax(x), the gradient of logsumexp."""
    return per_entry(g, x) * np.exp(x - per_entry(out, x))


def softmax(x: np.ndarray) -> np.ndarray:
    """exp(x) / sum(exp(x)) over each batch entry's entries, shifted to stay in range."""
    flat = rows(x)
    shifted = np.exp(flat - np.max(flat.real, axis=1, keepdims=True))
    return (shifted / np.sum(shifted, axis=1, keepdims=True)).reshape(x.shape)


def softmax_vjp(g, out, x):
    """softmax's Jacobian (diag(s) - s s^T) applied to g, without forming it."""
    return out * (g - per_entry(np.sum(rows(g * out), axis=1), out))


# ---------------------------------------------------------------- linear algebra


def lapack(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """np.linalg takes float32/64 and complex only; other types (extended precision) go
    through float64, losing their extra digits in this one operation."""

    def call(a: np.ndarray) -> np.ndarray:
        if a.dtype in (np.float32, np.float64, np.complex64, np.complex128):
            return fn(a)
        return fn(a.astype(np.float64)).astype(a.dtype)

    return call


det = lapack(np.linalg.det)


@lapack
def inv(a: np.ndarray) -> np.ndarray:
    """Each matrix's inverse."""
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise DomainError("the matrix is singular") from None


def cofactors(a: np.ndarray) -> np.ndarray:
    """Cofactor matrices, the derivative of det that exists even for singular matrices."""
    n = a.shape[-1]
    out = np.empty(a.shape, dtype=a.dtype)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, axis=-2), j, axis=-1)
            out[..., i, j] = (-1) ** (i + j) * (det(minor) if n > 1 else 1.0)
    return out


def det_vjp(g, out, a):
    return per_entry(g, a) * cofactors(a)


def inv_vjp(g, out, a):
    return -swap(out) @ g @ swap(out)


def trace(a: np.ndarray) -> np.ndarray:
    """The sum of each matrix's diagonal."""
    return np.trace(a, axis1=-2, axis2=-1)


def trace_vjp(g, out, a):
    return per_entry(g, a) * np.eye(a.shape[-1])


# ---------------------------------------------------------------- lists and indexing


def stack(*items: np.ndarray) -> np.ndarray:
    """[a, b, c]: the items along a new axis after the batch axis."""
    return np.stack(np.broadcast_arrays(*items), axis=1)


class EachItem:
    """stack's VJPs, one per item however many: item i gets slice i of the gradient."""

    def __getitem__(self, i: int) -> Callable[..., np.ndarray]:
        return lambda g, out, *items: g[:, i]


def index_arrays(x: np.ndarray, idx: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Validated integer index arrays, one per indexed axis, plus the batch rows."""
    batch = max([x.shape[0], *(i.shape[0] for i in idx)])
    ints = []
    for axis, raw in enumerate(idx):
        values = np.real(np.broadcast_to(raw, (batch,)))
        rounded = np.round(values)
        if not np.all(values == rounded):
            raise DomainError(f"index {values[values != rounded][0]:g} is not an integer")
        size = x.shape[axis + 1]
        if np.any((rounded < -size) | (rounded >= size)):
            bad = rounded[(rounded < -size) | (rounded >= size)][0]
            raise DomainError(f"index {bad:g} is out of range for an axis of length {size}")
        ints.append(rounded.astype(np.intp))
    return (np.arange(batch), *ints)


def index(x, *idx):
    """x[i, j] for each batch entry (the indices may differ from entry to entry)."""
    where = index_arrays(x, idx)
    return np.broadcast_to(x, (len(where[0]), *x.shape[1:]))[where]


def index_vjp(g, out, x, *idx):
    where = index_arrays(x, idx)
    grad = np.zeros((len(where[0]), *x.shape[1:]))
    np.add.at(grad, where, g)
    return grad


def no_gradient(g, out, *args):
    raise AssertionError("index positions are never differentiated")
