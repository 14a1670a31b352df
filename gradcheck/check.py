"""Orchestration: points -> estimates (symbolic, backprop, finite differences) -> verdicts.

``check(problems)`` returns a ``Report``: evidence and verdicts, never printed here.
A problem that cannot be checked becomes a result with status ``error`` and a message;
it never stops the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from . import expect, finite, symbolic
from .claims import check_claim
from .errors import GradcheckError
from .graph import Program
from .mistakes import without_each
from .perturb import Perturbation
from .points import draw_indices, draw_point
from .problems import Problem
from .results import (
    ExpectResult,
    GradientResult,
    PointResult,
    ProbeResult,
    ProblemResult,
    Report,
    Tolerance,
    worst,
)
from .tape import evaluate as evaluate_tape
from .verdicts import TOLERANCES, backprop_agrees, close, judge


@dataclass(frozen=True)
class Settings:
    """How to check: tolerances, seed, mode, and overrides given on the command line.

    ``rtol``/``atol`` apply to problems that set no tolerance of their own; ``step``
    overrides every problem's step.
    """

    rtol: float | None = None
    atol: float | None = None
    seed: int = 0
    strict: bool = False
    mode: str = "full"
    probes: int = 3
    points: int = 1
    step: float | None = None


def check(problems: Problem | Iterable[Problem], settings: Settings | None = None) -> Report:
    """Check each problem; a problem that cannot be checked gets status ``error``."""
    settings = settings or Settings()
    if isinstance(problems, Problem):
        problems = [problems]
    return Report([check_one(p, settings) for p in problems])


def failed(
    name: str, error: GradcheckError, *, file: str | None = None, expression: str | None = None
) -> ProblemResult:
    """The result for a problem that could not even be built."""
    return ProblemResult(name, expression, "error", file=file, line=error.line, message=str(error))


def tolerance_for(problem: Problem, settings: Settings) -> Tolerance:
    """The problem's own tolerance, else the settings', else the default."""
    default = TOLERANCES["central"]
    rtol = next(t for t in (problem.rtol, settings.rtol, default.rtol) if t is not None)
    atol = next(t for t in (problem.atol, settings.atol, default.atol) if t is not None)
    return Tolerance(rtol, atol)


def check_one(problem: Problem, settings: Settings) -> ProblemResult:
    """Check one problem at its points; bad input becomes an ``error`` result."""
    result = ProblemResult(
        problem.name,
        problem.expression,
        "pass",
        file=problem.file,
        line=problem.line,
        notes=list(problem.notes),
        seed=settings.seed,
        tolerance=tolerance_for(problem, settings),
    )
    try:
        _run(problem, settings, result)
    except GradcheckError as error:
        result.status = "error"
        result.message = str(error.located(problem.file, problem.line))
    except Exception as exc:  # a bug of ours must not stop the other problems
        result.status = "error"
        result.message = f"internal error ({type(exc).__name__}: {exc}); please report it"
    return result


def _run(problem: Problem, settings: Settings, result: ProblemResult) -> None:
    rng = np.random.default_rng(settings.seed)
    index_values = draw_indices(problem, rng)
    tape = _tape(problem, index_values, result.notes)
    for _ in range(settings.points if problem.random_names else 1):
        point, drawn = draw_point(problem, rng, index_values)
        evidence = _Evidence.gather(problem, point, tape, result.notes)
        if not evidence.forward_agrees():
            result.notes.append(
                f"the graph's value {evidence.value!r} differs from the symbolic value "
                f"{evidence.symbolic_value!r}: the forward pass disagrees with the expression"
            )
        point_result = _check_point(evidence, drawn, settings, result.tolerance, rng)
        result.points.append(point_result)
        if problem.expectation is not None and not result.expected:
            result.expected = _expectations(problem, evidence, point_result, result.tolerance)
    for name, claim in problem.claims.items():
        result.claims[name] = check_claim(
            claim, problem, result.points, tape, index_values, result.tolerance, rng
        )
    status = worst(
        [p.status for p in result.points]
        + [c.status for c in result.claims.values()]
        + [x.status for x in result.expected]
    )
    if status == "kink" and settings.strict:
        status = "fail"
        result.notes.append("--strict: kinks count as failures")
    result.status = status


def _tape(problem: Problem, index_values, notes: list[str]):
    try:
        return symbolic.tape_for(problem.program, problem.wrt, index_values)
    except (symbolic.SymbolicUnavailable, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, symbolic.SymbolicUnavailable) else "nested too deeply"
        notes.append(f"symbolic derivative skipped: {reason}; backprop is the reference")
        return None


@dataclass(frozen=True)
class _Evidence:
    """What is known at a point before differencing: values, backprop, symbolic."""

    program: Program
    wrt: tuple[str, ...]
    point: dict[str, np.ndarray]
    values: list[np.ndarray]  # every node's value
    value: float
    backprop: dict[str, np.ndarray]
    symbolic_value: float | None
    symbolic: dict[str, np.ndarray] | None
    scale: float  # the size of f and its linear terms: what backprop's round-off is relative to
    size: float  # the largest intermediate value: what an evaluation's round-off is relative to
    extended: dict[str, np.ndarray] | None  # backprop in extended precision, if it disagrees

    @classmethod
    def gather(cls, problem: Problem, point, tape, notes: list[str]) -> _Evidence:
        program = problem.program
        values = program.forward({n: v[None] for n, v in point.items()})
        value = float(values[program.output][0])
        adjoints = program.backward(values, problem.wrt)
        backprop = {}
        for name in problem.wrt:
            adjoint = adjoints[program.inputs[name]]
            shape = program.shapes[name]
            backprop[name] = np.zeros(shape) if adjoint is None else adjoint[0].reshape(shape)
        sym_value, sym = _symbolic_at(tape, point, program, notes)
        terms = [abs(value)] + [
            float(np.max(np.abs(g) * np.maximum(1.0, np.abs(point[n]))))
            for n, g in backprop.items()
        ]
        size = max(float(np.max(np.abs(v), initial=0.0)) for v in values if np.isfinite(v).all())
        extended = None
        if sym is not None and not all(
            backprop_agrees(backprop[n], sym[n], max(terms)).all() for n in problem.wrt
        ):
            inputs = {n: v[None] for n, v in point.items()}
            _, grads = program.gradient(inputs, problem.wrt, dtype=np.longdouble)
            extended = {n: g[0] for n, g in grads.items()}
        return cls(
            program,
            problem.wrt,
            point,
            values,
            value,
            backprop,
            sym_value,
            sym,
            max(terms),
            size,
            extended,
        )

    def forward_agrees(self) -> bool:
        """The graph's value matches the symbolic value (a wrong forward pass shows here)."""
        return self.symbolic_value is None or close(
            self.value, self.symbolic_value, TOLERANCES["value"]
        )


def _expectations(
    problem: Problem, e: _Evidence, point: PointResult, tolerance: Tolerance
) -> list[ExpectResult]:
    """Claimed numbers against the truth at the point; wrong entries fail, with causes."""
    expectation = problem.expectation
    explicit = None
    if problem.rtol is not None or problem.atol is not None:
        explicit = tolerance  # a tolerance in the file replaces the written precision
    out = []
    if expectation.value is not None:
        truth = e.symbolic_value if e.symbolic_value is not None else e.value
        out.append(expect.judge("value", expectation.value, np.array(truth), explicit, tolerance))
    for name, claimed in expectation.grads.items():
        truth = e.backprop[name] if e.symbolic is None else e.symbolic[name]
        alternatives = (
            (left_out, gradient[0])
            for left_out, gradient in without_each(problem.program, name, [e.point])
        )
        judged = expect.judge(name, claimed, truth, explicit, tolerance, alternatives)
        out.append(judged)
        gradient = point.gradient[name]
        gradient.expected = claimed.value
        for wrong in judged.wrong:  # the expect table says which and by how much
            k = int(np.ravel_multi_index(wrong["index"], gradient.shape)) if gradient.shape else 0
            if gradient.status.flat[k] != "error":
                gradient.status.flat[k] = "fail"
    return out


def _symbolic_at(tape, point, program: Program, notes: list[str]):
    if tape is None:
        return None, None
    try:
        value, grads = evaluate_tape(tape, point)
    except ValueError as exc:
        notes.append(f"symbolic evaluation failed: {exc}")
        return None, None
    return value, {n: g.reshape(program.shapes[n]) for n, g in grads.items()}


def _check_point(e: _Evidence, drawn, settings: Settings, tol: Tolerance, rng) -> PointResult:
    result = PointResult(e.point, drawn, e.value, e.symbolic_value)
    if settings.mode == "directional":
        result.probes = _probes(e, settings, tol, rng)
        for name in e.wrt:  # reported, not judged entry by entry
            result.gradient[name] = GradientResult(
                shape=e.backprop[name].shape,
                symbolic=None if e.symbolic is None else e.symbolic[name],
                backprop=e.backprop[name],
                forward=None,
                backward=None,
                central=None,
                status=np.full(e.backprop[name].shape, "pass", dtype=object),
                errors={},
            )
    else:
        for name in e.wrt:
            differences = finite.entrywise(
                Perturbation(e.program, e.values, name),
                e.point[name],
                e.value,
                settings.step,
                e.size,
            )
            result.gradient[name] = judge(
                e.program,
                e.backprop[name],
                None if e.symbolic is None else e.symbolic[name],
                differences,
                tol,
                e.scale,
                None if e.extended is None else e.extended[name],
            )
    if not e.forward_agrees():
        for gradient in result.gradient.values():
            gradient.status[...] = "fail"
        for probe in result.probes or []:
            probe.status = "fail"
    return result


def _probes(e: _Evidence, settings: Settings, tol: Tolerance, rng) -> list[ProbeResult]:
    """Compare g . u with differences along random unit directions u over every entry."""
    x = np.concatenate([e.point[n].ravel() for n in e.wrt])
    g = np.concatenate([e.backprop[n].ravel() for n in e.wrt])
    gs = None if e.symbolic is None else np.concatenate([e.symbolic[n].ravel() for n in e.wrt])
    before = e.program.branches(e.values)
    results = []
    for _ in range(settings.probes):
        u = rng.standard_normal(x.size)
        u /= np.linalg.norm(u)  # a unit direction: its step is then a step in x

        def along(ts: np.ndarray, u=u) -> tuple[np.ndarray, np.ndarray]:
            inputs = {n: v[None] for n, v in e.point.items()}
            offset = 0
            for n in e.wrt:
                size = e.point[n].size
                part = u[offset : offset + size].reshape(e.point[n].shape)
                inputs[n] = e.point[n][None] + ts.reshape((-1,) + (1,) * part.ndim) * part
                offset += size
            moved = e.program.forward(inputs)
            return moved[e.program.output], e.program.first_crossed(moved, before)

        d = finite.along(along, float(np.linalg.norm(x)), e.value, settings.step, e.size)
        sym = None if gs is None else np.array([gs @ u])
        judged = judge(e.program, np.array([g @ u]), sym, d, tol, e.scale)
        results.append(ProbeResult(
            symbolic=None if sym is None else float(sym[0]), backprop=float(g @ u),
            forward=float(d.forward[0]), backward=float(d.backward[0]),
            central=float(d.central[0]), status=str(judged.status[0]),
            errors={m: float(err[0]) for m, err in judged.errors.items()},
            step=float(d.step[0]), cause=judged.causes.get(0),
        ))  # fmt: skip
    return results
