"""What a wrong gradient looks like, where that can be recognised.

A student reads "your dW is the true gradient times 2" rather than only "fail". The
recognised kinds: the true gradient transposed; scaled by a simple constant (a factor 2
too many or missing, 1/n, a flipped sign); and the chain rule with one local derivative
left out (the sigmoid's, say), found by running backprop with that node's local
derivative dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction

import numpy as np

from gradcheck.engine.graph import Program, describe

#: Factors a hand derivation plausibly gets wrong by; anything else is no diagnosis,
#: since with enough digits of slack any number is some multiple of another.
SIMPLE_FACTORS = tuple(
    sign * Fraction(p, q) for sign in (1, -1) for p, q in
    ((1, 1), (2, 1), (3, 1), (4, 1), (1, 2), (1, 3), (1, 4), (3, 2), (2, 3))
    if not (sign == 1 and p == q)
)  # fmt: skip

Agree = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: (what was left out, the gradient without its local derivative), lazily.
Alternatives = Iterable[tuple[str, np.ndarray]]


def diagnose(
    claimed: np.ndarray,
    truth: np.ndarray,
    agree: Agree,
    alternatives: Alternatives = (),
) -> str | None:
    """A sentence saying what the claimed gradient is, or None.

    ``agree(claimed, candidate)`` says, entry by entry, whether the claim matches a
    candidate; ``alternatives`` are (what was left out, the gradient without it).
    """
    claimed, truth = np.asarray(claimed, float), np.asarray(truth, float)
    if claimed.ndim >= 2:  # matrices, or a stack of them (one per point): the last two axes
        swapped = np.swapaxes(truth, -1, -2)
        square_or_not = claimed.shape == swapped.shape and not np.allclose(truth, swapped)
        if square_or_not and np.all(agree(claimed, swapped)):
            return "it is the true gradient transposed"
        if claimed.shape != truth.shape:
            return None
    if claimed.ndim >= 2 and claimed.shape == truth.shape and truth.shape[-1] == truth.shape[-2]:
        diagonal = truth * np.eye(truth.shape[-1])  # a (stack of) square Jacobian(s)
        if not np.allclose(truth, diagonal) and np.all(agree(claimed, diagonal)):
            return (
                "it is only the diagonal of the Jacobian: the terms that couple the entries "
                "(such as softmax's -s_i s_j) are left out"
            )
    factor = _factor(claimed, truth)
    if factor is not None and np.all(agree(claimed, float(factor) * truth)):
        return _scaled_text(factor)
    for left_out, gradient in alternatives:
        if gradient.shape == claimed.shape and np.all(agree(claimed, gradient)):
            return f"it matches the chain rule with the local derivative of {left_out} left out"
    return None


def _factor(claimed: np.ndarray, truth: np.ndarray) -> Fraction | None:
    """The simple factor c with claimed ~ c * truth (least squares), if there is one."""
    if claimed.shape != truth.shape or np.count_nonzero(truth) < 2:
        return None  # one number is always some multiple of another: no evidence
    c = float(np.sum(claimed * truth) / np.sum(truth * truth))
    best = min(SIMPLE_FACTORS, key=lambda f: abs(c - float(f)))
    return best if abs(c - float(best)) <= 1e-3 * abs(float(best)) else None


def _scaled_text(factor: Fraction) -> str:
    if factor == -1:
        return "the sign is flipped: it is the true gradient times -1"
    text = f"it is the true gradient times {factor}"
    magnitude = abs(factor)
    if magnitude.denominator == 1:
        text += f" (a factor {magnitude.numerator} too many)"
    elif magnitude.numerator == 1:
        text += f" (a factor {magnitude.denominator} missing)"
    return text + ("; the sign is flipped too" if factor < 0 else "")


def without_each(program: Program, name: str, points: list[dict]) -> Alternatives:
    """For each local derivative a derivation might forget, the gradient for ``name``
    without it at every point (shape ``(len(points), *shape)``); lazily, so none is
    computed once an earlier kind of mistake matched."""
    values = program.forward({n: np.stack([p[n] for p in points]) for n in program.inputs})
    shape = (len(points), *program.shapes[name])
    for left_out, adjoint in dropped_adjoints(program, values, [name], program.inputs[name]):
        yield left_out, np.broadcast_to(adjoint, shape)


def dropped_adjoints(
    program: Program, values: list[np.ndarray], wrt: list[str], position: int
) -> Alternatives:
    """For each local derivative a derivation might forget on the way from the output to
    node ``position``, that node's adjoint without it (lazily, one backward pass each)."""
    for i in program.droppable(wrt):
        if i <= position:  # not between the output and the node: no effect on its adjoint
            continue
        adjoint = program.backward(values, wrt, dropped=i)[position]
        if adjoint is not None:
            yield describe(program.nodes[i]), adjoint
