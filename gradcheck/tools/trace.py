"""The computational graph laid out like a hand computation (``gradcheck trace``).

Forward: each node's value, in evaluation order. Backward: each node's adjoint (the
upstream gradient d f / d node), its local derivative with respect to each input, and
their product, which is what passes back to that input. The seeds lay their work out
this way, so a student can compare it line by line with their own.

Claimed adjoints (``expect.grad`` naming ``let`` intermediates or inputs) are judged node
by node in backward order; the first wrong one is the place a hand computation went
wrong, and ``explain`` says why where it can.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gradcheck.engine.graph import Program
from gradcheck.engine.ops import OPS
from gradcheck.estimate.points import draw_indices, draw_point
from gradcheck.judge import expect
from gradcheck.judge.verdicts import chosen_tolerance
from gradcheck.results import ExpectResult, Tolerance
from gradcheck.source.problems import Problem
from gradcheck.source.tree import written
from gradcheck.tools.explain import Explainer

#: A local Jacobian with more entries than this is left out: too large to read, and
#: (out size x input size) memory to build.
JACOBIAN_LIMIT = 100_000

#: A symbolic local derivative longer than this is left out (the number is still shown).
FORMULA_LIMIT = 60


@dataclass
class Local:
    """One input's local derivative at a node, and what the node passes back to it.

    ``form`` is ``derivative`` (a scalar node: the derivative, shaped like the input),
    ``entrywise`` (an element-wise node: the Jacobian's diagonal, shaped like the
    node), ``jacobian`` (d node / d input, shaped ``(*node shape, *input shape)``) or
    ``omitted`` (an array node's Jacobian, not asked for or too large).
    """

    input: str
    form: str
    derivative: np.ndarray | None
    passes: np.ndarray
    formula: str | None = None


@dataclass
class TraceNode:
    """One node: what it computes, its value, and (when the gradient reaches it) its
    adjoint, local derivatives and any claimed adjoint."""

    name: str
    op: str
    operation: str  # in terms of its inputs' names: "w1 * x1", "sin(t1)"
    inputs: list[str]
    value: np.ndarray
    adjoint: np.ndarray | None = None
    local: list[Local] = field(default_factory=list)
    claimed: ExpectResult | None = None
    written: str | None = None  # as the user wrote it: "(z - y)^2"
    index: int = 0  # the node's position in the program

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape


@dataclass
class Trace:
    """Every node of a problem's graph at one point, forward and backward."""

    name: str | None
    expression: str
    at: dict[str, np.ndarray]
    drawn: tuple[str, ...]
    wrt: list[str]
    nodes: list[TraceNode]
    seed: int
    first_wrong: str | None = None
    explanation: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``fail`` when a claimed adjoint is wrong, else ``pass``."""
        return "fail" if self.first_wrong is not None else "pass"

    def node(self, name: str) -> TraceNode:
        return next(n for n in self.nodes if n.name == name)


def trace(
    problem: Problem,
    *,
    jacobians: bool = False,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> Trace:
    """The problem's graph at its point (random values drawn with ``seed``).

    Raises:
        ValueProblem: the function has no finite value at the point.
    """
    program = problem.program
    rng = np.random.default_rng(seed)
    point, drawn = draw_point(problem, rng, draw_indices(problem, rng))
    values = program.forward({n: v[None] for n, v in point.items()})
    wrt = _traced_inputs(problem)
    outputs = program.root.shape
    # a vector-valued f: one reverse pass per output entry, so each adjoint is the
    # Jacobian d f / d node, of shape outputs + the node's shape
    adjoints = program.backward(values, wrt, seed=_seed(outputs) if outputs else None)
    names = _names(program)
    needs = program.leads_to(frozenset(wrt))
    nodes, seen = [], set()
    notes = list(problem.notes)
    for i in _reading_order(program):
        node = program.nodes[i]
        if names[i] in seen:  # a constant written twice is listed once
            continue
        seen.add(names[i])
        traced = TraceNode(
            names[i],
            node.op,
            _operation(program, i, names),
            [names[j] for j in program.args[i]],
            _plain(values[i][0]),
            written=_written(node),
            index=i,
        )
        if adjoints[i] is not None and node.op != "const":
            rows = max(1, math.prod(outputs))
            adjoint = np.broadcast_to(adjoints[i], (rows, *node.shape))
            traced.adjoint = _plain(adjoint.reshape(outputs + node.shape))
            traced.local = _locals(program, i, values, adjoint, needs, names, jacobians)
        nodes.append(traced)
    if any(loc.form == "omitted" for n in nodes for loc in n.local) and jacobians:
        notes.append(f"local Jacobians with more than {JACOBIAN_LIMIT:,} entries are left out")
    result = Trace(problem.name, problem.expression, point, drawn, wrt, nodes, seed, notes=notes)
    if problem.expectation is not None and problem.expectation.grads:
        tolerance = chosen_tolerance((problem.rtol, problem.atol), (rtol, atol))
        _judge_claims(result, problem, values, adjoints, names, tolerance)
    return result


def _traced_inputs(problem: Problem) -> list[str]:
    """The inputs backprop runs for: the problem's, widened to every differentiable
    input when a claimed intermediate does not lead to one of them."""
    program, wrt = problem.program, list(problem.wrt)
    needs = program.leads_to(frozenset(wrt))
    claimed = problem.expectation.grads if problem.expectation is not None else {}
    for name in claimed:
        node = problem.intermediate(name)
        if node is not None and not needs[node]:
            return problem.differentiable
    return wrt


def _plain(value) -> np.ndarray:
    """A float array of its own (not a view), with -0 written as 0."""
    return np.array(value, dtype=float) + 0.0


def _reading_order(program: Program) -> list[int]:
    """Evaluation order, with each input and constant moved down to just before its
    first use: ``V2`` next to ``V2 @ q``, not ahead of the whole first layer."""
    order: list[int] = []
    placed: set[int] = set()
    for i, node in enumerate(program.nodes):
        if node.op in ("input", "const") and i != program.output:
            continue
        for j in program.args[i]:
            if j not in placed and program.nodes[j].op in ("input", "const"):
                order.append(j)
                placed.add(j)
        order.append(i)
    return order


def _written(node) -> str | None:
    """The node's text as written, for the nodes the user did not name."""
    if node.op in ("input", "const") or node.term is None:
        return None
    return node.term.text.strip()


# ---------------------------------------------------------------- naming


def _names(program: Program) -> list[str]:
    """Each node's name: its input or ``let`` name; a constant's value; the output ``f``;
    for the rest ``t1``, ``t2`` ... in evaluation order, skipping names already taken."""
    taken = {node.name for node in program.nodes if node.name}
    counter = 0
    names = []
    for i, node in enumerate(program.nodes):
        if node.name:
            names.append(node.name)
        elif node.op == "const":
            names.append(_constant_name(node))
        elif i == program.output and "f" not in taken:
            names.append("f")
        else:
            counter += 1
            while f"t{counter}" in taken:
                counter += 1
            names.append(f"t{counter}")
    return names


def _constant_name(node) -> str:
    if node.value.size == 1:
        return f"{float(node.value):.12g}"
    return node.term.text.strip() if node.term is not None else "const"


#: How each operation is written, in its inputs' names (``{0}``, ``{1}``; ``{rest}``: all
#: but the first; ``{all}``: every one); any other operation is a call, ``op(a, b)``.
PLAIN = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "pow": "{0} ** {1}",
    "matmul": "{0} @ {1}",
    "neg": "-{0}",
    "transpose": "{0}.T",
    "index": "{0}[{rest}]",
    "stack": "[{all}]",
}


def written_as(op: str, args: list[str], templates=PLAIN, call: str = "{op}({all})") -> str:
    """``w1 * x1``, ``sin(t1)``, ``V1.T``, ``z[2]``: an operation on named inputs."""
    template = templates.get(op, call)
    return template.format(*args, op=op, rest=", ".join(args[1:]), all=", ".join(args))


def _operation(program: Program, i: int, names: list[str]) -> str:
    """The node's operation on its arguments' names, with its parameters, as written."""
    node = program.nodes[i]
    if node.op in ("input", "const"):
        return node.op
    return written(node, [names[j] for j in program.args[i]])


# ---------------------------------------------------------------- local derivatives


def _locals(program, i, values, adjoint, needs, names, jacobians) -> list[Local]:
    """For each input the gradient reaches: the local derivative and what is passed.

    An input used twice (``x * x``) gets one entry: the two derivatives summed, which is
    the derivative with respect to that input.
    """
    node = program.nodes[i]
    by_name: dict[str, Local] = {}
    for k, j in enumerate(program.args[i]):
        if not needs[j]:
            continue
        passed = program.passed(i, k, adjoint, values)
        rows = adjoint.shape[0]  # one per output entry of a vector-valued f
        shape = program.root.shape + program.nodes[j].shape
        passes = _plain(
            passed[0]
            if rows == 1
            else np.broadcast_to(passed, (rows, *program.nodes[j].shape)).reshape(shape)
        )
        form, derivative = _local(program, i, k, values, jacobians)
        name = names[j]
        if name in by_name:  # the same input twice: derivatives and contributions add
            first = by_name[name]
            first.passes = first.passes + passes
            if first.derivative is not None and derivative is not None:
                first.derivative = first.derivative + derivative
            continue
        formula = _formula(program, i, k, names) if OPS[node.op].elementwise else None
        by_name[name] = Local(name, form, derivative, passes, formula)
    return list(by_name.values())


def _local(program: Program, i: int, k: int, values, jacobians: bool):
    """(form, derivative) of node ``i`` with respect to its argument ``k``."""
    node = program.nodes[i]
    if node.shape == ():
        return "derivative", _jacobian(program, i, k, values)
    if OPS[node.op].elementwise and not jacobians:
        return "entrywise", _plain(program.entrywise_local(i, k, values)[0])
    size = math.prod(node.shape) * math.prod(node.args[k].shape)
    if not jacobians or size > JACOBIAN_LIMIT:
        return "omitted", None
    return "jacobian", _jacobian(program, i, k, values)


def _jacobian(program: Program, i: int, k: int, values) -> np.ndarray:
    """d node / d argument, shaped ``(*node shape, *argument shape)``: the node's VJP
    applied to each unit adjoint, all in one batch."""
    node = program.nodes[i]
    rows = math.prod(node.shape)
    seeds = np.eye(rows).reshape(rows, *node.shape)
    batch = list(values)
    for j in (i, *program.args[i]):
        batch[j] = np.repeat(values[j][:1], rows, axis=0)
    passed = np.broadcast_to(program.passed(i, k, seeds, batch), (rows, *node.args[k].shape))
    return _plain(passed.reshape((*node.shape, *node.args[k].shape)))


#: Local derivatives written, as the seeds write them, in the node's own value ``o``.
IN_OUTPUT = {"sigmoid": "{o}*(1 - {o})", "tanh": "1 - {o}**2", "exp": "{o}"}


def _formula(program: Program, i: int, k: int, names: list[str]) -> str | None:
    """An element-wise node's local derivative as a formula in its inputs' names
    (``2*t2``, ``cos(t1)``) or its own (``q*(1 - q)``), or None when there is no short one."""
    import sympy as sp

    node = program.nodes[i]
    if node.op in IN_OUTPUT:
        return IN_OUTPUT[node.op].format(o=names[i])
    symbols = []
    for j, arg in zip(program.args[i], node.args):
        if arg.op == "const":
            if arg.value.size != 1:
                return None
            number = float(arg.value)
            symbols.append(sp.Integer(int(number)) if number.is_integer() else sp.Float(number))
        else:
            symbols.append(sp.Symbol(names[j]))
    if not isinstance(symbols[k], sp.Symbol):
        return None
    try:
        derivative = sp.diff(OPS[node.op].sympy(sp, *symbols), symbols[k])
    except (TypeError, ValueError, AttributeError):
        return None
    text = sp.sstr(derivative, full_prec=False)
    return text if len(text) <= FORMULA_LIMIT else None


# ---------------------------------------------------------------- claimed adjoints


def _judge_claims(trace: Trace, problem, values, adjoints, names, tol: Tolerance) -> None:
    """Judge each claimed adjoint; find and explain the first wrong one, backward."""
    explicit = tol if problem.rtol is not None or problem.atol is not None else None
    claims = problem.expectation.grads
    position = {name: i for i, name in enumerate(names) if name in claims}
    for name, claimed in claims.items():
        node = trace.node(name)
        truth = node.adjoint if node.adjoint is not None else np.zeros(node.shape)
        node.claimed = expect.judge(name, claimed, truth, explicit, tol)
    wrong = [n for n in reversed(trace.nodes) if n.claimed and n.claimed.status == "fail"]
    if not wrong:
        return
    first = wrong[0]
    trace.first_wrong = first.name
    claimed = claims[first.name]

    def agree(mine: np.ndarray, candidate: np.ndarray) -> np.ndarray:
        return np.abs(mine - candidate) <= claimed.allowed(candidate, explicit, tol)

    right = {n.name for n in trace.nodes if n.claimed and n.claimed.status == "pass"}
    program = problem.program
    operations = [_operation(program, i, names) for i in range(len(program.nodes))]
    explainer = Explainer(program, values, adjoints, names, operations, trace.wrt, agree, right)
    trace.explanation = explainer.explain(position[first.name], first.claimed)
    if len(wrong) > 1:
        later = ", ".join(n.name for n in wrong[1:])
        trace.explanation += f"; the wrong claims after it ({later}) may follow from this one"


def _seed(outputs: tuple[int, ...]) -> np.ndarray:
    """One-hot rows, one per output entry: d f / d f for a vector-valued f."""
    size = math.prod(outputs)
    return np.eye(size).reshape((size, *outputs))
