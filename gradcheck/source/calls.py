"""The expression language, calls and subscripts: which op a call means, which of its
arguments are arrays and which are static parameters (keywords, and NumPy's positional
forms like ``reshape(x, (2, 3))``), the key of a subscript, and what to say about the
functions still outside the language.

Static parameters are literals only (integers, tuples of integers, True/False, None, a
string): they decide shapes, so they are known before any value is.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from gradcheck.engine.ops import FUNCTIONS, OPS, Keyword, Op, overload
from gradcheck.engine.ops.core import KINDS
from gradcheck.engine.ops.einsum import SpecError, SpecKeyword

#: The largest integer a static parameter may be (an axis, a length, a count).
LARGEST_STATIC = 2**62


class Refusal(Exception):
    """A piece of a call or subscript outside the grammar: the node and why; ``at``, a
    character of a string literal (an einsum spec) where the problem is."""

    def __init__(self, node: ast.AST, message: str, at: int | None = None) -> None:
        super().__init__(message)
        self.node = node
        self.message = message
        self.at = at


@dataclass(frozen=True)
class Call:
    """What a call means: the op, its array arguments (still ``ast``), its parameters."""

    op: Op
    arrays: list[ast.AST]
    params: tuple[tuple[str, object], ...]


def resolve(node: ast.Call) -> Call:
    """The op a call of a known function means, and its arguments sorted out.

    Raises:
        Refusal: wrong number of arguments, a keyword the op does not take, a static
            parameter that is not a literal of its kind.
    """
    name = node.func.id
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise Refusal(arg, "starred arguments are not allowed")
    arrays, statics = _split(name, node)
    op = overload(name, len(arrays))
    if op is None:
        raise Refusal(node, _arity_message(name, len(node.args), None))
    positional = [k for k in op.keywords if k.positional]
    if len(statics) > len(positional):
        raise Refusal(node, _arity_message(name, len(node.args), op))
    given = {k.name: static(arg, name, k) for k, arg in zip(positional, statics)}
    for keyword in node.keywords:
        accepted = _keyword(name, op, keyword, len(arrays))
        if isinstance(_declared(op, accepted), SpecKeyword):
            raise Refusal(keyword.value, f"{name}() takes its spec first, not as a keyword")
        given[accepted] = static(keyword.value, name, _declared(op, accepted))
    for keyword, arg in zip(positional, statics):
        if isinstance(keyword, SpecKeyword):
            _check_spec(name, keyword, arg, given[keyword.name], len(arrays))
    try:
        return Call(op, arrays, op.resolve(given))
    except KeyError as missing:
        raise Refusal(node, f"{name}() needs {missing.args[0]}: {op.summary}") from None


def _split(name: str, node: ast.Call) -> tuple[list[ast.AST], list[ast.AST]]:
    """Array arguments first (as many as the function takes at most), then statics; a
    spec (einsum's) is written before the arrays."""
    high = FUNCTIONS[name][1]
    if _leading_spec(name):
        if not node.args or not _is_string(node.args[0]):
            raise Refusal(
                node.args[0] if node.args else node,
                f'{name}() takes its spec first, as a string, like {name}("ij,jk->ik", A, B)',
            )
        if len(node.args) == 1:
            raise Refusal(node, f'{name}() needs arrays after its spec, like {name}("ii", A)')
        return list(node.args[1:]), [node.args[0]]
    if any(OPS[n].sequence for n in OPS if OPS[n].user_name == name):
        first = node.args[0] if node.args else node
        if not isinstance(first, ast.List | ast.Tuple) or not first.elts:
            raise Refusal(
                first, f"{name}() takes its arrays as one list, like {name}([a, b], axis=0)"
            )
        return list(first.elts), list(node.args[1:])
    return list(node.args[:high]), list(node.args[high:])


def _leading_spec(name: str) -> bool:
    return any(
        isinstance(k, SpecKeyword) for o in OPS.values() if o.user_name == name for k in o.keywords
    )


def _is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _check_spec(name: str, keyword: SpecKeyword, node: ast.AST, spec: str, arrays: int) -> None:
    """A spec outside its grammar, refused at the character that breaks it."""
    try:
        keyword.check(spec, arrays)
    except SpecError as error:
        raise Refusal(node, f"{name}(): {error}", at=error.at) from None


def _arity_message(name: str, count: int, op: Op | None) -> str:
    low, high = FUNCTIONS[name]
    takes = str(low) if low == high else f"{low} or {high}" if high - low == 1 else f"{low}-{high}"
    message = f"{name}() takes {takes} argument{'s' * (high > 1)}, got {count}"
    keywords = [k.name for k in op.keywords] if op is not None else []
    if keywords:
        message += f"; give {keywords[0]} as a keyword, like {name}(x, {keywords[0]}=1)"
    return message


def _declared(op: Op, name: str) -> Keyword:
    return next(k for k in op.keywords if k.name == name)


def _keyword(name: str, op: Op, keyword: ast.keyword, arrays: int) -> str:
    """The keyword's name, if the op takes it."""
    if keyword.arg is None:
        raise Refusal(keyword.value, "**arguments are not allowed")
    if any(k.name == keyword.arg for k in op.keywords):
        return keyword.arg
    other = next(
        (
            o
            for o in OPS.values()
            if o.public and o.user_name == name and any(k.name == keyword.arg for k in o.keywords)
        ),
        None,
    )
    where = keyword.value
    if other is not None:
        raise Refusal(
            where,
            f"{name}() with {arrays} argument{'s' * (arrays != 1)} takes no keyword "
            f"{keyword.arg!r}; with {other.arity[0]}, it does: {other.summary}",
        )
    if not op.keywords:
        raise Refusal(where, f"{name}() takes no keyword arguments")
    accepted = ", ".join(k.name for k in op.keywords)
    raise Refusal(where, f"{name}() does not take the keyword {keyword.arg!r}; it takes {accepted}")


def static(node: ast.AST, function: str, keyword: Keyword) -> object:
    """A static parameter's value, a literal of the keyword's kind."""
    kind = KINDS[keyword.kind] + (", or None" if keyword.takes_none else "")
    try:
        value = literal(node)
    except ValueError:
        raise Refusal(
            node,
            f"{function}(): {keyword.name} must be written as {kind}: it decides the "
            "shape, so it cannot be computed",
        ) from None
    if not keyword.accepts(value):
        raise Refusal(node, f"{function}(): {keyword.name} takes {kind}")
    return value


def literal(node: ast.AST) -> object:
    """An integer (negative too), a tuple of integers, True, False, None or a string.

    Raises:
        ValueError: anything else, or an integer past ``LARGEST_STATIC``.
    """
    if isinstance(node, ast.Tuple):
        return tuple(literal(e) for e in node.elts)
    negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
    inner = node.operand if negative else node
    if not isinstance(inner, ast.Constant):
        raise ValueError("not a literal")
    value = inner.value
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > LARGEST_STATIC:
            raise ValueError("too large")
        return -value if negative else value
    if negative or not (value is None or isinstance(value, bool | str)):
        raise ValueError("not a literal")
    return value


# ---------------------------------------------------------------- subscripts

INDEX_FORMS = (
    "an index must be an integer literal, a slice like 1:3, ..., None, an integer input "
    "or a constant like arange(4)"
)


def index_key(node: ast.Subscript) -> tuple[tuple, list[ast.AST]]:
    """The static key of ``x[...]`` (see ``ops.indexing``) and its array positions:
    inputs, constants and integer literals (a literal is a constant argument, so that
    ``z[1]`` shows as written wherever the graph is shown)."""
    parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    key: list = []
    arrays: list[ast.AST] = []
    for part in parts:
        if isinstance(part, ast.Slice):
            key.append(_slice(part))
        elif isinstance(part, ast.Constant) and part.value is Ellipsis:
            key.append("...")
        elif isinstance(part, ast.Constant) and part.value is None:
            key.append("new")
        elif isinstance(part, ast.Compare):
            raise Refusal(
                part,
                "a mask cannot index (the result's shape would depend on the values); "
                "use where(mask, x, 0) instead",
            )
        elif isinstance(part, ast.Name | ast.Call | ast.List):
            key.append("arg")
            arrays.append(part)
        else:  # an integer literal: a constant argument, shown as written
            try:
                value = literal(part)
            except ValueError:
                raise Refusal(part, INDEX_FORMS) from None
            if not isinstance(value, int) or isinstance(value, bool):
                raise Refusal(part, INDEX_FORMS)
            key.append("arg")
            arrays.append(part)
    return tuple(key), arrays


def _slice(part: ast.Slice) -> tuple:
    bounds = []
    for bound in (part.lower, part.upper, part.step):
        if bound is None:
            bounds.append(None)
            continue
        try:
            value = literal(bound)
        except ValueError:
            value = None
        if not isinstance(value, int) or isinstance(value, bool):
            raise Refusal(bound, "slice bounds must be integer literals, like x[1:3] or x[::-1]")
        bounds.append(value)
    if bounds[2] == 0:
        raise Refusal(part, "a slice's step cannot be 0")
    return ("slice", *bounds)


# ---------------------------------------------------------------- outside the language

#: What to write instead of a NumPy or PyTorch function the language does not have.
INSTEAD = {
    "amax": "write max(x), or max(x, axis=0)",
    "amin": "write min(x), or min(x, axis=0)",
    "maximum": "write max(a, b): with two arguments, max is element-wise",
    "minimum": "write min(a, b): with two arguments, min is element-wise",
    "argmax": "argmax is an index, which has no derivative; max(x) is the largest value",
    "argmin": "argmin is an index, which has no derivative; min(x) is the smallest value",
    "average": "write mean(x), or sum(w * x) / sum(w) for weights",
    "sqr": "write x**2 or square(x)",
    "power": "write a ** b",
    "multiply": "write a * b",
    "matmul": "write a @ b",
    "range": "write arange(N)",
    "len": "shapes are fixed: write the length as a number",
    "greater": "write a > b",
    "less": "write a < b",
    "logical_and": "for masks of 0s and 1s, (a > 0) * (b > 0) is 'and'",
    "take_along_axis": "write take_along(Z, y, axis=1)",
    "flatten": "write ravel(x)",
    "full": "write c * ones(shape)",
    "zeros_like": "write 0 * x",
    "ones_like": "write 0 * x + 1",
    "cross_entropy": "write -sum(one_hot(y, K) * log_softmax(z, axis=1)) / N",
}


#: Functions the contract promises (design.md, version 2) that the table does not have yet.
PLANNED: set[str] = set()


def unknown(name: str, suggestion: str) -> str:
    """The message for a call of a name that is not a function of the language."""
    if name in INSTEAD:
        return f"{name}() is not in the language: {INSTEAD[name]}"
    if name in PLANNED:
        return f"{name}() is not in the language yet"
    return f"unknown function {name!r}{suggestion}"


def method(name: str, owner: ast.AST) -> str:
    """The message for ``x.sum()`` or ``np.sum(x)``."""
    if isinstance(owner, ast.Name) and owner.id in ("np", "numpy", "torch", "jnp", "F", "math"):
        if name in FUNCTIONS:
            return f"write {name}(...) without {owner.id}.: functions are called by name"
        return f"{owner.id}.{name}(...) is not in the language; functions are called by name"
    instead = f"; write {name}(x, ...) instead" if name in FUNCTIONS else ""
    return (
        f"method calls like .{name}(...) are not allowed; call functions by name, like sum(x)"
        + (instead)
    )
