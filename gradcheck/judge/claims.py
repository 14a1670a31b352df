"""Claimed derivative formulas: tried at points, then proved by SymPy or judged at 40 digits.

A claim is tried in float64 at the check's points, a few random ones, and points on both
sides of every switch surface (each entry of each relu, abs, max ...) of the expression
and of the claim, found along random lines. Wrong anywhere, it fails with that point, the
entry, and by how much. Where it agrees everywhere, SymPy tries to prove that its
difference from the true derivative is zero, within ``PROOF_SECONDS``. Where SymPy cannot,
the claim and the truth are evaluated again at every point in 40-digit arithmetic: a
relative difference above 1e-30 that does not shrink in 60 digits (round-off would) fails
the claim, so one off by a relative 1e-8 fails; otherwise it *held at N points, not proved*.
"""

from __future__ import annotations

import functools

import numpy as np

from gradcheck.deadline import OverBudget, budget
from gradcheck.engine import cache, formulas, symbolic
from gradcheck.engine.tape import evaluate as evaluate_tape
from gradcheck.errors import GradcheckError
from gradcheck.estimate.points import random_point
from gradcheck.judge.mistakes import diagnose, without_each
from gradcheck.results import ClaimResult, PointResult, Tolerance
from gradcheck.source.problems import Claim, Problem

#: How many random points a claimed formula is tried at, beyond the check's own.
CLAIM_POINTS = 3

#: Above this many operations a formula is not handed to simplify(), which can take ages.
PROOF_SIZE = 600
#: Seconds SymPy may spend on one claim's proof; past them the claim is judged at 40 digits.
PROOF_SECONDS = 3.0

#: Distances along a random line (unit direction) at which switch sides are looked at:
#: 1e-3 to 1e6 either way, so relu(x - 5) is crossed as well as relu(x - 1e5).
LINE = np.logspace(-3, 6, 64)
#: At most this many points on either side of switch surfaces, the nearest ones first.
CROSSING_POINTS = 32

#: An unproved claim is judged in this many digits; a relative difference above
#: EXACT_RTOL fails it unless in CHECK_DIGITS it shrinks by ROUNDOFF_SHRINK (round-off).
EXACT_DIGITS = 40
CHECK_DIGITS = 60
EXACT_RTOL = 1e-30
ROUNDOFF_SHRINK = 1e-10


def check_claim(
    claim: Claim,
    problem: Problem,
    points: list[PointResult],
    tape,
    index_values: dict[str, int],
    tol: Tolerance,
    rng: np.random.Generator,
) -> ClaimResult:
    """Try the claim at the check's points and a few random ones, and prove it; if SymPy
    cannot, try it on both sides of every switch too, and judge it again at 40 digits."""
    shape = jacobian_shape(problem, claim.name)
    transposed = claim.program.root.shape not in (shape, ())
    exact = _Exact(claim, problem, tape, index_values)

    def agree(mine: np.ndarray, candidate: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.abs(mine - candidate) <= tol.atol + tol.rtol * np.abs(candidate)

    def tried_at(trials) -> list:  # (point, claimed, true) wherever both are finite
        pairs = ((at, _claimed(claim, at, shape, transposed)) for at in trials)
        pairs = ((at, mine, _truth(problem, tape, at, claim.name)) for at, mine in pairs)
        return [(at, c, t) for at, c, t in pairs if c is not None and t is not None]

    def first_failure(tried, new) -> ClaimResult | None:
        for at, claimed, truth in new:
            bad = ~agree(claimed, truth)
            if transposed or (bad.any() and exact.confirms(at)):
                return _failed(
                    claim, problem, shape, tried, at, claimed, truth, bad, agree, transposed
                )
        return None

    trials = [p.at for p in points]
    trials += [t for _ in range(CLAIM_POINTS) if (t := random_point(problem, rng, index_values))]
    tried = tried_at(trials)
    if failure := first_failure(tried, tried):
        return failure
    proved, why = _prove(claim, problem, index_values)
    if proved:
        return ClaimResult(claim.name, claim.text, "pass", proved=True, points=len(tried))
    crossings = tried_at(
        switch_crossings([problem.program, claim.program], trials[:2], index_values, rng)
    )
    tried += crossings
    if failure := first_failure(tried, crossings):
        return failure
    return exact.judge(tried, why, len(crossings))


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
    grad = grads[name].reshape(jacobian_shape(problem, name))
    return grad if np.all(np.isfinite(grad)) else None


def jacobian_shape(problem: Problem, name: str) -> tuple[int, ...]:
    """The output's shape then the input's: the gradient, or the Jacobian's layout."""
    return tuple(problem.program.root.shape) + tuple(problem.shapes[name])


# ---------------------------------------------------------------- switch surfaces


def switch_crossings(programs, bases, index_values, rng: np.random.Generator) -> list[dict]:
    """Points on both sides of the switch surface of every entry of every non-smooth node
    (relu, abs, max ...) of ``programs``, met along one random line through each base
    point: for each entry the two points of ``LINE`` nearest the base that straddle it."""
    programs = [p for p in programs if p.nonsmooth()]
    if not programs:
        return []
    ts = np.concatenate([-LINE[::-1], [0.0], LINE])
    found: dict[tuple[int, int], dict] = {}  # (line, step) -> point
    lines = [
        _line(base, moving, rng, ts)
        for base in bases
        for moving in _movers([n for n in base if n not in index_values])
    ]
    for k, line in enumerate(lines):
        for program in programs:
            for step in _straddling(program, line, ts):
                found[(k, step)] = {n: v[step] for n, v in line.items()}
    nearest = sorted(found, key=lambda key: (abs(ts[key[1]]), key))
    return [found[key] for key in nearest[:CROSSING_POINTS]]


def _movers(names: list[str]) -> list[list[str]]:
    """Every input at once, then each alone: along a line in one input, W @ x is linear
    and crosses zero; moving W and x together makes it a quadratic that may not."""
    return [names] + ([[n] for n in names] if len(names) > 1 else [])


def _line(base, moving, rng, ts: np.ndarray) -> dict[str, np.ndarray]:
    """base + t u for each t, u a random unit direction over the inputs that move."""
    directions = {n: rng.standard_normal(np.shape(base[n])) for n in moving}
    norm = np.sqrt(sum(float(np.sum(u**2)) for u in directions.values())) or 1.0
    line = {}
    for name, value in base.items():
        value = np.asarray(value, dtype=float)
        step = directions[name] / norm if name in directions else np.zeros_like(value)
        line[name] = value[None] + ts.reshape((-1,) + (1,) * value.ndim) * step[None]
    return line


def _straddling(program, line, ts: np.ndarray) -> set[int]:
    """Steps along the line on either side of a switch, one pair per node entry."""
    try:
        values = program.forward({n: line[n] for n in program.inputs})
    except GradcheckError:  # no value somewhere on the line (a domain error): no crossings
        return set()
    steps = set()
    for sides in program.branches(values).values():
        flat = np.broadcast_to(sides, (len(ts), *sides.shape[1:])).reshape(len(ts), -1)
        changes = flat[1:] * flat[:-1] < 0  # strictly from one side to the other
        for entry in range(flat.shape[1]):
            at = np.flatnonzero(changes[:, entry])
            if at.size:
                j = int(at[np.argmin(np.minimum(np.abs(ts[at]), np.abs(ts[at + 1])))])
                steps.update((j, j + 1))
    return steps


# ---------------------------------------------------------------- proof


def _prove(claim: Claim, problem: Problem, index_values) -> tuple[bool, str]:
    """Whether SymPy shows the claim minus the true derivative is zero, and if not, why;
    cached."""
    digest = cache.key(
        "proof",
        problem.program.fingerprint(),
        claim.program.fingerprint(),
        claim.name,
        sorted((n, np.asarray(v).tolist()) for n, v in index_values.items()),
    )
    known = cache.read("proofs", digest)
    if known is not None and known.startswith(("true", "false:")):
        return known == "true", known.partition(":")[2]
    try:
        with budget(PROOF_SECONDS):
            proved, why = _proof(claim, problem, index_values)
    except OverBudget:
        proved, why = False, f"SymPy ran past its budget of {PROOF_SECONDS:g} s"
    cache.write("proofs", digest, "true" if proved else f"false:{why}")
    return proved, why


def _proof(claim: Claim, problem: Problem, index_values) -> tuple[bool, str]:
    import sympy as sp

    if problem.program.root.shape != ():
        return False, "a claimed Jacobian is judged at points, not proved"
    try:
        _, _, derivs = formulas.formulas(
            problem.program, [claim.name], index_values, simplify=False
        )
        claimed, _ = symbolic.lower_array(claim.program, index_values)
    except symbolic.SymbolicUnavailable as exc:
        return False, f"no symbolic form: {exc}"
    shape = problem.shapes[claim.name]
    claimed = np.broadcast_to(claimed if claimed.shape in ((), shape) else claimed.T, shape)
    pairs = zip(derivs[claim.name].flat, claimed.flat)
    if all(_zero(sp, true - mine) for true, mine in pairs):
        return True, ""
    return False, "SymPy could not simplify the difference to 0"


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


# ---------------------------------------------------------------- beyond float64


class _Exact:
    """The claim against the true derivative in 40-digit arithmetic, where a symbolic truth
    (the tape) is there; the claim's own tape is built on first use."""

    def __init__(self, claim: Claim, problem: Problem, tape, index_values) -> None:
        self.claim, self.tape, self.index_values = claim, tape, index_values
        self.shape = jacobian_shape(problem, claim.name)
        self.unavailable = None if tape is not None else "no symbolic derivative"

    @functools.cached_property
    def claim_tape(self):
        if self.unavailable is None:
            try:
                return symbolic.values_tape(self.claim.program, self.index_values)
            except (symbolic.SymbolicUnavailable, RecursionError) as exc:
                self.unavailable = str(exc) or "nested too deeply"
        return None

    def confirms(self, at) -> bool:
        """Whether a float64 disagreement at ``at`` is real: it is unless the claim and
        the truth agree in 40 digits (then it was float64's round-off in the claim)."""
        return self.claim_tape is None or self.difference(at) is not None

    def difference(self, at):
        """(entry, true, claimed, relative difference), mpmath numbers, for the worst entry
        that differs beyond round-off at the point; None where every entry agrees."""
        found = self._worst(at, EXACT_DIGITS)
        if found is None:
            return None
        again = self._worst(at, CHECK_DIGITS, only=found[0])
        if again is None or abs(again[2] - again[1]) <= ROUNDOFF_SHRINK * abs(found[2] - found[1]):
            return None  # it shrank with the precision: round-off in the formulas as written
        return found

    def _worst(self, at, digits: int, only: int | None = None):
        import mpmath

        with mpmath.workdps(digits):
            mine = symbolic.evaluate_exact(self.claim_tape, at, digits)["value"]
            true = symbolic.evaluate_exact(self.tape, at, digits)[self.claim.name]
            mine = mine * len(true) if len(mine) == 1 else mine  # a scalar claim for each entry
            worst = None
            for k in range(len(true)) if only is None else [only]:
                t, c = true[k], mine[k]
                if not (mpmath.isfinite(t) and mpmath.isfinite(c)):
                    continue
                scale = max(abs(t), abs(c))
                relative = abs(t - c) / scale if scale else mpmath.mpf(0)
                if relative > EXACT_RTOL and (worst is None or relative > worst[3]):
                    worst = (k, t, c, relative)
            return worst

    def judge(self, tried, why: str, crossings: int) -> ClaimResult:
        """The unproved claim at every point: it fails where it differs beyond round-off in
        40 digits; else it held, not proved, and the message says how far it was tried."""
        name, text = self.claim.name, self.claim.text
        sides = f", {crossings} of them either side of a switch," if crossings else ""
        if self.claim_tape is None:  # float64 is all there is
            message = f"held at {len(tried)} points{sides} in float64 only; not proved: {why}"
            if self.unavailable != "no symbolic derivative" and why != self.unavailable:
                message += f" ({self.unavailable})"
            return ClaimResult(name, text, "pass", points=len(tried), message=message)
        for at, _, _ in tried:
            if (wrong := self.difference(at)) is not None:
                return self._failed(tried, at, *wrong)
        message = (
            f"held at {len(tried)} points{sides} in float64 and in {EXACT_DIGITS}-digit "
            f"arithmetic; not proved: {why}"
        )
        return ClaimResult(name, text, "pass", points=len(tried), message=message)

    def _failed(self, tried, at, k: int, true, mine, relative) -> ClaimResult:
        return ClaimResult(
            self.claim.name,
            self.claim.text,
            "fail",
            points=len(tried),
            counterexample={
                "at": {n: v.tolist() for n, v in at.items()},
                "index": [int(i) for i in np.unravel_index(k, self.shape)],
                "claimed": float(mine),
                "true": float(true),
                "error": float(abs(mine - true)),
            },
            message=(
                f"the claim differs from the derivative by a relative {float(relative):.2g}: "
                f"within the check's tolerance, but far beyond round-off in {EXACT_DIGITS}-digit "
                "arithmetic, where it was judged since SymPy did not prove it"
            ),
        )
