"""Convolution and max pooling as CS231n teaches them, on NCHW arrays.

``conv2d(x, w, stride=1, padding=0)`` and ``conv2d(x, w, b, ...)``: x is a batch of images
(N, C, H, W), w the filters (F, C, HH, WW), b one bias per filter (F,); the output (N, F,
H', W') with H' = 1 + (H + 2 padding - HH) // stride, as CS231n's conv_forward_naive
(a cross-correlation: the filter is not flipped; zero padding). ``max_pool2d(x, size,
stride)``: the largest entry of each size-by-size window, stride defaulting to size.
A size, stride or padding is one integer or a pair (rows, columns).

Both run on strided views of the images (one window per output position, no copy) and a
matrix product (im2col): vectorised over the batch axis of points and over the images.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from gradcheck.engine import batched as bt
from gradcheck.engine.ops.core import NOT_ANALYTIC, REQUIRED, Keyword, Op, ints_of

# ---------------------------------------------------------------- shape rules


def pair(value, what: str, least: int) -> tuple[int, int]:
    """A size, stride or padding as (rows, columns).

    Raises:
        ValueError: not one integer or two, or below ``least``.
    """
    values = ints_of(value)
    values = values * 2 if len(values) == 1 else values
    if len(values) != 2:
        raise ValueError(f"{what}={value} must be one integer or two, like (2, 1)")
    if min(values) < least:
        raise ValueError(f"{what}={value} must be at least {least}")
    return values


def _images(x: tuple[int, ...]) -> None:
    if len(x) != 4:
        raise ValueError("x must be a batch of images, of shape (N, C, H, W)")


def _positions(image, window, stride, what: str) -> tuple[int, int]:
    """How many windows fit along the rows and the columns."""
    if window[0] > image[0] or window[1] > image[1]:
        raise ValueError(f"the {what} {window} is larger than the image {image}")
    return tuple(1 + (n - k) // s for n, k, s in zip(image, window, stride))


def conv2d_shape(x, w, b=None, *, stride=1, padding=0) -> tuple[int, ...]:
    """(N, F, H', W')."""
    _images(x)
    if len(w) != 4:
        raise ValueError("w must be the filters, of shape (F, C, HH, WW)")
    if x[1] != w[1]:
        raise ValueError(f"x has {x[1]} channels but the filters in w have {w[1]}")
    if b is not None and b != (w[0],):
        raise ValueError(f"b must have shape ({w[0]},): one bias for each of the {w[0]} filters")
    pads = pair(padding, "padding", 0)
    padded = tuple(n + 2 * p for n, p in zip(x[2:], pads))
    return (x[0], w[0], *_positions(padded, w[2:], pair(stride, "stride", 1), "filter"))


def pool_shape(x, *, size, stride=None) -> tuple[int, ...]:
    """(N, C, H', W')."""
    _images(x)
    window = pair(size, "size", 1)
    steps = pair(size if stride is None else stride, "stride", 1)
    return (*x[:2], *_positions(x[2:], window, steps, "window"))


def _taps(length: int, window: int, stride: int, pad: int, positions: int) -> int:
    """How many (output position, filter offset) pairs along one axis read the image,
    not its zero padding: the terms a symbolic expansion writes out."""
    return sum(
        sum(0 <= i * stride + d - pad < length for d in range(window)) for i in range(positions)
    )


def _conv_cost(out, x, w, b=None, *, stride=1, padding=0) -> int:
    """One multiply-add for each product of an image entry and a filter entry, and one
    addition for a bias."""
    steps, pads = pair(stride, "stride", 1), pair(padding, "padding", 0)
    rows, columns = (_taps(x[2 + a], w[2 + a], steps[a], pads[a], out[2 + a]) for a in range(2))
    return out[0] * out[1] * x[1] * rows * columns + (math.prod(out) if b is not None else 0)


def _pool_cost(out, x, *, size, stride=None) -> int:
    return math.prod(out) * math.prod(pair(size, "size", 1))


# ---------------------------------------------------------------- windows


def windows(x: np.ndarray, size, stride, padding=0) -> np.ndarray:
    """Each output position's window of the (zero-padded) images, a strided view:
    (B, N, C, H', W', HH, WW)."""
    pads = pair(padding, "padding", 0)
    if any(pads):
        x = np.pad(x, [(0, 0)] * 3 + [(pads[0], pads[0]), (pads[1], pads[1])])
    rows, columns = pair(stride, "stride", 1)
    return sliding_window_view(x, tuple(size), axis=(-2, -1))[..., ::rows, ::columns, :, :]


def gathered(x: np.ndarray, parts: np.ndarray, stride, padding=0) -> np.ndarray:
    """The adjoint of ``windows``: each window's entries (B, N, C, H', W', HH, WW) added
    back where they were taken from, padding cut off."""
    pads, (rows, columns) = pair(padding, "padding", 0), pair(stride, "stride", 1)
    height, width = (n + 2 * p for n, p in zip(x.shape[-2:], pads))
    out = np.zeros((parts.shape[0], *x.shape[1:3], height, width), dtype=parts.dtype)
    tall, wide = parts.shape[3:5]  # output positions down and across
    for i in range(parts.shape[-2]):
        for j in range(parts.shape[-1]):
            out[..., i : i + rows * tall : rows, j : j + columns * wide : columns] += parts[
                ..., i, j
            ]
    return out[..., pads[0] : height - pads[0], pads[1] : width - pads[1]]


# ---------------------------------------------------------------- conv2d


def _columns(x, w, stride, padding) -> tuple[np.ndarray, tuple[int, int]]:
    """im2col: one row per output position, (B, N * H' * W', C * HH * WW), and (H', W')."""
    view = windows(x, w.shape[-2:], stride, padding)
    by_position = np.moveaxis(view, 2, 4)  # (B, N, H', W', C, HH, WW)
    return by_position.reshape(x.shape[0], -1, math.prod(w.shape[2:])), view.shape[3:5]


def conv2d(x, w, b=None, stride=1, padding=0):
    """Each filter's sum over every window, for every image and batch entry."""
    columns, positions = _columns(x, w, stride, padding)
    filters = w.reshape(w.shape[0], w.shape[1], -1)  # (B, F, C * HH * WW)
    rows = columns @ bt.swap(filters)
    out = np.moveaxis(rows.reshape(rows.shape[0], x.shape[1], *positions, w.shape[1]), -1, 2)
    return out if b is None else out + b[:, None, :, None, None]


def _by_position(g: np.ndarray) -> np.ndarray:
    """The upstream gradient (B, N, F, H', W') as (B, N * H' * W', F)."""
    return np.moveaxis(g, 2, -1).reshape(g.shape[0], -1, g.shape[2])


def conv2d_vjp_x(g, out, x, w, b=None, stride=1, padding=0):
    """Each output's g times the filter, added back over the window it read."""
    filters = w.reshape(w.shape[0], w.shape[1], -1)  # (B, F, C * HH * WW)
    parts = _by_position(g) @ filters
    parts = parts.reshape(parts.shape[0], g.shape[1], *g.shape[3:], *w.shape[2:])
    return gathered(x, np.moveaxis(parts, 4, 2), stride, padding)


def conv2d_vjp_w(g, out, x, w, b=None, stride=1, padding=0):
    """Each output's g times the window it read, summed over positions and images."""
    total = bt.swap(_by_position(g)) @ _columns(x, w, stride, padding)[0]  # (B, F, C*HH*WW)
    return total.reshape(total.shape[0], *w.shape[1:])


def conv2d_vjp_b(g, out, x, w, b=None, stride=1, padding=0):
    return np.sum(g, axis=(1, 3, 4))


def _sym_conv2d(sp, x, w, b=None, stride=1, padding=0):
    """The sum written out for each output entry; padded zeros leave out their terms."""
    (rows, columns), (top, left) = pair(stride, "stride", 1), pair(padding, "padding", 0)
    _, channels, height, width = x.shape
    out = np.empty(conv2d_shape(x.shape, w.shape, stride=stride, padding=padding), dtype=object)
    for n, f, i, j in np.ndindex(out.shape):
        terms = [
            x[n, c, r, s] * w[f, c, di, dj]
            for c, di, dj in np.ndindex(channels, *w.shape[2:])
            if 0 <= (r := i * rows + di - top) < height
            and 0 <= (s := j * columns + dj - left) < width
        ]
        out[n, f, i, j] = sp.Add(*terms) if b is None else sp.Add(*terms, b[f])
    return out


# ---------------------------------------------------------------- max_pool2d


def _pooled(x, size, stride):
    """Each window's entries on one last axis: (B, N, C, H', W', size * size)."""
    view = windows(x, pair(size, "size", 1), size if stride is None else stride)
    return view.reshape(*view.shape[:-2], -1)


def max_pool2d(x, size, stride=None):
    return np.max(_pooled(x, size, stride), axis=-1)


def max_pool2d_vjp(g, out, x, size, stride=None):
    """g shared evenly by the entries that attain each window's max (at a tie, the
    midpoint of the one-sided derivatives), added back where they were taken from."""
    entries = _pooled(x, size, stride)
    attains = entries == out[..., None]
    shares = g[..., None] * attains / np.sum(attains, axis=-1, keepdims=True)
    parts = shares.reshape(*shares.shape[:-1], *pair(size, "size", 1))
    return gathered(x, parts, size if stride is None else stride)


def _top_two(x, size, stride):
    """Each window's gap between its largest and second largest entry (inf for a window
    of one entry), and where its largest is."""
    entries = _pooled(x, size, stride)
    if entries.shape[-1] == 1:
        return np.full(entries.shape[:-1], np.inf), np.zeros(entries.shape[:-1], dtype=np.intp)
    two = -np.partition(-entries, 1, axis=-1)[..., :2]
    return two[..., 0] - two[..., 1], np.argmax(entries, axis=-1)


def pool_gap(x, size, stride=None):
    """The switch: 0 where two entries of a window tie for its max."""
    return _top_two(x, size, stride)[0]


def pool_branch(x, size, stride=None):
    """Which entry of each window is its max, -1 at a tie."""
    gap, where = _top_two(x, size, stride)
    return np.where(gap == 0, -1, where)


def _sym_max_pool2d(sp, x, size, stride=None):
    entries = _pooled(x[None], size, stride)[0]
    out = np.empty(entries.shape[:-1], dtype=object)
    for at in np.ndindex(out.shape):
        out[at] = sp.Max(*entries[at])
    return out


# fmt: off
TABLE = [
    Op("conv2d", arity=(2, 3), shape=conv2d_shape, forward=conv2d, sympy=_sym_conv2d,
       vjps=(conv2d_vjp_x, conv2d_vjp_w, conv2d_vjp_b), cost=_conv_cost,
       keywords=(Keyword("stride", 1, "ints"), Keyword("padding", 0, "ints")),
       summary="CS231n's convolution: x (N, C, H, W), filters w (F, C, HH, WW), optional "
               "bias b (F,), zero padding; out (N, F, H', W')"),
    Op("max_pool2d", arity=(1, 1), shape=pool_shape, forward=max_pool2d, sympy=_sym_max_pool2d,
       vjps=(max_pool2d_vjp,), switch=pool_gap, branch=pool_branch, no_complex=NOT_ANALYTIC,
       keywords=(Keyword("size", REQUIRED, "ints", positional=True),
                 Keyword("stride", None, "ints", positional=True)),
       cost=_pool_cost,
       summary="the largest entry of each size-by-size window of x (N, C, H, W), "
               "stride defaulting to size"),
]
# fmt: on
