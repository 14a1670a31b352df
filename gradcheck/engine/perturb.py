"""Finite differences at scale: the graph evaluated at many copies of a point, each copy
with one entry of one input moved.

A copy differs from the point in one entry, so most of the graph is the same for every
copy. Nodes that do not depend on the moved input keep their value at the point. A
value that differs from the point in a few entries per copy is a ``Patch``: an
element-wise operation on it computes just those entries (the same operation on the
same numbers, so the same bits a dense evaluation gives). A matrix product or a sum is
updated by the change instead of recomputed, which is exact algebra and rounds no
worse: moving ``W1[i, j]`` in ``W2 @ tanh(W1 @ X + b1)`` changes row i of ``W1 @ X``,
tanh of that row only, and then every output by ``W2[:, i]`` times the row's change.
Anything else falls back to dense copies.

The cost of checking n entries is then about n times the cost of the changed path, not
n times the cost of the whole graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gradcheck.engine.graph import Program, align, sides_changed
from gradcheck.engine.ops import OPS
from gradcheck.engine.ops.core import normal_axes
from gradcheck.engine.ops.shapes import permutation

#: Entries (floats) per batch of dense copies: bounds memory where a change spreads.
BATCH_FLOATS = 1 << 21


@dataclass(frozen=True)
class Patch:
    """Copies of ``base`` (shape ``(1, *shape)``), copy r with flat entries ``at[r]`` set
    to ``entry[r]`` (both of shape (copies, entries per copy)). ``row``, where given, says
    the entries are exactly row ``row[r]`` of a 2-D value, in order."""

    base: np.ndarray
    at: np.ndarray
    entry: np.ndarray
    row: np.ndarray | None = None

    def dense(self) -> np.ndarray:
        rows = len(self.at)
        copies = _copies(self.base, rows, self.entry.dtype)
        copies.reshape(rows, -1)[np.arange(rows)[:, None], self.at] = self.entry
        return copies

    def change(self) -> np.ndarray:
        """How far each copy's entries moved from the point (exact: nearby floats)."""
        return self.entry - self.base.reshape(-1)[self.at]

    @property
    def single(self) -> bool:
        return self.at.shape[1] == 1


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
                    current.append(Patch(self.values[i], at[:, None], entry[:, None]))
                    continue
                args = [current[j] for j in program.args[i]]
                value, sides = self._apply(i, node, args, rows)
                if isinstance(value, np.ndarray) and value.shape[0] > 1:
                    self.largest = max(self.largest, value[0].size)
                current.append(value)
                if sides is not None:
                    crossed = np.where((crossed < 0) & sides, i, crossed)
        output, shape = current[program.output], program.root.shape
        if isinstance(output, Patch):  # a scalar output is its one entry; else in full
            return (output.entry[:, 0] if shape == () else output.dense()), crossed
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
        if not isinstance(value, Patch):
            return value
        self.largest = max(self.largest, value.base[0].size)
        return value.dense()

    def _elementwise(self, i, node, op, args, rows):
        moved = [a for a in args if isinstance(a, Patch)]
        dense_args = [a for a in args if isinstance(a, np.ndarray) and not _shared(a)]
        same_shape = all(
            arg.shape == node.shape for a, arg in zip(args, node.args) if isinstance(a, Patch)
        )
        if moved and not dense_args and same_shape and all(m.at is moved[0].at for m in moved):
            at = moved[0].at
            scalars = [
                a.entry if isinstance(a, Patch) else _entries(a, arg, node, at)
                for a, arg in zip(args, node.args)
            ]
            entry = op.forward(*scalars)
            sides = None
            if op.switch is not None:
                before = np.broadcast_to(self.sides[i][0], node.shape).reshape(-1)[at]
                sides = np.any(op.sides(*scalars) != before, axis=1)
            return Patch(self.values[i], at, entry, moved[0].row), sides
        aligned = [align(self._dense(a), arg.shape, node.shape) for a, arg in zip(args, node.args)]
        value = op.forward(*aligned)
        sides = None
        if op.switch is not None:
            sides = sides_changed(op.sides(*aligned), self.sides[i], rows)
        return value, sides


def _entries(value: np.ndarray, arg, node, at: np.ndarray) -> np.ndarray:
    """A shared argument's entries at the moved positions of the (broadcast) output."""
    full = np.broadcast_to(align(value, arg.shape, node.shape)[0], node.shape)
    return full.reshape(-1)[at]


# ---------------------------------------------------------------- spreading changes
# Each rule returns the node's value for every copy, or None to fall back to dense.


def _matmul(base: np.ndarray, node, args):
    a, b = args
    shape_a, shape_b = node.args[0].shape, node.args[1].shape
    if len(shape_a) > 2 or len(shape_b) > 2:  # batched products: dense copies
        return None
    if isinstance(a, Patch) and a.single and _shared(b):
        return _moved_left(base, a, b[0], shape_a, shape_b)
    if _shared(a) and isinstance(b, Patch):
        if b.single:
            return _moved_right(base, b, a[0], shape_a, shape_b)
        if b.row is not None and len(shape_b) == 2:  # (m,k) @ (k,n), row r of b moved:
            change = b.change()  # every output moves by a[:, r] times the row's change
            column = a[0][:, b.row].T if len(shape_a) == 2 else a[0][b.row][:, None]
            return (
                base + column[:, :, None] * change[:, None, :]
                if len(shape_a) == 2
                else (base + column * change)
            )
    return None


def _moved_left(base, a: Patch, other, shape_a, shape_b):
    """``a @ b`` with one entry of ``a`` moved."""
    k = shape_a[-1]
    delta = a.change()[:, 0]
    row, col = np.divmod(a.at[:, 0], k) if len(shape_a) == 2 else (None, a.at[:, 0])
    if row is not None and len(shape_b) == 1:  # (m,k) @ (k,): entry `row` moves
        return Patch(base, row[:, None], (base.reshape(-1)[row] + delta * other[col])[:, None])
    if row is not None:  # (m,k) @ (k,n): row `row` moves, and nothing else
        n = shape_b[1]
        at = row[:, None] * n + np.arange(n)
        return Patch(base, at, base.reshape(-1)[at] + delta[:, None] * other[col, :], row)
    if len(shape_b) == 2:  # (k,) @ (k,n)
        return base + delta[:, None] * other[col, :]
    return base + delta * other[col]  # (k,) @ (k,)


def _moved_right(base, b: Patch, other, shape_a, shape_b):
    """``a @ b`` with one entry of ``b`` moved."""
    delta = b.change()[:, 0]
    if len(shape_b) == 1:
        j = b.at[:, 0]
        if len(shape_a) == 2:  # (m,k) @ (k,): every entry moves with column j of a
            return base + delta[:, None] * other[:, j].T
        return base + delta * other[j]
    j, c = np.divmod(b.at[:, 0], shape_b[1])
    if len(shape_a) == 2:  # (m,k) @ (k,n): column c moves
        m, n = shape_a[0], shape_b[1]
        at = np.arange(m)[None, :] * n + c[:, None]
        return Patch(base, at, base.reshape(-1)[at] + delta[:, None] * other[:, j].T)
    at = c[:, None]  # (k,) @ (k,n): entry c moves
    return Patch(base, at, base.reshape(-1)[at] + (delta * other[j])[:, None])


def _total(mean: bool):
    """A sum (or mean) along axes: the moved entry moves the one output it lands in."""

    def rule(base, node, args):
        (x,) = args
        if not isinstance(x, Patch):
            return None
        shape, params = node.args[0].shape, node.kwargs
        reduced = normal_axes(len(shape), params["axis"])
        change = x.change() / (math.prod(shape[a] for a in reduced) if mean else 1)
        if node.shape == ():
            return base + change.sum(axis=1)
        if not x.single:
            return None
        change, index = change[:, 0], np.unravel_index(x.at[:, 0], shape)
        if params["keepdims"]:
            landed = tuple(0 * i if a in reduced else i for a, i in enumerate(index))
        else:
            landed = tuple(i for a, i in enumerate(index) if a not in reduced)
        at = np.ravel_multi_index(landed, node.shape)
        return Patch(base, at[:, None], (base.reshape(-1)[at] + change)[:, None])

    return rule


def _dot(base, node, args):
    a, b = args
    if isinstance(a, Patch) and _shared(b):
        return base + np.sum(a.change() * b.reshape(-1)[a.at], axis=1)
    if isinstance(b, Patch) and _shared(a):
        return base + np.sum(b.change() * a.reshape(-1)[b.at], axis=1)
    return None


def _transpose(base, node, args):
    (x,) = args
    if not isinstance(x, Patch):
        return None
    shape = node.args[0].shape
    if len(shape) < 2:
        return Patch(base, x.at, x.entry)
    # entry (i, j, k) of x is entry (k, j, i) of x.T: the same index, its axes permuted
    index = np.unravel_index(x.at, shape)
    order = permutation(len(shape), node.kwargs.get("axes"))
    return Patch(base, np.ravel_multi_index([index[a] for a in order], node.shape), x.entry)


def _reshaped(base, node, args):
    """An op that keeps the entries in order: the moved entry keeps its flat position."""
    (x,) = args
    return Patch(base, x.at, x.entry) if isinstance(x, Patch) else None


_RULES = {
    "matmul": _matmul,
    "sum": _total(mean=False),
    "mean": _total(mean=True),
    "dot": _dot,
    "transpose": _transpose,
    **dict.fromkeys(["reshape", "ravel", "expand_dims", "squeeze"], _reshaped),
}
