"""An expression as a target: backprop through its graph claims the gradient, SymPy's
derivative (the tape) is the truth, and the graph moves one entry at a time for the
finite differences.

This is the only place outside ``engine/`` that touches ``Program``, the tape or the
expression's nodes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np

from gradcheck.engine import symbolic
from gradcheck.engine.graph import Program, describe
from gradcheck.engine.ops import OPS
from gradcheck.engine.perturb import Perturbation
from gradcheck.engine.tape import evaluate as evaluate_tape
from gradcheck.judge.mistakes import without_each
from gradcheck.judge.verdicts import ROUNDOFF_SHRINK, close, tolerance
from gradcheck.source.problems import Problem, nonfinite_message
from gradcheck.targets.base import Evaluation, NotFinite, Target

#: Where a disagreement may be round-off, the precision to re-run in.
HIGHER = {"float64": np.longdouble, "float32": np.float64}


class ExpressionTarget(Target):
    """A problem's expression; ``tape`` is its symbolic derivative, or None above the
    symbolic size limit (then complex step or Richardson is the reference)."""

    kind = "expression"

    def __init__(self, problem: Problem, tape=None) -> None:
        self.problem = problem
        self.program: Program = problem.program
        self.tape = tape
        self.shapes = problem.shapes
        self.wrt = problem.wrt
        self.output_shape = self.program.root.shape

    @classmethod
    def build(cls, problem: Problem, index_values: Mapping[str, int], notes: list[str]):
        """The target with its symbolic derivative, or without it and a note saying why."""
        try:
            tape = symbolic.tape_for(problem.program, problem.wrt, index_values, notes)
        except (symbolic.SymbolicUnavailable, RecursionError) as exc:
            reason = (
                str(exc) if isinstance(exc, symbolic.SymbolicUnavailable) else "nested too deeply"
            )
            notes.append(
                f"symbolic derivative skipped: {reason}; complex step is the reference "
                "where f is analytic, Richardson's extrapolation elsewhere"
            )
            tape = None
        return cls(problem, tape)

    def not_finite(self, point: Mapping[str, np.ndarray]) -> NotFinite | None:
        program = self.program
        values = program.forward(_batch(point))
        if np.isfinite(values[program.output]).all():
            return None
        culprit = program.first_nonfinite(values)
        names = frozenset(
            n for n in program.inputs if culprit is not None and program.depends_on(culprit, [n])
        )
        return NotFinite(nonfinite_message(program, values), names)

    def at(self, point: Mapping[str, np.ndarray], dtype: str = "float64") -> ExpressionAt:
        return ExpressionAt(self, point, dtype)

    def intermediate_adjoint(self, point: Mapping[str, np.ndarray], name: str) -> np.ndarray:
        """d f / d (the ``let`` called ``name``) at the point, in float64."""
        program, node = self.program, self.problem.intermediate(name)
        values = program.forward(_batch(point))
        adjoints = program.backward(values, self.problem.differentiable)
        adjoint = adjoints[node]
        shape = program.nodes[node].shape
        return np.zeros(shape) if adjoint is None else np.broadcast_to(adjoint, (1, *shape))[0]


class ExpressionAt(Evaluation):
    """The expression at one point: graph values, backprop, and the symbolic truth."""

    def __init__(self, target: ExpressionTarget, point: Mapping[str, np.ndarray], dtype: str):
        self.target, self.point, self.dtype = target, dict(point), dtype
        program = target.program
        self.values = program.forward(_batch(point), dtype=np.dtype(dtype))
        self.value = self.values[program.output][0]
        adjoints = program.backward(self.values, target.wrt, seed=_seed(target.output_shape))
        self.claimed = {
            name: _gradient(
                adjoints[program.inputs[name]], target.gradient_shape(name), target.output_size
            )
            for name in target.wrt
        }
        self.claimed_by = "backprop"
        self.notes: list[str] = []
        self.exact_value, self.exact = _symbolic(target, point, self.notes)
        linear = [
            float(np.max(np.abs(g) * np.maximum(1.0, np.abs(point[n])), initial=0.0))
            for n, g in self.claimed.items()
        ]
        self.scale = max([float(np.max(np.abs(self.value), initial=0.0)), *linear])
        finite = [v for v in self.values if np.isfinite(v).all()]
        self.size = max(float(np.max(np.abs(v), initial=0.0)) for v in finite)
        self.distances = program.switch_distances(self.values)

    def evaluator(self, name: str, dtype: str | None = None):
        values = self.values
        if dtype is not None and dtype != self.dtype:
            values = self.target.program.forward(_batch(self.point), dtype=np.dtype(dtype))
        moved = Perturbation(self.target.program, values, name)
        size = self.target.output_size

        def evaluate(at: np.ndarray, entry: np.ndarray):
            out, crossed = moved(at, entry)
            return out.reshape(len(at), size), crossed

        return evaluate

    def along(self, direction: Mapping[str, np.ndarray]):
        program, point, wrt = self.target.program, self.point, self.target.wrt
        before = program.branches(self.values)
        dtype, size = np.dtype(self.dtype), self.target.output_size

        def evaluate(ts: np.ndarray):
            inputs = _batch(point)
            for n in wrt:
                u = direction[n]
                inputs[n] = point[n][None] + ts.reshape((-1,) + (1,) * u.ndim) * u
            moved = program.forward(inputs, dtype=dtype)
            out = moved[program.output].reshape(len(ts), size)
            return out, program.first_crossed(moved, before)

        return evaluate

    def no_complex_step(self, name: str) -> str | None:
        program = self.target.program
        blocking = program.not_analytic(name)
        if not blocking:
            return None
        node = program.nodes[blocking[0]]
        reason = OPS[node.op].no_complex  # "not analytic", or "no complex implementation"
        return (
            f"{describe(node)} is {reason}"
            if reason == "not analytic"
            else (f"{describe(node)} has {reason}")
        )

    def switch(self, i: int) -> str:
        return describe(self.target.program.nodes[i])

    def value_agrees(self) -> bool:
        return self._value_agrees

    @functools.cached_property
    def _value_agrees(self) -> bool:
        """The graph's value matches the symbolic value, entry by entry (a wrong forward
        pass shows here), or would in higher precision: round-off in the expression as
        written (2**27 + v keeps 8 fewer digits of v) shrinks there, a wrong rule does not."""
        if self.exact_value is None:
            return True
        exact, value = np.ravel(self.exact_value), np.ravel(self.value).astype(float)
        value_tol = tolerance("value", self.dtype)
        if all(close(float(v), float(x), value_tol) for v, x in zip(value, exact)):
            return True
        higher = self.target.program.value(_batch(self.point), dtype=HIGHER[self.dtype])
        higher = np.ravel(higher[0]).astype(float)
        return all(
            abs(h - x) * ROUNDOFF_SHRINK <= abs(v - x) or close(float(h), float(x), value_tol)
            for v, h, x in zip(value, higher, exact)
        )

    def claimed_in_higher_precision(self, name: str) -> np.ndarray:
        return self._higher[name]

    @functools.cached_property
    def _higher(self) -> dict[str, np.ndarray]:
        program, target = self.target.program, self.target
        values = program.forward(_batch(self.point), dtype=HIGHER[self.dtype])
        adjoints = program.backward(values, target.wrt, seed=_seed(target.output_shape))
        return {
            n: _gradient(adjoints[program.inputs[n]], target.gradient_shape(n), target.output_size)
            for n in target.wrt
        }

    def alternatives(self, name: str):
        for left_out, gradient in without_each(self.target.program, name, [self.point]):
            yield left_out, gradient[0]


def _batch(point: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A point as a batch of one, as the graph takes it."""
    return {n: np.asarray(v)[None] for n, v in point.items()}


def _seed(output_shape: tuple[int, ...]) -> np.ndarray:
    """The adjoint the reverse pass starts from: d out / d out, one row per output entry
    (one row of ones for a scalar; the identity, row by row, for a Jacobian)."""
    size = int(np.prod(output_shape, dtype=int))
    return np.eye(size).reshape((size, *output_shape))


def _gradient(adjoint: np.ndarray | None, shape: tuple[int, ...], rows: int) -> np.ndarray:
    """An input's adjoint, one row per output entry, as ``output_shape + input shape``."""
    if adjoint is None:
        return np.zeros(shape)
    return np.broadcast_to(adjoint, (rows, *adjoint.shape[1:])).reshape(shape)


def _symbolic(target: ExpressionTarget, point, notes: list[str]):
    """The symbolic value and gradients at the point, or (None, None) with a note."""
    if target.tape is None:
        return None, None
    try:
        value, grads = evaluate_tape(target.tape, point)
    except ValueError as exc:
        notes.append(f"symbolic evaluation failed: {exc}")
        return None, None
    return np.reshape(value, target.output_shape), {
        n: np.asarray(g).reshape(target.gradient_shape(n)) for n, g in grads.items()
    }
