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
from gradcheck.engine.ops.indexing import slice_text
from gradcheck.errors import ExpressionError, ShapeError, ValueProblem
from gradcheck.source.parse import MAX_RANK, Term, suggest

_OPERATOR_TEXT = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@"}
_COMPARISON_TEXT = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "==", "ne": "!="}


@dataclass(eq=False)
class Node:
    """A typed expression node; ``op`` is an ``ops.OPS`` key, ``"input"`` or ``"const"``.

    ``params`` are the op's static parameters (``(("axis", 1), ("keepdims", False))``),
    every keyword the op declares, defaults filled in: hashable, and part of a program's
    fingerprint.
    """

    op: str
    args: tuple[Node, ...]
    shape: tuple[int, ...]
    term: Term | None = None
    name: str | None = None  # the input's name, or the let name bound to this node
    value: np.ndarray | None = None
    params: tuple[tuple[str, object], ...] = ()

    @property
    def kwargs(self) -> dict[str, object]:
        """The static parameters, as the op's rules take them."""
        return dict(self.params)

    @property
    def label(self) -> str:
        """How to call this node in a message: its input or let name, or its text."""
        if self.name:
            return self.name
        return self.term.text.strip() if self.term is not None else self.op


def written(node: Node, args: list[str]) -> str:
    """A node's operation on named arguments, as the language writes it: ``t1 + t2``,
    ``t1 > 0``, ``softmax(t1, axis=1)``, ``max(t2)``, ``t1[:, 1:]``, ``[t1, t2]``,
    ``t1.T``; parameters left at their defaults are left out."""
    symbol = _OPERATOR_TEXT.get(node.op) or _COMPARISON_TEXT.get(node.op)
    if symbol:
        return f"{args[0]} {symbol} {args[1]}"
    params = node.kwargs
    if node.op == "neg":
        return f"-{args[0]}"
    if node.op == "transpose" and params.get("axes") is None:
        return f"{args[0]}.T"
    if node.op == "index":
        return f"{args[0]}[{key_text(params.get('key'), args[1:])}]"
    if node.op == "stack" and params.get("axis", 0) == 0:
        return f"[{', '.join(args)}]"
    op = OPS[node.op]
    shown = [f"[{', '.join(args)}]"] if op.sequence else list(args)
    if node.op == "einsum":  # its spec is written first, before the operands
        shown.insert(0, repr(params["spec"]))
    in_order = True  # positional keywords are shown by position while none is skipped
    for keyword in (k for k in op.keywords if not (node.op == "einsum" and k.name == "spec")):
        value = params.get(keyword.name, keyword.default)
        if value == keyword.default:
            in_order = False
            continue
        in_order = in_order and keyword.positional
        shown.append(repr(value) if in_order else f"{keyword.name}={value!r}")
    return f"{op.user_name}({', '.join(shown)})"


def key_text(key, args: list[str]) -> str:
    """An index key as written: ``:, 1:``, ``..., -1``, ``arange(4), y``."""
    key = ("arg",) * len(args) if key is None else key
    names = iter(args)
    parts = []
    for item in key:
        if item == "arg":
            parts.append(next(names))
        elif item == "new":
            parts.append("None")
        elif isinstance(item, tuple):
            parts.append(slice_text(item))
        else:
            parts.append(str(item))
    return ", ".join(parts)


def describe_shape(shape: tuple[int, ...]) -> str:
    """``a scalar`` or ``shape (3, 2)``."""
    return "a scalar" if shape == () else f"shape {shape}"


@dataclass
class Scope:
    """What names mean while typing: inputs and ``let`` bindings, all typed ``Node``s.

    ``index_axes`` collects, for inputs used as integer labels (indices, ``take_along``
    and ``one_hot`` labels, ``where`` masks), the exclusive bounds of their values (the
    lengths of the axes they index), so that a value can be drawn in range. Such an input
    may be a scalar or an array of any shape; it is never differentiated.
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
    node = _apply(term, term.name, args, term.params)
    _collect_labels(node, scope)
    return node


def _apply(term: Term, op: str, args: list[Node], params=()) -> Node:
    try:
        shape = OPS[op].shape(*(a.shape for a in args), **dict(params))
    except ValueError as exc:
        raise term.source.error(
            ShapeError, _shape_message(term, op, args, str(exc)), term.start
        ) from None
    _check_size(term, tuple(shape))
    return Node(op, tuple(args), tuple(shape), term, params=tuple(params))


def _check_size(term: Term, shape: tuple[int, ...]) -> None:
    too_many = limits.entries_allowed(math.prod(shape), f"{term.text.strip()!r}")
    if too_many:
        raise term.source.error(ShapeError, too_many, term.start)
    if len(shape) > MAX_RANK:
        raise term.source.error(
            ShapeError,
            f"{term.text.strip()!r} would have {len(shape)} dimensions; "
            f"arrays have at most {MAX_RANK}",
            term.start,
        )


def _shape_message(term: Term, op: str, args: list[Node], reason: str) -> str:
    operands = " and ".join(
        f"{_quote(a)} is a scalar" if a.shape == () else f"{_quote(a)} has shape {a.shape}"
        for a in args
    )
    if op in _OPERATOR_TEXT:
        where = f"in {term.text.strip()!r}"
    else:
        where = f"in {OPS[op].user_name}(...)" if op != "index" else f"in {term.text.strip()!r}"
    if not operands:
        return f"{where[3:]}: {reason}"
    return f"shapes do not fit {where}: {operands}; {reason}"


def _quote(node: Node) -> str:
    return node.name or (node.term.text.strip() if node.term is not None else "a constant")


def _constant(node: Node) -> bool:
    """Whether a node depends on no input (``arange(4)``, ``[0, 2, 1]``)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.op == "input":
            return False
        stack.extend(current.args)
    return True


def _collect_labels(node: Node, scope: Scope) -> None:
    """Record the inputs a node takes as integer labels, with their bounds; refuse a
    label that is computed from inputs where the op needs an input or a constant."""
    op = OPS[node.op]
    if op.labels is None:
        return
    bounds = op.labels(*(a.shape for a in node.args), **node.kwargs)
    for k, bound in bounds.items():
        arg = node.args[k]
        if arg.op == "input":
            scope.index_axes.setdefault(arg.name, []).append(bound)
        elif arg.op == "const" and not op.computed_labels:
            _check_written_labels(arg, bound)
        elif not (op.computed_labels or _constant(arg)):
            raise arg.term.source.error(
                ExpressionError,
                f"{_quote(arg)!r} gives the labels of {op.user_name}(...), so it must be an "
                "integer input (like y) or a constant (like arange(4))",
                arg.term.start,
            )


def _check_written_labels(node: Node, bound: int) -> None:
    """Labels written as numbers (``z[3]``, ``z[[0, 2]]``) are checked as soon as typed."""
    value = np.asarray(node.value)
    bad = value[(value != np.round(value)) | (value < -bound) | (value >= bound)]
    if bad.size:
        reason = "is not an integer" if bad.flat[0] != round(bad.flat[0]) else "is out of range"
        raise node.term.source.error(
            ShapeError,
            f"index {bad.flat[0]:g} {reason} for an axis of length {bound}",
            node.term.start,
        )


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
    shape = (len(items), *items[0].shape)
    _check_size(term, shape)
    if all(item.op == "const" for item in items):
        value = np.array([item.value for item in items], dtype=float)
        return Node("const", (), shape, term, value=value)
    return _apply(term, "stack", items, OPS["stack"].resolve({}))


def _build_index(term: Term, scope: Scope) -> Node:
    base = build(term.args[0], scope)
    key = dict(term.params)["key"]
    indexed = sum(1 for item in key if item not in ("...", "new"))
    if indexed > len(base.shape):
        have = "a scalar" if not base.shape else f"{len(base.shape)} dimension(s)"
        raise term.source.error(
            ShapeError,
            f"{term.text!r} has {indexed} index(es) but {_quote(base)} has {have}",
            term.start,
        )
    positions = []
    for position in term.args[1:]:
        node = build(position, scope)
        if node.op != "input" and not _constant(node):
            raise position.source.error(
                ExpressionError,
                f"the index {position.text!r} must be an integer input (like y) or a "
                "constant (like arange(4)); an index computed from inputs has no meaning here",
                position.start,
            )
        positions.append(node)
    node = _apply(term, "index", [base, *positions], term.params)
    _collect_labels(node, scope)
    return node


# ---------------------------------------------------------------- label values


def check_labels(name: str, value: np.ndarray, bounds: list[int], where: str) -> None:
    """Refuse a given value of a label input (an integer, or an array of them) that is
    not an integer, or is out of range for an axis it indexes (``bounds``).

    Raises:
        ValueProblem: naming the input and the first bad entry.
    """
    value = np.asarray(value, dtype=float)
    fractional = value[value != np.round(value)]
    if fractional.size:
        raise ValueProblem(
            f"{name} is used as an index, so its value must be an integer; "
            f"got {fractional.flat[0]:g}",
            where=where,
        )
    bound = min(bounds)
    outside = value[(value < -bound) | (value >= bound)]
    if outside.size:
        raise ValueProblem(
            f"{name} = {int(outside.flat[0])} is out of range as an index (axis of length {bound})",
            where=where,
        )


def draw_labels(rng: np.random.Generator, shape: tuple[int, ...], bounds: list[int]):
    """Random labels for an input given no value: integers in range for every axis they
    index (``[0, min(bounds))``), of the input's shape."""
    return rng.integers(min(bounds), size=shape)
