"""Claimed derivative formulas: tried at points against the truth, then proved by SymPy.

A claim that disagrees anywhere fails with that point, the entry, and by how much. One
that agrees everywhere is proved when SymPy simplifies its difference from the true
derivative to zero.
"""

from __future__ import annotations

import numpy as np

from . import symbolic
from .points import random_point
from .problems import Claim, Problem
from .results import ClaimResult, PointResult, Tolerance
from .tape import evaluate as evaluate_tape

#: How many random points a claimed formula is tried at, beyond the check's own.
CLAIM_POINTS = 3

#: Above this many operations a formula is not handed to simplify(), which can take ages.
PROOF_SIZE = 600


def check_claim(
    claim: Claim,
    problem: Problem,
    points: list[PointResult],
    tape,
    index_values: dict[str, int],
    tol: Tolerance,
    rng: np.random.Generator,
) -> ClaimResult:
    """Try the claim at the check's points and a few random ones; prove it if it holds."""
    shape = problem.shapes[claim.name]
    claimed_shape = claim.program.root.shape
    transposed = claimed_shape not in (shape, ())
    trials = [p.at for p in points]
    trials += [t for _ in range(CLAIM_POINTS) if (t := random_point(problem, rng, index_values))]
    for at in trials:
        claimed = _claimed(claim, at, shape, transposed)
        truth = _truth(problem, tape, at, claim.name)
        if claimed is None or truth is None:
            continue
        with np.errstate(all="ignore"):
            gap = np.abs(claimed - truth)
            bad = ~(gap <= tol.atol + tol.rtol * np.abs(truth))
        if transposed or bad.any():
            k = int(np.argmax(np.where(bad, gap, -1))) if bad.any() else 0
            example = {
                "at": {n: v.tolist() for n, v in at.items()},
                "index": [int(i) for i in np.unravel_index(k, shape)],
                "claimed": float(claimed.flat[k]),
                "true": float(truth.flat[k]),
                "error": float(gap.flat[k]),
            }
            message = (
                (
                    f"the claim has shape {claimed_shape} but {claim.name} has shape "
                    f"{shape}: it is transposed"
                )
                if transposed
                else None
            )
            return ClaimResult(
                claim.name,
                claim.text,
                "fail",
                counterexample=example,
                message=message,
                points=len(trials),
            )
    return ClaimResult(
        claim.name,
        claim.text,
        "pass",
        points=len(trials),
        proved=_prove(claim, problem, index_values),
    )


def _claimed(claim: Claim, at, shape, transposed: bool):
    values = claim.program.forward({n: v[None] for n, v in at.items() if n in claim.program.inputs})
    claimed = values[claim.program.output][0]
    if not np.all(np.isfinite(claimed)):
        return None
    return np.broadcast_to(claimed.T if transposed else claimed, shape)


def _truth(problem: Problem, tape, at, name: str):
    """The true derivative at a point: the symbolic tape's, else backprop's."""
    if tape is None:
        _, grads = problem.program.gradient({n: v[None] for n, v in at.items()}, [name])
        return grads[name][0]
    try:
        _, grads = evaluate_tape(tape, at)
    except ValueError:
        return None
    return grads[name].reshape(problem.shapes[name])


def _prove(claim: Claim, problem: Problem, index_values) -> bool:
    """True when SymPy shows that the claim minus the true derivative simplifies to zero."""
    import sympy as sp

    try:
        _, _, derivs = symbolic.formulas(
            problem.program, [claim.name], index_values, simplify=False
        )
        claimed, _ = symbolic.lower_array(claim.program, index_values)
    except symbolic.SymbolicUnavailable:
        return False
    shape = problem.shapes[claim.name]
    claimed = np.broadcast_to(claimed if claimed.shape in ((), shape) else claimed.T, shape)
    for true, mine in zip(derivs[claim.name].flat, claimed.flat):
        if sp.count_ops(true) + sp.count_ops(mine) > PROOF_SIZE or sp.simplify(true - mine) != 0:
            return False
    return True
