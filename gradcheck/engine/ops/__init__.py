"""ONE table of primitives, laid out by group (``core`` says what each rule receives):
element-wise ops, comparisons and other piecewise ops, reductions along axes, shape ops,
repeated and masked arrays and constructors, indexing and gathering, linear algebra."""

from __future__ import annotations

from gradcheck.engine.batched import DomainError
from gradcheck.engine.ops import (
    construct,
    conv,
    elementwise,
    indexing,
    linalg,
    piecewise,
    reductions,
    shapes,
)
from gradcheck.engine.ops.core import Keyword, Op, broadcast_shape

__all__ = [
    "FUNCTIONS",
    "LEAKY_SLOPE",
    "OPS",
    "DomainError",
    "Keyword",
    "Op",
    "broadcast_shape",
    "overload",
]

_TABLE = [
    *elementwise.TABLE,
    *piecewise.TABLE,
    *reductions.TABLE,
    *shapes.TABLE,
    *construct.TABLE,
    *indexing.TABLE,
    *linalg.TABLE,
    *conv.TABLE,
]

OPS: dict[str, Op] = {op.name: op for op in _TABLE}

#: The ops a user may call by each name: ``max`` is ``amax`` with one argument and the
#: element-wise ``max`` with two.
_CALLED: dict[str, list[Op]] = {}
for _op in _TABLE:
    if _op.public:
        _CALLED.setdefault(_op.user_name, []).append(_op)

#: The functions a user may call, with the number of arguments each takes.
FUNCTIONS: dict[str, tuple[int, int]] = {
    name: (min(op.arity[0] for op in ops), max(op.arity[1] for op in ops))
    for name, ops in _CALLED.items()
}


def overload(name: str, arrays: int) -> Op | None:
    """The op a call of ``name`` with that many array arguments means (None: none)."""
    for op in _CALLED.get(name, ()):
        if op.arity[0] <= arrays <= op.arity[1]:
            return OPS[op.name]  # looked up again: a test may swap an entry
    return None


#: Slope of leaky_relu when the call gives none (as in PyTorch).
LEAKY_SLOPE = 0.01
