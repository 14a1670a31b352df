"""Points to check at: the given values, plus seeded random ones for the rest.

A random point is redrawn until the function is finite there (``log``, ``sqrt`` and
``asin`` have domains); a point that no redraw can mend is an error naming the node.
"""

from __future__ import annotations

import numpy as np

from gradcheck.errors import ValueProblem
from gradcheck.source.problems import Problem, nonfinite_message

#: Random values are drawn uniformly from here; after half the attempts, from positives.
RANDOM_RANGE = (-2.0, 2.0)
RANDOM_ATTEMPTS = 32


def draw_indices(problem: Problem, rng: np.random.Generator) -> dict[str, int]:
    """A value for each input used as an index: the given one, else a random one in range."""
    values = {}
    for name, axes in problem.index_axes.items():
        given = problem.values[name]
        values[name] = int(given) if isinstance(given, np.ndarray) else int(rng.integers(min(axes)))
    return values


def draw_point(
    problem: Problem, rng: np.random.Generator, index_values: dict[str, int]
) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """The point's values and which of them were drawn.

    Raises:
        ValueProblem: the function is not finite at the given values, or at any draw.
    """
    fixed = {n: v for n, v in problem.values.items() if isinstance(v, np.ndarray)}
    fixed.update({n: np.array(float(v)) for n, v in index_values.items()})
    drawn = tuple(n for n in problem.random_names if n not in index_values)
    program = problem.program
    message = ""
    for attempt in range(RANDOM_ATTEMPTS if drawn else 1):
        point = {**fixed, **{n: random_value(rng, problem.shapes[n], attempt) for n in drawn}}
        values = program.forward({n: v[None] for n, v in point.items()})
        if np.isfinite(values[program.output]).all():
            return point, drawn
        message = nonfinite_message(program, values)
        culprit = program.first_nonfinite(values)
        if culprit is None or not program.depends_on(culprit, drawn):
            raise ValueProblem(message)  # no redraw can help: it is the given values
    raise ValueProblem(
        f"{message}; it was not finite at any of {RANDOM_ATTEMPTS} random "
        "points, so give values with --at (or at: in a problem file)"
    )


def random_point(problem: Problem, rng: np.random.Generator, index_values: dict[str, int]):
    """Every input drawn afresh (index inputs kept), finite there; None if none is found."""
    for attempt in range(RANDOM_ATTEMPTS):
        point = {
            n: (
                np.array(float(index_values[n]))
                if n in index_values
                else random_value(rng, problem.shapes[n], attempt)
            )
            for n in problem.shapes
        }
        values = problem.program.forward({n: v[None] for n, v in point.items()})
        if np.isfinite(values[problem.program.output]).all():
            return point
    return None


def random_value(rng: np.random.Generator, shape, attempt: int) -> np.ndarray:
    """Uniform on RANDOM_RANGE; on later attempts small positives (log, sqrt, asin)."""
    low, high = RANDOM_RANGE if attempt < RANDOM_ATTEMPTS // 2 else (0.05, 1.0)
    return rng.uniform(low, high, size=shape)
