"""Orchestration: points -> estimates (symbolic, backprop, finite differences) -> verdicts.

``check(problems)`` returns a ``Report``: evidence and verdicts, never printed here.
A problem that cannot be checked becomes a result with status ``error`` and a message;
it never stops the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from gradcheck.deadline import deadline
from gradcheck.errors import GradcheckError
from gradcheck.estimate import finite
from gradcheck.estimate.directional import probes
from gradcheck.estimate.points import draw, draw_indices
from gradcheck.judge import expect
from gradcheck.judge.claims import check_claim
from gradcheck.judge.verdicts import (
    Reference,
    backprop_agrees,
    chosen_tolerance,
    judge,
    tolerance,
)
from gradcheck.limits import TIMEOUT
from gradcheck.results import (
    Cause,
    CauseCode,
    ExpectResult,
    GradientResult,
    PointResult,
    ProblemResult,
    Report,
    Tolerance,
    worst,
)
from gradcheck.source.problems import Problem
from gradcheck.targets.base import ComplexStepRefused, Evaluation, Target
from gradcheck.targets.expression import ExpressionTarget

#: The estimators a check runs by default; --methods adds complex and richardson.
DEFAULT_METHODS = ("forward", "backward", "central")
METHODS = ("forward", "backward", "central", "complex", "richardson")


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
    own, given = (problem.rtol, problem.atol), (settings.rtol, settings.atol)
    return chosen_tolerance(own, given, settings.dtype)


def check_one(problem: Problem, settings: Settings) -> ProblemResult:
    """Check one problem at its points; bad input becomes an ``error`` result."""
    if settings.step is None and problem.step is not None:  # --step wins over the file's
        settings = replace(settings, step=problem.step)
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
        with deadline(settings.timeout, f"checking {problem.name!r}"):
            _run(problem, settings, result)
    except GradcheckError as error:
        result.status = "error"
        result.message = str(error.located(problem.file, problem.line))
    except MemoryError:
        result.status = "error"
        result.message = "out of memory while checking; give smaller inputs"
    except Exception as exc:  # a bug of ours must not stop the other problems
        result.status = "error"
        result.message = f"internal error ({type(exc).__name__}: {exc}); please report it"
    return result


def _run(problem: Problem, settings: Settings, result: ProblemResult) -> None:
    rng = np.random.default_rng(settings.seed)
    index_values = draw_indices(problem, rng)
    target = ExpressionTarget.build(problem, index_values, result.notes)
    if settings.dtype == "float32":
        result.notes.append(
            "working in float32: the graph and the differences, with "
            "float32 steps and tolerances; the symbolic truth is exact"
        )
    for _ in range(settings.points if problem.random_names else 1):
        point, drawn = draw(target, problem.values, rng, index_values)
        if settings.dtype == "float32":  # the point float32 can hold, for graph and truth alike
            point = {n: v.astype(np.float32).astype(float) for n, v in point.items()}
        evaluation = target.at(point, settings.dtype)
        if not evaluation.value_agrees():
            value, exact = _plain(evaluation.value), _plain(evaluation.exact_value)
            finding = Cause(
                CauseCode.FORWARD_VALUE,
                f"the graph's value {value!r} differs from the symbolic value {exact!r}: "
                "the forward pass disagrees with the expression",
            )
            result.findings.append(finding)
            result.notes.append(finding.text)
        result.output_shape = tuple(target.output_shape)
        point_result = check_point(target, evaluation, drawn, settings, result.tolerance, rng)
        result.notes.extend(n for n in evaluation.notes if n not in result.notes)
        result.points.append(point_result)
        if problem.expectation is not None and not result.expected:
            result.expected = _expectations(
                problem, target, evaluation, point_result, result.tolerance
            )
    for name, claim in problem.claims.items():
        result.claims[name] = check_claim(
            claim, problem, result.points, target.tape, index_values, result.tolerance, rng
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
    if status == "error" and result.message is None:
        result.message = _first_error(result)


def _first_error(result: ProblemResult) -> str:
    """What kept an entry from being checked, as the problem's message (never None)."""
    for point in result.points:
        for name, gradient in point.gradient.items():
            for k, cause in sorted(gradient.causes.items()):
                if gradient.status.flat[k] == "error":
                    index = np.unravel_index(k, gradient.shape) if gradient.shape else ()
                    entry = name + (f"[{', '.join(map(str, index))}]" if index else "")
                    return f"{entry}: {cause.text}"
    return "some entries could not be checked"


def _expectations(
    problem: Problem,
    target: ExpressionTarget,
    e: Evaluation,
    point: PointResult,
    tolerance: Tolerance,
) -> list[ExpectResult]:
    """Claimed numbers against the truth at the point; wrong entries fail, with causes."""
    expectation = problem.expectation
    explicit = None
    if problem.rtol is not None or problem.atol is not None:
        explicit = tolerance  # a tolerance in the file replaces the written precision
    out = []
    if expectation.value is not None:
        truth = e.exact_value if e.exact_value is not None else e.value
        out.append(expect.judge("value", expectation.value, np.array(truth), explicit, tolerance))
    for name, claimed in expectation.grads.items():
        if problem.intermediate(name) is not None:  # a let: its adjoint, d f / d (it)
            truth = target.intermediate_adjoint(e.point, name)
            out.append(expect.judge(name, claimed, truth, explicit, tolerance))
            continue
        truth = e.claimed[name] if e.exact is None else e.exact[name]
        judged = expect.judge(name, claimed, truth, explicit, tolerance, e.alternatives(name))
        out.append(judged)
        gradient = point.gradient[name]
        gradient.expected = claimed.value
        for wrong in judged.wrong:  # the expect table says which and by how much
            k = int(np.ravel_multi_index(wrong["index"], gradient.shape)) if gradient.shape else 0
            if gradient.status.flat[k] != "error":
                gradient.status.flat[k] = "fail"
                gradient.causes[k] = Cause(
                    CauseCode.EXPECTED,
                    f"the claimed {wrong['claimed']:.12g} is not the true {wrong['true']:.12g}",
                )
    return out


def check_point(
    target: Target,
    e: Evaluation,
    drawn: tuple[str, ...],
    settings: Settings,
    tol: Tolerance,
    rng: np.random.Generator,
) -> PointResult:
    """Every check at one point: each input's entries, or directional probes."""
    result = PointResult(e.point, drawn, _plain(e.value), _plain(e.exact_value))
    if settings.mode == "directional":
        result.probes, located = probes(e, target.wrt, settings.probes, settings.step, tol, rng)
        for name in target.wrt:  # reported, not judged entry by entry
            result.gradient[name] = GradientResult(
                shape=e.claimed[name].shape,
                symbolic=None if e.exact is None else e.exact[name],
                backprop=e.claimed[name],
                forward=None,
                backward=None,
                central=None,
                status=np.full(e.claimed[name].shape, "pass", dtype=object),
                errors={},
                claimed_by=e.claimed_by,
            )
        for entry in located:  # the entries a failing probe was narrowed down to
            gradient = result.gradient[entry.name]
            k = int(np.ravel_multi_index(entry.index, gradient.shape)) if gradient.shape else 0
            gradient.status.flat[k] = "fail"
            code = CauseCode.BACKPROP if e.claimed_by == "backprop" else CauseCode.CLAIMED
            gradient.causes[k] = Cause(
                code,
                f"{e.claimed_by} {entry.claimed:.12g} disagrees with the directional "
                f"differences, which imply {entry.estimate:.12g} (found by bisection)",
            )
    else:
        for name in target.wrt:
            result.gradient[name] = _judge_input(e, name, settings, tol)
    if not e.value_agrees():
        for gradient in result.gradient.values():
            gradient.status[...] = "fail"
        for probe in result.probes or []:
            probe.status = "fail"
    return result


def _judge_input(e: Evaluation, name: str, settings: Settings, tol: Tolerance):
    """Every estimator for one input's entries, against the best reference there is."""
    x = np.asarray(e.point[name]).astype(e.dtype)
    exact = None if e.exact is None else e.exact[name]
    asked = {"complex", "richardson"} & set(settings.methods)
    if e.costly and settings.step is None and not asked:
        gradient = _judge_quickly(e, name, x, exact, settings, tol)
    else:
        gradient = _judge_thoroughly(e, name, e.evaluator(name), x, e.claimed[name], exact,
                                     settings, tol)  # fmt: skip
    if e.dtype == "float32":
        _settle_float32(e, name, gradient, settings, tol)
    return gradient


def _judge_thoroughly(e: Evaluation, name, evaluate, x, claimed, exact, settings, tol):
    """The step ladder, and complex step or Richardson where there is no exact truth."""
    methods = settings.methods
    blocked = e.no_complex_step(name)
    complex_step = None
    if ("complex" in methods or exact is None) and blocked is None:
        try:
            complex_step = finite.complex_step(evaluate, x, float(np.finfo(e.dtype).eps))
        except ComplexStepRefused as refused:  # found only once tried, at some entries
            blocked = str(refused)
    if complex_step is None and blocked is not None and "complex" in methods:
        e.notes.append(f"complex step does not apply to {name}: {blocked}")
    richardson = "richardson" in methods or (exact is None and complex_step is None)
    d = finite.entrywise(evaluate, x, e.value, settings.step, e.size, richardson)
    return _verdicts(e, name, claimed, exact, complex_step, d, tol)


def _judge_quickly(e: Evaluation, name, x, exact, settings, tol):
    """Two calls an entry (central differences at the classic step); the entries that do
    not then pass are judged thoroughly: where a check's cost is the user's calls, the
    ladder and complex step are spent only where they can change a verdict."""
    evaluate, claimed = e.evaluator(name), e.claimed[name]
    d = finite.quick(evaluate, x, e.value, e.size)
    gradient = _verdicts(e, name, claimed, exact, None, d, tol, quick=True)
    doubtful = np.unique(np.flatnonzero(gradient.status.ravel() != "pass") % x.size)
    if not doubtful.size:
        return gradient
    outputs = claimed.size // x.size
    part_shape = (doubtful.size,) if outputs == 1 else (outputs, doubtful.size)

    def some(at: np.ndarray, entry: np.ndarray):
        return evaluate(doubtful[at], entry)

    def subset(array):
        return None if array is None else np.reshape(array, (outputs, x.size))[:, doubtful]

    part = _judge_thoroughly(
        e, name, some, x.ravel()[doubtful], subset(claimed).reshape(part_shape),
        None if exact is None else subset(exact).reshape(part_shape), settings, tol,
    )  # fmt: skip
    where = (np.arange(outputs)[:, None] * x.size + doubtful[None, :]).ravel()
    _scatter(gradient, part, where)
    return gradient


def _scatter(whole: GradientResult, part: GradientResult, where: np.ndarray) -> None:
    """Put a subset's verdicts, estimates and causes into the whole, at flat ``where``."""
    whole.status.flat[where] = part.status.ravel()
    for field in ("forward", "backward", "central", "step", "reference"):
        getattr(whole, field).flat[where] = np.ravel(getattr(part, field))
    for method, errors in part.errors.items():
        if method in whole.errors:
            whole.errors[method].flat[where] = errors.ravel()
    for k in where:
        whole.causes.pop(int(k), None)
    whole.causes.update({int(where[q]): cause for q, cause in part.causes.items()})


def _verdicts(e: Evaluation, name, claimed, exact, complex_step, d, tol: Tolerance, quick=False):
    """Every entry of one input judged from the differences ``d`` (``quick``: against the
    central difference itself, where there is nothing better yet)."""
    central = d.central if quick else None
    reference = Reference.choose(
        claimed, exact, complex_step, d.richardson, 3 * d.rounding, central=central
    )
    # backprop through our own graph is held to machine precision; anyone else's gradient
    # (the user's code) to the tolerance of the check
    bp_tol = tolerance("backprop", e.dtype) if e.claimed_by == "backprop" else tol
    higher = None
    if reference.exact and not backprop_agrees(claimed, reference.values, e.scale, bp_tol).all():
        higher = e.claimed_in_higher_precision(name)
    gradient = judge(
        e.switch,
        claimed,
        reference,
        d,
        tol,
        e.scale,
        bp_tol=bp_tol,
        higher=higher,
        symbolic=exact,
        complex_step=complex_step,
        distances=e.distances,
        claimed_by=e.claimed_by,
        knows_switches=e.knows_switches,
    )
    return gradient


def _settle_float32(e: Evaluation, name, gradient, settings, tol) -> None:
    """Entries whose float32 central difference fails are differenced again in float64:
    where that agrees, the disagreement was float32's round-off, not a wrong gradient."""
    failing = [
        k
        for k, cause in gradient.causes.items()
        if gradient.status.flat[k] == "fail" and cause.code == CauseCode.CENTRAL
    ]
    if not failing:
        return
    evaluate = e.evaluator(name, dtype="float64")
    d = finite.entrywise(evaluate, e.point[name], e.value, settings.step, e.size)
    for k in failing:
        ref = float(gradient.reference.flat[k])
        allowed = tol.atol + tol.rtol * abs(ref) + float(d.rounding[k])
        if abs(float(d.central[k]) - ref) <= allowed:
            gradient.status.flat[k] = "pass"
            gradient.causes[k] = Cause(
                CauseCode.FLOAT32,
                f"the float32 central difference {float(gradient.central.flat[k]):.7g} is off, "
                f"but in float64 it is {float(d.central[k]):.12g}: round-off of float32, not a "
                "wrong gradient",
            )


def _plain(value: np.ndarray | None):
    """A scalar as a float (as reports and JSON show it), an array as it is."""
    if value is None:
        return None
    return float(value) if np.ndim(value) == 0 else np.asarray(value)
