"""Indexing and gathering, with NumPy's meaning: basic slicing (``x[1:3]``, ``X[:, 0]``,
``x[::-1]``, ``X[..., -1]``, ``x[:, None]``), integer label arrays (``Z[arange(N), y]``),
``take_along`` (NumPy's take_along_axis) and ``one_hot``.

An index is the static ``key`` of an ``index`` node: one item per position, an integer,
``("slice", start, stop, step)``, ``"..."``, ``"new"`` (None) or ``"arg"``, the next array
argument (an integer input or a constant). Labels are never differentiated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcheck.engine import batched as bt
from gradcheck.engine.ops.core import Keyword, Op, broadcast_shape, free, normal_axes

FULL = ("slice", None, None, None)


@dataclass(frozen=True)
class Layout:
    """Where an index puts things: the result's shape, the axis each array argument
    indexes, and NumPy's rule for advanced indices (their broadcast shape replaces them
    where they stand when they are adjacent, else it goes first)."""

    key: tuple  # with "..." written out
    shape: tuple[int, ...]
    arg_axes: tuple[int, ...]
    advanced: bool
    front: bool
    broadcast: tuple[int, ...]


def _written_out(ndim: int, key: tuple) -> tuple:
    if key.count("...") > 1:
        raise ValueError("an index can have only one ...")
    indexed = sum(1 for item in key if item not in ("...", "new"))
    if indexed > ndim:
        have = "a scalar" if ndim == 0 else f"{ndim} dimension(s)"
        raise ValueError(f"{indexed} indices for an array of {have}")
    fill = (FULL,) * (ndim - indexed)
    if "..." in key:
        at = key.index("...")
        return key[:at] + fill + key[at + 1 :]
    return key + fill


def slice_text(item) -> str:
    """``("slice", 1, None, -1)`` as written: ``1::-1``."""
    start, stop, step = (("" if v is None else str(v)) for v in item[1:])
    return f"{start}:{stop}" + (f":{step}" if step else "")


def layout(shape: tuple[int, ...], key: tuple, arg_shapes: list[tuple[int, ...]]) -> Layout:
    """How ``key`` indexes an array of ``shape``, with array arguments of ``arg_shapes``.

    A key of None indexes one axis by each array argument, in order (``z[i, j]``).

    Raises:
        ValueError: too many indices, an integer out of range, an empty slice, index
            arrays that do not broadcast.
    """
    key = _written_out(len(shape), ("arg",) * len(arg_shapes) if key is None else key)
    advanced = any(len(s) > 0 for s in arg_shapes)
    args = iter(arg_shapes)
    parts: list = []  # result lengths, None where an advanced index stands
    positions, broadcast, arg_axes, axis = [], [], [], 0
    for position, item in enumerate(key):
        if item == "new":
            parts.append(1)
            continue
        n = shape[axis]
        if isinstance(item, int) and not -n <= item < n:
            raise ValueError(f"index {item} is out of range for an axis of length {n}")
        if isinstance(item, tuple):
            length = len(range(*slice(*item[1:]).indices(n)))
            if length == 0:
                raise ValueError(f"the slice {slice_text(item)} selects nothing of {n} entries")
            parts.append(length)
        elif advanced:  # an integer or an array, among arrays
            parts.append(None)
            positions.append(position)
            broadcast.append(next(args) if item == "arg" else ())
        elif item == "arg":
            next(args)
        if item == "arg":
            arg_axes.append(axis)
        axis += 1
    try:
        together = broadcast_shape(*broadcast) if advanced else ()
    except ValueError:
        raise ValueError(f"the index arrays' shapes {broadcast} do not broadcast") from None
    front = advanced and positions != list(range(positions[0], positions[0] + len(positions)))
    kept = [p for p in parts if p is not None]
    if not advanced:
        out = kept
    elif front:
        out = [*together, *kept]
    else:
        first = parts.index(None)
        out = [*parts[:first], *together, *(p for p in parts[first:] if p is not None)]
    return Layout(key, tuple(out), tuple(arg_axes), advanced, front, together)


def _numpy_key(key: tuple, arrays) -> tuple:
    arrays = iter(arrays)
    out = []
    for item in key:
        if item == "new":
            out.append(None)
        elif item == "arg":
            value = next(arrays)
            out.append(int(value) if value.ndim == 0 else value)
        elif isinstance(item, tuple):
            out.append(slice(*item[1:]))
        else:
            out.append(item)
    return tuple(out)


def _index_shape(shape, *arg_shapes, key=None):
    return layout(shape, key, list(arg_shapes)).shape


def _labelled(x, arrays, key) -> tuple[Layout, list[np.ndarray]]:
    where = layout(x.shape[1:], key, [a.shape[1:] for a in arrays])
    ints = [bt.labels(a, x.shape[1 + axis]) for a, axis in zip(arrays, where.arg_axes)]
    return where, ints


def _shared(ints: list[np.ndarray]) -> bool:
    """Whether every batch row indexes alike (labels are fixed for a whole check)."""
    return all(i.shape[0] == 1 or np.all(i == i[:1]) for i in ints)


def index(x, *arrays, key=None):
    """x[key] for each batch entry."""
    where, ints = _labelled(x, arrays, key)
    if _shared(ints):
        out = x[(slice(None), *_numpy_key(where.key, [i[0] for i in ints]))]
        return np.moveaxis(out, len(where.broadcast), 0) if where.front else out
    batch = bt.batch_of(x, *ints)
    return np.stack(
        [
            bt.to_batch(x, batch)[b][
                _numpy_key(where.key, [bt.to_batch(i, batch)[b] for i in ints])
            ]
            for b in range(batch)
        ]
    )


def index_vjp(g, out, x, *arrays, key=None):
    """g put back where x[key] took its entries from (summed where taken twice)."""
    where, ints = _labelled(x, arrays, key)
    grad = np.zeros(bt.adjoint_shape(g, x), dtype=g.dtype)
    if _shared(ints):
        taken = np.moveaxis(g, 0, len(where.broadcast)) if where.front else g
        np.add.at(grad, (slice(None), *_numpy_key(where.key, [i[0] for i in ints])), taken)
        return grad
    for b in range(grad.shape[0]):
        rows = [bt.to_batch(i, grad.shape[0])[b] for i in ints]
        np.add.at(grad[b], _numpy_key(where.key, rows), g[b])
    return grad


def _integers(value: np.ndarray) -> np.ndarray:
    """Labels in a symbolic lowering: SymPy integers (or floats) as NumPy integers."""
    return np.vectorize(int, otypes=[np.intp])(value) if value.ndim else np.array(int(value[()]))


def _sym_index(sp, x, *arrays, key=None):
    where = layout(x.shape, key, [a.shape for a in arrays])
    return np.asarray(x[_numpy_key(where.key, [_integers(a) for a in arrays])], dtype=object)


class IndexGradients:
    """index's VJPs: the array for x; zeros for its label arguments, however many."""

    def __getitem__(self, k: int):
        return index_vjp if k == 0 else bt.no_gradient(k)


def _index_labels(shape, *arg_shapes, key=None) -> dict[int, int]:
    where = layout(shape, key, list(arg_shapes))
    return {1 + j: shape[axis] for j, axis in enumerate(where.arg_axes)}


# ---------------------------------------------------------------- take_along, one_hot


def _take_along_shape(z, y, *, axis=-1):
    if len(z) != len(y):
        raise ValueError("the labels need as many dimensions as the array (NumPy's rule)")
    a = normal_axes(len(z), axis)[0]
    try:
        out = list(broadcast_shape(z[:a] + z[a + 1 :], y[:a] + y[a + 1 :]))
    except ValueError:
        raise ValueError("the shapes do not broadcast off the axis") from None
    return (*out[:a], y[a], *out[a:])


def _along(z, y, axis):
    a = axis % (z.ndim - 1) + 1
    return a, bt.labels(y, z.shape[a])


def take_along(z, y, axis=-1):
    a, ints = _along(z, y, axis)
    return np.take_along_axis(z, ints, axis=a)


def take_along_vjp(g, out, z, y, axis=-1):
    """g put back at the entries taken, summed where taken twice."""
    a, ints = _along(z, y, axis)
    grad = np.zeros(bt.adjoint_shape(g, z), dtype=g.dtype)
    where = []
    for d, n in enumerate(g.shape):
        if d == a:
            where.append(np.broadcast_to(ints, g.shape))
            continue
        positions = np.arange(n) if d == 0 or z.shape[d] == n else np.zeros(n, dtype=np.intp)
        where.append(positions.reshape([n if e == d else 1 for e in range(g.ndim)]))
    np.add.at(grad, tuple(where), g)
    return grad


def _sym_take_along(sp, z, y, axis=-1):
    return np.take_along_axis(z, _integers(y), axis=axis)


def one_hot(y, num_classes):
    ints = bt.labels(y, num_classes, "label")
    if np.any(ints < 0):
        raise bt.DomainError(f"label {ints[ints < 0].flat[0]} is negative")
    return (ints[..., None] == np.arange(num_classes)).astype(float)


def _one_hot_shape(y, *, num_classes):
    if num_classes < 1:
        raise ValueError("one_hot needs at least one class")
    return (*y, num_classes)


def _sym_one_hot(sp, y, num_classes):
    ints = _integers(y)
    return np.frompyfunc(lambda v: sp.Integer(int(v)), 1, 1)(
        (ints[..., None] == np.arange(num_classes)).astype(int)
    )


# fmt: off
TABLE = [
    Op("index", (1, 1 << 30), _index_shape, index, IndexGradients(), _sym_index, public=False,
       keywords=(Keyword("key", None, "index"),), labels=_index_labels, cost=free,
       summary="z[2], W[0, 1], x[1:3], X[:, 0], X[..., -1], Z[arange(N), y]"),
    Op("take_along", (2, 2), _take_along_shape, take_along, (take_along_vjp, bt.no_gradient(1)),
       _sym_take_along, keywords=(Keyword("axis", -1, "int", positional=True),), cost=free,
       labels=lambda z, y, axis=-1: {1: z[axis % len(z)]},
       summary="take_along(Z, y, axis=1): NumPy's take_along_axis; y has Z's rank"),
    Op("one_hot", (1, 1), _one_hot_shape, one_hot, (bt.no_gradient(0),), _sym_one_hot,
       keywords=(Keyword("num_classes", positional=True),), cost=free,
       labels=lambda y, num_classes: {0: num_classes},
       summary="one_hot(y, K): rows of the K x K identity picked by the labels y"),
]
# fmt: on
