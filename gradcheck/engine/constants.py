"""Exact constants that would be astronomical: ``10**10**10`` has ten billion digits.

Worked out in float64 before SymPy sees anything, so that no exact integer or rational
with an absurd number of digits is ever built: such a constant is taken as the graph's
float64 value (``exp(-10**10**10)`` is 0.0), or refused when that is not finite.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from gradcheck.engine.graph import Program, describe
from gradcheck.engine.ops import OPS
from gradcheck.errors import GradcheckError, SymbolicUnavailable

#: An exact constant of more decimal digits than this is never built: SymPy would work on
#: 10**10**10 (ten billion digits) until memory ran out. Such a constant is taken as the
#: graph's float64 value for it; if that is not finite, there is no symbolic derivative.
EXACT_DIGITS = 10_000
# ---------------------------------------------------------------- exact constants


def exact_digits(program: Program) -> list[float]:
    """For each node that depends on no input, about how many decimal digits its exact
    value has (log10 of numerator plus denominator); 0 for the others. Worked out in
    float64, so 10**10**10 costs nothing: its estimate is 1e10 (inf for a taller tower)."""
    constant = _constant_nodes(program)
    digits = [0.0] * len(program.nodes)
    with np.errstate(all="ignore"):
        for i, (node, args) in enumerate(zip(program.nodes, program.args)):
            if not constant[i] or node.op == "input":
                continue
            if node.op == "const":
                named = node.term is not None and node.term.name in ("pi", "e")
                digits[i] = 1.0 if named else _literal_digits(node.value)
            elif node.op == "pow":
                base, exponent = args
                power = float(np.max(np.abs(_float_value(program.nodes[exponent])), initial=0))
                trivial = np.all(np.isin(np.abs(_float_value(program.nodes[base])), (0.0, 1.0)))
                grown = 1.0 if trivial else digits[base] * max(power, 1.0)
                digits[i] = grown + digits[exponent]
            else:  # rational arithmetic adds digits; a reduction adds those of every entry
                entries = (
                    1 if OPS[node.op].elementwise else math.prod(program.nodes[j].shape)
                    for j in args
                )
                digits[i] = sum(digits[j] * n for j, n in zip(args, entries))
    return digits


def constant_notes(program: Program) -> list[str]:
    """A note for each constant taken as its float64 value because exactly it would be
    astronomical (see ``EXACT_DIGITS``); empty for almost every program."""
    return [
        f"the constant {describe(program.nodes[i])} is taken as its float64 value "
        f"{_shown(value)}: exactly it would have {_about(digits)} digits"
        for i, digits, value in folded(program)
    ]


def folded(program: Program) -> list[tuple[int, float, np.ndarray]]:
    """(node, estimated digits, float64 value) for each outermost constant whose exact
    value has more than ``EXACT_DIGITS`` digits somewhere inside it.

    Raises:
        SymbolicUnavailable: such a constant is not finite in float64 either.
    """
    digits, big = exact_digits(program), too_big(program)
    constant = _constant_nodes(program)
    users_all_constant = [True] * len(program.nodes)
    for i, args in enumerate(program.args):
        for j in args:
            users_all_constant[j] &= constant[i]
    out = []
    for i in range(len(program.nodes)):
        if big[i] and (i == program.output or not users_all_constant[i]):
            value = _float_value(program.nodes[i])
            if not np.all(np.isfinite(value)):
                raise SymbolicUnavailable(
                    f"the constant {describe(program.nodes[i])} would have {_about(digits[i])} "
                    f"digits exactly, and in float64 it is {_shown(value)}"
                )
            out.append((i, digits[i], value))
    return out


def too_big(program: Program) -> list[bool]:
    """Which constant nodes are, or hold, a constant of more than ``EXACT_DIGITS`` digits."""
    digits, constant = exact_digits(program), _constant_nodes(program)
    big: list[bool] = []
    for i, args in enumerate(program.args):
        big.append(constant[i] and (digits[i] > EXACT_DIGITS or any(big[j] for j in args)))
    return big


def _constant_nodes(program: Program) -> list[bool]:
    """Which nodes depend on no input (inputs used as indices count as inputs)."""
    constant: list[bool] = []
    for node, args in zip(program.nodes, program.args):
        constant.append(node.op != "input" and all(constant[j] for j in args))
    return constant


def _literal_digits(value: np.ndarray) -> float:
    """Digits of the exact form of written numbers, as ``exact`` makes it (log10 of
    numerator and denominator; 10**k counts k), the largest over the entries: 1.0001 is
    10001/10000, 8 digits; 1e-300 is 1/10**300, 300."""
    finite = np.unique(np.abs(value[np.isfinite(value)]))
    return max((_fraction_digits(Fraction(repr(float(v)))) for v in finite if v), default=0.0)


def _fraction_digits(q: Fraction) -> float:
    return math.log10(q.numerator) + math.log10(q.denominator)


def _float_value(node) -> np.ndarray:
    """A constant node's value as the graph computes it (inf for a tower, NaN if none)."""
    try:
        return Program(node).value({})[0]
    except GradcheckError:  # no value (log(-1)): the graph says so, better than we can
        return np.full(node.shape, np.nan)


def _about(digits: float) -> str:
    return f"about {digits:.3g}" if math.isfinite(digits) else "more than 1e308"


def _shown(value: np.ndarray) -> str:
    return repr(float(value)) if value.size == 1 else f"an array of {value.size} entries"


def exact(value: float):
    """A literal as the user wrote it: 0.1 is 1/10 (the shortest repr round-trips)."""
    import sympy as sp

    return sp.Integer(int(value)) if float(value).is_integer() else sp.Rational(repr(float(value)))
