"""ONE table of primitives, laid out by group (see ``core`` for what each rule receives):
element-wise ops, reductions, linear algebra, lists and indexing."""

from __future__ import annotations

from gradcheck.engine.batched import DomainError
from gradcheck.engine.ops import elementwise, indexing, linalg, reductions
from gradcheck.engine.ops.core import Op, broadcast_shape

__all__ = ["FUNCTIONS", "LEAKY_SLOPE", "OPS", "DomainError", "Op", "broadcast_shape"]

_TABLE = [*elementwise.TABLE, *reductions.TABLE, *linalg.TABLE, *indexing.TABLE]

OPS: dict[str, Op] = {op.name: op for op in _TABLE}

#: The functions a user may call, with the number of arguments each takes.
FUNCTIONS: dict[str, tuple[int, int]] = {op.name: op.arity for op in _TABLE if op.public}

#: Slope of leaky_relu when the call gives none (as in PyTorch).
LEAKY_SLOPE = 0.01
