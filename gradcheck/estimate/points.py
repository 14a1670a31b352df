"""Points to check at: the given values, plus seeded random ones for the rest.

A random point is redrawn until the target is finite there (``log``, ``sqrt`` and
``asin`` have domains); a point that no redraw can mend is an error saying why.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from gradcheck.errors import ValueProblem
from gradcheck.source.language import RandomSpec
from gradcheck.source.tree import draw_labels
from gradcheck.targets.base import Target

#: Random values are drawn uniformly from here; after half the attempts, from positives.
RANDOM_RANGE = (-2.0, 2.0)
RANDOM_ATTEMPTS = 32


def draw_indices(problem, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A value for each input used as an index: the given one, else a random one in range."""
    values = {}
    for name, axes in problem.index_axes.items():
        given = problem.values[name]
        if isinstance(given, np.ndarray):
            values[name] = np.asarray(given).astype(int)
        else:
            values[name] = draw_labels(rng, problem.shapes[name], axes)
    return values


def draw_point(problem, rng: np.random.Generator, index_values: Mapping[str, int]):
    """``draw`` for a problem's expression (as trace and sweep take it)."""
    from gradcheck.targets.expression import ExpressionTarget

    return draw(ExpressionTarget(problem), problem.values, rng, index_values)


def draw(
    target: Target,
    values: Mapping[str, np.ndarray | RandomSpec],
    rng: np.random.Generator,
    index_values: Mapping[str, int],
) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """The point's values and which of them were drawn.

    Raises:
        ValueProblem: the target is not finite at the given values, or at any draw.
    """
    fixed = {n: v for n, v in values.items() if isinstance(v, np.ndarray)}
    fixed.update({n: np.asarray(v, dtype=float) for n, v in index_values.items()})
    drawn = tuple(n for n, v in values.items() if isinstance(v, RandomSpec) and n not in fixed)
    message = ""
    for attempt in range(RANDOM_ATTEMPTS if drawn else 1):
        point = {**fixed, **{n: random_value(rng, target.shapes[n], attempt) for n in drawn}}
        problem = target.not_finite(point)
        if problem is None:
            return point, drawn
        message = problem.message
        if not problem.depends_on & set(drawn):
            raise ValueProblem(message)  # no redraw can help: it is the given values
    raise ValueProblem(
        f"{message}; it was not finite at any of {RANDOM_ATTEMPTS} random "
        "points, so give values with --at (or at: in a problem file)"
    )


def random_point(target, rng: np.random.Generator, index_values: Mapping[str, int]):
    """Every input drawn afresh (index inputs kept), finite there; None if none is found."""
    if not isinstance(target, Target):  # a Problem, from callers not yet on the seam
        from gradcheck.targets.expression import ExpressionTarget

        target = ExpressionTarget(target)
    for attempt in range(RANDOM_ATTEMPTS):
        point = {
            n: (
                np.asarray(index_values[n], dtype=float)
                if n in index_values
                else random_value(rng, target.shapes[n], attempt)
            )
            for n in target.shapes
        }
        if target.not_finite(point) is None:
            return point
    return None


def random_value(rng: np.random.Generator, shape, attempt: int) -> np.ndarray:
    """Uniform on RANDOM_RANGE; on later attempts small positives (log, sqrt, asin)."""
    low, high = RANDOM_RANGE if attempt < RANDOM_ATTEMPTS // 2 else (0.05, 1.0)
    return rng.uniform(low, high, size=shape)
