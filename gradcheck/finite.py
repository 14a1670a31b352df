"""Finite-difference estimators and their step rules (NumPy only, testable alone).

Steps are scaled to the input's magnitude and the method's order: a one-sided difference
balances O(h) truncation against O(eps/h) round-off at ``h ~ sqrt(eps)``, a central one
balances O(h^2) against O(eps/h) at ``h ~ eps^(1/3)``. Each step is then made exactly
representable (``(x + h) - x``), so the divisor is the step the function really saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(np.float64).eps)

#: How many units of round-off one evaluation of f is assumed to carry, relative to the
#: largest number the evaluation passes through (``log(1 + u)`` with a tiny u is computed
#: through ``1 + u``: its round-off is eps, not eps * |f|). The bound widens tolerances;
#: it never passes a disagreement larger than plausible round-off.
EVALUATION_ULPS = 8.0

#: An evaluator: f with entry ``indices[r]`` set to ``values[r]``, for each row r.
#: Returns the values and, per row, a non-smooth node whose branch differs from the
#: unperturbed point's (-1 where none does).
Evaluate = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def central_step(scale: np.ndarray, eps: float = EPS) -> np.ndarray:
    """``eps^(1/3) * max(1, |x|)``: the step that balances O(h^2) truncation and round-off."""
    return eps ** (1 / 3) * np.maximum(1.0, np.abs(scale))


def one_sided_step(scale: np.ndarray, eps: float = EPS) -> np.ndarray:
    """``sqrt(eps) * max(1, |x|)``: the step that balances O(h) truncation and round-off."""
    return np.sqrt(eps) * np.maximum(1.0, np.abs(scale))


@dataclass(frozen=True)
class Differences:
    """Forward, backward and central estimates for a set of directions (entries or probes).

    ``rounding`` bounds the round-off in the central estimate and ``one_sided_rounding``
    in the one-sided ones; ``curvature`` estimates f'' from the central step's points
    (at a kink it is about jump / step, which is what tells a kink from a curve);
    ``crossed`` names, per direction, a non-smooth node whose branch changes within the
    step (or -1).
    """

    forward: np.ndarray
    backward: np.ndarray
    central: np.ndarray
    step: np.ndarray
    one_sided_step: np.ndarray
    rounding: np.ndarray
    one_sided_rounding: np.ndarray
    curvature: np.ndarray
    crossed: np.ndarray

    def one_sided_truncation(self) -> np.ndarray:
        """A bound on the O(h) truncation error of a one-sided difference: h |f''|."""
        return self.one_sided_step * np.abs(self.curvature)


def entrywise(
    evaluate: Evaluate, x: np.ndarray, f0: float, step: float | None = None, size: float = 0.0
) -> Differences:
    """Differences for every entry of one input, flattened.

    ``x`` is the input's value (flattened), ``f0`` the function's value at the point,
    ``step`` a fixed step that overrides the rules for every method, and ``size`` the
    largest intermediate value (what an evaluation's round-off is relative to).
    """
    x = np.asarray(x, dtype=float).ravel()
    n = x.size
    if step is None:
        hc, ho = central_step(x), one_sided_step(x)
    else:
        hc = ho = np.full(n, float(step))
    shared = step is not None
    moves = [x + hc, x - hc] if shared else [x + hc, x - hc, x + ho, x - ho]
    values, crossed = evaluate(np.tile(np.arange(n), len(moves)), np.concatenate(moves))
    rows = values.reshape(len(moves), n)
    sides = crossed.reshape(len(moves), n)
    central = _estimates(f0, rows[0], rows[1], moves[0] - x, x - moves[1], size)
    one_sided = (
        central if shared else _estimates(f0, rows[2], rows[3], moves[2] - x, x - moves[3], size)
    )
    return _differences(central, one_sided, hc, ho, np.max(sides, axis=0))


def along(
    evaluate_at: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    scale: float,
    f0: float,
    step: float | None = None,
    size: float = 0.0,
) -> Differences:
    """Differences along one direction ``u``: ``evaluate_at(t)`` is f(x + t u) per t.

    ``scale`` is the size of the point along that direction (for a unit ``u``,
    ``|x|``), which sets the steps as it does for an entry; ``size`` is as for
    ``entrywise``.
    """
    if step is None:
        hc, ho = float(central_step(np.array(scale))), float(one_sided_step(np.array(scale)))
    else:
        hc = ho = float(step)
    values, crossed = evaluate_at(np.array([hc, -hc, ho, -ho]))
    central = _estimates(f0, values[0:1], values[1:2], np.array([hc]), np.array([hc]), size)
    one_sided = _estimates(f0, values[2:3], values[3:4], np.array([ho]), np.array([ho]), size)
    return _differences(
        central, one_sided, np.array([hc]), np.array([ho]), np.array([np.max(crossed)])
    )


def _differences(central: dict, one_sided: dict, hc, ho, crossed) -> Differences:
    return Differences(
        forward=one_sided["forward"],
        backward=one_sided["backward"],
        central=central["central"],
        step=hc,
        one_sided_step=ho,
        rounding=central["rounding"],
        one_sided_rounding=one_sided["rounding"] * 2,
        curvature=central["curvature"],
        crossed=crossed,
    )


def _estimates(f0, f_up, f_down, h_up, h_down, size: float = 0.0) -> dict:
    """The three differences from f(x), f(x + h_up), f(x - h_down), with their round-off."""
    with np.errstate(all="ignore"):
        largest = np.maximum(np.abs(f0), np.maximum(np.abs(f_up), np.abs(f_down)))
        noise = EVALUATION_ULPS * EPS * np.maximum(largest, size)
        return {
            "forward": (f_up - f0) / h_up,
            "backward": (f0 - f_down) / h_down,
            "central": (f_up - f_down) / (h_up + h_down),
            # the second difference for unequal steps
            "curvature": 2
            * (h_down * f_up - (h_up + h_down) * f0 + h_up * f_down)
            / (h_up * h_down * (h_up + h_down)),
            # central: two evaluations' noise over the whole width; one-sided: over one step
            "rounding": 2 * noise / (h_up + h_down),
        }
