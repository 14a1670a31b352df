"""Claimed numbers (``expect:`` in a problem file), compared at the precision written.

A claimed ``0.01715`` stands for 0.017145..0.017155: half a unit in its last written
digit, but never less than 1e-9 relative (a number printed to 17 digits by float64 code
carries that code's round-off). An integer such as ``10`` or ``24`` stands for itself,
compared at the problem's tolerance. A tolerance given in the problem file replaces the
written precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gradcheck.judge.mistakes import Alternatives, diagnose
from gradcheck.judge.verdicts import tolerance
from gradcheck.results import ExpectResult, Tolerance

#: The tightest a claimed number is held to: backprop's own tolerance.
FLOOR = tolerance("backprop")


def _ten_to(power: int) -> float:
    """10 ** power as a float: infinite past float's range (1e400 written in a file would
    otherwise raise OverflowError), 0 below it."""
    return math.inf if power > 308 else 10.0 ** max(power, -400)


@dataclass(frozen=True)
class Number:
    """Claimed numbers, and for each half a unit in its last written digit (NaN: exact)."""

    value: np.ndarray
    precision: np.ndarray

    @staticmethod
    def precision_of(text: str | None) -> float:
        """``0.01715`` -> 5e-6; ``1.50e-3`` -> 5e-6; ``1e-3`` -> 5e-4; ``24`` -> NaN (exact)."""
        if text is None:
            return math.nan
        mantissa, _, exponent = text.strip().lower().lstrip("+-").partition("e")
        try:
            power = int(exponent) if exponent else 0
        except ValueError:
            return math.nan
        if "." not in mantissa:
            return 0.5 * _ten_to(power) if exponent else math.nan
        return 0.5 * _ten_to(power - len(mantissa.split(".")[1]))

    def allowed(self, truth: np.ndarray, explicit: Tolerance | None, default: Tolerance):
        """How far each claimed number may be from the truth and still hold."""
        truth = np.broadcast_to(truth, self.value.shape)
        if explicit is not None:
            return explicit.atol + explicit.rtol * np.abs(truth)
        exact = default.atol + default.rtol * np.abs(truth)
        # A number printed to 17 digits by float64 code carries that code's round-off:
        # no claim is held tighter than backprop is held to itself.
        written = np.maximum(self.precision, FLOOR.rtol * np.abs(truth))
        return np.where(np.isnan(self.precision), exact, written)


@dataclass(frozen=True)
class Expectation:
    """What a problem file claims at its point: the value and gradient entries."""

    value: Number | None
    grads: dict[str, Number] = field(default_factory=dict)
    line: int | None = None


def judge(
    what: str,
    claimed: Number,
    truth: np.ndarray,
    explicit: Tolerance | None,
    default: Tolerance,
    alternatives: Alternatives = (),
) -> ExpectResult:
    """Claimed numbers against the truth; what the wrong ones look like, if recognisable."""
    truth = np.asarray(truth, dtype=float)
    allowed = claimed.allowed(truth, explicit, default)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(claimed.value - truth) <= allowed)
    wrong = [
        {"index": [int(i) for i in np.unravel_index(k, truth.shape)],
         "claimed": float(claimed.value.flat[k]), "true": float(truth.flat[k]),
         "allowed": float(allowed.flat[k])}
        for k in np.flatnonzero(bad)
    ]  # fmt: skip
    if not wrong:
        return ExpectResult(what, "pass", claimed.value, truth)

    def agree(mine: np.ndarray, candidate: np.ndarray) -> np.ndarray:
        return np.abs(mine - candidate) <= claimed.allowed(candidate, explicit, default)

    diagnosis = diagnose(claimed.value, truth, agree, alternatives) if truth.ndim else None
    return ExpectResult(what, "fail", claimed.value, truth, wrong, diagnosis)
