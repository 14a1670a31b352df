"""Lists and indexing: ``[a, b]`` and ``z[2]``."""

from __future__ import annotations

import numpy as np

from gradcheck.engine import batched as bt
from gradcheck.engine.ops.core import Op


def _stack_shape(*items: tuple[int, ...]) -> tuple[int, ...]:
    return (len(items), *items[0])


def _index_shape(x: tuple[int, ...], *indices: tuple[int, ...]) -> tuple[int, ...]:
    return x[len(indices) :]


def _sym_stack(sp, *items):
    out = np.empty((len(items), *items[0].shape), dtype=object)
    for i, item in enumerate(items):
        out[i, ...] = item  # a 0-d item too: its entry, not the array itself
    return out


def _sym_index(sp, x, *indices):
    return np.asarray(x[tuple(int(i) for i in indices)], dtype=object)


# fmt: off
TABLE = [
    # lists and indexing: written [a, b] and z[2], never called by name
    Op("stack", arity=(1, 1 << 30), shape=_stack_shape, forward=bt.stack, sympy=_sym_stack,
       summary="[a, b, c]", vjps=bt.EachItem(), public=False),
    Op("index", arity=(1, 3), shape=_index_shape, forward=bt.index, sympy=_sym_index,
       summary="z[2], W[0, 1]", vjps=(bt.index_vjp, bt.no_gradient, bt.no_gradient),
       public=False),
]
# fmt: on
