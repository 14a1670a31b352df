"""Finite differences at scale: the graph evaluated at many copies of a point, each copy
with one entry of one input moved.

A copy differs from the point in one entry, so most of the graph is the same for every
copy. Nodes that do not depend on the moved input keep their value at the point. An
element-wise operation on a value that differs in one entry per copy computes just that
entry (the same operation on the same numbers, so the same bits a dense evaluation
gives). A matrix product or a sum is updated by the change instead of recomputed, which
is exact algebra and rounds no worse. Anything else falls back to dense copies.

The cost of checking n entries is then about n times the cost of the changed path, not
n times the cost of the whole graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gradcheck.engine.graph import Program, _align, sides_changed
from gradcheck.engine.ops import OPS
from gradcheck.engine.ops.core import normal_axes
from gradcheck.engine.ops.shapes import permutation

#: Entries (floats) per batch of dense copies: bounds memory where a change spreads.
BATCH_FLOATS = 1 << 21


@dataclass(frozen=True)
class OneEntry:
    """Copies of ``base`` (shape ``(1, *shape)``), copy r with flat entry ``at[r]`` set to
    ``entry[r]``."""

    base: np.ndarray
    at: np.ndarray
    entry: np.ndarray

    def dense(self) -> np.ndarray:
        rows = len(self.at)
        copies = _copies(self.base, rows, self.entry.dtype)
        copies.reshape(rows, -1)[np.arange(rows), self.at] = self.entry
        return copies

    def change(self) -> np.ndarray:
        """How far each copy's entry moved from the point (exact: nearby floats)."""
        return self.entry - self.base.reshape(-1)[self.at]


def _copies(base: np.ndarray, rows: int, dtype) -> np.ndarray:
    """``rows`` copies of ``base``, in a type that can hold a moved entry (complex step)."""
    return np.repeat(base.astype(np.result_type(base, dtype), copy=False), rows, axis=0)


def _shared(value) -> bool:
    """A value every copy has in common (batch axis of length 1)."""
    return isinstance(value, np.ndarray) and value.shape[0] == 1


class Perturbation:
    """Evaluates ``program`` at copies of a point with one entry of input ``name`` moved.

    ``values`` are every node's values at the point (batch of one), as
    ``Program.forward`` gives them.
    """

    def __init__(self, program: Program, values: list[np.ndarray], name: str) -> None:
        self.program = program
        self.values = values
        self.name = name
        self.changing = program.depending_on(name)
        self.sides = program.branches(values)
        self.largest = 1  # entries per copy of the largest dense array a batch made
        self.rows_per_batch: int | None = None

    def __call__(self, at: np.ndarray, entry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """f at each copy, and per copy the first non-smooth node whose branch changed."""
        shape = (len(at), *self.program.root.shape)  # a row of output entries per copy
        out = np.empty(shape, dtype=np.result_type(entry.dtype, float))  # complex step too
        crossed = np.full(len(at), -1)
        if self.rows_per_batch is None:
            # A probe of two copies shows where a change spreads into dense copies, and
            # so how many copies fit in a batch.
            out[:2], crossed[:2] = self._batch(at[:2], entry[:2])
            self.rows_per_batch = max(2, BATCH_FLOATS // self.largest)
            if len(at) <= 2:
                return out, crossed
            at, entry = at[2:], entry[2:]
            rest = self(at, entry)
            return np.concatenate([out[:2], rest[0]]), np.concatenate([crossed[:2], rest[1]])
        for start in range(0, len(at), self.rows_per_batch):
            chunk = slice(start, start + self.rows_per_batch)
            out[chunk], crossed[chunk] = self._batch(at[chunk], entry[chunk])
        return out, crossed

    def _batch(self, at: np.ndarray, entry: np.ndarray):
        rows = len(at)
        program = self.program
        crossed = np.full(rows, -1)
        current: list = []
        with np.errstate(all="ignore"):
            for i, node in enumerate(program.nodes):
                if not self.changing[i]:
                    current.append(self.values[i])
                    continue
                if node.op == "input":
                    current.append(OneEntry(self.values[i], at, entry))
                    continue
                args = [current[j] for j in program.args[i]]
                value, sides = self._apply(i, node, args, rows)
                if isinstance(value, np.ndarray) and value.shape[0] > 1:
                    self.largest = max(self.largest, value[0].size)
                current.append(value)
                if sides is not None:
                    crossed = np.where((crossed < 0) & sides, i, crossed)
        output, shape = current[program.output], program.root.shape
        if isinstance(output, OneEntry):  # a scalar output is its one entry; else in full
            return (output.entry if shape == () else output.dense()), crossed
        return np.broadcast_to(output, (rows, *shape)), crossed

    def _apply(self, i, node, args, rows):
        """The node's value for every copy, and which copies changed branch at it."""
        op = OPS[node.op]
        if op.elementwise:
            return self._elementwise(i, node, op, args, rows)
        rule = _RULES.get(node.op)
        value = rule(self.values[i], node, args) if rule is not None else None
        if value is None:
            value = op.forward(*(self._dense(a) for a in args), **node.kwargs)
        sides = None
        if op.switch is not None:
            dense = [self._dense(a) for a in args]
            sides = sides_changed(op.sides(*dense, **node.kwargs), self.sides[i], rows)
        return value, sides

    def _dense(self, value) -> np.ndarray:
        """Copies in full: where a change spreads in a way no rule follows."""
        if not isinstance(value, OneEntry):
            return value
        self.largest = max(self.largest, value.base[0].size)
        return value.dense()

    def _elementwise(self, i, node, op, args, rows):
        moved = [a for a in args if isinstance(a, OneEntry)]
        dense_args = [a for a in args if isinstance(a, np.ndarray) and not _shared(a)]
        same_shape = all(
            arg.shape == node.shape for a, arg in zip(args, node.args) if isinstance(a, OneEntry)
        )
        if moved and not dense_args and same_shape and all(m.at is moved[0].at for m in moved):
            at = moved[0].at
            scalars = [
                a.entry if isinstance(a, OneEntry) else _entries(a, arg, node, at)
                for a, arg in zip(args, node.args)
            ]
            entry = op.forward(*scalars)
            sides = None
            if op.switch is not None:
                before = np.broadcast_to(self.sides[i][0], node.shape).reshape(-1)[at]
                sides = op.sides(*scalars) != before
            return OneEntry(self.values[i], at, entry), sides
        aligned = [_align(self._dense(a), arg.shape, node.shape) for a, arg in zip(args, node.args)]
        value = op.forward(*aligned)
        sides = None
        if op.switch is not None:
            sides = sides_changed(op.sides(*aligned), self.sides[i], rows)
        return value, sides


def _entries(value: np.ndarray, arg, node, at: np.ndarray) -> np.ndarray:
    """A shared argument's entries at the moved positions of the (broadcast) output."""
    full = np.broadcast_to(_align(value, arg.shape, node.shape)[0], node.shape)
    return full.reshape(-1)[at]


# ---------------------------------------------------------------- spreading changes
# Each rule returns the node's value for every copy, or None to fall back to dense.


def _matmul(base: np.ndarray, node, args):
    a, b = args
    shape_a, shape_b = node.args[0].shape, node.args[1].shape
    if len(shape_a) > 2 or len(shape_b) > 2:  # batched products: dense copies
        return None
    if isinstance(a, OneEntry) and _shared(b):
        k = shape_a[-1]
        row, col = np.divmod(a.at, k) if len(shape_a) == 2 else (None, a.at)
        delta = a.change()
        other = b[0]
        if row is not None and len(shape_b) == 1:  # (m,k) @ (k,): entry `row` moves
            return OneEntry(base, row, base.reshape(-1)[row] + delta * other[col])
        if row is not None:  # (m,k) @ (k,n): row `row` moves
            out = _copies(base, len(delta), delta.dtype)
            out[np.arange(len(delta)), row, :] += delta[:, None] * other[col, :]
            return out
        if len(shape_b) == 2:  # (k,) @ (k,n)
            return base + delta[:, None] * other[col, :]
        return base + delta * other[col]  # (k,) @ (k,)
    if _shared(a) and isinstance(b, OneEntry):
        delta = b.change()
        other = a[0]
        if len(shape_b) == 1:
            j = b.at
            if len(shape_a) == 2:  # (m,k) @ (k,): every entry moves with column j of a
                return base + delta[:, None] * other[:, j].T
            return base + delta * other[j]
        j, c = np.divmod(b.at, shape_b[1])
        out = _copies(base, len(delta), delta.dtype)
        if len(shape_a) == 2:  # (m,k) @ (k,n): column c moves
            out[np.arange(len(delta)), :, c] += delta[:, None] * other[:, j].T
        else:  # (k,) @ (k,n)
            out[np.arange(len(delta)), c] += delta * other[j]
        return out
    return None


def _total(mean: bool):
    """A sum (or mean) along axes: the moved entry moves the one output it lands in."""

    def rule(base, node, args):
        (x,) = args
        if not isinstance(x, OneEntry):
            return None
        shape, params = node.args[0].shape, node.kwargs
        reduced = normal_axes(len(shape), params["axis"])
        change = x.change() / (math.prod(shape[a] for a in reduced) if mean else 1)
        if node.shape == ():
            return base + change
        index = np.unravel_index(x.at, shape)
        if params["keepdims"]:
            landed = tuple(0 * i if a in reduced else i for a, i in enumerate(index))
        else:
            landed = tuple(i for a, i in enumerate(index) if a not in reduced)
        at = np.ravel_multi_index(landed, node.shape)
        return OneEntry(base, at, base.reshape(-1)[at] + change)

    return rule


def _dot(base, node, args):
    a, b = args
    if isinstance(a, OneEntry) and _shared(b):
        return base + a.change() * b.reshape(-1)[a.at]
    if isinstance(b, OneEntry) and _shared(a):
        return base + b.change() * a.reshape(-1)[b.at]
    return None


def _transpose(base, node, args):
    (x,) = args
    if not isinstance(x, OneEntry):
        return None
    shape = node.args[0].shape
    if len(shape) < 2:
        return OneEntry(base, x.at, x.entry)
    # entry (i, j, k) of x is entry (k, j, i) of x.T: the same index, its axes permuted
    index = np.unravel_index(x.at, shape)
    order = permutation(len(shape), node.kwargs.get("axes"))
    return OneEntry(base, np.ravel_multi_index([index[a] for a in order], node.shape), x.entry)


def _reshaped(base, node, args):
    """An op that keeps the entries in order: the moved entry keeps its flat position."""
    (x,) = args
    return OneEntry(base, x.at, x.entry) if isinstance(x, OneEntry) else None


_RULES = {
    "matmul": _matmul,
    "sum": _total(mean=False),
    "mean": _total(mean=True),
    "dot": _dot,
    "transpose": _transpose,
    **dict.fromkeys(["reshape", "ravel", "expand_dims", "squeeze"], _reshaped),
}
