"""The expression language, parsing: a whitelist parser from text to untyped terms.

Python's ``ast`` module does the tokenising; a walker then accepts only the grammar of
design.md and refuses everything else by name and column. User text is never passed to
``eval``, ``exec``, ``sympify`` or ``parse_expr``. ``parse(text)`` gives a ``Term``:
validated, untyped, with the names it uses; ``source.tree`` types it.
"""

from __future__ import annotations

import ast
import difflib
import math
from dataclasses import dataclass

from gradcheck.engine.ops import FUNCTIONS
from gradcheck.errors import ExpressionError
from gradcheck.source import calls
from gradcheck.source.characters import allowed, check_characters

CONSTANTS = {"pi": math.pi, "e": math.e}

#: Dimensions an array may have: NumPy holds at most 64 axes, and every value carries a
#: batch axis (and a promoted one inside @), so well below that.
MAX_RANK = 32

_BINARY = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
}
# What each refused piece of Python is called in a message.
_REFUSED = {
    ast.Lambda: "lambda expressions",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.IfExp: "conditional expressions",
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
}
_COMPARISONS = {
    ast.Gt: "gt",
    ast.GtE: "ge",
    ast.Lt: "lt",
    ast.LtE: "le",
    ast.Eq: "eq",
    ast.NotEq: "ne",
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
    """An untyped, validated expression: ``kind`` is num, name, call or list.

    A call's ``name`` is the op it means (one-argument ``max`` is ``amax``) and its
    ``params`` are every keyword the op declares, as written or by default.
    """

    kind: str
    source: Source
    start: int
    end: int
    name: str = ""
    value: float = 0.0
    args: tuple[Term, ...] = ()
    params: tuple[tuple[str, object], ...] = ()

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
    check_characters(source)
    rewritten, columns = _rewrite_caret(text)
    try:
        tree = ast.parse(rewritten.strip(), mode="eval")
    except SyntaxError as exc:
        lead = len(rewritten) - len(rewritten.lstrip())
        reason = (exc.msg or "invalid syntax").removesuffix(" (<unknown>, line 1)")
        at = (exc.offset or 1) - 1 + lead
        if not exc.offset:  # Python reports an unexpected end of the text at offset 0
            at = len(rewritten.rstrip()) - 1
            reason = f"the expression ends unexpectedly after {text.rstrip()[-1]!r}"
        at = min(max(at, 0), len(columns) - 1)
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
        raise source.error(
            ExpressionError,
            "expected random() or random(m, n, ...), like random(2, 3, 8, 8)",
            start,
        )
    dims = []
    for arg in call.args:
        if not (isinstance(arg, ast.Constant) and type(arg.value) is int and arg.value >= 1):
            raise source.error(
                ExpressionError,
                "random(...) takes positive integer dimensions, like random(3, 3)",
                start + arg.col_offset,
            )
        dims.append(arg.value)
    if len(dims) > MAX_RANK:
        raise source.error(
            ExpressionError, f"random(...) has {len(dims)} dimensions; at most {MAX_RANK}", start
        )
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
    if not name.isidentifier() or not all(allowed(c) for c in name):
        raise ExpressionError(
            f"{name!r} is not a valid name: use ASCII letters, digits and _ (or Greek letters)",
            where=where,
            line=line,
        )
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

    def fail(self, node: ast.AST, message: str, at: int | None = None) -> ExpressionError:
        start = self.span(node)[0]
        if at is not None:
            start += self._in_string(node, at)
        return self.source.error(ExpressionError, message, start)

    def _in_string(self, node: ast.AST, at: int) -> int:
        """How far character ``at`` of a string literal (einsum's spec) is from the
        literal's first column: past the quote, where the literal is written plainly."""
        start, end = self.span(node)
        written = self.source.text[start:end]
        plain = len(written) >= 2 and written[0] == written[-1] and written[0] in "'\""
        value = getattr(node, "value", None)
        return 1 + at if plain and written[1:-1] == value else 0

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
                raise self.fail(node.func, calls.method(node.func.attr, node.func.value))
            raise self.fail(node, "only functions can be called, by name, like sin(x)")
        name = node.func.id
        if name.startswith("__"):
            raise self.fail(node, f"dunder name {name!r} is not allowed")
        if name == "random":
            raise self.fail(
                node, "random(...) is only allowed as a value, e.g. --at W=random(3, 3)"
            )
        if name not in FUNCTIONS:
            raise self.fail(node.func, calls.unknown(name, suggest(name, FUNCTIONS)))
        try:
            call = calls.resolve(node)
        except calls.Refusal as refusal:
            raise self.fail(refusal.node, refusal.message, refusal.at) from None
        args = tuple(self.term(arg) for arg in call.arrays)
        return self.make(node, "call", name=call.op.name, args=args, params=call.params)

    def visit_Compare(self, node: ast.Compare) -> Term:
        if len(node.ops) > 1:
            raise self.fail(
                node, "chained comparisons are not supported; write 0 < x < 1 as (0 < x) * (x < 1)"
            )
        op = _COMPARISONS.get(type(node.ops[0]))
        if op is None:
            raise self.fail(node, "'is' and 'in' are not supported; compare with < > <= >= == !=")
        args = (self.term(node.left), self.term(node.comparators[0]))
        return self.make(node, "call", name=op, args=args)

    def visit_Attribute(self, node: ast.Attribute) -> Term:
        if node.attr != "T":
            raise self.fail(
                node, f"attribute '.{node.attr}' is not allowed; only .T (transpose) is"
            )
        params = (("axes", None),)
        return self.make(
            node, "call", name="transpose", args=(self.term(node.value),), params=params
        )

    def visit_Subscript(self, node: ast.Subscript) -> Term:
        try:
            key, positions = calls.index_key(node)
        except calls.Refusal as refusal:
            raise self.fail(refusal.node, refusal.message) from None
        indices = []
        for position in positions:
            index = self.term(position)
            if index.kind == "num" and (index.name or index.value != int(index.value)):
                raise self.fail(position, calls.INDEX_FORMS)  # pi, e
            indices.append(index)
        return self.make(
            node,
            "call",
            name="index",
            args=(self.term(node.value), *indices),
            params=(("key", key),),
        )

    def visit_List(self, node: ast.List) -> Term:
        if not node.elts:
            raise self.fail(node, "empty lists are not allowed")
        return self.make(node, "list", args=tuple(self.term(e) for e in node.elts))
