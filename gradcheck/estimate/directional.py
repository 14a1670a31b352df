"""Directional checks: the claimed gradient along random unit directions, against finite
differences along the same directions, so the cost does not grow with the entries.

For a direction ``u`` over every input in ``wrt`` (and, for an array output, a unit
``w`` over the output entries) the claim is ``w . J u`` and the estimate is the
derivative of ``t -> w . f(x + t u)`` at 0. Steps along ``u`` are chosen from the same
ladder as an entry's, so truncation and round-off along ``u`` are measured, not
assumed: a correct gradient passes at any size and magnitude.
"""

from __future__ import annotations

import numpy as np

from gradcheck.estimate import finite
from gradcheck.judge.verdicts import Reference, judge, tolerance
from gradcheck.results import ProbeResult, Tolerance
from gradcheck.targets.base import Evaluation


def probes(
    e: Evaluation,
    wrt: tuple[str, ...],
    count: int,
    step: float | None,
    tol: Tolerance,
    rng: np.random.Generator,
) -> list[ProbeResult]:
    """``count`` probes along seeded random unit directions, each judged like an entry."""
    x = np.concatenate([np.ravel(e.point[n]) for n in wrt])
    outputs = int(np.size(e.value))
    claimed = np.concatenate([np.reshape(e.claimed[n], (outputs, -1)) for n in wrt], axis=1)
    exact = None
    if e.exact is not None:
        exact = np.concatenate([np.reshape(e.exact[n], (outputs, -1)) for n in wrt], axis=1)
    results = []
    for _ in range(count):
        u = _unit(rng, x.size)  # a unit direction: a step along it is a step in x
        w = _unit(rng, outputs) if outputs > 1 else np.ones(1)
        direction = _split(u, e.point, wrt)
        along = e.along(direction)
        base = float(np.linalg.norm(x))  # steps scale with the point's size along u

        def evaluate(at: np.ndarray, entry: np.ndarray, along=along, base=base, w=w):
            values, crossed = along(np.asarray(entry) - base)
            return np.asarray(values) @ w, crossed

        f0 = float(np.ravel(e.value) @ w)
        d = finite.entrywise(evaluate, np.array([base]), f0, step, e.size)
        backprop = np.array([w @ claimed @ u])
        truth = None if exact is None else np.array([w @ exact @ u])
        reference = Reference.choose(backprop, truth)
        judged = judge(
            e.switch, backprop, reference, d, tol, e.scale, bp_tol=tolerance("backprop", e.dtype)
        )
        results.append(ProbeResult(
            symbolic=None if truth is None else float(truth[0]), backprop=float(backprop[0]),
            forward=float(d.forward[0]), backward=float(d.backward[0]),
            central=float(d.central[0]), status=str(judged.status[0]),
            errors={m: float(err[0]) for m, err in judged.errors.items()},
            step=float(d.step[0]), cause=judged.causes.get(0),
        ))  # fmt: skip
    return results


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
