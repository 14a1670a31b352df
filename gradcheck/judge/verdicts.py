"""Verdicts for gradient entries: pass, fail, kink or error, each with its cause.

Estimates are judged against a reference: the symbolic derivative, else (above the
symbolic size limit) complex step where f is analytic, else Richardson's extrapolation,
else backprop itself. An entry passes when backprop agrees with an exact reference to
near machine precision and the central difference agrees with the reference within
tolerance plus its own round-off. Where a non-smooth node switches branch within the
step and the one-sided differences disagree by more than their truncation and round-off
explain, the entry is a kink, not a failure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from gradcheck.estimate.finite import Differences
from gradcheck.results import Cause, CauseCode, GradientResult, Tolerance

#: Tolerances, in one place, by working precision. ``central`` is the default for finite
#: differences and claims (``--rtol`` / ``--atol``); ``backprop`` is how close backprop
#: must be to an exact reference (its absolute part scaled by the size of the function
#: and its gradient); ``value`` how close the graph's value must be to the symbolic one.
TOLERANCES = {
    "float64": {
        "central": Tolerance(rtol=1e-6, atol=1e-9),
        "backprop": Tolerance(rtol=1e-9, atol=1e-12),
        "value": Tolerance(rtol=1e-9, atol=1e-12),
    },
    "float32": {
        "central": Tolerance(rtol=1e-3, atol=1e-5),
        "backprop": Tolerance(rtol=1e-4, atol=1e-6),
        "value": Tolerance(rtol=1e-5, atol=1e-6),
    },
}

#: Backprop's disagreement must shrink this much in higher precision (extended for
#: float64, float64 for float32) to be called round-off rather than a wrong derivative.
ROUNDOFF_SHRINK = 16


def tolerance(kind: str, dtype: str = "float64") -> Tolerance:
    return TOLERANCES[dtype][kind]


def chosen_tolerance(
    own: tuple[float | None, float | None],
    given: tuple[float | None, float | None],
    dtype: str = "float64",
) -> Tolerance:
    """A problem's ``own`` (rtol, atol), else those ``given`` on the command line, else
    the default for the precision; each of the two chosen on its own."""
    default = tolerance("central", dtype)
    rtol = next(t for t in (own[0], given[0], default.rtol) if t is not None)
    atol = next(t for t in (own[1], given[1], default.atol) if t is not None)
    return Tolerance(rtol, atol)


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
                gap = np.abs(np.ravel(estimate) - truth)
                out[method] = np.where(truth != 0, gap / np.abs(truth), gap)
    return out


@dataclass(frozen=True)
class Reference:
    """What estimates are judged against: its values (flat), what it is, and whether it
    is exact (symbolic, complex step: backprop is held to machine precision) or a
    difference with a round-off bound of its own (Richardson)."""

    kind: str
    values: np.ndarray
    exact: bool
    rounding: np.ndarray | float = 0.0

    @staticmethod
    def choose(
        backprop, symbolic=None, complex_step=None, richardson=None, rounding=0.0, central=None
    ):
        """Symbolic, else complex step, else Richardson, else the central difference (for
        a target that claims a gradient we cannot compute), else backprop itself."""
        if symbolic is not None:
            return Reference("symbolic derivative", np.ravel(symbolic), True)
        if complex_step is not None:
            return Reference("complex-step derivative", np.ravel(complex_step), True)
        if richardson is not None:
            return Reference("Richardson extrapolation", np.ravel(richardson), False, rounding)
        if central is not None:
            return Reference("central difference", np.ravel(central), False, rounding)
        return Reference("backprop value", np.ravel(backprop), False)


@dataclass(frozen=True)
class _Agreement:
    """Per entry: which comparisons hold."""

    backprop: np.ndarray  # backprop vs the reference
    roundoff: np.ndarray  # ... off only by round-off, as higher precision shows
    central: np.ndarray  # central difference vs the reference
    one_sided: np.ndarray  # forward vs backward difference
    average: np.ndarray  # their average vs the reference (for smooth crossings)


def judge(
    switch: Callable[[int], str],
    backprop: np.ndarray,
    reference: Reference,
    d: Differences,
    tol: Tolerance,
    scale: float,
    *,
    bp_tol: Tolerance | None = None,
    higher: np.ndarray | None = None,
    symbolic: np.ndarray | None = None,
    complex_step: np.ndarray | None = None,
    distances: Mapping[int, float] | None = None,
    claimed_by: str = "backprop",
    knows_switches: bool = True,
) -> GradientResult:
    """A verdict for every entry of one input (or probe), with the cause of each non-pass.

    ``switch(i)`` names the non-smooth piece ``i`` that the differences report crossing.
    ``backprop`` is the claimed gradient (backprop's, or the user's code's).
    ``scale`` is the size of the function and its linear terms, what backprop's
    round-off is measured against. ``higher`` is backprop in higher precision, given
    where backprop disagrees with an exact reference: a wrong derivative rule is as
    wrong in any precision, round-off shrinks, so it tells the two apart. ``distances``
    gives each non-smooth node's distance to its switch at the point.
    """
    shape = backprop.shape
    bp_tol = bp_tol or tolerance("backprop")
    agree = _agreement(backprop.ravel(), reference, d, tol, bp_tol, scale, higher)
    status = np.full(reference.values.size, "pass", dtype=object)
    causes: dict[int, Cause] = {}
    for k in np.flatnonzero(~_plainly_passing(backprop.ravel(), reference, d, agree)):
        k = int(k)
        bp, ref = float(backprop.flat[k]), float(reference.values[k])
        crossed = int(d.crossed[k])
        if not knows_switches and crossed < 0 and not agree.one_sided[k]:
            crossed = -2  # a kink no switch reported: the one-sided differences show it
        cause = _cause(
            switch, k, bp, ref, d, agree, reference, distances or {}, crossed, claimed_by
        )
        if cause is None and agree.roundoff[k]:
            text = _roundoff_text(bp, float(higher.flat[k]), ref, backprop.dtype)
            cause = "pass", Cause(CauseCode.ROUNDOFF, text)
        if cause is not None:
            status[k], causes[k] = cause
    estimates = {
        "claimed" if claimed_by != "backprop" else "backprop": (
            None if reference.kind == "backprop value" else backprop
        ),
        "forward": d.forward,
        "backward": d.backward,
        "central": d.central,
        "complex": complex_step,
        "richardson": d.richardson,
    }
    errors = relative_errors(estimates, reference.values)
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
        complex=None if complex_step is None else np.reshape(complex_step, shape),
        richardson=None if d.richardson is None else d.richardson.reshape(shape),
        claimed_by=claimed_by,
        reference=reference.values.reshape(shape),
    )


def _plainly_passing(backprop, reference: Reference, d: Differences, agree) -> np.ndarray:
    """Entries that pass with nothing to say (everything finite, no switch crossed, every
    comparison holding, no round-off to explain): ``_cause`` is asked about the rest only,
    since a Jacobian can have millions of entries."""
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(backprop) & np.isfinite(reference.values)
        for estimate in (d.forward, d.backward, d.central):
            finite &= np.isfinite(estimate)
    return (
        finite
        & (d.crossed < 0)
        & agree.one_sided
        & agree.backprop
        & agree.central
        & ~agree.roundoff
    )


def backprop_agrees(
    backprop: np.ndarray, exact: np.ndarray, scale: float, bp_tol: Tolerance | None = None
) -> np.ndarray:
    """Per entry: backprop within near machine precision of an exact reference."""
    bp_tol = bp_tol or tolerance("backprop")
    with np.errstate(invalid="ignore"):
        gap = np.abs(np.ravel(backprop) - np.ravel(exact))
        return gap <= bp_tol.atol * scale + bp_tol.rtol * np.abs(np.ravel(exact))


def _agreement(backprop, reference: Reference, d: Differences, tol, bp_tol, scale, higher):
    ref = reference.values
    size = np.abs(ref)
    allowed = tol.atol + tol.rtol * size + reference.rounding
    with np.errstate(all="ignore"):
        # One-sided differences agree up to their truncation and round-off where f is
        # smooth; at a kink they differ by the jump in slope, whatever the step.
        slack = allowed + 2 * d.one_sided_rounding + 2 * d.one_sided_truncation()
        if reference.exact:
            backprop_ok = backprop_agrees(backprop, ref, scale, bp_tol)
        elif reference.kind == "backprop value":
            backprop_ok = np.ones(ref.size, bool)
        else:  # against a difference: as a difference is judged
            backprop_ok = np.abs(backprop - ref) <= allowed
        roundoff = np.zeros(ref.size, bool)
        if higher is not None and reference.exact:
            gap = np.abs(backprop - ref)
            shrunk = np.abs(np.ravel(higher) - ref) * ROUNDOFF_SHRINK <= gap
            held = backprop_agrees(higher, ref, scale, tolerance("backprop"))
            roundoff = ~backprop_ok & (shrunk | held)
        return _Agreement(
            backprop=backprop_ok | roundoff,
            roundoff=roundoff,
            central=np.abs(d.central - ref) <= allowed + d.rounding,
            one_sided=np.abs(d.forward - d.backward) <= slack,
            average=np.abs((d.forward + d.backward) / 2 - ref) <= slack,
        )


def _cause(
    switch, k, bp, ref, d: Differences, agree, reference: Reference, distances, crossed, claimed_by
):
    """(status, cause) for an entry that does not simply pass, else None.

    ``crossed`` is the switch crossed within the step, -1 for none, -2 for one the
    target cannot name (user code: only the one-sided differences show it)."""
    shown = {claimed_by: bp}
    if reference.kind != "backprop value":
        shown[reference.kind.split()[0]] = ref
    shown = {m: v for m, v in shown.items() if math.isfinite(v)}
    if not (math.isfinite(bp) and math.isfinite(ref)):
        # never a nan standing as a number: say which estimate has no value, and why
        given = {"backprop": bp, reference.kind: ref}
        undefined = " and ".join(f"{m} gives {v}" for m, v in given.items() if not math.isfinite(v))
        if crossed >= 0 or crossed == -2:
            text = kink_text(switch(crossed), d, k, shown, distances.get(crossed))
            text = f"the derivative does not exist at the point ({undefined}): {text}"
            return "kink", Cause(CauseCode.KINK, text)
        text = f"the derivative is not finite at the point ({undefined})"
        return "error", Cause(CauseCode.NOT_FINITE, text)
    if not all(math.isfinite(float(v[k])) for v in (d.forward, d.backward, d.central)):
        return "error", Cause(
            CauseCode.EDGE,
            "the function is not finite within the finite-difference step; "
            "the point is too close to the edge of its domain",
        )
    central_ok = bool(agree.central[k])
    if crossed >= 0 or crossed == -2:
        if not agree.one_sided[k]:
            text = kink_text(switch(crossed), d, k, shown, distances.get(crossed))
            return "kink", Cause(CauseCode.KINK, text)
        # A switch is crossed but the slope is continuous (relu(x)**2 at 0): the derivative
        # exists; the central difference, though, is only O(h) there, so the one-sided
        # average is the estimate to judge.
        central_ok = bool(agree.average[k])
    if not agree.backprop[k]:
        text = f"{claimed_by} {bp:.12g} disagrees with the {reference.kind} {ref:.12g}"
        code = CauseCode.BACKPROP if claimed_by == "backprop" else CauseCode.CLAIMED
        return "fail", Cause(code, text)
    if not central_ok:
        return "fail", Cause(
            CauseCode.CENTRAL,
            f"the central difference {float(d.central[k]):.12g} disagrees with the "
            f"{reference.kind} {ref:.12g}",
        )
    return None


def kink_text(
    switch: str,
    d: Differences,
    k: int,
    estimates: Mapping[str, float],
    distance: float | None = None,
) -> str:
    """Which node switches branch, how far from its switch the point is, the one-sided
    derivatives, and whether each estimate lies between them (a valid subgradient)."""
    left, right = float(d.backward[k]), float(d.forward[k])
    slack = 2 * (float(d.one_sided_rounding[k]) + float(d.one_sided_truncation()[k]))
    low, high = min(left, right) - slack, max(left, right) + slack
    inside = [f"{m} {v:.6g}" for m, v in estimates.items() if low <= v <= high]
    outside = [f"{m} {v:.6g}" for m, v in estimates.items() if not low <= v <= high]
    where = ""
    if distance is not None:
        where = (
            " (at the point its argument is exactly at the switch)"
            if distance == 0
            else f" (at the point its argument is {distance:.2g} from the switch)"
        )
    text = (
        f"{switch} switches branch within the step{where}: one-sided derivatives "
        f"{left:.6g} (left) and {right:.6g} (right)"
    )
    if inside:
        plural = "s" * (len(inside) > 1)
        text += f"; {' and '.join(inside)} between them (valid subgradient{plural})"
    if outside:
        text += f"; {' and '.join(outside)} outside them (not a subgradient)"
    return text


def _roundoff_text(bp: float, higher: float, ref: float, dtype) -> str:
    def off(v: float) -> str:
        gap = abs(v - ref)
        return f"{gap / abs(ref):.1e} (relative)" if ref else f"{gap:.1e}"

    precision = "float64" if np.dtype(dtype) == np.float32 else "extended precision"
    return (
        f"backprop is off by {off(bp)}, but in {precision} by {off(higher)}: round-off in "
        f"the expression as written, not a wrong derivative"
    )
