"""The expression language: a whitelist parser from text to a typed expression tree.

Python's ``ast`` module does the tokenising; a walker then accepts only the grammar of
design.md and refuses everything else by name and column. User text is never passed to
``eval``, ``exec``, ``sympify`` or ``parse_expr``.

Two steps, because shapes are known only once values are:

* ``parse(text)`` -> ``Term``: validated, untyped, with the names it uses.
* ``build(term, env)`` -> ``Node``: typed against the shapes of the inputs; a shape
  mismatch names both operands and their shapes.
"""

from __future__ import annotations

import ast
import difflib
import math
from dataclasses import dataclass, field

import numpy as np

from gradcheck.engine.ops import FUNCTIONS, LEAKY_SLOPE, OPS
from gradcheck.errors import ExpressionError, ShapeError

CONSTANTS = {"pi": math.pi, "e": math.e}

_BINARY = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
}
_OPERATOR_TEXT = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@"}

# What each refused piece of Python is called in a message.
_REFUSED = {
    ast.Lambda: "lambda expressions",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.IfExp: "conditional expressions",
    ast.Compare: "comparisons",
    ast.BoolOp: "'and' / 'or'",
    ast.Dict: "dictionaries",
    ast.Set: "sets",
    ast.Tuple: "tuples",
    ast.Starred: "starred arguments",
    ast.JoinedStr: "strings",
    ast.NamedExpr: "assignments",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}


@dataclass(frozen=True)
class Source:
    """A piece of user text and what to call it in messages (``expression``, ``--let p``)."""

    text: str
    where: str = "expression"
    line: int | None = None
    column_offset: int = 0

    def error(self, kind: type[ExpressionError], message: str, start: int) -> ExpressionError:
        return kind(
            message, where=self.where, line=self.line, column=start + 1 + self.column_offset
        )


@dataclass(frozen=True, eq=False)
class Term:
    """An untyped, validated expression: ``kind`` is num, name, call or list."""

    kind: str
    source: Source
    start: int
    end: int
    name: str = ""
    value: float = 0.0
    args: tuple[Term, ...] = ()

    @property
    def text(self) -> str:
        return self.source.text[self.start : self.end]

    def names(self) -> list[str]:
        """Free variable names, in order of first appearance."""
        seen: dict[str, None] = {}
        stack = [self]
        while stack:
            term = stack.pop()
            if term.kind == "name":
                seen.setdefault(term.name)
            stack.extend(reversed(term.args))
        return list(seen)


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


# ---------------------------------------------------------------- parsing


def _rewrite_caret(text: str) -> tuple[str, list[int]]:
    """``^`` becomes ``**`` (power, as in maths); returns the text and a column map back."""
    out, columns = [], []
    for column, char in enumerate(text):
        replacement = "**" if char == "^" else char
        out.append(replacement)
        columns.extend([column] * len(replacement))
    columns.append(len(text))
    return "".join(out), columns


def parse(
    text: str, where: str = "expression", *, line: int | None = None, offset: int = 0
) -> Term:
    """Parse and validate one expression.

    ``offset`` is the column where the expression starts in what the user typed (after
    ``p=`` in ``--let p=...``) so that columns in messages match the user's text.

    Raises:
        ExpressionError: syntax errors and anything outside the grammar, with its column.
    """
    source = Source(text, where, line, offset)
    if not text.strip():
        raise source.error(ExpressionError, "the expression is empty", 0)
    rewritten, columns = _rewrite_caret(text)
    try:
        tree = ast.parse(rewritten.strip(), mode="eval")
    except SyntaxError as exc:
        lead = len(rewritten) - len(rewritten.lstrip())
        at = min(max((exc.offset or 1) - 1 + lead, 0), len(columns) - 1)
        reason = (exc.msg or "invalid syntax").removesuffix(" (<unknown>, line 1)")
        raise source.error(ExpressionError, f"syntax error: {reason}", columns[at]) from None
    except (ValueError, MemoryError, RecursionError):
        raise source.error(ExpressionError, "the expression could not be parsed", 0) from None
    lead = len(rewritten) - len(rewritten.lstrip())
    walker = _Walker(source, rewritten, columns, lead)
    try:
        return walker.term(tree.body)
    except RecursionError:
        raise source.error(ExpressionError, "the expression is nested too deeply", 0) from None


@dataclass(frozen=True)
class RandomSpec:
    """``random(3, 3)``: a seeded random array of that shape, drawn at check time."""

    shape: tuple[int, ...]


def parse_value(text: str, where: str, *, line: int | None = None, offset: int = 0):
    """Parse a value: ``random(m, n)`` gives a ``RandomSpec``, anything else a ``Term``.

    The term must be constant (numbers, ``pi``, ``e``, lists, arithmetic, functions);
    the caller evaluates it.
    """
    stripped = text.strip()
    if stripped.startswith("random") and stripped[len("random") :].lstrip().startswith("("):
        return _parse_random(text, Source(text, where, line, offset))
    term = parse(text, where=where, line=line, offset=offset)
    names = term.names()
    if names:
        raise term.source.error(
            ExpressionError,
            f"a value cannot refer to {names[0]!r}; "
            "use a number, a list like [[1, 2], [3, 4]] or random(3, 3)",
            term.start,
        )
    return term


def _parse_random(text: str, source: Source) -> RandomSpec:
    start = len(text) - len(text.lstrip())
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise source.error(ExpressionError, "syntax error in random(...)", start) from None
    if not isinstance(call, ast.Call) or call.keywords:
        raise source.error(ExpressionError, "expected random() or random(m) or random(m, n)", start)
    dims = []
    for arg in call.args:
        if not (isinstance(arg, ast.Constant) and type(arg.value) is int and arg.value >= 1):
            raise source.error(
                ExpressionError,
                "random(...) takes positive integer dimensions, like random(3, 3)",
                start + arg.col_offset,
            )
        dims.append(arg.value)
    if len(dims) > 2:
        raise source.error(ExpressionError, "arrays have at most 2 dimensions", start)
    return RandomSpec(tuple(dims))


def parse_binding(text: str, where: str, *, line: int | None = None) -> tuple[str, Term]:
    """Parse ``NAME=EXPR`` (as given to --let and --claim)."""
    name, sep, expr = text.partition("=")
    if not sep:
        raise ExpressionError(f"expected NAME=EXPRESSION, got {text!r}", where=where, line=line)
    name = name.strip()
    check_name(name, where, line=line)
    return name, parse(expr, where=where, line=line, offset=len(text) - len(expr))


def check_name(name: str, where: str, *, line: int | None = None) -> None:
    """A name a user may bind or give a value: an identifier, not a function or constant."""
    if not name.isidentifier():
        raise ExpressionError(f"{name!r} is not a valid name", where=where, line=line)
    if name.startswith("__"):
        raise ExpressionError(f"dunder name {name!r} is not allowed", where=where, line=line)
    if name in FUNCTIONS or name in CONSTANTS:
        kind = "function" if name in FUNCTIONS else "constant"
        raise ExpressionError(
            f"{name!r} is a {kind} and cannot be used as a name", where=where, line=line
        )


def suggest(name: str, candidates) -> str:
    """``; did you mean 'sinh'?`` or ``''``."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Walker:
    """Turns a Python ``ast`` into ``Term``s, refusing everything outside the grammar."""

    def __init__(self, source: Source, rewritten: str, columns: list[int], lead: int) -> None:
        self.source = source
        self.columns = columns
        self.lead = lead
        self.encoded = rewritten.strip().encode("utf-8")

    def _column(self, byte_offset: int) -> int:
        """ast offsets count UTF-8 bytes of the stripped, rewritten text."""
        chars = len(self.encoded[:byte_offset].decode("utf-8", errors="ignore"))
        return self.columns[min(chars + self.lead, len(self.columns) - 1)]

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self._column(node.col_offset)
        end = self._column(node.end_col_offset or node.col_offset)
        return start, max(end, start + 1)

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        return self.source.error(ExpressionError, message, self.span(node)[0])

    def make(self, node: ast.AST, kind: str, **fields) -> Term:
        start, end = self.span(node)
        return Term(kind, self.source, start, end, **fields)

    def term(self, node: ast.AST) -> Term:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is not None:
            return method(node)
        what = _REFUSED.get(type(node), f"'{type(node).__name__}' expressions")
        raise self.fail(node, f"{what} are not allowed in an expression")

    def visit_Constant(self, node: ast.Constant) -> Term:
        value = node.value
        if isinstance(value, str):
            raise self.fail(node, f"strings are not allowed in an expression ({value!r})")
        if isinstance(value, bool) or value is None or value is Ellipsis:
            raise self.fail(node, f"{value!r} is not a number")
        if isinstance(value, complex):
            raise self.fail(node, "complex numbers are not supported")
        if isinstance(value, bytes):
            raise self.fail(node, "strings are not allowed in an expression")
        number = float(value)
        if not math.isfinite(number):
            raise self.fail(node, f"the number {self.make(node, 'num').text} is too large")
        return self.make(node, "num", value=number)

    def visit_Name(self, node: ast.Name) -> Term:
        if node.id.startswith("__"):
            raise self.fail(node, f"dunder name {node.id!r} is not allowed")
        if node.id in CONSTANTS:
            return self.make(node, "num", value=CONSTANTS[node.id], name=node.id)
        if node.id in FUNCTIONS:
            raise self.fail(node, f"{node.id!r} is a function; call it as {node.id}(...)")
        return self.make(node, "name", name=node.id)

    def visit_BinOp(self, node: ast.BinOp) -> Term:
        op = _BINARY.get(type(node.op))
        if op is None:
            symbol = {
                ast.BitXor: "^",
                ast.BitAnd: "&",
                ast.BitOr: "|",
                ast.Mod: "%",
                ast.FloorDiv: "//",
                ast.LShift: "<<",
                ast.RShift: ">>",
            }.get(type(node.op), "?")
            raise self.fail(node, f"the operator {symbol!r} is not supported")
        return self.make(node, "call", name=op, args=(self.term(node.left), self.term(node.right)))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Term:
        if isinstance(node.op, ast.UAdd):
            return self.term(node.operand)
        if isinstance(node.op, ast.USub):
            operand = self.term(node.operand)
            if operand.kind == "num":  # fold -3 into a literal: cleaner trees and messages
                return self.make(node, "num", value=-operand.value)
            return self.make(node, "call", name="neg", args=(operand,))
        raise self.fail(node, "'not' and '~' are not supported")

    def visit_Call(self, node: ast.Call) -> Term:
        if not isinstance(node.func, ast.Name):
            for inner in ast.walk(node.func):  # name the worst piece: __import__, .system
                if isinstance(inner, ast.Name) and inner.id.startswith("__"):
                    raise self.fail(inner, f"dunder name {inner.id!r} is not allowed")
            if isinstance(node.func, ast.Attribute):
                raise self.fail(
                    node.func,
                    f"method calls like .{node.func.attr}(...) are not "
                    "allowed; call functions by name, like sum(x)",
                )
            raise self.fail(node, "only functions can be called, by name, like sin(x)")
        name = node.func.id
        if node.keywords:
            raise self.fail(node, f"keyword arguments are not supported in {name}(...)")
        if name.startswith("__"):
            raise self.fail(node, f"dunder name {name!r} is not allowed")
        if name == "random":
            raise self.fail(
                node, "random(...) is only allowed as a value, e.g. --at W=random(3, 3)"
            )
        if name not in FUNCTIONS:
            hint = suggest(name, FUNCTIONS)
            raise self.fail(node.func, f"unknown function {name!r}{hint}")
        low, high = FUNCTIONS[name]
        if not low <= len(node.args) <= high:
            count = str(low) if low == high else f"{low} or {high}"
            raise self.fail(
                node, f"{name}() takes {count} argument{'s' * (high > 1)}, got {len(node.args)}"
            )
        args = tuple(self.term(arg) for arg in node.args)
        return self.make(node, "call", name=name, args=args)

    def visit_Attribute(self, node: ast.Attribute) -> Term:
        if node.attr != "T":
            raise self.fail(
                node, f"attribute '.{node.attr}' is not allowed; only .T (transpose) is"
            )
        return self.make(node, "call", name="transpose", args=(self.term(node.value),))

    def visit_Subscript(self, node: ast.Subscript) -> Term:
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        indices = []
        for part in parts:
            index = self.term(part) if not isinstance(part, ast.Slice) else None
            if (
                index is None
                or index.kind not in ("num", "name")
                or (index.kind == "num" and (index.value != int(index.value) or index.name))
            ):
                raise self.fail(
                    part, "an index must be an integer literal or an input name, like z[2] or z[y]"
                )
            indices.append(index)
        return self.make(node, "call", name="index", args=(self.term(node.value), *indices))

    def visit_List(self, node: ast.List) -> Term:
        if not node.elts:
            raise self.fail(node, "empty lists are not allowed")
        return self.make(node, "list", args=tuple(self.term(e) for e in node.elts))


# ---------------------------------------------------------------- typing


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
