"""The computational graph laid out like a hand computation (``gradcheck trace``).

Forward: each node's value, in evaluation order. Backward: each node's adjoint (the
upstream gradient d f / d node), its local derivative with respect to each input, and
their product, which is what passes back to that input. The seeds lay their work out
this way, so a student can compare it line by line with their own.

Claimed adjoints (``expect.grad`` naming ``let`` intermediates or inputs) are judged node
by node in backward order; the first wrong one is the place a hand computation went
wrong, explained where one local derivative, or one forgotten branch, accounts for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from gradcheck.check import Settings, tolerance_for
from gradcheck.engine.graph import Program
from gradcheck.engine.ops import OPS
from gradcheck.estimate.points import draw_indices, draw_point
from gradcheck.judge import expect
from gradcheck.judge.mistakes import Agree, diagnose, dropped_adjoints
from gradcheck.results import ExpectResult, Tolerance
from gradcheck.source.problems import Problem

#: A local Jacobian with more entries than this is left out: too large to read, and
#: (out size x input size) memory to build.
JACOBIAN_LIMIT = 100_000

#: A symbolic local derivative longer than this is left out (the number is still shown).
FORMULA_LIMIT = 60

#: With up to this many uses, a claimed adjoint is tried against each subset of the
#: contributions (the hand computation that forgot one branch).
BRANCHES_TRIED = 4


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
    adjoints = program.backward(values, wrt)
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
            traced.adjoint = _plain(np.broadcast_to(adjoints[i], values[i].shape)[0])
            traced.local = _locals(program, i, values, adjoints[i], needs, names, jacobians)
        nodes.append(traced)
    if any(loc.form == "omitted" for n in nodes for loc in n.local) and jacobians:
        notes.append(f"local Jacobians with more than {JACOBIAN_LIMIT:,} entries are left out")
    result = Trace(problem.name, problem.expression, point, drawn, wrt, nodes, seed, notes=notes)
    if problem.expectation is not None and problem.expectation.grads:
        tolerance = tolerance_for(problem, Settings(rtol=rtol, atol=atol))
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
    node = program.nodes[i]
    if node.op in ("input", "const"):
        return node.op
    return written_as(node.op, [names[j] for j in program.args[i]])


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
        passes = _plain(program.passed(i, k, adjoint, values)[0])
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
    context = _Context(problem.program, values, adjoints, names, trace.wrt, agree, right)
    trace.explanation = context.explain(position[first.name], first)
    if len(wrong) > 1:
        later = ", ".join(n.name for n in wrong[1:])
        trace.explanation += f"; the wrong claims after it ({later}) may follow from this one"


@dataclass
class _Context:
    """What explaining a wrong adjoint needs: the graph, its values and true adjoints."""

    program: Program
    values: list[np.ndarray]
    adjoints: list[np.ndarray | None]
    names: list[str]
    wrt: list[str]
    agree: Agree
    right: set[str]  # the nodes whose claimed adjoint holds

    def explain(self, i: int, node: TraceNode) -> str:
        claimed = node.claimed.claimed
        truth = node.claimed.true
        uses = self._uses(i)
        return (
            self._forgotten_branch(claimed, uses, node.name)
            or self._recognised(i, claimed, truth)
            or self._implied_local(uses, node)
            or f"d f/d {node.name} is the first claimed adjoint, going backward, that is "
            "wrong; the claims before it hold, so look between them and this node"
        )

    def _uses(self, i: int) -> list[tuple[int, int, np.ndarray]]:
        """(user, argument position, what it passes back) for each use of node ``i``."""
        return [
            (m, k, np.array(self.program.passed(m, k, self.adjoints[m], self.values)[0]))
            for m in range(i + 1, len(self.program.nodes))
            if self.adjoints[m] is not None
            for k, j in enumerate(self.program.args[m])
            if j == i
        ]

    def _forgotten_branch(self, claimed, uses, name: str) -> str | None:
        """A node used more than once collects every use's contribution; a claim that
        holds only some of them forgot a branch."""
        if not 2 <= len(uses) <= BRANCHES_TRIED:
            return None
        for size in range(1, len(uses)):
            for subset in combinations(uses, size):
                partial = sum(passed for _, _, passed in subset)
                if np.all(self.agree(claimed, np.broadcast_to(partial, claimed.shape))):
                    missing = [u for u in uses if all(u is not v for v in subset)]
                    return (
                        f"it holds only what {self._passers(subset)} passes back; {name} "
                        f"is used {len(uses)} times, and its adjoint is the sum of what "
                        f"every use passes back, so what {self._passers(missing)} passes "
                        "back is missing"
                    )
        return None

    def _passers(self, uses) -> str:
        """``t1 = sin(u) (0.96017)``: the users named, with what each passes back."""
        return _listed(
            f"{self.names[m]} = {_operation(self.program, m, self.names)} ({_short(passed)})"
            for m, _, passed in uses
        )

    def _recognised(self, i: int, claimed, truth) -> str | None:
        """Transposed, scaled by a simple factor, or a local derivative left out."""
        alternatives = (
            (left_out, np.broadcast_to(adjoint[0], truth.shape))
            for left_out, adjoint in dropped_adjoints(self.program, self.values, self.wrt, i)
        )
        return diagnose(claimed, truth, self.agree, alternatives)

    def _implied_local(self, uses, node: TraceNode) -> str | None:
        """With one use by an element-wise node: the local derivative the claim needs,
        next to the true one, at the first wrong entry."""
        if len(uses) != 1:
            return None
        m, k, _ = uses[0]
        user = self.program.nodes[m]
        if not OPS[user.op].elementwise or user.shape != node.shape:
            return None
        wrong = node.claimed.wrong[0]
        index = tuple(wrong["index"])
        upstream = float(np.broadcast_to(self.adjoints[m][0], user.shape)[index])
        if upstream == 0:
            return None
        local = float(self.program.entrywise_local(m, k, self.values)[0][index])
        entry = f"[{', '.join(map(str, index))}]" if index else ""
        name, user_name = node.name, self.names[m]
        return (
            f"{user_name} = {_operation(self.program, m, self.names)} passes back "
            f"d f/d {user_name}{entry} × d {user_name}/d {name}{entry} = "
            f"{upstream:.6g} × {local:.6g} = {upstream * local:.6g}; the claimed "
            f"{wrong['claimed']:.6g} needs d {user_name}/d {name}{entry} = "
            f"{wrong['claimed'] / upstream:.6g}, so the local derivative of "
            f"{user_name} is where it goes wrong"
            + (
                f" (d f/d {user_name} holds as claimed)"
                if user_name in self.right
                else f" (if d f/d {user_name} is right)"
            )
        )


def _listed(names) -> str:
    """``t3``, ``t3 and t5``, ``t3, t5 and t7``: each name once, in order."""
    unique = list(dict.fromkeys(names))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " and " + unique[-1]


def _short(value: np.ndarray) -> str:
    """A number or small array in six digits, for a sentence."""
    value = np.asarray(value, dtype=float)
    if value.size > 8:
        return f"an array of shape {value.shape}"
    if value.ndim == 0:
        return f"{float(value):.6g}"
    return "[" + ", ".join(_short(v) for v in value) + "]"
