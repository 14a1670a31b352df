"""Problems: an expression, its intermediates, values, claims, validated with shapes known.

``problem(...)`` builds one from text (what ``gradcheck eval`` is given);
every message names the option or file, the line and the column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from gradcheck import limits
from gradcheck.engine.graph import Program, describe
from gradcheck.errors import ExpressionError, GradcheckError, ShapeError, ValueProblem
from gradcheck.judge.expect import Expectation
from gradcheck.source.language import (
    Node,
    RandomSpec,
    Scope,
    Term,
    build,
    check_name,
    describe_shape,
    parse,
    parse_binding,
    parse_value,
    suggest,
)
from gradcheck.source.tree import check_labels


@dataclass(frozen=True)
class Claim:
    """A claimed derivative formula for one input, typed against the problem's inputs."""

    name: str
    text: str
    program: Program


@dataclass(frozen=True)
class Problem:
    """One scalar function to check, with everything needed to check it.

    ``values`` holds each input's given value (an array), or a ``RandomSpec`` for one to
    be drawn at check time. ``index_axes`` lists the inputs used as indices, with the
    lengths of the axes each indexes.
    """

    name: str
    expression: str
    program: Program
    values: dict[str, np.ndarray | RandomSpec]
    wrt: tuple[str, ...]
    index_axes: dict[str, list[int]] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)
    lets: tuple[str, ...] = ()
    rtol: float | None = None
    atol: float | None = None
    step: float | None = None
    file: str | None = None
    line: int | None = None
    notes: tuple[str, ...] = ()
    expectation: Expectation | None = None

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return self.program.shapes

    @property
    def random_names(self) -> list[str]:
        return [n for n, v in self.values.items() if isinstance(v, RandomSpec)]

    def intermediate(self, name: str) -> int | None:
        """The position in the program of the ``let`` node called ``name`` (None for an
        input, or a let the expression does not use)."""
        if name not in self.lets:
            return None
        return next(
            (
                i
                for i, node in enumerate(self.program.nodes)
                if node.name == name and node.op != "input"
            ),
            None,
        )

    @property
    def differentiable(self) -> list[str]:
        """Every input that is not used as an index (the ones with derivatives)."""
        return [n for n in self.program.inputs if n not in self.index_axes]

    def with_expectation(self, expectation: Expectation) -> Problem:
        return replace(self, expectation=expectation)


def split_assignment(text: str, where: str) -> tuple[str, str, int]:
    """``NAME=VALUE`` -> (name, value text, column where the value starts)."""
    name, sep, value = text.partition("=")
    if not sep:
        raise ExpressionError(f"expected NAME=VALUE, got {text!r}", where=where)
    name = name.strip()
    check_name(name, where)
    return name, value, len(text) - len(value)


def problem(
    expression: str,
    *,
    lets: Sequence[str] = (),
    at: Sequence[str] = (),
    wrt: Sequence[str] | None = None,
    claims: Sequence[str] = (),
    name: str | None = None,
    step: float | None = None,
) -> Problem:
    """A problem from text, as ``gradcheck eval`` takes it.

    ``lets``, ``at`` and ``claims`` are ``NAME=TEXT`` strings; ``wrt`` a list of names.

    Raises:
        GradcheckError: anything that keeps the problem from being checked, located.
    """
    term = parse(expression)
    let_terms = [parse_binding(text, f"--let {text.partition('=')[0].strip()}") for text in lets]
    values = {}
    for text in at:
        key, value_text, offset = split_assignment(text, "--at")
        values[key] = (parse_value(value_text, f"--at {key}", offset=offset), f"--at {key}")
    claim_terms = [
        parse_binding(text, f"--claim {text.partition('=')[0].strip()}") for text in claims
    ]
    return assemble(
        term, let_terms, values, wrt, claim_terms, name=name or expression.strip(), step=step
    )


def assemble(
    term: Term,
    let_terms: Sequence[tuple[str, Term]],
    values: Mapping[str, tuple[object, str]],
    wrt: Sequence[str] | None,
    claim_terms: Sequence[tuple[str, Term]],
    *,
    name: str,
    rtol: float | None = None,
    atol: float | None = None,
    step: float | None = None,
    file: str | None = None,
    line: int | None = None,
    where: Mapping[str, str] | None = None,
) -> Problem:
    """Type the parsed pieces against each other and validate the whole.

    ``values`` maps a name to (a ``Term``, a ``RandomSpec`` or an array, where it came from).
    ``where`` says what to call the ``wrt`` list in messages.
    """
    where = dict(where or {})
    let_names = _check_lets(let_terms)
    inputs = _input_names(term, let_terms, let_names)
    given = {key: _value(key, raw, origin, inputs) for key, (raw, origin) in values.items()}
    scope = Scope({n: Node("input", (), _shape_of(given.get(n)), name=n) for n in inputs})
    for let_name, let_term in let_terms:
        node = build(let_term, scope)
        if node.name is None:
            node.name = let_name
        scope.names[let_name] = node
    try:
        root = build(term, scope)
    except ShapeError as error:
        shapeless = [n for n in inputs if n not in given and n in error.message]
        if shapeless:
            error.message += (
                f"; an input given no value is a scalar: give {shapeless[0]} one, "
                f'or a shape, e.g. --at "{shapeless[0]}=random(3, 3)"'
            )
        raise
    program = Program(root)  # a scalar's gradient, or an array's Jacobian
    held = sum(math.prod(node.shape) for node in program.nodes)
    too_many = limits.entries_allowed(held, "the expression's graph", total=True)
    if too_many:
        raise ShapeError(too_many, where=term.source.where, line=term.source.line)
    used = set(program.inputs)
    for key, (_, origin) in values.items():
        if key not in used:
            raise ExpressionError(
                f"{key!r} is given a value but the expression does not use it{suggest(key, used)}",
                where=origin,
            )
    index_axes = {n: axes for n, axes in scope.index_axes.items() if n in used}
    _check_index_values(index_axes, given)
    chosen = _wrt(wrt, program, index_axes, where.get("wrt", "--wrt"))
    claims = {n: _claim(n, t, scope, program, index_axes) for n, t in claim_terms}
    notes = tuple(
        f"--let {n} is not used by the expression"
        for n in let_names
        if not any(node is scope.names[n] for node in program.nodes)
    ) + _over_all_entries(program)
    full = {n: given.get(n, RandomSpec(program.shapes[n])) for n in program.inputs}
    return Problem(
        name,
        term.source.text.strip(),
        program,
        full,
        chosen,
        index_axes,
        claims,
        tuple(let_names),
        rtol,
        atol,
        step,
        file,
        line,
        notes,
    )


#: Operations that normalise or reduce over every entry of an array at once.
_OVER_ALL = ("softmax", "logsumexp", "norm")


def _over_all_entries(program: Program) -> tuple[str, ...]:
    """A note for each softmax, logsumexp or norm of a matrix: it works over all of its
    entries, not row by row, which a reader of NumPy code might not expect."""
    return tuple(
        f"{describe(node)} works over all {math.prod(node.args[0].shape)} entries of the "
        f"{'x'.join(map(str, node.args[0].shape))} array, not along an axis"
        for node in program.nodes
        if node.op in _OVER_ALL and len(node.args[0].shape) >= 2 and node.kwargs.get("axis") is None
    )


def _check_lets(let_terms) -> list[str]:
    names: list[str] = []
    for let_name, let_term in let_terms:
        if let_name in names:
            raise ExpressionError(
                f"{let_name!r} is defined twice",
                where=let_term.source.where,
                line=let_term.source.line,
            )
        used = let_term.names()
        if let_name in used:
            raise let_term.source.error(
                ExpressionError, f"{let_name!r} is defined in terms of itself", let_term.start
            )
        names.append(let_name)
    for i, (_, let_term) in enumerate(let_terms):
        for later, _ in let_terms[i + 1 :]:
            if later in let_term.names():
                raise let_term.source.error(
                    ExpressionError,
                    f"{later!r} is used before it is defined; define it in an earlier let",
                    let_term.start,
                )
    return names


def _input_names(term: Term, let_terms, let_names) -> list[str]:
    found: dict[str, None] = {}
    for _, let_term in let_terms:
        for n in let_term.names():
            found.setdefault(n)
    for n in term.names():
        found.setdefault(n)
    return [n for n in found if n not in let_names]


def _value(key: str, raw, origin: str, inputs: list[str]):
    """A given value as an array (or a RandomSpec), validated."""
    if key not in inputs:
        raise ExpressionError(
            f"{key!r} is given a value but the expression does not use it{suggest(key, inputs)}",
            where=origin,
        )
    return given_value(key, raw, origin)


def given_value(key: str, raw, origin: str) -> np.ndarray | RandomSpec:
    """A value as given (a parsed term, a RandomSpec or numbers), as an array, validated.

    Raises:
        ValueProblem: too many dimensions, empty, or not finite; naming ``origin``.
    """
    if isinstance(raw, RandomSpec):
        too_many = limits.entries_allowed(math.prod(raw.shape), key)
        if too_many:  # refused before anything is drawn
            raise ValueProblem(too_many, where=origin)
        return raw
    if isinstance(raw, Term):
        node = build(raw, Scope({}))
        value = np.asarray(Program(node).forward({})[-1][0], dtype=float)
    else:
        value = np.asarray(raw, dtype=float)
    if value.size == 0:
        raise ValueProblem(f"{key} is empty", where=origin)
    if not np.all(np.isfinite(value)):
        raise ValueProblem(f"{key} has a value that is not finite", where=origin)
    return value


def _shape_of(value) -> tuple[int, ...]:
    if value is None:
        return ()
    return value.shape if isinstance(value, RandomSpec) else np.shape(value)


def _check_index_values(index_axes, given) -> None:
    """Each given label (an integer, or an array of them) is whole and in range."""
    for n, axes in index_axes.items():
        value = given.get(n)
        if isinstance(value, np.ndarray):
            check_labels(n, value, axes, f"--at {n}")


def _wrt(wrt, program: Program, index_axes, origin: str) -> tuple[str, ...]:
    if wrt is None:
        return tuple(n for n in program.inputs if n not in index_axes)
    chosen = []
    for n in wrt:
        if n not in program.inputs:
            raise ExpressionError(
                f"{n!r} is not an input of the expression{suggest(n, program.inputs)}", where=origin
            )
        if n in index_axes:
            raise ExpressionError(
                f"{n!r} is used as an index and cannot be differentiated", where=origin
            )
        if n not in chosen:
            chosen.append(n)
    if not chosen:
        raise ExpressionError("nothing to differentiate with respect to", where=origin)
    return tuple(chosen)


def _claim(name: str, term: Term, scope: Scope, program: Program, index_axes) -> Claim:
    origin = term.source.where
    if name not in program.inputs:
        raise ExpressionError(
            f"{name!r} is not an input of the expression{suggest(name, program.inputs)}",
            where=origin,
        )
    if name in index_axes:
        raise ExpressionError(f"{name!r} is used as an index and has no derivative", where=origin)
    node = build(term, scope)
    shape = program.root.shape + program.shapes[name]  # a gradient, or a Jacobian
    if node.shape not in ((), shape, shape[::-1]):
        what = "derivative" if program.root.shape == () else "Jacobian"
        raise term.source.error(
            ShapeError,
            f"the claimed {what} for {name} has {describe_shape(node.shape)}, but "
            f"it must have {describe_shape(shape)}"
            + ("" if program.root.shape == () else " (the output's shape, then the input's)"),
            term.start,
        )
    return Claim(name, term.source.text.strip(), Program(node))


def nonfinite_message(program: Program, values: list[np.ndarray]) -> str:
    """Name the first node that is not finite at the point, with its argument's value."""
    i = program.first_nonfinite(values)
    if i is None:
        return "the function is not finite at the point"
    node = program.nodes[i]
    value = values[i]
    bad = value[~np.isfinite(value)].flat[0]
    detail = ""
    if len(node.args) == 1 and node.args[0].shape == ():
        arg = float(values[program.args[i][0]].flat[0])
        detail = f" ({node.op} of {arg:.6g})"
    kind = "nan" if math.isnan(bad) else ("inf" if bad > 0 else "-inf")
    return f"{describe(node)} is {kind} at the point{detail}"


__all__ = ["Claim", "GradcheckError", "Problem", "assemble", "problem"]
