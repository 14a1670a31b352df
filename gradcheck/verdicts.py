"""Verdicts for gradient entries: pass, fail, kink or error, each with its cause.

An entry passes when backprop agrees with the symbolic derivative to near machine
precision and the central difference agrees with the reference within tolerance plus its
own round-off. Where a non-smooth node switches branch within the step and the one-sided
differences disagree by more than their truncation and round-off explain, the entry is a
kink, not a failure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .finite import Differences
from .graph import Program, describe
from .results import GradientResult, Tolerance

#: Tolerances, in one place. ``central`` is the default for finite differences and claims
#: (``--rtol`` / ``--atol``); backprop is held to near machine precision against the
#: symbolic value, its absolute part scaled by the size of the function and its gradient;
#: ``value`` is how close the graph's forward value must be to the symbolic value.
TOLERANCES = {
    "central": Tolerance(rtol=1e-6, atol=1e-9),
    "backprop": Tolerance(rtol=1e-9, atol=1e-12),
    "value": Tolerance(rtol=1e-9, atol=1e-12),
}


def close(a: float, b: float, tol: Tolerance) -> bool:
    """Whether a agrees with the reference b (atol relative to max(1, |b|))."""
    return abs(a - b) <= tol.atol * max(1.0, abs(b)) + tol.rtol * abs(b)


def relative_errors(
    estimates: Mapping[str, np.ndarray | None], truth: np.ndarray
) -> dict[str, np.ndarray]:
    """Relative errors against the truth, absolute where the truth is 0."""
    out = {}
    with np.errstate(all="ignore"):
        for method, estimate in estimates.items():
            if estimate is not None:
                gap = np.abs(estimate - truth)
                out[method] = np.where(truth != 0, gap / np.abs(truth), gap)
    return out


@dataclass(frozen=True)
class _Agreement:
    """Per entry: which comparisons hold."""

    backprop: np.ndarray  # backprop vs symbolic
    roundoff: np.ndarray  # ... off only by round-off, as extended precision shows
    central: np.ndarray  # central difference vs the reference
    one_sided: np.ndarray  # forward vs backward difference
    average: np.ndarray  # their average vs the reference (for smooth crossings)


def judge(
    program: Program,
    backprop: np.ndarray,
    symbolic: np.ndarray | None,
    d: Differences,
    tol: Tolerance,
    scale: float,
    extended: np.ndarray | None = None,
) -> GradientResult:
    """A verdict for every entry of one input (or probe), with the cause of each non-pass.

    ``scale`` is the size of the function and its linear terms, what backprop's
    round-off is measured against. ``extended`` is backprop in extended precision, given
    where backprop disagrees with the symbolic value: a wrong derivative rule is as wrong
    in any precision, round-off shrinks, so it tells the two apart.
    """
    shape = backprop.shape
    reference = (backprop if symbolic is None else symbolic).ravel()
    agree = _agreement(backprop.ravel(), symbolic, reference, d, tol, scale, extended)
    status = np.full(reference.size, "pass", dtype=object)
    causes: dict[int, str] = {}
    for k in range(reference.size):
        bp, ref = float(backprop.flat[k]), float(reference[k])
        cause = _cause(program, k, bp, ref, d, agree, symbolic is not None)
        if cause is None and agree.roundoff[k]:
            cause = "pass", _roundoff_text(bp, float(extended.flat[k]), ref)
        if cause is not None:
            status[k], causes[k] = cause
    estimates = {
        "backprop": None if symbolic is None else backprop.ravel(),
        "forward": d.forward,
        "backward": d.backward,
        "central": d.central,
    }
    errors = relative_errors(estimates, reference)
    return GradientResult(
        shape=shape,
        symbolic=symbolic,
        backprop=backprop,
        forward=d.forward.reshape(shape),
        backward=d.backward.reshape(shape),
        central=d.central.reshape(shape),
        status=status.reshape(shape),
        errors={m: e.reshape(shape) for m, e in errors.items()},
        causes=causes,
        step=d.step.reshape(shape),
    )


def backprop_agrees(backprop: np.ndarray, symbolic: np.ndarray, scale: float) -> np.ndarray:
    """Per entry: backprop within near machine precision of the symbolic value."""
    bp_tol = TOLERANCES["backprop"]
    with np.errstate(invalid="ignore"):
        gap = np.abs(backprop - symbolic)
        return gap <= bp_tol.atol * scale + bp_tol.rtol * np.abs(symbolic)


#: Backprop's disagreement must shrink this much in extended precision (which has
#: 2**11 times finer round-off) to be called round-off rather than a wrong derivative.
ROUNDOFF_SHRINK = 16


def _agreement(backprop, symbolic, reference, d: Differences, tol, scale, extended) -> _Agreement:
    size = np.abs(reference)
    with np.errstate(all="ignore"):
        # One-sided differences agree up to their truncation and round-off where f is
        # smooth; at a kink they differ by the jump in slope, whatever the step.
        slack = tol.atol + tol.rtol * size + 2 * d.one_sided_rounding + 2 * d.one_sided_truncation()
        backprop_ok = (
            np.ones(reference.size, bool)
            if symbolic is None
            else backprop_agrees(backprop, reference, scale)
        )
        roundoff = np.zeros(reference.size, bool)
        if extended is not None and symbolic is not None:
            gap = np.abs(backprop - reference)
            shrunk = np.abs(extended.ravel() - reference) * ROUNDOFF_SHRINK <= gap
            roundoff = ~backprop_ok & (shrunk | backprop_agrees(extended.ravel(), reference, scale))
        return _Agreement(
            backprop=backprop_ok | roundoff,
            roundoff=roundoff,
            central=np.abs(d.central - reference) <= tol.atol + tol.rtol * size + d.rounding,
            one_sided=np.abs(d.forward - d.backward) <= slack,
            average=np.abs((d.forward + d.backward) / 2 - reference) <= slack,
        )


def _cause(program, k, bp, ref, d: Differences, agree: _Agreement, have_symbolic):
    """(status, cause) for an entry that does not simply pass, else None."""
    crossed = int(d.crossed[k])
    estimates = {"backprop": bp, "symbolic": ref} if have_symbolic else {"backprop": bp}
    estimates = {m: v for m, v in estimates.items() if math.isfinite(v)}
    if not (math.isfinite(bp) and math.isfinite(ref)):
        if crossed >= 0:
            return "kink", kink_text(program, crossed, d, k, estimates)
        return "error", "the derivative is not finite at the point"
    if not all(math.isfinite(float(v[k])) for v in (d.forward, d.backward, d.central)):
        return "error", (
            "the function is not finite within the finite-difference step; "
            "the point is too close to the edge of its domain"
        )
    central_ok = bool(agree.central[k])
    if crossed >= 0:
        if not agree.one_sided[k]:
            return "kink", kink_text(program, crossed, d, k, estimates)
        # A switch is crossed but the slope is continuous (relu(x)**2 at 0): the derivative
        # exists; the central difference, though, is only O(h) there, so the one-sided
        # average is the estimate to judge.
        central_ok = bool(agree.average[k])
    if not agree.backprop[k]:
        return "fail", f"backprop {bp:.12g} disagrees with the symbolic derivative {ref:.12g}"
    if not central_ok:
        what = "symbolic derivative" if have_symbolic else "backprop value"
        return "fail", (
            f"the central difference {float(d.central[k]):.12g} disagrees with the "
            f"{what} {ref:.12g}"
        )
    return None


def kink_text(
    program: Program, node_index: int, d: Differences, k: int, estimates: Mapping[str, float]
) -> str:
    """Which node switches branch, the one-sided derivatives, and whether each estimate
    lies between them (a valid subgradient, in one dimension)."""
    node = program.nodes[node_index]
    left, right = float(d.backward[k]), float(d.forward[k])
    slack = 2 * (float(d.one_sided_rounding[k]) + float(d.one_sided_truncation()[k]))
    low, high = min(left, right) - slack, max(left, right) + slack
    inside = [f"{m} {v:.6g}" for m, v in estimates.items() if low <= v <= high]
    outside = [f"{m} {v:.6g}" for m, v in estimates.items() if not low <= v <= high]
    text = (
        f"{describe(node)} switches branch within the step: one-sided derivatives "
        f"{left:.6g} (left) and {right:.6g} (right)"
    )
    if inside:
        text += (
            f"; {' and '.join(inside)} between them (valid subgradient{'s' * (len(inside) > 1)})"
        )
    if outside:
        text += f"; {' and '.join(outside)} outside them (not a subgradient)"
    return text


def _roundoff_text(bp: float, extended: float, ref: float) -> str:
    def off(v: float) -> str:
        gap = abs(v - ref)
        return f"{gap / abs(ref):.1e} (relative)" if ref else f"{gap:.1e}"

    return (
        f"backprop is off the symbolic value by {off(bp)}, but in extended precision by "
        f"{off(extended)}: round-off in the expression as written, not a wrong derivative"
    )
