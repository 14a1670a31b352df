"""Checking the user's own code: the same estimates and verdicts as for an expression,
through the same seam, plus what only code can get wrong (modifying its inputs, drawing
at random on each call) and diagnoses of a wrong gradient in words.

``check_code(problem)`` checks a ``FuncProblem`` (files, as ``gradcheck func`` gives
them); ``check_function(f, grad=...)`` checks Python functions (a notebook, a test);
``assert_gradient`` is the same for pytest.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gradcheck.check import Settings, check_point
from gradcheck.deadline import deadline
from gradcheck.errors import GradcheckError
from gradcheck.estimate.points import draw
from gradcheck.judge.mistakes import diagnose
from gradcheck.judge.verdicts import chosen_tolerance
from gradcheck.results import (
    Cause,
    CauseCode,
    GradientResult,
    PointResult,
    ProblemResult,
    Report,
    Tolerance,
    worst,
)
from gradcheck.source.code import CodeRef
from gradcheck.source.func import FuncProblem
from gradcheck.targets.function import FunctionAt, FunctionTarget
from gradcheck.targets.worker import Worker

#: Findings about the code that decide its verdict, whatever its gradients.
FAILING = (CauseCode.MODIFIES_INPUTS, CauseCode.WRONG_SHAPE)


def check_code(problem: FuncProblem, settings: Settings | None = None) -> ProblemResult:
    """Check one problem's code; what cannot be checked becomes an ``error`` result."""
    settings = settings or Settings()
    result = ProblemResult(
        problem.name,
        None,
        "pass",
        file=problem.file,
        line=problem.line,
        kind="func",
        code=_code_names(problem),
        seed=settings.seed,
    )
    try:
        with (
            deadline(settings.timeout, f"checking {problem.name!r}"),
            Worker(problem.function, problem.grad, problem.backward, settings.timeout) as worker,
        ):
            _run(problem, worker, settings, result)
    except GradcheckError as error:
        result.status = "error"
        result.message = str(error.located(problem.file, problem.line))
    except MemoryError:
        result.status = "error"
        result.message = "out of memory while checking; give smaller inputs"
    return result


def _run(problem: FuncProblem, worker: Worker, settings: Settings, result: ProblemResult):
    rng = np.random.default_rng(settings.seed)
    target = FunctionTarget(problem, worker, rng)
    random_inputs = [n for n, v in problem.values.items() if not isinstance(v, np.ndarray)]
    for _ in range(settings.points if random_inputs else 1):
        point, drawn = draw(target, problem.values, rng, {})
        e = target.at(point)
        same = worker.deterministic(target.inputs(point), None if problem.jacobian else target.dout)
        if same is not True:  # said before any gradient is judged: nothing else means much
            result.findings.append(Cause(CauseCode.NOT_DETERMINISTIC, same))
            result.status, result.message = "error", f"{problem.function.name} is not "
            result.message += f"deterministic: {same}"
            return
        if result.tolerance is None:
            result.tolerance = _tolerance(problem, settings, e.dtype)
            result.output_shape = tuple(target.output_shape)
        if e.dtype == "float32" and not any("float32" in n for n in result.notes):
            result.notes.append("the code works in float32: judged at float32 tolerances")
        for finding in e.findings:
            if finding not in result.findings:
                result.findings.append(finding)
        point_result = check_point(target, e, drawn, settings, result.tolerance, rng)
        if target.layer and not problem.jacobian:
            point_result.upstream = target.dout
        _diagnose(e, point_result, result.tolerance)
        result.notes.extend(n for n in e.notes if n not in result.notes)
        result.points.append(point_result)
    statuses = [p.status for p in result.points]
    failing = [f for f in result.findings if f.code in FAILING]
    if failing:
        statuses.append("fail")
        result.message = "; ".join(f.text for f in failing)
    result.status = worst(statuses)
    if result.status == "kink" and settings.strict:
        result.status = "fail"
        result.notes.append("--strict: kinks count as failures")


def _tolerance(problem: FuncProblem, settings: Settings, dtype: str) -> Tolerance:
    """The problem's, else the settings', else the default for the code's precision."""
    return chosen_tolerance((problem.rtol, problem.atol), (settings.rtol, settings.atol), dtype)


def _diagnose(e: FunctionAt, point: PointResult, tol: Tolerance) -> None:
    """Name what each wrong gradient looks like: transposed, scaled, sign-flipped, all zero,
    another input's, or of another shape."""
    truths = {n: g.reference for n, g in point.gradient.items() if g.reference is not None}

    def agree(mine: np.ndarray, candidate: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.abs(mine - candidate) <= tol.atol + tol.rtol * np.abs(candidate)

    for name, gradient in point.gradient.items():
        if name not in truths or "fail" not in gradient.status.ravel().tolist():
            continue
        gradient.diagnosis = _what_it_is(e, name, gradient, truths, agree)


def _what_it_is(e: FunctionAt, name: str, gradient: GradientResult, truths, agree) -> str | None:
    claimed, truth = e.claimed[name], truths[name]
    returned = e.returned_shapes.get(name)
    if returned is not None:  # judge the gradient as the code laid it out
        shape_text = f"it has shape {returned[0]} but {name} has shape {returned[1]}"
        as_returned = np.reshape(claimed, returned[0])
        if len(returned[0]) == 2 and np.all(agree(as_returned, truth.T)):
            return f"{shape_text}: it is the true gradient transposed"
        return shape_text
    if not np.any(claimed) and np.any(np.abs(truth) > 0):
        return "it is all zero: nothing was accumulated into it"
    for other, theirs in truths.items():
        if other != name and theirs.shape == truth.shape and np.all(agree(claimed, theirs)):
            return f"it is the gradient of {other}, not of {name}"
    found = diagnose(claimed, truth, agree)
    if found is None and gradient.status.size > 1:
        diagonal = e.jacobian_diagonal(name)
        upstream = e.target.dout
        if diagonal is not None and np.all(
            agree(claimed, diagonal.reshape(truth.shape) * upstream)
        ):
            return (
                "it uses only the diagonal of the layer's Jacobian (d out_i / d x_i times "
                "dout_i): the terms that couple the entries, such as softmax's -s_i s_j, "
                "are left out"
            )
    return found


def _code_names(problem: FuncProblem) -> dict[str, str]:
    names = {"function": problem.function.text}
    if problem.grad is not None:
        names["grad"] = problem.grad.text
    if problem.backward is not None:
        names["backward"] = problem.backward.text
    return names


# ---------------------------------------------------------------- the library


def check_function(
    f: Callable,
    grad: Callable | None = None,
    backward: Callable | None = None,
    *,
    wrt: list[str] | tuple[str, ...] | None = None,
    jacobian: bool = False,
    settings: Settings | None = None,
    **at,
) -> Report:
    """Check ``f``'s gradient, claimed by ``grad`` (same inputs), ``backward`` (a layer's,
    ``backward(dout, cache)``), or by ``f`` itself returning ``(value, grads)``.

    ``at`` gives every input by name: an array (integer arrays are labels, never
    differentiated). The functions run in a worker process with a time limit.

    >>> import numpy as np, gradcheck
    >>> report = gradcheck.check_function(
    ...     lambda x: np.sum(x**2), grad=lambda x: 2 * x, x=np.array([1.0, 2.0]))
    >>> report.problems[0].status
    'pass'
    """
    values, labels = {}, set()
    for name, value in at.items():
        array = np.array(value)  # a copy: the caller's arrays are never touched
        if array.dtype.kind in "iub" and (wrt is None or name not in wrt):
            labels.add(name)
        values[name] = array.astype(float) if array.dtype.kind in "iub" else array
    problem = FuncProblem(
        name=getattr(f, "__name__", "f"),
        function=_ref(f),
        values=values,
        labels=frozenset(labels),
        wrt=None if wrt is None else tuple(wrt),
        grad=None if grad is None else _ref(grad),
        backward=None if backward is None else _ref(backward),
        jacobian=jacobian,
    )
    return Report([check_code(problem, settings)])


def assert_gradient(
    f: Callable,
    grad: Callable | None = None,
    backward: Callable | None = None,
    *,
    wrt: list[str] | tuple[str, ...] | None = None,
    **at,
) -> None:
    """``check_function``, for pytest: raises ``AssertionError`` with the per-entry table
    (each wrong entry on its own line, with its index and ``fail``) unless it passes.

    Raises:
        AssertionError: some entry failed, or the gradient could not be checked.
    """
    report = check_function(f, grad, backward, wrt=wrt, **at)
    if report.exit_code != 0:
        from gradcheck.render.tables import failures_text

        raise AssertionError(failures_text(report))


def _ref(function: Callable) -> CodeRef:
    """A reference to a function already in this process (the worker forks with it)."""
    try:
        path = Path(inspect.getsourcefile(function) or "<unknown>").resolve()
    except TypeError:
        path = Path("<unknown>")
    name = getattr(function, "__name__", "function")
    return CodeRef(path, name, f"{path.name}:{name}", function=function)
