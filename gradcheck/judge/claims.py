"""Claimed derivative formulas: tried at points against the truth, then proved by SymPy.

A claim that disagrees anywhere fails with that point, the entry, and by how much. One
that agrees everywhere is proved when SymPy simplifies its difference from the true
derivative to zero.
"""

from __future__ import annotations

import numpy as np

from gradcheck.engine import cache, symbolic
from gradcheck.engine.tape import evaluate as evaluate_tape
from gradcheck.estimate.points import random_point
from gradcheck.judge.mistakes import diagnose, without_each
from gradcheck.results import ClaimResult, PointResult, Tolerance
from gradcheck.source.problems import Claim, Problem

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
    transposed = claim.program.root.shape not in (shape, ())
    trials = [p.at for p in points]
    trials += [t for _ in range(CLAIM_POINTS) if (t := random_point(problem, rng, index_values))]
    tried = []  # (point, claimed, true) wherever both are finite
    for at in trials:
        claimed, truth = (
            _claimed(claim, at, shape, transposed),
            _truth(problem, tape, at, claim.name),
        )
        if claimed is not None and truth is not None:
            tried.append((at, claimed, truth))

    def agree(mine: np.ndarray, candidate: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.abs(mine - candidate) <= tol.atol + tol.rtol * np.abs(candidate)

    for at, claimed, truth in tried:
        bad = ~agree(claimed, truth)
        if transposed or bad.any():
            return _failed(claim, problem, shape, tried, at, claimed, truth, bad, agree, transposed)
    return ClaimResult(
        claim.name,
        claim.text,
        "pass",
        points=len(tried),
        proved=_prove(claim, problem, index_values),
    )


def _failed(
    claim, problem, shape, tried, at, claimed, truth, bad, agree, transposed
) -> ClaimResult:
    """A failed claim with its worst entry at the first point where it fails, and a diagnosis."""
    gap = np.abs(claimed - truth)
    k = int(np.argmax(np.where(bad, gap, -1))) if bad.any() else 0
    example = {
        "at": {n: v.tolist() for n, v in at.items()},
        "index": [int(i) for i in np.unravel_index(k, shape)],
        "claimed": float(claimed.flat[k]),
        "true": float(truth.flat[k]),
        "error": float(gap.flat[k]),
    }
    mine = np.stack([c for _, c, _ in tried])
    true = np.stack([t for _, _, t in tried])
    if transposed:  # the claim was compared transposed into the input's shape
        right = bool(np.all(agree(mine, true)))
        message = (
            f"the claim has shape {claim.program.root.shape} but {claim.name} has shape {shape}"
        )
        diagnosis = "it is the true gradient transposed" if right else None
        example = None if right else example
    else:
        message = None
        alternatives = without_each(problem.program, claim.name, [at for at, _, _ in tried])
        diagnosis = diagnose(mine, true, agree, alternatives)
    return ClaimResult(
        claim.name,
        claim.text,
        "fail",
        counterexample=example,
        message=message,
        points=len(tried),
        diagnosis=diagnosis,
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
    """True when SymPy shows that the claim minus the true derivative is zero; cached."""
    digest = cache.key(
        "proof",
        problem.program.fingerprint(),
        claim.program.fingerprint(),
        claim.name,
        sorted(index_values.items()),
    )
    known = cache.read("proofs", digest)
    if known in ("true", "false"):
        return known == "true"
    proved = _proof(claim, problem, index_values)
    cache.write("proofs", digest, "true" if proved else "false")
    return proved


def _proof(claim: Claim, problem: Problem, index_values) -> bool:
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
    return all(_zero(sp, true - mine) for true, mine in zip(derivs[claim.name].flat, claimed.flat))


def _zero(sp, difference) -> bool:
    """Cheap canonical forms first; simplify() only for smooth, small expressions (on
    Max, Heaviside or sign it tries case after case and can take seconds)."""
    if difference == 0 or sp.expand(difference) == 0:
        return True
    if sp.count_ops(difference) > PROOF_SIZE:
        return False
    if sp.cancel(sp.together(difference)) == 0:
        return True
    if difference.has(sp.Max, sp.Min, sp.Heaviside, sp.sign, sp.Abs, sp.Piecewise):
        return False
    return sp.simplify(difference) == 0
