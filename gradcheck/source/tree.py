"""The expression language, typing: untyped terms become a typed expression tree.

``build(term, scope)`` types a parsed ``Term`` against the shapes of the inputs in
``scope`` and gives a ``Node``; a shape mismatch names both operands and their shapes.
Shapes are known only once values are, which is why typing is a step of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gradcheck import limits
from gradcheck.engine.ops import LEAKY_SLOPE, OPS
from gradcheck.errors import ExpressionError, ShapeError
from gradcheck.source.parse import Term, suggest

_OPERATOR_TEXT = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@"}


@dataclass(eq=False)
class Node:
    """A typed expression node; ``op`` is an ``ops.OPS`` key, ``"input"`` or ``"const"``."""

    op: str
    args: tuple[Node, ...]
    shape: tuple[int, ...]
    term: Term | None = None
    name: str | None = None  # the input's name, or the let name bound to this node
    value: np.ndarray | None = None

    @property
    def label(self) -> str:
        """How to call this node in a message: its input or let name, or its text."""
        if self.name:
            return self.name
        return self.term.text.strip() if self.term is not None else self.op


def describe_shape(shape: tuple[int, ...]) -> str:
    """``a scalar`` or ``shape (3, 2)``."""
    return "a scalar" if shape == () else f"shape {shape}"


@dataclass
class Scope:
    """What names mean while typing: inputs and ``let`` bindings, all typed ``Node``s.

    ``index_axes`` collects, for inputs used as indices, the lengths of the axes they
    index, so that a random value can be drawn in range.
    """

    names: dict[str, Node]
    index_axes: dict[str, list[int]] = field(default_factory=dict)


def build(term: Term, scope: Scope) -> Node:
    """Type a parsed term against the shapes in ``scope``.

    Raises:
        ShapeError: operands whose shapes do not fit, naming both.
        ExpressionError: a name with no meaning in ``scope``, a bad index.
    """
    if term.kind == "num":
        return Node("const", (), (), term, value=np.array(term.value))
    if term.kind == "name":
        if term.name not in scope.names:
            hint = suggest(term.name, scope.names)
            raise term.source.error(
                ExpressionError, f"unknown name {term.name!r}{hint}", term.start
            )
        return scope.names[term.name]
    if term.kind == "list":
        return _build_list(term, scope)
    if term.name == "index":
        return _build_index(term, scope)
    args = [build(arg, scope) for arg in term.args]
    if term.name == "leaky_relu" and len(args) == 1:
        args.append(Node("const", (), (), term, value=np.array(LEAKY_SLOPE)))
    return _apply(term, term.name, args)


def _apply(term: Term, op: str, args: list[Node]) -> Node:
    try:
        shape = OPS[op].shape(*(a.shape for a in args))
    except ValueError as exc:
        raise term.source.error(
            ShapeError, _shape_message(term, op, args, str(exc)), term.start
        ) from None
    too_many = limits.entries_allowed(math.prod(shape), f"{term.text.strip()!r}")
    if too_many:
        raise term.source.error(ShapeError, too_many, term.start)
    return Node(op, tuple(args), tuple(shape), term)


def _shape_message(term: Term, op: str, args: list[Node], reason: str) -> str:
    operands = " and ".join(
        f"{_quote(a)} is a scalar" if a.shape == () else f"{_quote(a)} has shape {a.shape}"
        for a in args
    )
    where = f"in {term.text.strip()!r}" if op in _OPERATOR_TEXT else f"in {op}(...)"
    return f"shapes do not fit {where}: {operands}; {reason}"


def _quote(node: Node) -> str:
    return node.name or (node.term.text.strip() if node.term is not None else "a constant")


def _build_list(term: Term, scope: Scope) -> Node:
    items = [build(arg, scope) for arg in term.args]
    shapes = {item.shape for item in items}
    if len(shapes) > 1:
        raise term.source.error(
            ShapeError,
            "the entries of a list must all have the same shape; "
            f"got {', '.join(str(s) for s in sorted(shapes))}",
            term.start,
        )
    if len(items[0].shape) >= 2:
        raise term.source.error(ShapeError, "arrays have at most 2 dimensions", term.start)
    shape = (len(items), *items[0].shape)
    if all(item.op == "const" for item in items):
        value = np.array([item.value for item in items], dtype=float)
        return Node("const", (), shape, term, value=value)
    return Node("stack", tuple(items), shape, term)


def _build_index(term: Term, scope: Scope) -> Node:
    base = build(term.args[0], scope)
    positions = term.args[1:]
    if len(positions) > len(base.shape):
        have = "a scalar" if not base.shape else f"{len(base.shape)} dimension(s)"
        raise term.source.error(
            ShapeError,
            f"{term.text!r} has {len(positions)} index(es) but {_quote(base)} has {have}",
            term.start,
        )
    indices = []
    for axis, position in enumerate(positions):
        length = base.shape[axis]
        if position.kind == "num":
            if not -length <= position.value < length:
                raise position.source.error(
                    ShapeError,
                    f"index {int(position.value)} is out of range for {_quote(base)} "
                    f"of {describe_shape(base.shape)}",
                    position.start,
                )
            indices.append(Node("const", (), (), position, value=np.array(position.value)))
            continue
        node = build(position, scope)
        if node.op != "input" or node.shape != ():
            raise position.source.error(
                ExpressionError,
                f"the index {position.name!r} must be a scalar input with an integer value",
                position.start,
            )
        scope.index_axes.setdefault(position.name, []).append(length)
        indices.append(node)
    return _apply(term, "index", [base, *indices])
