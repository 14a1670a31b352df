"""Orchestration: points -> estimates (symbolic, backprop, finite differences) -> verdicts.

``check(problems)`` returns a ``Report``: evidence and verdicts, never printed here.
A problem that cannot be checked becomes a result with status ``error`` and a message;
it never stops the others.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from gradcheck.engine import symbolic
from gradcheck.engine.graph import Program, describe
from gradcheck.engine.perturb import Perturbation
from gradcheck.engine.tape import evaluate as evaluate_tape
from gradcheck.errors import GradcheckError
from gradcheck.limits import TIMEOUT
from gradcheck.estimate import finite
from gradcheck.estimate.points import draw_indices, draw_point
from gradcheck.judge import expect
from gradcheck.judge.claims import check_claim
from gradcheck.judge.mistakes import without_each
from gradcheck.judge.verdicts import (
    ROUNDOFF_SHRINK,
    Reference,
    backprop_agrees,
    close,
    judge,
    tolerance,
)
from gradcheck.results import (
    Cause,
    CauseCode,
    ExpectResult,
    GradientResult,
    PointResult,
    ProbeResult,
    ProblemResult,
    Report,
    Tolerance,
    worst,
)
from gradcheck.source.problems import Problem

#: The estimators a check runs by default; --methods adds complex and richardson.
DEFAULT_METHODS = ("forward", "backward", "central")
METHODS = ("forward", "backward", "central", "complex", "richardson")

#: Where a disagreement may be round-off, the precision to re-run in.
HIGHER = {"float64": np.longdouble, "float32": np.float64}


@dataclass(frozen=True)
class Settings:
    """How to check: tolerances, seed, mode, precision, and overrides from the command line.

    ``rtol``/``atol`` apply to problems that set no tolerance of their own; ``step``
    overrides every problem's step; ``methods`` adds complex step and Richardson to the
    three differences; ``dtype`` is the working precision of the graph and differences.
    """

    rtol: float | None = None
    atol: float | None = None
    seed: int = 0
    strict: bool = False
    mode: str = "full"
    probes: int = 3
    points: int = 1
    step: float | None = None
    methods: tuple[str, ...] = DEFAULT_METHODS
    dtype: str = "float64"
    timeout: float = TIMEOUT


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
    """The problem's own tolerance, else the settings', else the default for the precision."""
    default = tolerance("central", settings.dtype)
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
    if settings.dtype == "float32":
        result.notes.append(
            "working in float32: the graph and the differences, with "
            "float32 steps and tolerances; the symbolic truth is exact"
        )
    for _ in range(settings.points if problem.random_names else 1):
        point, drawn = draw_point(problem, rng, index_values)
        if settings.dtype == "float32":  # the point float32 can hold, for graph and truth alike
            point = {n: v.astype(np.float32).astype(float) for n, v in point.items()}
        evidence = _Evidence.gather(problem, point, tape, result.notes, settings.dtype)
        if not evidence.forward_agrees:
            finding = Cause(
                CauseCode.FORWARD_VALUE,
                f"the graph's value {evidence.value!r} differs from the symbolic value "
                f"{evidence.symbolic_value!r}: the forward pass disagrees with the expression",
            )
            result.findings.append(finding)
            result.notes.append(finding.text)
        point_result = _check_point(evidence, drawn, settings, result.tolerance, rng, result.notes)
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
        notes.append(
            f"symbolic derivative skipped: {reason}; complex step is the reference "
            "where f is analytic, Richardson's extrapolation elsewhere"
        )
        return None


@dataclass(frozen=True)
class _Evidence:
    """What is known at a point before differencing: values, backprop, symbolic."""

    program: Program
    wrt: tuple[str, ...]
    point: dict[str, np.ndarray]
    dtype: str
    values: list[np.ndarray]  # every node's value, in the working precision
    value: float
    backprop: dict[str, np.ndarray]
    symbolic_value: float | None
    symbolic: dict[str, np.ndarray] | None
    scale: float  # the size of f and its linear terms: what backprop's round-off is relative to
    size: float  # the largest intermediate value: what an evaluation's round-off is relative to
    distances: dict[int, float]  # each non-smooth node's distance to its switch

    @classmethod
    def gather(cls, problem: Problem, point, tape, notes: list[str], dtype: str) -> _Evidence:
        program = problem.program
        values = program.forward({n: v[None] for n, v in point.items()}, dtype=np.dtype(dtype))
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
        return cls(
            program,
            problem.wrt,
            point,
            dtype,
            values,
            value,
            backprop,
            sym_value,
            sym,
            max(terms),
            size,
            program.switch_distances(values),
        )

    @functools.cached_property
    def higher(self) -> dict[str, np.ndarray]:
        """Backprop in higher precision: where it agrees much better, the disagreement
        was round-off; a wrong derivative rule is as wrong in any precision."""
        inputs = {n: v[None] for n, v in self.point.items()}
        _, grads = self.program.gradient(inputs, self.wrt, dtype=HIGHER[self.dtype])
        return {n: g[0] for n, g in grads.items()}

    def adjoints(self, inputs) -> list[np.ndarray]:
        """Every node's adjoint in float64, zero where it does not lead to ``inputs``."""
        values = self.program.forward({n: v[None] for n, v in self.point.items()})
        adjoints = self.program.backward(values, inputs)
        return [
            np.zeros((1, *node.shape)) if a is None else np.broadcast_to(a, (1, *node.shape))
            for a, node in zip(adjoints, self.program.nodes)
        ]

    @functools.cached_property
    def forward_agrees(self) -> bool:
        """The graph's value matches the symbolic value (a wrong forward pass shows here),
        or would in higher precision: round-off in the expression as written (2**27 + v
        keeps 8 fewer digits of v) shrinks there, a wrong forward rule does not."""
        if self.symbolic_value is None:
            return True
        exact, value_tol = self.symbolic_value, tolerance("value", self.dtype)
        if close(self.value, exact, value_tol):
            return True
        inputs = {n: v[None] for n, v in self.point.items()}
        higher = float(self.program.value(inputs, dtype=HIGHER[self.dtype])[0])
        shrunk = abs(higher - exact) * ROUNDOFF_SHRINK <= abs(self.value - exact)
        return shrunk or close(higher, exact, value_tol)


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
    lets = {n: problem.intermediate(n) for n in expectation.grads}
    claimed_lets = any(node is not None for node in lets.values())
    adjoints = e.adjoints(problem.differentiable) if claimed_lets else None
    for name, claimed in expectation.grads.items():
        node = lets.get(name)
        if node is not None:  # a let: its adjoint, d f / d (the intermediate)
            truth = adjoints[node][0]
            out.append(expect.judge(name, claimed, truth, explicit, tolerance))
            continue
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


def _check_point(e: _Evidence, drawn, settings: Settings, tol: Tolerance, rng, notes):
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
            result.gradient[name] = _judge_input(e, name, settings, tol, notes)
    if not e.forward_agrees:
        for gradient in result.gradient.values():
            gradient.status[...] = "fail"
        for probe in result.probes or []:
            probe.status = "fail"
    return result


def _judge_input(e: _Evidence, name: str, settings: Settings, tol: Tolerance, notes):
    """Every estimator for one input's entries, against the best reference there is."""
    program, methods = e.program, settings.methods
    evaluator = Perturbation(program, e.values, name)
    x = e.point[name].astype(e.dtype)
    symbolic_grad = None if e.symbolic is None else e.symbolic[name]
    blocking = program.not_analytic(name)
    complex_step = None
    if ("complex" in methods or symbolic_grad is None) and not blocking:
        complex_step = finite.complex_step(evaluator, x, float(np.finfo(e.dtype).eps))
    elif "complex" in methods:
        notes.append(
            f"complex step does not apply to {name}: "
            f"{describe(program.nodes[blocking[0]])} is not analytic"
        )
    richardson = "richardson" in methods or (symbolic_grad is None and complex_step is None)
    d = finite.entrywise(evaluator, x, e.value, settings.step, e.size, with_richardson=richardson)
    reference = Reference.choose(
        e.backprop[name], symbolic_grad, complex_step, d.richardson, 3 * d.rounding
    )
    bp_tol = tolerance("backprop", e.dtype)
    higher = None
    if (
        reference.exact
        and not backprop_agrees(e.backprop[name], reference.values, e.scale, bp_tol).all()
    ):
        higher = e.higher[name]
    gradient = judge(
        program,
        e.backprop[name],
        reference,
        d,
        tol,
        e.scale,
        bp_tol=bp_tol,
        higher=higher,
        symbolic=symbolic_grad,
        complex_step=complex_step,
        distances=e.distances,
    )
    if e.dtype == "float32":
        _settle_float32(e, name, gradient, reference, settings, tol)
    return gradient


def _settle_float32(e: _Evidence, name, gradient, reference, settings, tol) -> None:
    """Entries whose float32 central difference fails are differenced again in float64:
    where that agrees, the disagreement was float32's round-off, not a wrong gradient."""
    failing = [
        k
        for k, cause in gradient.causes.items()
        if gradient.status.flat[k] == "fail" and cause.code == CauseCode.CENTRAL
    ]
    if not failing:
        return
    values = e.program.forward({n: v[None] for n, v in e.point.items()})
    d = finite.entrywise(
        Perturbation(e.program, values, name), e.point[name], e.value, settings.step, e.size
    )
    for k in failing:
        ref = float(reference.values[k])
        allowed = tol.atol + tol.rtol * abs(ref) + float(d.rounding[k])
        if abs(float(d.central[k]) - ref) <= allowed:
            gradient.status.flat[k] = "pass"
            gradient.causes[k] = Cause(
                CauseCode.FLOAT32,
                f"the float32 central difference {float(gradient.central.flat[k]):.7g} is off, "
                f"but in float64 it is {float(d.central[k]):.12g}: round-off of float32, not a "
                "wrong gradient",
            )


def _probes(e: _Evidence, settings: Settings, tol: Tolerance, rng) -> list[ProbeResult]:
    """Compare g . u with differences along random unit directions u over every entry."""
    x = np.concatenate([e.point[n].ravel() for n in e.wrt])
    g = np.concatenate([e.backprop[n].ravel() for n in e.wrt])
    gs = None if e.symbolic is None else np.concatenate([e.symbolic[n].ravel() for n in e.wrt])
    before = e.program.branches(e.values)
    dtype = np.dtype(e.dtype)
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
            moved = e.program.forward(inputs, dtype=dtype)
            return moved[e.program.output], e.program.first_crossed(moved, before)

        d = finite.along(
            along,
            float(np.linalg.norm(x)),
            e.value,
            settings.step,
            e.size,
            float(np.finfo(dtype).eps),
        )
        bp = np.array([g @ u])
        reference = Reference.choose(bp, None if gs is None else np.array([gs @ u]))
        judged = judge(
            e.program, bp, reference, d, tol, e.scale, bp_tol=tolerance("backprop", e.dtype)
        )
        results.append(ProbeResult(
            symbolic=None if gs is None else float(gs @ u), backprop=float(bp[0]),
            forward=float(d.forward[0]), backward=float(d.backward[0]),
            central=float(d.central[0]), status=str(judged.status[0]),
            errors={m: float(err[0]) for m, err in judged.errors.items()},
            step=float(d.step[0]), cause=judged.causes.get(0),
        ))  # fmt: skip
    return results
