"""Shape ops, with NumPy's meaning and argument forms: the entries rearranged (transposed,
reshaped, flipped, rolled) or joined (concatenate, stack), never combined."""

from __future__ import annotations

import math

import numpy as np

from gradcheck.engine import batched as bt
from gradcheck.engine.ops.core import REQUIRED, Keyword, Op, free, ints_of, normal_axes

MANY = 1 << 30


def _on_batch(axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(a + 1 for a in axes)


# ---------------------------------------------------------------- transpose and swapaxes


def permutation(ndim: int, axes) -> tuple[int, ...]:
    """The order of the axes ``transpose(x, axes)`` takes (None: reversed)."""
    if axes is None:
        return tuple(range(ndim - 1, -1, -1))
    items = ints_of(axes)
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
    items = ints_of(shape_to)
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
    inserted = normal_axes(len(shape) + len(ints_of(axis)), axis)
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
    axes = ints_of(axis)
    for a in axes:
        normal_axes(ndim, a)
    shifts, axes = np.broadcast_arrays(np.array(ints_of(shift)), np.array(axes))
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
            return bt.reshape_like(piece, items[i])

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


def reshaping(shape_rule) -> dict:
    """The rules of an op that keeps every entry, in order, and only reshapes."""
    return {
        "forward": lambda x, **p: x.reshape(x.shape[:1] + shape_rule(x.shape[1:], **p)),
        "vjps": (lambda g, out, x, **p: bt.reshape_like(g, x),),
        "sympy": lambda sp, x, **p: x.reshape(shape_rule(x.shape, **p)),
        "shape": shape_rule,
        "cost": free,
    }


SHAPE = Keyword("shape", REQUIRED, "ints", positional=True)
AXIS_NONE = Keyword("axis", None, "axis", positional=True)

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
    Op("concatenate", (1, MANY), _concatenate_shape, _concatenate, Pieces(), _sym_concatenate,
       keywords=(Keyword("axis", 0, "int", positional=True, nullable=True),), sequence=True,
       cost=free,
       summary="concatenate([a, b], axis=0): the arrays joined along an axis"),
    Op("stack", (1, MANY), _stack_shape, _stack, Slices(), _sym_stack, sequence=True,
       keywords=(Keyword("axis", 0, "int", positional=True),), cost=free,
       summary="stack([a, b], axis=0), also [a, b]: the arrays along a new axis"),
]
# fmt: on
