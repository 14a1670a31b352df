"""Products: ``@`` (batched as NumPy's matmul), dot, outer and kron, each for every
batch entry; the leading axes of ``@`` broadcast as NumPy's do."""

from __future__ import annotations

import math

import numpy as np

from gradcheck.engine import batched as bt
from gradcheck.engine.ops.core import Op, broadcast_shape

# ---------------------------------------------------------------- shape rules


def matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's matmul: the last two axes multiply, the leading ones broadcast; a vector
    is promoted to a matrix (a row on the left, a column on the right) and dropped after."""
    if not a or not b:
        raise ValueError("@ needs arrays on both sides; use * to multiply by a scalar")
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ValueError(f"the inner dimensions differ ({a2[-1]} vs {b2[-2]})")
    try:
        lead = broadcast_shape(a2[:-2], b2[:-2])
    except ValueError:
        raise ValueError(
            f"the leading (batch) axes {a2[:-2]} and {b2[:-2]} do not broadcast"
        ) from None
    rows = (a2[-2],) if len(a) > 1 else ()
    columns = (b2[-1],) if len(b) > 1 else ()
    return (*lead, *rows, *columns)


def _matmul_cost(out: tuple[int, ...], a: tuple[int, ...], b: tuple[int, ...]) -> int:
    return max(math.prod(out), 1) * a[-1]


def _dot_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if a != b:
        raise ValueError("dot needs two arrays of the same shape")
    return ()


def _outer_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return (math.prod(a), math.prod(b))


# ---------------------------------------------------------------- matrix products


def _promoted(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectors promoted as NumPy's matmul does (a row on the left, a column on the
    right), and both given as many axes, inserted after the batch axis, so that their
    leading axes broadcast as the nodes' do."""
    a2 = a[:, None, :] if a.ndim == 2 else a
    b2 = b[..., None] if b.ndim == 2 else b
    rank = max(a2.ndim, b2.ndim)
    return _lined_up(a2, rank), _lined_up(b2, rank)


def _lined_up(x: np.ndarray, rank: int) -> np.ndarray:
    return x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:])


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for each batch entry, vectors promoted and the promoted axes dropped."""
    out = np.matmul(*_promoted(a, b))
    if b.ndim == 2:
        out = out[..., 0]
    if a.ndim == 2:
        out = out[..., 0, :] if b.ndim > 2 else out[..., 0]
    return out


def _promoted_g(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The upstream gradient with the axes ``matmul`` dropped put back."""
    if a.ndim == 2 and b.ndim == 2:
        return g[..., None, None]
    if a.ndim == 2:
        return g[..., None, :]
    if b.ndim == 2:
        return g[..., None]
    return g


def _back_to(g: np.ndarray, x: np.ndarray, promoted: tuple[int, ...]) -> np.ndarray:
    """A promoted operand's gradient summed over the axes it was broadcast along."""
    return bt.sum_to(g, promoted).reshape(g.shape[:1] + x.shape[1:])


def matmul_vjp_a(g, out, a, b):
    """d(a @ b) / da, applied to g: g @ b^T."""
    if a.ndim == 3 and b.ndim == 2:  # matrix @ vector: the gradient is an outer product,
        return g[:, :, None] * b[:, None, :]  # which matmul with inner size 1 does slowly
    _, b2 = _promoted(a, b)
    promoted = (1, *a.shape[1:]) if a.ndim == 2 else a.shape[1:]
    return _back_to(_promoted_g(g, a, b) @ bt.swap(b2), a, promoted)


def matmul_vjp_b(g, out, a, b):
    """d(a @ b) / db, applied to g: a^T @ g."""
    a2, _ = _promoted(a, b)
    promoted = (*b.shape[1:], 1) if b.ndim == 2 else b.shape[1:]
    return _back_to(bt.swap(a2) @ _promoted_g(g, a, b), b, promoted)


def sym_matmul(sp, a, b):
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    lead = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    a2 = np.broadcast_to(a2, (*lead, *a2.shape[-2:]))
    b2 = np.broadcast_to(b2, (*lead, *b2.shape[-2:]))
    out = np.empty((*lead, a2.shape[-2], b2.shape[-1]), dtype=object)
    for *at, i, j in np.ndindex(out.shape):
        out[(*at, i, j)] = sp.Add(*(a2[(*at, i, k)] * b2[(*at, k, j)] for k in range(a2.shape[-1])))
    if b.ndim == 1:
        out = out[..., 0]
    if a.ndim == 1:
        out = out[..., 0, :] if b.ndim > 1 else out[..., 0]
    return np.asarray(out, dtype=object)


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum(a * b) for each batch entry."""
    return np.sum(bt.rows(a * b), axis=1)


def _sym_dot(sp, a, b):
    return np.asarray(sp.Add(*(u * v for u, v in zip(a.flat, b.flat))), dtype=object)


def outer(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The outer product of the flattened a and b, for each batch entry."""
    return bt.rows(a)[:, :, None] * bt.rows(b)[:, None, :]


def _sym_outer(sp, a, b):
    return np.array([[u * v for v in b.flat] for u in a.flat], dtype=object)


# ---------------------------------------------------------------- kron


def _kron_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's kron: the shorter shape padded with ones in front, the lengths multiplied."""
    rank = max(len(a), len(b))
    a, b = (1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b
    return tuple(p * q for p, q in zip(a, b))


def _interleaved(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a and b at one rank, their axes interleaved: (B, a1, 1, a2, 1, ...) and
    (B, 1, b1, 1, b2, ...), so that their product is each block of the kron."""
    rank = max(a.ndim, b.ndim)
    a, b = _lined_up(a, rank), _lined_up(b, rank)
    a2 = a.reshape(a.shape[:1] + tuple(d for n in a.shape[1:] for d in (n, 1)))
    b2 = b.reshape(b.shape[:1] + tuple(d for n in b.shape[1:] for d in (1, n)))
    return a2, b2


def kron(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The Kronecker product for each batch entry."""
    a2, b2 = _interleaved(a, b)
    blocks = a2 * b2
    pairs = zip(blocks.shape[1::2], blocks.shape[2::2])
    return blocks.reshape(blocks.shape[:1] + tuple(p * q for p, q in pairs))


def kron_vjp(k: int):
    """The VJP for argument k: each block of g times the other factor, summed."""

    def rule(g, out, a, b):
        a2, b2 = _interleaved(a, b)
        blocks = g.reshape(g.shape[:1] + tuple(np.maximum(a2.shape, b2.shape)[1:]))
        other, summed = (b2, range(2, blocks.ndim, 2)) if k == 0 else (a2, range(1, blocks.ndim, 2))
        contribution = np.sum(blocks * other, axis=tuple(summed))
        return contribution.reshape(contribution.shape[:1] + (a, b)[k].shape[1:])

    return rule


def _sym_kron(sp, a, b):
    return kron(a[None], b[None])[0]  # entry by entry, so it takes object arrays as is


# fmt: off
TABLE = [
    Op("dot", arity=(2, 2), shape=_dot_shape, forward=dot, sympy=_sym_dot,
       summary="sum(a * b) for two arrays of the same shape",
       vjps=(lambda g, o, a, b: bt.per_entry(g, b) * b,
             lambda g, o, a, b: bt.per_entry(g, a) * a)),
    Op("outer", arity=(2, 2), shape=_outer_shape, forward=outer, sympy=_sym_outer,
       summary="outer product of the flattened a and b",
       vjps=(lambda g, o, a, b: np.sum(g * bt.rows(b)[:, None, :], axis=2).reshape(
                 bt.adjoint_shape(g, a)),
             lambda g, o, a, b: np.sum(g * bt.rows(a)[:, :, None], axis=1).reshape(
                 bt.adjoint_shape(g, b)))),
    Op("matmul", arity=(2, 2), shape=matmul_shape, forward=matmul, sympy=sym_matmul,
       summary="a @ b, batched on leading axes as NumPy's matmul",
       vjps=(matmul_vjp_a, matmul_vjp_b), public=False, cost=_matmul_cost),
    Op("kron", arity=(2, 2), shape=_kron_shape, forward=kron, sympy=_sym_kron,
       summary="Kronecker product (NumPy's kron: the shorter shape padded with ones in front)",
       vjps=(kron_vjp(0), kron_vjp(1))),
]
# fmt: on
