"""Shape ops, with NumPy's meaning and argument forms: entries rearranged, repeated or
masked, never combined; and the constructors zeros, ones, eye and arange (constants)."""

from __future__ import annotations

import math

import numpy as np

from gradcheck.engine import batched as bt
from gradcheck.engine.ops.core import REQUIRED, Keyword, Op, free, normal_axes

MANY = 1 << 30


def _items(value) -> tuple[int, ...]:
    """An integer or a tuple of integers, as a tuple."""
    return value if isinstance(value, tuple) else (value,)


def _on_batch(axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(a + 1 for a in axes)


def _back(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The gradient of an op that only reshapes: the same entries, in x's shape."""
    return g.reshape(bt.adjoint_shape(g, x))


def _positive(shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    if any(n < 1 for n in shape):
        raise ValueError(f"{what} {shape} has no entries; every length must be at least 1")
    return shape


# ---------------------------------------------------------------- transpose and swapaxes


def permutation(ndim: int, axes) -> tuple[int, ...]:
    """The order of the axes ``transpose(x, axes)`` takes (None: reversed)."""
    if axes is None:
        return tuple(range(ndim - 1, -1, -1))
    items = _items(axes)
    order = [a % ndim if -ndim <= a < ndim else ndim for a in items] if ndim else list(items)
    if len(items) != ndim or sorted(order) != list(range(ndim)):
        raise ValueError(f"axes={axes} must name each of the {ndim} axes once")
    return tuple(order)


def _transpose(x, axes=None):
    return np.transpose(x, (0, *_on_batch(permutation(x.ndim - 1, axes))))


def _transpose_vjp(g, out, x, axes=None):
    undo = np.argsort(permutation(x.ndim - 1, axes))
    return np.transpose(g, (0, *_on_batch(tuple(undo))))


def _swapped(ndim: int, axis1: int, axis2: int) -> tuple[int, int]:
    normal_axes(ndim, axis1)
    normal_axes(ndim, axis2)
    return axis1 % ndim, axis2 % ndim


def _swapaxes_shape(shape, *, axis1, axis2):
    a, b = _swapped(len(shape), axis1, axis2)
    out = list(shape)
    out[a], out[b] = out[b], out[a]
    return tuple(out)


def _swapaxes(x, axis1, axis2):
    a, b = _swapped(x.ndim - 1, axis1, axis2)
    return np.swapaxes(x, a + 1, b + 1)


# ---------------------------------------------------------------- reshape, squeeze


def new_shape(shape: tuple[int, ...], *, shape_to) -> tuple[int, ...]:
    """NumPy's reshape: one length may be -1, inferred."""
    items = _items(shape_to)
    size = math.prod(shape)
    if items.count(-1) > 1:
        raise ValueError("only one length can be -1 (inferred)")
    if any(n < 1 and n != -1 for n in items):
        raise ValueError(f"the lengths in {shape_to} must be positive (or one -1, inferred)")
    known = math.prod(n for n in items if n != -1)
    inferred = tuple(size // known if n == -1 else n for n in items)
    if math.prod(inferred) != size or (-1 in items and size % known):
        raise ValueError(f"an array of {size} entries cannot be reshaped into {shape_to}")
    return inferred


def _expand_dims_shape(shape, *, axis):
    inserted = normal_axes(len(shape) + len(_items(axis)), axis)
    out, rest = [], iter(shape)
    for a in range(len(shape) + len(inserted)):
        out.append(1 if a in inserted else next(rest))
    return tuple(out)


def _squeeze_shape(shape, *, axis=None):
    if axis is None:
        return tuple(n for n in shape if n != 1)
    dropped = normal_axes(len(shape), axis)
    if any(shape[a] != 1 for a in dropped):
        raise ValueError(f"only axes of length 1 can be squeezed; axis={axis} has length > 1")
    return tuple(n for a, n in enumerate(shape) if a not in dropped)


# ---------------------------------------------------------------- flip, roll


def _flip_shape(shape, *, axis=None):
    normal_axes(len(shape), axis)
    return shape


def _flip(x, axis=None):
    return np.flip(x, axis=bt.axes(x, axis))


def _roll_axes(ndim: int, shift, axis) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shifts and axes paired up, as NumPy's roll broadcasts them."""
    if axis is None:
        if isinstance(shift, tuple):
            raise ValueError("with no axis the array is rolled as one row: give one shift")
        return (shift,), ()
    axes = _items(axis)
    for a in axes:
        normal_axes(ndim, a)
    shifts, axes = np.broadcast_arrays(np.array(_items(shift)), np.array(axes))
    return tuple(int(s) for s in shifts), tuple(int(a) % ndim for a in axes)


def _roll_shape(shape, *, shift, axis=None):
    try:
        _roll_axes(len(shape), shift, axis)
    except ValueError as error:
        if "broadcast" in str(error):
            raise ValueError(f"shift={shift} and axis={axis} have different lengths") from None
        raise
    return shape


def _roll(x, shift, axis=None):
    shifts, axes = _roll_axes(x.ndim - 1, shift, axis)
    if not axes:
        return np.roll(bt.rows(x), shifts[0], axis=1).reshape(x.shape)
    return np.roll(x, shifts, axis=_on_batch(axes))


def _roll_vjp(g, out, x, shift, axis=None):
    shifts, _ = _roll_axes(x.ndim - 1, shift, axis)
    back = tuple(-s for s in shifts)
    return _roll(g, back if isinstance(shift, tuple) else back[0], axis)


def _sym_roll(sp, x, shift, axis=None):
    return np.roll(x, shift, axis=axis)


# ---------------------------------------------------------------- repeat, tile


def _repeats(n: int, repeats) -> np.ndarray:
    """How often each of ``n`` entries is repeated."""
    counts = np.array(_items(repeats))
    if len(counts) not in (1, n):
        raise ValueError(f"repeats={repeats} must be one count, or one for each of {n} entries")
    if np.any(counts < 0):
        raise ValueError("repeats cannot be negative")
    return np.broadcast_to(counts, (n,))


def _repeat_shape(shape, *, repeats, axis=None):
    if axis is None:
        return _positive((int(_repeats(math.prod(shape), repeats).sum()),), "the result's shape")
    a = normal_axes(len(shape), axis)[0]
    out = list(shape)
    out[a] = int(_repeats(shape[a], repeats).sum())
    return _positive(tuple(out), "the result's shape")


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
    reps = _items(reps)
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


# ---------------------------------------------------------------- concatenate, stack


def _concatenate_shape(*shapes, axis=0):
    if axis is None:
        return (sum(math.prod(s) for s in shapes),)
    if any(len(s) == 0 for s in shapes):
        raise ValueError("scalars cannot be concatenated; stack([a, b]) makes them a vector")
    if len({len(s) for s in shapes}) > 1:
        raise ValueError("the arrays must have the same number of dimensions")
    a = normal_axes(len(shapes[0]), axis)[0]
    rest = {s[:a] + s[a + 1 :] for s in shapes}
    if len(rest) > 1:
        raise ValueError(f"the arrays must have the same shape but along axis {axis}")
    out = list(shapes[0])
    out[a] = sum(s[a] for s in shapes)
    return tuple(out)


def _concatenate(*items, axis=0):
    batch = bt.batch_of(*items)
    if axis is None:
        return np.concatenate([bt.rows(bt.to_batch(x, batch)) for x in items], axis=1)
    a = axis % (items[0].ndim - 1) + 1
    return np.concatenate([bt.to_batch(x, batch) for x in items], axis=a)


class Pieces:
    """concatenate's VJPs, one per item however many: item i gets its piece of g."""

    def __getitem__(self, i: int):
        def vjp(g, out, *items, axis=0):
            a = 1 if axis is None else axis % (items[0].ndim - 1) + 1
            sizes = [x[0].size if axis is None else x.shape[a] for x in items]
            start = sum(sizes[:i])
            piece = np.take(g, np.arange(start, start + sizes[i]), axis=a)
            return _back(piece, items[i])

        return vjp


def _sym_concatenate(sp, *items, axis=0):
    if axis is None:
        return np.concatenate([x.reshape(-1) for x in items])
    return np.concatenate(items, axis=axis)


def _stack_shape(*shapes, axis=0):
    if len(set(shapes)) > 1:
        raise ValueError("the arrays must all have the same shape")
    a = normal_axes(len(shapes[0]) + 1, axis)[0]
    return (*shapes[0][:a], len(shapes), *shapes[0][a:])


def _stack(*items, axis=0):
    batch = bt.batch_of(*items)
    a = axis % items[0].ndim + 1
    return np.stack([bt.to_batch(x, batch) for x in items], axis=a)


class Slices:
    """stack's VJPs, one per item however many: item i gets slice i of g."""

    def __getitem__(self, i: int):
        return lambda g, out, *items, axis=0: np.take(g, i, axis=axis % items[0].ndim + 1)


def _sym_stack(sp, *items, axis=0):
    return np.stack(items, axis=axis)


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
        lambda **params: _positive(shape(**params), "the result's shape"),
        lambda **params: value(**params)[None],
        (),
        lower,
        summary=summary,
        keywords=keywords,
        cost=free,
    )


def _filled(fill):
    return lambda shape: np.full(_items(shape), fill)


def reshaping(shape_rule) -> dict:
    """The rules of an op that keeps every entry, in order, and only reshapes."""
    return {
        "forward": lambda x, **p: x.reshape(x.shape[:1] + shape_rule(x.shape[1:], **p)),
        "vjps": (lambda g, out, x, **p: _back(g, x),),
        "sympy": lambda sp, x, **p: x.reshape(shape_rule(x.shape, **p)),
        "shape": shape_rule,
        "cost": free,
    }


SHAPE = Keyword("shape", REQUIRED, "ints", positional=True)
AXIS_NONE = Keyword("axis", None, "axis", positional=True)
K = Keyword("k", 0, "int", positional=True)
TRIU, TRIL = triangle(upper=True), triangle(upper=False)

# fmt: off
TABLE = [
    Op("transpose", (1, 1), lambda s, axes=None: tuple(s[a] for a in permutation(len(s), axes)),
       _transpose, (_transpose_vjp,), lambda sp, x, axes=None: np.transpose(x, axes),
       keywords=(Keyword("axes", None, "axis", positional=True),), cost=free,
       summary="x.T: every axis reversed; transpose(x, axes) in the order given"),
    Op("swapaxes", (1, 1), _swapaxes_shape, _swapaxes,
       (lambda g, o, x, axis1, axis2: _swapaxes(g, axis1, axis2),),
       lambda sp, x, axis1, axis2: np.swapaxes(x, axis1, axis2), cost=free,
       keywords=(Keyword("axis1", positional=True), Keyword("axis2", positional=True)),
       summary="two axes swapped"),
    Op("reshape", (1, 1), **reshaping(lambda s, shape: new_shape(s, shape_to=shape)),
       keywords=(SHAPE,), summary="the entries in order, in a new shape (one length -1)"),
    Op("ravel", (1, 1), **reshaping(lambda s: (math.prod(s),)),
       summary="the entries in order, as a vector"),
    Op("expand_dims", (1, 1), **reshaping(_expand_dims_shape),
       keywords=(Keyword("axis", REQUIRED, "axis", positional=True),),
       summary="axes of length 1 inserted"),
    Op("squeeze", (1, 1), **reshaping(_squeeze_shape), keywords=(AXIS_NONE,),
       summary="axes of length 1 removed"),
    Op("flip", (1, 1), _flip_shape, _flip, (lambda g, o, x, axis=None: _flip(g, axis),),
       lambda sp, x, axis=None: np.flip(x, axis=axis), keywords=(AXIS_NONE,), cost=free,
       summary="the order of entries reversed along axis (every axis by default)"),
    Op("roll", (1, 1), _roll_shape, _roll, (_roll_vjp,), _sym_roll, cost=free,
       keywords=(Keyword("shift", REQUIRED, "ints", positional=True), AXIS_NONE),
       summary="entries shifted cyclically along axis (as one row by default)"),
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
    Op("concatenate", (1, MANY), _concatenate_shape, _concatenate, Pieces(), _sym_concatenate,
       keywords=(Keyword("axis", 0, "int", positional=True, nullable=True),), sequence=True,
       cost=free,
       summary="concatenate([a, b], axis=0): the arrays joined along an axis"),
    Op("stack", (1, MANY), _stack_shape, _stack, Slices(), _sym_stack, sequence=True,
       keywords=(Keyword("axis", 0, "int", positional=True),), cost=free,
       summary="stack([a, b], axis=0), also [a, b]: the arrays along a new axis"),
    constructor("zeros", make=_filled(0), shape=lambda shape: _items(shape), keywords=(SHAPE,),
                summary="an array of zeros"),
    constructor("ones", make=_filled(1), shape=lambda shape: _items(shape), keywords=(SHAPE,),
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
