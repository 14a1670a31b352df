"""Orchestration: points -> estimates (symbolic, backprop, finite differences) -> verdicts.

``check(problems)`` returns a ``Report``: evidence and verdicts, never printed here.
A problem that cannot be checked becomes a result with status ``error`` and a message;
it never stops the others.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from . import finite, symbolic
from .errors import GradcheckError, ValueProblem
from .graph import Program, describe
from .problems import Claim, Problem, nonfinite_message

#: Severity order: a problem takes the worst status of its parts.
STATUSES = ("pass", "kink", "fail", "error")


@dataclass(frozen=True)
class Tolerance:
    """``|estimate - reference| <= atol + rtol * |reference|`` (plus the estimate's round-off)."""

    rtol: float
    atol: float


#: Tolerances, in one place. ``central`` is the default for finite differences and claims
#: (``--rtol`` / ``--atol``); backprop is held to near machine precision against the
#: symbolic value, its absolute part scaled by the size of the function and its gradient.
TOLERANCES = {
    "central": Tolerance(rtol=1e-6, atol=1e-9),
    "backprop": Tolerance(rtol=1e-9, atol=1e-12),
    "value": Tolerance(rtol=1e-9, atol=1e-12),
}

#: Random values are drawn uniformly from here; after half the attempts, from positives.
RANDOM_RANGE = (-2.0, 2.0)
RANDOM_ATTEMPTS = 32

#: How many more random points a claimed formula is tried at.
CLAIM_POINTS = 3

#: Entries (floats) per batch of perturbed copies: bounds memory, keeps batches large.
BATCH_FLOATS = 1 << 21


@dataclass(frozen=True)
class Settings:
    """How to check: tolerances, seed, mode, and overrides given on the command line."""

    rtol: float | None = None
    atol: float | None = None
    seed: int = 0
    strict: bool = False
    mode: str = "full"
    probes: int = 3
    points: int = 1
    step: float | None = None


@dataclass
class GradientResult:
    """Every estimate for one input at one point; arrays have the input's shape."""

    shape: tuple[int, ...]
    symbolic: np.ndarray | None
    backprop: np.ndarray
    forward: np.ndarray | None
    backward: np.ndarray | None
    central: np.ndarray | None
    status: np.ndarray
    errors: dict[str, np.ndarray]
    expected: np.ndarray | None = None
    causes: dict[int, str] = field(default_factory=dict)
    step: np.ndarray | None = None


@dataclass
class ProbeResult:
    """A directional check: backprop's g . u against differences along the unit u."""

    symbolic: float | None
    backprop: float
    forward: float
    backward: float
    central: float
    status: str
    errors: dict[str, float]
    step: float
    cause: str | None = None


@dataclass
class PointResult:
    """One point: its values, the function's value there, and the gradient estimates."""

    at: dict[str, np.ndarray]
    drawn: tuple[str, ...]
    value: float
    symbolic_value: float | None
    gradient: dict[str, GradientResult]
    probes: list[ProbeResult] | None = None


@dataclass
class ClaimResult:
    """A claimed formula: whether it holds, proved or tried at points, and where it fails."""

    name: str
    text: str
    status: str
    proved: bool = False
    points: int = 0
    counterexample: dict | None = None
    message: str | None = None


@dataclass
class ProblemResult:
    """The verdict on one problem, with the evidence for it."""

    name: str
    expression: str | None
    status: str
    file: str | None = None
    line: int | None = None
    message: str | None = None
    points: list[PointResult] = field(default_factory=list)
    claims: dict[str, ClaimResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seed: int | None = None
    tolerance: Tolerance | None = None


@dataclass
class Report:
    """The results of a run, in the order the problems were given."""

    problems: list[ProblemResult]

    @property
    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for p in self.problems:
            counts[p.status] += 1
        return counts

    @property
    def exit_code(self) -> int:
        """0 all pass (kinks allowed), 1 some check failed, 2 some could not be checked."""
        counts = self.summary
        return 2 if counts["error"] else 1 if counts["fail"] else 0


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=STATUSES.index, default="pass")


# ---------------------------------------------------------------- entry point


def check(problems: Problem | Iterable[Problem], settings: Settings | None = None) -> Report:
    """Check each problem; a problem that cannot be checked gets status ``error``."""
    settings = settings or Settings()
    if isinstance(problems, Problem):
        problems = [problems]
    return Report([check_one(p, settings) for p in problems])


def failed(name: str, error: GradcheckError, *, file: str | None = None,
           expression: str | None = None) -> ProblemResult:
    """The result for a problem that could not be checked."""
    return ProblemResult(name, expression, "error", file=file, line=error.line, message=str(error))


def check_one(problem: Problem, settings: Settings) -> ProblemResult:
    """Check one problem at its points; bad input becomes an ``error`` result."""
    tolerance = Tolerance(
        problem.rtol if problem.rtol is not None else
        settings.rtol if settings.rtol is not None else TOLERANCES["central"].rtol,
        problem.atol if problem.atol is not None else
        settings.atol if settings.atol is not None else TOLERANCES["central"].atol,
    )
    result = ProblemResult(problem.name, problem.expression, "pass", file=problem.file,
                           line=problem.line, notes=list(problem.notes), seed=settings.seed,
                           tolerance=tolerance)
    try:
        _run(problem, settings, tolerance, result)
    except GradcheckError as error:
        result.status = "error"
        result.message = str(error.located(problem.file, problem.line))
    except Exception as exc:  # a bug of ours must not stop the other problems
        result.status = "error"
        result.message = f"internal error while checking ({type(exc).__name__}: {exc}); please report it"
    return result


def _run(problem: Problem, settings: Settings, tolerance: Tolerance, result: ProblemResult) -> None:
    rng = np.random.default_rng(settings.seed)
    index_values = _draw_indices(problem, rng)
    tape = _tape(problem, index_values, result.notes)
    step = settings.step if settings.step is not None else problem.step
    count = settings.points if problem.random_names else 1
    for _ in range(count):
        point, drawn = _draw_point(problem, rng, index_values)
        result.points.append(_check_point(problem, point, drawn, tape, step, tolerance,
                                          settings, rng, result.notes))
    for name, claim in problem.claims.items():
        result.claims[name] = _check_claim(claim, problem, result.points, tape, index_values,
                                           tolerance, rng)
    statuses = [_point_status(p) for p in result.points]
    statuses += [c.status for c in result.claims.values()]
    status = worst(statuses)
    if status == "kink" and settings.strict:
        status = "fail"
        result.notes.append("--strict: kinks count as failures")
    result.status = status


# ---------------------------------------------------------------- points


def _draw_indices(problem: Problem, rng) -> dict[str, int]:
    values = {}
    for name, axes in problem.index_axes.items():
        given = problem.values[name]
        values[name] = int(given) if isinstance(given, np.ndarray) else int(rng.integers(min(axes)))
    return values


def _draw_point(problem: Problem, rng, index_values) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Given values, plus random ones for the rest, redrawn until the function is finite."""
    fixed = {n: v for n, v in problem.values.items() if isinstance(v, np.ndarray)}
    fixed.update({n: np.array(float(v)) for n, v in index_values.items()})
    drawn = tuple(n for n in problem.random_names if n not in index_values)
    message = ""
    for attempt in range(RANDOM_ATTEMPTS if drawn else 1):
        point = dict(fixed)
        for name in drawn:
            point[name] = _random(rng, problem.shapes[name], attempt)
        batched = {n: v[None] for n, v in point.items()}
        values = problem.program.forward(batched)
        if np.isfinite(values[problem.program.output]).all():
            return point, drawn
        message = nonfinite_message(problem.program, values)
        culprit = problem.program.first_nonfinite(values)
        if culprit is None or not problem.program.depends_on(culprit, drawn):
            raise ValueProblem(message)  # no redraw can help: it is the given values
    if drawn:
        message += (f"; it was not finite at any of {RANDOM_ATTEMPTS} random points, "
                    "so give values with --at (or at: in a problem file)")
    raise ValueProblem(message)


def _random(rng, shape, attempt: int) -> np.ndarray:
    low, high = RANDOM_RANGE
    if attempt >= RANDOM_ATTEMPTS // 2:  # log, sqrt, asin ... want positives, small
        low, high = 0.05, 1.0
    return rng.uniform(low, high, size=shape)


def _tape(problem: Problem, index_values, notes: list[str]):
    try:
        return symbolic.tape_for(problem.program, problem.wrt, index_values)
    except symbolic.SymbolicUnavailable as exc:
        notes.append(f"symbolic derivative skipped: {exc}; backprop is the reference")
        return None


def _check_point(problem, point, drawn, tape, step, tolerance, settings, rng, notes) -> PointResult:
    program = problem.program
    batched = {n: v[None] for n, v in point.items()}
    values = program.forward(batched)
    value = float(values[program.output][0])
    adjoints = program.backward(values, problem.wrt)
    backprop = {n: _adjoint(adjoints, program, n) for n in problem.wrt}
    sym_value, sym_grads = _symbolic_at(tape, point, program, notes)
    if sym_value is not None and not _close(value, sym_value, TOLERANCES["value"]):
        notes.append(f"the graph's value {value!r} differs from the symbolic value "
                     f"{sym_value!r}: the forward pass disagrees with the expression")
    result = PointResult(point, drawn, value, sym_value, {})
    scale = _scale(value, backprop, point)
    if settings.mode == "directional":
        result.probes = _probes(program, point, problem.wrt, backprop, sym_grads, values, value,
                                step, tolerance, scale, settings.probes, rng)
        for name in problem.wrt:
            result.gradient[name] = _unchecked(backprop[name], sym_grads, name)
    else:
        sides = program.branches(values)
        for name in problem.wrt:
            differences = finite.entrywise(_evaluator(program, batched, name, sides),
                                           point[name], value, step)
            result.gradient[name] = _judge(program, name, backprop[name],
                                           None if sym_grads is None else sym_grads[name],
                                           differences, tolerance, scale)
    if sym_value is not None and not _close(value, sym_value, TOLERANCES["value"]):
        for gradient in result.gradient.values():
            gradient.status[...] = "fail"
    return result


def _adjoint(adjoints, program: Program, name: str) -> np.ndarray:
    adjoint = adjoints[program.inputs[name]]
    shape = program.shapes[name]
    return np.zeros(shape) if adjoint is None else np.array(adjoint[0]).reshape(shape)


def _symbolic_at(tape, point, program, notes):
    if tape is None:
        return None, None
    try:
        value, grads = symbolic.evaluate(tape, point)
    except ValueError as exc:
        notes.append(f"symbolic evaluation failed: {exc}")
        return None, None
    return value, {n: g.reshape(program.shapes[n]) for n, g in grads.items()}


def _scale(value: float, grads: Mapping[str, np.ndarray], point) -> float:
    """The size of the function and of its linear terms: what round-off is relative to."""
    terms = [abs(value)]
    for name, g in grads.items():
        terms.append(float(np.max(np.abs(g) * np.maximum(1.0, np.abs(point[name])), initial=0.0)))
    return max(terms)


def _close(a: float, b: float, tol: Tolerance) -> bool:
    return abs(a - b) <= tol.atol * max(1.0, abs(b)) + tol.rtol * abs(b)


# ---------------------------------------------------------------- finite differences


def _evaluator(program: Program, batched, name: str, base_sides) -> finite.Evaluate:
    """f with one entry of ``name`` moved per row, in batches of perturbed copies."""
    base = batched[name]
    size = base[0].size
    rows_per_batch = max(1, BATCH_FLOATS // max(size, 1))

    def evaluate(indices: np.ndarray, moved: np.ndarray):
        out = np.empty(len(indices))
        crossed = np.full(len(indices), -1)
        for start in range(0, len(indices), rows_per_batch):
            chunk = slice(start, start + rows_per_batch)
            rows = len(indices[chunk])
            copies = np.repeat(base, rows, axis=0)
            copies.reshape(rows, -1)[np.arange(rows), indices[chunk]] = moved[chunk]
            values = program.forward({**batched, name: copies})
            out[chunk] = values[program.output]
            crossed[chunk] = _first_crossed(program.branches(values), base_sides)
        return out, crossed

    return evaluate


def _first_crossed(sides: Mapping[int, np.ndarray], base_sides: Mapping[int, np.ndarray]):
    """Per row, the first non-smooth node whose side of its switch differs from the point's."""
    crossed = None
    for i, side in sides.items():
        # At a switch the point's side is 0, so any move off it counts as a change.
        hit = np.any((side != base_sides[i]).reshape(side.shape[0], -1), axis=1)
        if crossed is None:
            crossed = np.full(side.shape[0], -1)
        crossed = np.where((crossed < 0) & hit, i, crossed)
    return -1 if crossed is None else crossed


def _errors(estimates: Mapping[str, np.ndarray | None], truth: np.ndarray) -> dict[str, np.ndarray]:
    """Relative errors against the truth, absolute where the truth is 0."""
    out = {}
    with np.errstate(all="ignore"):
        for method, estimate in estimates.items():
            if estimate is None:
                continue
            diff = np.abs(estimate - truth)
            out[method] = np.where(truth != 0, diff / np.abs(truth), diff)
    return out


def _judge(program, name, backprop, sym, d: finite.Differences, tol: Tolerance, scale: float):
    """A verdict for every entry of one input, with the cause of each kink and failure."""
    shape = backprop.shape
    flat_bp = backprop.ravel()
    reference = flat_bp if sym is None else sym.ravel()
    status = np.full(flat_bp.size, "pass", dtype=object)
    causes: dict[int, str] = {}
    bp_tol = TOLERANCES["backprop"]
    with np.errstate(all="ignore"):
        central_gap = np.abs(d.central - reference)
        central_ok = central_gap <= tol.atol + tol.rtol * np.abs(reference) + d.rounding
        one_sided_gap = np.abs(d.forward - d.backward)
        one_sided_ok = one_sided_gap <= (tol.atol + tol.rtol * np.abs(reference)
                                         + 2 * d.one_sided_rounding
                                         + np.sqrt(finite.EPS) * (np.abs(reference) + 1))
        bp_ok = (np.ones(flat_bp.size, bool) if sym is None else
                 np.abs(flat_bp - reference) <= bp_tol.atol * scale + bp_tol.rtol * np.abs(reference))
    for k in range(flat_bp.size):
        cause = _entry_cause(program, k, flat_bp[k], reference[k], d, bool(central_ok[k]),
                             bool(one_sided_ok[k]), bool(bp_ok[k]), sym is not None)
        if cause is not None:
            status[k], causes[k] = cause
    estimates = {"backprop": backprop.ravel() if sym is not None else None,
                 "forward": d.forward, "backward": d.backward, "central": d.central}
    errors = _errors(estimates, reference)
    return GradientResult(
        shape, None if sym is None else sym, backprop, d.forward.reshape(shape),
        d.backward.reshape(shape), d.central.reshape(shape), status.reshape(shape),
        {m: e.reshape(shape) for m, e in errors.items()}, causes=causes,
        step=d.step.reshape(shape),
    )


def _entry_cause(program, k, bp, ref, d, central_ok, one_sided_ok, bp_ok, have_symbolic):
    """(status, cause) for an entry that does not simply pass, else None."""
    crossed = int(d.crossed[k])
    if not math.isfinite(bp) or not math.isfinite(ref):
        if crossed >= 0:
            return "kink", _kink_text(program, crossed, d, k)
        return "error", "the derivative is not finite at the point"
    if not all(math.isfinite(float(v[k])) for v in (d.forward, d.backward, d.central)):
        return "error", ("the function is not finite within the finite-difference step; "
                         "the point is too close to the edge of its domain")
    if crossed >= 0 and not (central_ok and one_sided_ok and bp_ok):
        return "kink", _kink_text(program, crossed, d, k)
    if not bp_ok:
        return "fail", f"backprop {bp:.12g} disagrees with the symbolic derivative {ref:.12g}"
    if not central_ok:
        what = "symbolic derivative" if have_symbolic else "backprop value"
        return "fail", (f"the central difference {float(d.central[k]):.12g} disagrees with the "
                        f"{what} {ref:.12g}")
    return None


def _kink_text(program: Program, node_index: int, d: finite.Differences, k: int) -> str:
    node = program.nodes[node_index]
    return (f"{describe(node)} switches branch within the step: one-sided derivatives "
            f"{float(d.backward[k]):.6g} (left) and {float(d.forward[k]):.6g} (right)")


def _unchecked(backprop, sym_grads, name) -> GradientResult:
    """Directional mode: entries are reported, not judged one by one."""
    return GradientResult(backprop.shape, None if sym_grads is None else sym_grads[name],
                          backprop, None, None, None, np.full(backprop.shape, "pass", dtype=object),
                          {})


def _point_status(point: PointResult) -> str:
    statuses = [worst(g.status.ravel().tolist()) for g in point.gradient.values()]
    if point.probes is not None:
        statuses = [p.status for p in point.probes]
    return worst(statuses)


# ---------------------------------------------------------------- directional mode


def _probes(program, point, wrt, backprop, sym_grads, values, value, step, tol, scale,
            count, rng) -> list[ProbeResult]:
    """Compare g . u with differences along ``count`` random unit directions u."""
    sizes = [point[n].size for n in wrt]
    x = np.concatenate([point[n].ravel() for n in wrt])
    g = np.concatenate([backprop[n].ravel() for n in wrt])
    gs = None if sym_grads is None else np.concatenate([sym_grads[n].ravel() for n in wrt])
    base_sides = program.branches(values)
    results = []
    for _ in range(count):
        u = rng.standard_normal(x.size)
        u /= np.linalg.norm(u)
        parts = np.split(u, np.cumsum(sizes)[:-1])
        directions = {n: p.reshape(point[n].shape) for n, p in zip(wrt, parts)}

        def evaluate_at(ts, directions=directions):
            inputs = {n: v[None] for n, v in point.items()}
            for n in wrt:
                inputs[n] = point[n][None] + ts.reshape((-1,) + (1,) * point[n].ndim) * directions[n]
            moved = program.forward(inputs)
            return moved[program.output], _first_crossed(program.branches(moved), base_sides)

        d = finite.along(evaluate_at, float(np.linalg.norm(x)), value, step)
        bp = float(g @ u)
        sym = None if gs is None else float(gs @ u)
        judged = _judge(program, "probe", np.array([bp]), None if sym is None else np.array([sym]),
                        d, tol, scale)
        results.append(ProbeResult(sym, bp, float(d.forward[0]), float(d.backward[0]),
                                   float(d.central[0]), str(judged.status[0]),
                                   {m: float(e[0]) for m, e in judged.errors.items()},
                                   float(d.step[0]), judged.causes.get(0)))
    return results


# ---------------------------------------------------------------- claims


def _check_claim(claim: Claim, problem: Problem, points, tape, index_values, tol, rng) -> ClaimResult:
    """A claimed formula, tried at the check points and a few random ones, then proved."""
    program = problem.program
    shape = program.shapes[claim.name]
    transposed = claim.program.root.shape != shape and claim.program.root.shape != ()
    trials = [p.at for p in points] + [_claim_point(problem, rng, index_values)
                                       for _ in range(CLAIM_POINTS)]
    trials = [t for t in trials if t is not None]
    for at in trials:
        claimed = _claimed_value(claim, at, shape, transposed)
        truth = _truth(problem, tape, at, claim.name)
        if claimed is None or truth is None:
            continue
        with np.errstate(all="ignore"):
            gap = np.abs(claimed - truth)
            bad = ~(gap <= tol.atol + tol.rtol * np.abs(truth))
        if transposed or bad.any():
            k = int(np.argmax(np.where(bad, gap, -1))) if bad.any() else 0
            index = np.unravel_index(k, shape)
            example = {"at": {n: v.tolist() for n, v in at.items()}, "index": list(index),
                       "claimed": float(claimed.ravel()[k]), "true": float(truth.ravel()[k]),
                       "error": float(gap.ravel()[k])}
            message = (f"the claim has {claim.program.root.shape} but {claim.name} has {shape}: "
                       "it is transposed" if transposed else None)
            return ClaimResult(claim.name, claim.text, "fail", counterexample=example,
                               message=message, points=len(trials))
    result = ClaimResult(claim.name, claim.text, "pass", points=len(trials))
    result.proved = _prove(claim, problem, index_values)
    return result


def _claim_point(problem: Problem, rng, index_values):
    """A random point for trying a claim: every differentiable input redrawn."""
    for attempt in range(RANDOM_ATTEMPTS):
        point = {n: (np.array(float(index_values[n])) if n in index_values
                     else _random(rng, problem.shapes[n], attempt)) for n in problem.shapes}
        values = problem.program.forward({n: v[None] for n, v in point.items()})
        if np.isfinite(values[problem.program.output]).all():
            return point
    return None


def _claimed_value(claim: Claim, at, shape, transposed):
    values = claim.program.forward({n: v[None] for n, v in at.items() if n in claim.program.inputs})
    claimed = values[claim.program.output][0]
    if not np.all(np.isfinite(claimed)):
        return None
    if transposed:
        claimed = claimed.T
    return np.broadcast_to(claimed, shape)


def _truth(problem: Problem, tape, at, name):
    if tape is not None:
        try:
            _, grads = symbolic.evaluate(tape, at)
            return grads[name].reshape(problem.shapes[name])
        except ValueError:
            return None
    program = problem.program
    _, grads = program.gradient({n: v[None] for n, v in at.items()}, [name])
    return grads[name][0]


def _prove(claim: Claim, problem: Problem, index_values) -> bool:
    """True when SymPy shows that the claim minus the true derivative simplifies to zero."""
    import sympy as sp

    try:
        _, _, derivs = symbolic.formulas(problem.program, [claim.name], index_values,
                                         simplify=False)
        claimed, _ = symbolic.lower_array(claim.program, index_values)
    except symbolic.SymbolicUnavailable:
        return False
    shape = problem.shapes[claim.name]
    claimed = np.broadcast_to(claimed if claimed.shape in ((), shape) else claimed.T, shape)
    for true, mine in zip(derivs[claim.name].flat, claimed.flat):
        if sp.count_ops(true) + sp.count_ops(mine) > 600 or sp.simplify(true - mine) != 0:
            return False
    return True
