"""The user's own code as a target: their gradient (or backward) claims, finite
differences of their function judge, and nothing knows the truth.

The code runs in a worker process (``targets.worker``) with a time limit; this module
only asks it for values. A layer (``out = f(x)``, ``grads = backward(dout, cache)``) is
checked through the vector-Jacobian product with a seeded random ``dout``: its scalar is
``sum(out * dout)``. With ``jacobian`` it is checked whole: the output is ``out`` and the
claim for each output entry is ``backward`` of that entry's one-hot ``dout``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from gradcheck.errors import GradcheckError, ValueProblem
from gradcheck.results import Cause, CauseCode
from gradcheck.source.func import FuncProblem
from gradcheck.targets.base import ComplexStepRefused, Evaluation, NotFinite, Target
from gradcheck.targets.worker import Worker

#: Entries up to which a layer's Jacobian diagonal is measured to name a diagonal-only VJP.
DIAGONAL_LIMIT = 10_000


class FunctionTarget(Target):
    """The code of a ``FuncProblem``, run by ``worker``; ``rng`` draws a layer's ``dout``."""

    kind = "func"

    def __init__(self, problem: FuncProblem, worker: Worker, rng: np.random.Generator) -> None:
        self.problem, self.worker, self.rng = problem, worker, rng
        self.shapes = {n: tuple(np.shape(v) if isinstance(v, np.ndarray) else v.shape)
                       for n, v in problem.values.items()}  # fmt: skip
        _check_parameters(problem, worker.parameters())
        self.wrt = _wrt(problem, self.shapes)
        self.layer = problem.kind == "layer"
        self.dout: np.ndarray | None = None  # a layer's upstream gradient, drawn once
        self.output_shape = ()

    def inputs(self, point: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The point as the code takes it: labels as integers, the rest as floats."""
        return {
            n: np.asarray(v).astype(np.int64) if n in self.problem.labels else np.asarray(v)
            for n, v in point.items()
        }

    def not_finite(self, point: Mapping[str, np.ndarray]) -> NotFinite | None:
        call = self.worker.evaluate(self.inputs(point))  # a layer's forward alone
        if np.all(np.isfinite(call.value)):
            return None
        return NotFinite(
            f"{self.problem.function.name} returned a value that is not finite at the point",
            frozenset(self.shapes),
        )

    def at(self, point: Mapping[str, np.ndarray], dtype: str = "float64") -> FunctionAt:
        if self.layer and self.dout is None:
            out = self.worker.evaluate(self.inputs(point)).value
            self.dout = self.rng.standard_normal(np.shape(out))
            if self.problem.jacobian:
                self.output_shape = tuple(np.shape(out))
        return FunctionAt(self, point)


class FunctionAt(Evaluation):
    """The code at one point: its value, its claimed gradients, and what it did wrong."""

    def __init__(self, target: FunctionTarget, point: Mapping[str, np.ndarray]) -> None:
        self.target, self.point = target, dict(point)
        self.notes: list[str] = []
        self.findings: list[Cause] = []
        self.exact_value = self.exact = None
        self.claimed_by = "your code"
        self.distances: dict[int, float] = {}
        problem, worker, inputs = target.problem, target.worker, target.inputs(point)
        jacobian = target.layer and problem.jacobian
        call = worker.evaluate(inputs, None if jacobian else target.dout)
        self.dtype = "float32" if np.dtype(call.dtype) == np.float32 else "float64"
        self.value = _scalar(problem, call.value, target.dout, jacobian)
        self.claimed = self._claimed(call, inputs, jacobian)
        self.returned_shapes = dict(call.shapes)  # name -> (its gradient's, its own shape)
        self._findings(call, inputs)
        self._refused: dict[str, str | None] = {}
        linear = [
            float(np.max(np.abs(g) * np.maximum(1.0, np.abs(point[n])), initial=0.0))
            for n, g in self.claimed.items()
        ]
        self.size = float(np.max(np.abs(self.value), initial=0.0))
        self.scale = max([self.size, *linear])

    def _claimed(self, call, inputs, jacobian: bool) -> dict[str, np.ndarray]:
        target = self.target
        who = (target.problem.helper or target.problem.function).name
        if not jacobian:
            _all_there(who, target.wrt, call.grads)
            return {n: np.reshape(call.grads[n], target.shapes[n]) for n in target.wrt}
        rows = []  # one backward per output entry, its dout one-hot: the Jacobian's rows
        for k in range(int(np.prod(target.output_shape, dtype=int))):
            dout = np.zeros(target.output_shape)
            dout.flat[k] = 1.0
            rows.append(_all_there(who, target.wrt, target.worker.evaluate(inputs, dout).grads))
        return {
            n: np.stack([np.reshape(r[n], target.shapes[n]) for r in rows]).reshape(
                target.gradient_shape(n)
            )
            for n in target.wrt
        }

    def _findings(self, call, inputs) -> None:
        """What the code did besides answering: each said in words, some decide the verdict."""
        problem = self.target.problem
        function = problem.function.name
        for name in call.modified:
            if name == "dout":  # only a backward is given dout
                who, what = (
                    (problem.backward or problem.function).name,
                    "the upstream gradient dout",
                )
            else:
                who, what = function, f"its input {name}"
            self.findings.append(
                Cause(CauseCode.MODIFIES_INPUTS, f"{who} modifies {what} in place")
            )
        for name, (shape, wanted) in call.shapes.items():
            self.findings.append(
                Cause(
                    CauseCode.WRONG_SHAPE,
                    f"the gradient for {name} has shape {shape} but {name} has shape {wanted}",
                )
            )
        if call.printed:
            self.notes.append(f"{function} printed: {call.printed.strip()[:200]}")

    def evaluator(self, name: str, dtype: str | None = None):
        target, inputs = self.target, self.target.inputs(self.point)
        dout = None if target.problem.jacobian else target.dout
        size = target.output_size

        def evaluate(at: np.ndarray, entry: np.ndarray):
            out = target.worker.values(inputs, name, at, entry, dout)
            return np.reshape(out, (len(at), size)), np.full(len(at), -1)

        return evaluate

    def along(self, direction: Mapping[str, np.ndarray]):
        target, inputs = self.target, self.target.inputs(self.point)
        dout = None if target.problem.jacobian else target.dout
        size = target.output_size

        def evaluate(ts: np.ndarray):
            out = target.worker.along(inputs, dict(direction), ts, dout)
            return np.reshape(out, (len(ts), size)), np.full(len(ts), -1)

        return evaluate

    def no_complex_step(self, name: str) -> str | None:
        """Tried, never assumed: one complex row through the code, refused or not."""
        if name not in self._refused:
            x = np.ravel(self.point[name])
            try:
                self.evaluator(name)(np.array([0]), np.array([x[0] + 1e-30j]))
                self._refused[name] = None
            except ComplexStepRefused as refused:
                self._refused[name] = str(refused)
        return self._refused[name]

    def jacobian_diagonal(self, name: str) -> np.ndarray | None:
        """For a layer whose output has its input's shape: d out[i] / d x[i] for every i,
        by central differences of the whole output (2n calls; for a diagnosis only)."""
        target = self.target
        if not target.layer or target.problem.jacobian:
            return None
        x = np.ravel(self.point[name]).astype(float)
        if x.size > DIAGONAL_LIMIT or np.shape(target.dout) != np.shape(self.point[name]):
            return None
        h = 6e-6 * np.maximum(1.0, np.abs(x))
        entries, at = np.concatenate([x + h, x - h]), np.tile(np.arange(x.size), 2)
        out = target.worker.values(target.inputs(self.point), name, at, entries, None)
        out = np.reshape(out, (2, x.size, x.size))  # (sign, moved entry, output entry)
        return np.diagonal(out[0] - out[1]) / (2 * h)

    def switch(self, i: int) -> str:
        return f"{self.target.problem.function.name}"

    knows_switches = False
    costly = True


def _all_there(who: str, wrt, grads: dict) -> dict:
    """The gradients, once every input in ``wrt`` has one."""
    missing = [n for n in wrt if n not in grads]
    if missing:
        raise ValueProblem(f"{who} returned no gradient for {', '.join(missing)}")
    return grads


def _scalar(problem: FuncProblem, value: np.ndarray, dout, jacobian: bool) -> np.ndarray:
    """What is differentiated: the value, ``sum(out * dout)`` for a layer, or ``out``."""
    value = np.asarray(value, dtype=float)
    if problem.kind == "layer":
        return value if jacobian else np.asarray(np.sum(value * dout))
    if value.size != 1:
        raise ValueProblem(
            f"{problem.function.name} returned an array of shape {value.shape}; a function "
            "with a gradient returns one number (for a layer, give --backward)"
        )
    return value.reshape(())


def _check_parameters(problem: FuncProblem, required: list[str]) -> None:
    """Every parameter without a default must be given a value."""
    missing = [n for n in required if n not in problem.values]
    if missing:
        listed = ", ".join(missing)
        them = "it" if len(missing) == 1 else "them"
        raise GradcheckError(
            f"{problem.function.name} takes {listed} with no default: give {them} with --at, "
            f'e.g. --at "{missing[0]}=random(3)"',
            where=str(problem.function),
        )


def _wrt(problem: FuncProblem, shapes) -> tuple[str, ...]:
    """The inputs to differentiate: those named, else every input but the labels."""
    if problem.wrt is None:
        chosen = tuple(n for n in shapes if n not in problem.labels)
        if not chosen:
            raise GradcheckError("every input is a label (integers only): name some with --wrt")
        return chosen
    for n in problem.wrt:
        if n not in shapes:
            raise GradcheckError(f"--wrt names {n!r}, which is given no value with --at")
    return problem.wrt
