"""Directional checks: the claimed gradient along random unit directions, against finite
differences along the same directions, so the cost does not grow with the entries.

For a direction ``u`` over every input in ``wrt`` (and, for an array output, a unit
``w`` over the output entries) the claim is ``w . J u`` and the estimate is the
derivative of ``t -> w . f(x + t u)`` at 0. Steps along ``u`` are chosen from the same
ladder as an entry's, so truncation and round-off along ``u`` are measured, not
assumed: a correct gradient passes at any size and magnitude.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcheck.estimate import finite
from gradcheck.judge.verdicts import Reference, judge, tolerance
from gradcheck.results import ProbeResult, Tolerance
from gradcheck.targets.base import Evaluation


@dataclass(frozen=True)
class Located:
    """An entry a failing probe was narrowed down to: its claimed derivative, and the one
    the directional differences imply (claimed minus the discrepancy over its share)."""

    name: str
    index: tuple[int, ...]
    claimed: float
    estimate: float


#: The rungs of the step ladder a probe looks at: the four around the classic central
#: step eps^(1/3), where truncation and round-off along a unit direction balance.
PROBE_RUNGS = slice(3, 7)


def probes(
    e: Evaluation,
    wrt: tuple[str, ...],
    count: int,
    step: float | None,
    tol: Tolerance,
    rng: np.random.Generator,
) -> tuple[list[ProbeResult], list[Located]]:
    """``count`` probes along seeded random unit directions, each judged like an entry,
    and the entries a failing probe is narrowed down to by bisection.

    The first probe chooses its step from the ladder; the others reuse that step (two
    evaluations each, not twenty): a check of user code counts its calls.
    """
    x = np.concatenate([np.ravel(e.point[n]) for n in wrt])
    outputs = int(np.size(e.value))
    claimed = np.concatenate([np.reshape(e.claimed[n], (outputs, -1)) for n in wrt], axis=1)
    exact = None
    if e.exact is not None:
        exact = np.concatenate([np.reshape(e.exact[n], (outputs, -1)) for n in wrt], axis=1)
    bp_tol = tolerance("backprop", e.dtype) if e.claimed_by == "backprop" else tol
    # a step t along a unit u moves entry j by t u_j: steps are scaled to the entries'
    # typical size (as an entry's step is to its own), not to |x|, which grows as sqrt(n)
    base = float(np.sqrt(np.mean(np.maximum(1.0, np.abs(x)) ** 2)))
    results, located = [], []
    for _ in range(count):
        u = _unit(rng, x.size)  # a unit direction: a step along it is a step in x
        w = _unit(rng, outputs) if outputs > 1 else np.ones(1)
        along, f0 = _along(e, wrt, u, w, base), float(np.ravel(e.value) @ w)
        d = finite.entrywise(along, np.array([base]), f0, step, e.size, rungs=PROBE_RUNGS)
        step = step if step is not None else float(d.step[0])
        backprop = np.array([w @ claimed @ u])
        truth = None if exact is None else np.array([w @ exact @ u])
        # the claim of code is judged against the differences; backprop's, where nothing
        # better is known, is itself what the differences are held to
        central = None if e.claimed_by == "backprop" else d.central
        reference = Reference.choose(backprop, truth, rounding=d.rounding, central=central)
        judged = judge(
            e.switch, backprop, reference, d, tol, e.scale, bp_tol=bp_tol,
            claimed_by=e.claimed_by, knows_switches=e.knows_switches,
        )  # fmt: skip
        results.append(ProbeResult(
            symbolic=None if truth is None else float(truth[0]), backprop=float(backprop[0]),
            forward=float(d.forward[0]), backward=float(d.backward[0]),
            central=float(d.central[0]), status=str(judged.status[0]),
            errors={m: float(err[0]) for m, err in judged.errors.items()},
            step=float(d.step[0]), cause=judged.causes.get(0),
        ))  # fmt: skip
        if judged.status[0] == "fail" and not located:
            slack = tol.atol + tol.rtol * abs(float(reference.values[0])) + float(d.rounding[0])
            gap = float(backprop[0]) - float(d.central[0])
            found = _bisect(e, wrt, x, claimed, u, w, gap, slack, float(d.step[0]), base)
            located = [_entry(e, wrt, k, claimed, w, u, gap_k) for k, gap_k in found]
    return results, located


def _along(e: Evaluation, wrt, u: np.ndarray, w: np.ndarray, base: float):
    """An evaluator of ``w . f(x + t u)``, with t measured from ``base`` (so that steps
    are scaled to the point's size and exactly representable, as an entry's are)."""
    along = e.along(_split(u, e.point, wrt))

    def evaluate(at: np.ndarray, entry: np.ndarray):
        values, crossed = along(np.asarray(entry) - base)
        return np.asarray(values) @ w, crossed

    return evaluate


#: At most this many wrong entries are named by bisection (each costs ~2 log2(n) calls).
LOCATED = 20


def _bisect(e, wrt, x, claimed, u, w, gap, slack, step, base) -> list[tuple[int, float]]:
    """The entries behind a probe's discrepancy ``gap`` (claimed minus differences).

    The discrepancy is linear in the direction, so for ``u = u_left + u_right`` the right
    half's is the whole's minus the left's: one central difference (two evaluations) per
    level, O(k log n) for k wrong entries. A half whose discrepancy is within ``slack``
    (the probe's own tolerance) holds no wrong entry."""
    found, blocks = [], [(0, x.size, gap)]
    while blocks and len(found) < LOCATED:
        lo, hi, delta = blocks.pop()
        if hi - lo == 1:
            found.append((lo, delta))
            continue
        mid = (lo + hi) // 2
        part = np.zeros_like(u)
        part[lo:mid] = u[lo:mid]
        size = float(np.linalg.norm(part))
        left = 0.0
        if size > 0:
            unit = part / size
            values, _ = _along(e, wrt, unit, w, base)(None, np.array([base + step, base - step]))
            central = (values[0] - values[1]) / 2 / step
            left = (float(w @ claimed @ unit) - float(central)) * size
        for block in ((mid, hi, delta - left), (lo, mid, left)):
            if abs(block[2]) > slack:
                blocks.append(block)
    return found


def _entry(e, wrt, k: int, claimed, w, u, gap: float) -> Located:
    """Flat entry k of the concatenated inputs, as (name, index) with its numbers."""
    for name in wrt:
        size = int(np.size(e.point[name]))
        if k < size:
            index = tuple(int(i) for i in np.unravel_index(k, np.shape(e.point[name])))
            mine = float(w @ claimed[:, k]) if claimed.ndim == 2 else float(claimed[k])
            return Located(name, index, mine, mine - gap / float(u[k]))
        k -= size
    raise AssertionError("an entry beyond the inputs")


def _unit(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random direction of length one (JAX's unnormalised probe fails correct
    gradients at a million inputs: its step is then a million times too large)."""
    u = rng.standard_normal(size)
    return u / np.linalg.norm(u)


def _split(u: np.ndarray, point, wrt: tuple[str, ...]) -> dict[str, np.ndarray]:
    """One flat direction cut into one array per input, each of that input's shape."""
    parts, offset = {}, 0
    for n in wrt:
        shape = np.shape(point[n])
        size = int(np.prod(shape, dtype=int))
        parts[n] = u[offset : offset + size].reshape(shape)
        offset += size
    return parts
