"""Arrays made by repeating entries or masking them (repeat, tile, diag, triu, tril), and
from nothing: the constructors zeros, ones, eye and arange (constants, never
differentiated; their arguments are integer literals)."""

from __future__ import annotations

import math

import numpy as np

from gradcheck.engine import batched as bt
from gradcheck.engine.ops.core import REQUIRED, Keyword, Op, free, ints_of, normal_axes, positive

# ---------------------------------------------------------------- repeat, tile


def _repeats(n: int, repeats) -> np.ndarray:
    """How often each of ``n`` entries is repeated."""
    return np.broadcast_to(np.array(ints_of(repeats)), (n,))


def _repeat_shape(shape, *, repeats, axis=None):
    """The length along the axis becomes the sum of the counts (in Python integers: a
    count near 2**62 must reach the entry limit, not wrap around)."""
    counts = ints_of(repeats)
    a = None if axis is None else normal_axes(len(shape), axis)[0]
    n = math.prod(shape) if a is None else shape[a]
    if len(counts) not in (1, n):
        raise ValueError(f"repeats={repeats} must be one count, or one for each of {n} entries")
    if any(c < 0 for c in counts):
        raise ValueError("repeats cannot be negative")
    length = counts[0] * n if len(counts) == 1 else sum(counts)
    if a is None:
        return positive((length,), "the result's shape")
    return positive((*shape[:a], length, *shape[a + 1 :]), "the result's shape")


def _repeat_along(x, repeats, axis):
    """x (flattened when axis is None) and the batched axis the repeats run along."""
    if axis is None:
        return bt.rows(x), 1
    return x, axis % (x.ndim - 1) + 1


def _repeat(x, repeats, axis=None):
    values, a = _repeat_along(x, repeats, axis)
    return np.repeat(values, _repeats(values.shape[a], repeats), axis=a)


def _repeat_vjp(g, out, x, repeats, axis=None):
    """Each entry's gradient is the sum over its copies."""
    values, a = _repeat_along(x, repeats, axis)
    source = np.repeat(np.arange(values.shape[a]), _repeats(values.shape[a], repeats))
    moved = np.moveaxis(g, a, -1)
    total = np.zeros((*moved.shape[:-1], values.shape[a]), dtype=g.dtype)
    np.add.at(total, (Ellipsis, source), moved)
    return np.moveaxis(total, -1, a).reshape(bt.adjoint_shape(g, x))


def _tiled(shape, reps) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """NumPy's tile: x promoted to as many axes as reps (and reps to as many as x)."""
    reps = ints_of(reps)
    if any(r < 1 for r in reps):
        raise ValueError(f"reps={reps} must be at least 1 each")
    rank = max(len(shape), len(reps))
    return (1,) * (rank - len(shape)) + tuple(shape), (1,) * (rank - len(reps)) + reps


def _tile_shape(shape, *, reps):
    promoted, reps = _tiled(shape, reps)
    return tuple(n * r for n, r in zip(promoted, reps))


def _tile(x, reps):
    promoted, reps = _tiled(x.shape[1:], reps)
    return np.tile(x.reshape(x.shape[:1] + promoted), (1, *reps))


def _tile_vjp(g, out, x, reps):
    promoted, reps = _tiled(x.shape[1:], reps)
    split = [g.shape[0]] + [n for pair in zip(reps, promoted) for n in pair]
    summed = g.reshape(split).sum(axis=tuple(range(1, len(split), 2)))
    return summed.reshape(bt.adjoint_shape(g, x))


# ---------------------------------------------------------------- diag, triu, tril


def _diagonal(n_rows: int, n_cols: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions of the k-th diagonal of an n_rows x n_cols matrix."""
    length = max(0, min(n_rows + min(k, 0), n_cols - max(k, 0)))
    i = np.arange(length)
    return i + max(-k, 0), i + max(k, 0)


def _diag_shape(shape, *, k=0):
    if len(shape) == 1:
        return (shape[0] + abs(k),) * 2
    if len(shape) != 2:
        raise ValueError("diag takes a vector (to make a matrix) or a matrix (to read one)")
    rows, _ = _diagonal(*shape, k)
    if not len(rows):
        raise ValueError(f"a {shape[0]}x{shape[1]} matrix has no diagonal k={k}")
    return (len(rows),)


def _diag(x, k=0):
    if x.ndim == 3:
        rows, cols = _diagonal(x.shape[1], x.shape[2], k)
        return x[:, rows, cols]
    n = x.shape[1] + abs(k)
    rows, cols = _diagonal(n, n, k)
    out = np.zeros((x.shape[0], n, n), dtype=x.dtype)
    out[:, rows, cols] = x
    return out


def _diag_vjp(g, out, x, k=0):
    if x.ndim == 2:
        rows, cols = _diagonal(g.shape[1], g.shape[2], k)
        return g[:, rows, cols]
    rows, cols = _diagonal(x.shape[1], x.shape[2], k)
    grad = np.zeros(bt.adjoint_shape(g, x), dtype=g.dtype)
    grad[:, rows, cols] = g
    return grad


def _sym_diag(sp, x, k=0):
    if x.ndim == 2:
        rows, cols = _diagonal(*x.shape, k)
        return x[rows, cols]
    n = x.shape[0] + abs(k)
    rows, cols = _diagonal(n, n, k)
    out = np.full((n, n), sp.Integer(0), dtype=object)
    out[rows, cols] = x
    return out


def _matrices(shape, *, k=0):
    if len(shape) < 2:
        raise ValueError("it needs a matrix (or a stack of matrices)")
    return shape


def triangle(upper: bool):
    """triu (upper) or tril: the entries on and above (below) the k-th diagonal."""
    mask_of = np.triu if upper else np.tril

    def mask(shape, k):
        return mask_of(np.ones(shape[-2:], dtype=bool), k)

    forward = lambda x, k=0: np.where(mask(x.shape, k), x, 0)  # noqa: E731
    vjp = lambda g, out, x, k=0: np.where(mask(x.shape, k), g, 0)  # noqa: E731
    lower = lambda sp, x, k=0: np.where(mask(x.shape, k), x, sp.Integer(0))  # noqa: E731
    return forward, (vjp,), lower


# ---------------------------------------------------------------- constructors


def _arange(start, stop=None, step=1) -> range:
    if step == 0:
        raise ValueError("the step of arange cannot be 0")
    return range(start, stop, step) if stop is not None else range(0, start, step)


def constructor(name, *, make, shape, keywords, summary) -> Op:
    """A constant array built from integer literals: never differentiated. ``shape``
    gives its shape without building it (the entry limit is checked before)."""
    value = lambda **params: np.asarray(make(**params), dtype=float)  # noqa: E731

    def lower(sp, **params):
        return np.frompyfunc(lambda v: sp.Integer(int(v)), 1, 1)(value(**params))

    return Op(
        name,
        (0, 0),
        lambda **params: positive(shape(**params), "the result's shape"),
        lambda **params: value(**params)[None],
        (),
        lower,
        summary=summary,
        keywords=keywords,
        cost=free,
    )


def _filled(fill):
    return lambda shape: np.full(ints_of(shape), fill)


SHAPE = Keyword("shape", REQUIRED, "ints", positional=True)
K = Keyword("k", 0, "int", positional=True)
TRIU, TRIL = triangle(upper=True), triangle(upper=False)

# fmt: off
TABLE = [
    Op("repeat", (1, 1), _repeat_shape, _repeat, (_repeat_vjp,),
       lambda sp, x, repeats, axis=None: np.repeat(x, repeats, axis=axis), cost=free,
       keywords=(Keyword("repeats", REQUIRED, "ints", positional=True),
                 Keyword("axis", None, "int", positional=True)),
       summary="each entry repeated along axis (flattened by default)"),
    Op("tile", (1, 1), _tile_shape, _tile, (_tile_vjp,),
       lambda sp, x, reps: np.tile(x, reps), cost=free,
       keywords=(Keyword("reps", REQUIRED, "ints", positional=True),),
       summary="the whole array repeated reps times along each axis"),
    Op("diag", (1, 1), _diag_shape, _diag, (_diag_vjp,), _sym_diag, keywords=(K,), cost=free,
       summary="a vector as a diagonal matrix, or a matrix's k-th diagonal"),
    Op("triu", (1, 1), _matrices, TRIU[0], TRIU[1], TRIU[2], keywords=(K,), cost=free,
       summary="entries on and above the k-th diagonal, zeros below"),
    Op("tril", (1, 1), _matrices, TRIL[0], TRIL[1], TRIL[2], keywords=(K,), cost=free,
       summary="entries on and below the k-th diagonal, zeros above"),
    constructor("zeros", make=_filled(0), shape=lambda shape: ints_of(shape), keywords=(SHAPE,),
                summary="an array of zeros"),
    constructor("ones", make=_filled(1), shape=lambda shape: ints_of(shape), keywords=(SHAPE,),
                summary="an array of ones"),
    constructor("eye", make=np.eye, shape=lambda N, M=None, k=0: (N, N if M is None else M),
                summary="the identity (ones on the k-th diagonal)",
                keywords=(Keyword("N", positional=True), Keyword("M", None, positional=True),
                          Keyword("k", 0, positional=True))),
    constructor("arange", make=lambda **p: list(_arange(**p)),
                shape=lambda **p: (len(_arange(**p)),),
                summary="arange(stop) or arange(start, stop, step): integers, as a vector",
                keywords=(Keyword("start", positional=True), Keyword("stop", None, positional=True),
                          Keyword("step", 1, positional=True))),
]
# fmt: on
