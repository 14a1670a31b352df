"""Finite-difference estimators and their step rules (NumPy only, testable alone).

Steps are scaled to the input's magnitude. A one-sided difference balances O(h)
truncation against O(eps/h) round-off at ``h ~ sqrt(eps)``. A central one balances O(h^2)
against round-off at a step that depends on the third derivative as well, which no fixed
rule knows (for a piecewise-linear f, with no truncation at all, the larger the step the
better): it is chosen per entry from a ladder of steps, where consecutive estimates
agree best without falling below their round-off. Every step is made exactly
representable (``(x + h) - x``), so the divisor is the step the function really saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

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


#: The central step is chosen from these, times max(1, |x|): 8e-2 down by factors of 8,
#: eight rungs to about 4e-8, around the classic eps^(1/3) ~ 6e-6 (in float64). The top
#: rungs serve functions with little truncation (and Richardson), where large is best.
LADDER = 8e-2 * 8.0 ** -np.arange(8)


def ladder(eps: float = EPS) -> np.ndarray:
    """The ladder for a working precision: scaled as eps^(1/3), at most 0.3 at the top."""
    return LADDER * min(0.3 / LADDER[0], (eps / EPS) ** (1 / 3))


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
    richardson: np.ndarray | None = None
    richardson_step: np.ndarray | None = None

    def one_sided_truncation(self) -> np.ndarray:
        """A bound on the O(h) truncation error of a one-sided difference: h |f''|."""
        return self.one_sided_step * np.abs(self.curvature)


def entrywise(
    evaluate: Evaluate,
    x: np.ndarray,
    f0: np.ndarray | float,
    step: float | None = None,
    size: float = 0.0,
    with_richardson: bool = False,
    rungs: slice = slice(None),
) -> Differences:
    """Differences for every entry of one input, for every entry of the output.

    ``x`` is the input's value (its type is the working precision), ``f0`` the output at
    the point (any shape; a scalar for a gradient), ``step`` a fixed step that overrides
    the rules for every method, and ``size`` the largest intermediate value (what an
    evaluation's round-off is relative to). ``with_richardson`` adds Richardson's
    extrapolation; ``rungs`` narrows the step ladder (a directional probe, which costs a
    whole evaluation per rung, looks at the rungs around the classic step only). Every
    array of the result is flat, output-major: entry
    ``i * x.size + j`` is d out[i] / d x[j], the Jacobian's layout.
    """
    x = np.asarray(x).ravel()
    x = x if x.dtype in (np.float32, np.float64) else x.astype(float)
    f0 = np.ravel(np.asarray(f0, dtype=float))
    eps = float(np.finfo(x.dtype).eps)
    n = x.size
    if step is None:
        (hc, hr), ho = ladder_steps(evaluate, x, f0, size, rungs), one_sided_step(x, eps)
        moves = _moves(x, (hc, -hc, ho, -ho))
    else:
        hc = hr = ho = np.full(n, float(step))
        moves = _moves(x, (hc, -hc))
    if with_richardson:
        moves += _moves(x, (hr, -hr, hr / 2, -hr / 2, hr / 4, -hr / 4))
    f, crossed, moves = _evaluate_moves(evaluate, x, moves, f0.size)
    x = x.astype(float)
    up, down = (moves[0] - x)[:, None], (x - moves[1])[:, None]
    central = _estimates(f0, f[0], f[1], up, down, size, eps)
    one_sided = central
    if step is None:
        up, down = (moves[2] - x)[:, None], (x - moves[3])[:, None]
        one_sided = _estimates(f0, f[2], f[3], up, down, size, eps)
    sides = crossed[: 2 if step is not None else 4]
    out = _differences(central, one_sided, moves[0] - x, ho, np.max(sides, axis=0), f0.size)
    if with_richardson:
        start = len(f) - 6
        estimate = richardson(*(central_pair(f, moves, x, start + 2 * i) for i in range(3)))
        out = replace(out, richardson=_flat(estimate), richardson_step=np.tile(hr, f0.size))
    return out


def quick(evaluate: Evaluate, x: np.ndarray, f0: np.ndarray | float, size: float = 0.0):
    """Central differences at the classic step ``eps^(1/3) max(1, |x|)``, and the one-sided
    ones from the same two evaluations: two evaluations an entry, for targets whose every
    evaluation is a call of the user's code. Entries that do not then agree are given a
    second opinion from the ladder (``refine``)."""
    x = np.asarray(x).ravel()
    x = x if x.dtype in (np.float32, np.float64) else x.astype(float)
    f0 = np.ravel(np.asarray(f0, dtype=float))
    eps = float(np.finfo(x.dtype).eps)
    h = central_step(x, eps)
    f, crossed, moves = _evaluate_moves(evaluate, x, _moves(x, (h, -h)), f0.size)
    x = x.astype(float)
    up, down = moves[0] - x, x - moves[1]
    both = _estimates(f0, f[0], f[1], up[:, None], down[:, None], size, eps)
    return _differences(both, both, up, up, np.max(crossed, axis=0), f0.size)


def refine(
    evaluate: Evaluate, x: np.ndarray, f0, d: Differences, entries: np.ndarray, size: float
) -> Differences:
    """``d`` with the input entries ``entries`` differenced again from the step ladder."""
    x = np.asarray(x).ravel()
    entries = np.asarray(entries, dtype=np.intp)

    def some(at: np.ndarray, entry: np.ndarray):
        return evaluate(entries[at], entry)

    again = entrywise(some, x[entries], f0, None, size)
    outputs = d.central.size // x.size
    # flat output-major positions: output i of input entry j is i * x.size + j
    where = (np.arange(outputs)[:, None] * x.size + entries[None, :]).ravel()
    fields = {}
    for name in ("forward", "backward", "central", "step", "one_sided_step", "rounding",
                 "one_sided_rounding", "curvature", "crossed"):  # fmt: skip
        merged = getattr(d, name).copy()
        merged[where] = getattr(again, name)
        fields[name] = merged
    return replace(d, **fields)


def _evaluate_moves(evaluate: Evaluate, x: np.ndarray, moves: list[np.ndarray], outputs: int):
    """f at every move of every entry: values (moves, entries, outputs), crossed switches
    (moves, entries), and the moves in float64."""
    n = x.size
    values, crossed = evaluate(np.tile(np.arange(n), len(moves)), np.concatenate(moves))
    f = np.asarray(values).astype(float).reshape(len(moves), n, outputs)
    return f, np.asarray(crossed).reshape(len(moves), n), [m.astype(float) for m in moves]


def _flat(per_entry: np.ndarray) -> np.ndarray:
    """(entries, outputs) -> flat, output-major (the Jacobian's layout)."""
    return np.ascontiguousarray(np.asarray(per_entry).T).ravel()


def _moves(x: np.ndarray, steps) -> list[np.ndarray]:
    """x + h for each h, in x's own precision (so the step made is the step seen)."""
    return [x + np.asarray(h).astype(x.dtype) for h in steps]


def ladder_steps(
    evaluate: Evaluate,
    x: np.ndarray,
    f0: np.ndarray | float,
    size: float,
    rungs: slice = slice(None),
) -> tuple[np.ndarray, np.ndarray]:
    """Central and Richardson steps for every entry, from central differences on a ladder.

    With several outputs (a Jacobian's column per entry), the ladder looks at one fixed
    random combination of them, ``w . f``: the step then suits the column as a whole, at
    the cost of one output's bookkeeping, not of all of them. Each estimate's round-off is
    still bounded per output (``rounding``), never hidden.
    """
    f0 = np.ravel(np.asarray(f0, dtype=float))
    eps = float(np.finfo(x.dtype).eps)
    hs = ladder(eps)[rungs][:, None] * np.maximum(1.0, np.abs(x.astype(float)))
    moves = [m for h in hs for m in _moves(x, (h, -h))]
    f, sides, moves = _evaluate_moves(evaluate, x, moves, f0.size)
    w = _mixing(f0.size)
    f, f0 = f @ w, np.array([f0 @ w])
    x = x.astype(float)
    rungs = [
        _estimates(
            f0,
            f[2 * j][:, None],
            f[2 * j + 1][:, None],
            (moves[2 * j] - x)[:, None],
            (x - moves[2 * j + 1])[:, None],
            size,
            eps,
        )
        for j in range(len(hs))
    ]
    central = np.array([r["central"][:, 0] for r in rungs])
    noise = np.array([r["rounding"][:, 0] for r in rungs])
    usable = np.isfinite(central) & (np.maximum(sides[0::2], sides[1::2]) < 0)
    return optimal_steps(central, hs, noise, usable)


def _mixing(outputs: int) -> np.ndarray:
    """A fixed combination of the output entries, of length one, with random signs and
    sizes so that no entry's truncation cancels another's by the layout of the output."""
    if outputs == 1:
        return np.ones(1)
    w = np.random.default_rng(outputs).standard_normal(outputs)
    return w / np.linalg.norm(w)


def optimal_steps(
    central: np.ndarray, hs: np.ndarray, noise: np.ndarray, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Steps for central differences and for Richardson, per entry, from a ladder.

    The central step minimises |T| h^2 + e/h.

    ``central`` and ``hs`` are (rungs, entries), the largest step first; ``noise`` bounds
    each rung's round-off (``noise * h`` is ``EVALUATION_ULPS`` ulps of the largest
    intermediate). Truncation and round-off tell themselves apart by how they scale down
    the ladder: the difference of two rungs is ``T (h1^2 - h2^2)`` where truncation
    rules, so consecutive pairs give the same T; it is about ``e / h2`` where round-off
    rules, so consecutive "T"s differ 8^3-fold. T (= f'''/6) is taken from the smallest
    consistent pairs, e from the smallest rungs (the median of three pairs; an ulp of the
    largest intermediate where they cannot be used): then ``h* = (e / 2|T|)^(1/3)``.
    Where no truncation shows (a piecewise-linear or quadratic f), the largest usable
    step is best. The step
    never exceeds the largest rung below which every rung is usable (no kink crossed, no
    value off the domain). Richardson's error, ``T4 h^4 + (5/3) e/h``, is minimised with
    T4 estimated from T as if f's derivatives grew with one length scale.
    """
    rungs, entries = central.shape
    pick = np.arange(entries)
    assumed = noise[-1] * hs[-1] / EVALUATION_ULPS
    with np.errstate(invalid="ignore", divide="ignore"):
        pair = np.array([usable[j] & usable[j + 1] for j in range(rungs - 1)])
        gap = np.array([np.abs(central[j] - central[j + 1]) for j in range(rungs - 1)])
        slope = gap / (hs[:-1] ** 2 - hs[1:] ** 2)  # T, if truncation rules the pair
        grain = gap * hs[1:]  # e, if round-off rules the pair
        truncation = np.zeros(entries)
        for j in range(rungs - 2):  # smaller consistent pairs overwrite larger ones
            same = pair[j] & pair[j + 1] & (gap[j + 1] > 0) & _within(slope[j], slope[j + 1], 4)
            truncation = np.where(same, slope[j + 1], truncation)
        # the round-off: the median over the three smallest pairs (one may agree by chance)
        small = slice(rungs - 4, rungs - 1)
        settled = np.all(pair[small], axis=0)
        measured = np.median(grain[small], axis=0)
        e = np.where(settled, np.clip(measured, assumed / 100, assumed), assumed)
        # a lone large pair far above the round-off is truncation too (high curvature, or
        # a third derivative small enough that only the largest steps show it)
        lone = (truncation == 0) & pair[0] & (gap[0] > 4 * e * (1 / hs[0] + 1 / hs[1]))
        truncation = np.where(lone, slope[0], truncation)
        best = np.cbrt(e / (2 * truncation))
        # Richardson: T4 h^4 + (5/3) e/h, with T4 ~ |f'| / L^4 where T ~ |f'| / L^2
        # Richardson (two levels): T6 h^6 + ~6.6 e/h, with T6 ~ |f'| / L^6 where T ~ |f'| / L^2
        slope_of_f = np.abs(central[rungs // 2])
        best_richardson = (1.1 * e * slope_of_f**2 / truncation**3) ** (1 / 7)
    # the largest rung below which every rung is usable
    blocked = np.cumsum(~usable[::-1], axis=0)[::-1] > 0
    first_clear = np.argmax(~blocked, axis=0)
    ceiling = np.where(np.any(~blocked, axis=0), hs[first_clear, pick], hs[-1])
    steps = []
    for h in (best, best_richardson):
        good = np.isfinite(h) & (h > 0) & (truncation > 0)
        steps.append(np.clip(np.where(good, np.minimum(h, ceiling), ceiling), hs[-1], None))
    return steps[0], steps[1]


def _within(a: np.ndarray, b: np.ndarray, factor: float) -> np.ndarray:
    """Both positive and within ``factor`` of each other."""
    return (a > 0) & (b > 0) & (a <= factor * b) & (b <= factor * a)


def _differences(central: dict, one_sided: dict, hc, ho, crossed, outputs: int) -> Differences:
    """The estimates of (entries, outputs) laid out flat, output-major."""
    return Differences(
        forward=_flat(one_sided["forward"]),
        backward=_flat(one_sided["backward"]),
        central=_flat(central["central"]),
        step=np.tile(hc, outputs),
        one_sided_step=np.tile(ho, outputs),
        rounding=_flat(central["rounding"]),
        one_sided_rounding=_flat(one_sided["rounding"]) * 2,
        curvature=_flat(central["curvature"]),
        crossed=np.tile(crossed, outputs),
    )


def _estimates(f0, f_up, f_down, h_up, h_down, size: float = 0.0, eps: float = EPS) -> dict:
    """The three differences from f(x), f(x + h_up), f(x - h_down), with their round-off."""
    with np.errstate(all="ignore"):
        largest = np.maximum(np.abs(f0), np.maximum(np.abs(f_up), np.abs(f_down)))
        noise = EVALUATION_ULPS * eps * np.maximum(largest, size)
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


# ---------------------------------------------------------------- complex step, Richardson


def complex_step_size(x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Im f(x + ih) / h subtracts nothing, so h can be tiny: its truncation O(h^2) then
    vanishes below round-off. Tiny, but far from underflow in the working precision."""
    return np.sqrt(eps) * 1e-6 * np.maximum(1.0, np.abs(x))


def complex_step(evaluate: Evaluate, x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Im f(x + i h e_k) / h for every entry k: accurate to about eps where f is analytic.
    Flat and output-major, as ``entrywise``."""
    x = np.asarray(x).ravel()
    h = complex_step_size(x, eps)
    values, _ = evaluate(np.arange(x.size), x + 1j * h)
    values = np.asarray(values).reshape(x.size, -1)
    return _flat(np.imag(values) / h[:, None])


def richardson(central_h, central_half, central_quarter) -> np.ndarray:
    """Two levels of Richardson's extrapolation of central differences at h, h/2, h/4.

    ``R1(h) = (4 C(h/2) - C(h)) / 3`` cancels the h^2 term of the error, and
    ``(16 R1(h/2) - R1(h)) / 15`` the h^4 term, leaving h^6.
    """
    first, second = (4 * central_half - central_h) / 3, (4 * central_quarter - central_half) / 3
    return (16 * second - first) / 15


def central_pair(f, moves, x, j: int) -> np.ndarray:
    """The central difference from the pair of moves j (up) and j + 1 (down)."""
    width = (moves[j] - x) + (x - moves[j + 1])
    return (f[j] - f[j + 1]) / width.reshape(width.shape + (1,) * (f[j].ndim - width.ndim))
