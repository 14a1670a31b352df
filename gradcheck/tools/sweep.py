"""Sweeps: each estimator's error against the exact derivative as the step h varies.

The seed homework chose its step by luck and then plotted the error against the step by
hand; a sweep shows that plot for one entry: the V of truncation (falling as h falls)
and round-off (rising), the best step of each method, and where gradcheck's own
automatic step lands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from gradcheck.errors import ExpressionError
from gradcheck.estimate import finite
from gradcheck.estimate.points import draw, draw_indices
from gradcheck.source.problems import Problem
from gradcheck.targets.base import Evaluation
from gradcheck.targets.expression import ExpressionTarget

#: The default range: 1e-1 down to 1e-13 in 25 steps (two a decade).
DEFAULT_STEPS = (1e-1, 1e-13, 25)


@dataclass
class MethodSweep:
    """One estimator over the steps; ``reason`` says why it does not apply, if it does not."""

    errors: np.ndarray | None
    best_step: float | None = None
    best_error: float | None = None
    auto_step: float | None = None
    auto_error: float | None = None
    reason: str | None = None


@dataclass
class SweepResult:
    """A sweep of one entry of one input at one point."""

    name: str
    wrt: str
    index: tuple[int, ...]
    at: dict[str, np.ndarray]
    drawn: tuple[str, ...]
    value: float
    exact: float
    reference: str  # what "exact" is: symbolic, complex step or backprop
    steps: np.ndarray
    methods: dict[str, MethodSweep]
    notes: list[str] = field(default_factory=list)
    seed: int = 0

    @property
    def entry(self) -> str:
        return self.wrt + (f"[{', '.join(map(str, self.index))}]" if self.index else "")


def parse_steps(text: str) -> np.ndarray:
    """``LO:HI:N`` -> N steps spaced evenly in log between LO and HI."""
    parts = text.split(":")
    try:
        lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
        if len(parts) != 3 or lo <= 0 or hi <= 0 or n < 2 or lo == hi:
            raise ValueError
    except (ValueError, IndexError):
        raise ExpressionError(
            f"--steps {text!r}: expected LO:HI:N with positive LO != HI and "
            "N >= 2, like 1e-1:1e-13:25",
            where="--steps",
        ) from None
    return np.logspace(np.log10(lo), np.log10(hi), n)


def parse_entry(text: str | None, problem: Problem, exact_of) -> tuple[str, tuple[int, ...]]:
    """``W[1,0]``, ``W`` or None -> (input, index). An array without an index sweeps its
    entry of largest |gradient|, the most informative one."""
    if text is None:
        name, index = problem.wrt[0], None
    else:
        match = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(?:\[([\d\s,]*)\])?\s*", text)
        if match is None:
            raise ExpressionError(
                f"--wrt {text!r}: expected a name, or a name and an index like W[1,0]",
                where="--wrt",
            )
        name = match.group(1)
        index = (
            None
            if match.group(2) is None
            else tuple(int(i) for i in match.group(2).split(",") if i.strip())
        )
    if name not in problem.wrt:
        raise ExpressionError(
            f"--wrt: {name!r} is not an input to differentiate; the inputs "
            f"are {', '.join(problem.wrt)}",
            where="--wrt",
        )
    shape = problem.shapes[name]
    if index is None:
        index = np.unravel_index(int(np.argmax(np.abs(exact_of(name)))), shape) if shape else ()
    if len(index) != len(shape) or any(not 0 <= i < n for i, n in zip(index, shape)):
        raise ExpressionError(
            f"--wrt: {name} has shape {shape}; {list(index)} is not one of its entries",
            where="--wrt",
        )
    return name, tuple(int(i) for i in index)


def sweep(problem: Problem, wrt: str | None, steps: np.ndarray, seed: int = 0) -> SweepResult:
    """Every estimator of one entry's derivative over ``steps``, against the exact value."""
    rng = np.random.default_rng(seed)
    index_values = draw_indices(problem, rng)
    notes: list[str] = []
    target = ExpressionTarget.build(problem, index_values, notes)
    if target.output_shape != ():
        raise ExpressionError(
            f"a sweep follows one derivative of a scalar function, and {problem.expression!r} "
            f"has shape {target.output_shape}: sweep one of its entries, such as "
            f"({problem.expression})[{', '.join('0' for _ in target.output_shape)}]",
            where="expression",
        )
    point, drawn = draw(target, problem.values, rng, index_values)
    e = target.at(point)
    notes.extend(e.notes)
    f0 = float(e.value)
    exact_grads, reference = _exact(e, target.wrt)
    name, index = parse_entry(wrt, problem, lambda n: exact_grads[n])
    k = int(np.ravel_multi_index(index, problem.shapes[name])) if index else 0
    exact = float(exact_grads[name].flat[k])
    evaluate = e.evaluator(name)
    x = float(point[name].flat[k])
    blocked = e.no_complex_step(name)
    raw = every_estimate(evaluate, x, k, f0, steps, analytic=blocked is None)
    auto = _automatic(evaluate, x, k, f0, e.size, blocked is None)
    methods = {}
    for method in SWEEP_METHODS:
        if raw[method] is None:
            methods[method] = MethodSweep(None, reason=blocked)
            continue
        errors = _relative(raw[method], exact)
        best, best_error = robust_best(errors)
        auto_step, auto_value = auto[method]
        auto_error = float(_relative(np.array([auto_value]), exact)[0])
        methods[method] = MethodSweep(errors, float(steps[best]), best_error, auto_step, auto_error)
    return SweepResult(
        problem.name,
        name,
        index,
        point,
        drawn,
        f0,
        exact,
        reference,
        np.asarray(steps, dtype=float),
        methods,
        notes,
        seed,
    )


def robust_best(errors: np.ndarray) -> tuple[int, float]:
    """Where the error is smallest and stays small, and that error: the running median of
    three neighbouring steps, so that one step where round-off errors happen to cancel
    is not taken for the best (it is luck, not a step to rely on)."""
    padded = np.concatenate([[np.inf], np.where(np.isfinite(errors), errors, np.inf), [np.inf]])
    medians = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    best = int(np.argmin(medians))
    return best, float(medians[best])


def _exact(e: Evaluation, wrt) -> tuple[dict[str, np.ndarray], str]:
    """The exact gradient: symbolic; else complex step where it applies; else backprop."""
    if e.exact is not None:
        return e.exact, "symbolic"
    if all(e.no_complex_step(n) is None for n in wrt):
        grads = {
            n: finite.complex_step(e.evaluator(n), e.point[n]).reshape(np.shape(e.point[n]))
            for n in wrt
        }
        return grads, "complex step"
    return e.claimed, "backprop"


def _automatic(evaluator, x: float, k: int, f0: float, size: float, analytic: bool) -> dict:
    """(step, estimate) of each method at gradcheck's own automatic step."""

    def one(indices, moved):
        return evaluator(np.full(len(indices), k), moved)

    d = finite.entrywise(one, np.array([x]), f0, size=size, with_richardson=True)
    out = {
        "forward": (float(d.one_sided_step[0]), float(d.forward[0])),
        "backward": (float(d.one_sided_step[0]), float(d.backward[0])),
        "central": (float(d.step[0]), float(d.central[0])),
        "richardson": (float(d.richardson_step[0]), float(d.richardson[0])),
        "complex": (None, np.nan),
    }
    if analytic:
        h = float(finite.complex_step_size(np.array([x]))[0])
        out["complex"] = (h, float(finite.complex_step(one, np.array([x]))[0]))
    return out


def _relative(estimates: np.ndarray, exact: float) -> np.ndarray:
    with np.errstate(all="ignore"):
        gap = np.abs(np.asarray(estimates, dtype=float) - exact)
        return gap / abs(exact) if exact != 0 else gap


# ---------------------------------------------------------------- every estimator at every step


SWEEP_METHODS = ("forward", "backward", "central", "complex", "richardson")


def every_estimate(
    evaluate: finite.Evaluate,
    x: float,
    k: int,
    f0: float,
    steps: np.ndarray,
    analytic: bool,
) -> dict[str, np.ndarray | None]:
    """Every estimator of df/dx_k at every step h (one batch): forward, backward and
    central at h, complex step at h (None where f is not analytic), and Richardson from
    the central differences at h, h/2 and h/4."""
    steps = np.asarray(steps, dtype=float)
    moves = [x + h for h in (steps, -steps, steps / 2, -steps / 2, steps / 4, -steps / 4)]
    values, _ = evaluate(np.full(6 * steps.size, k), np.concatenate(moves))
    f = np.reshape(values, (6, steps.size))  # one output: a sweep is of one derivative
    central = [finite.central_pair(f, moves, x, j) for j in (0, 2, 4)]
    out: dict[str, np.ndarray | None] = {
        "forward": (f[0] - f0) / (moves[0] - x),
        "backward": (f0 - f[1]) / (x - moves[1]),
        "central": central[0],
        "complex": None,
        "richardson": finite.richardson(*central),
    }
    if analytic:
        complex_values, _ = evaluate(np.full(steps.size, k), x + 1j * steps)
        out["complex"] = np.imag(np.ravel(complex_values)) / steps
    return out
