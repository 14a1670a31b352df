"""Comparisons, ``where`` and ``clip``: element-wise, and piecewise in their arguments.

A comparison is 0 or 1 (NumPy's False and True as numbers) and is never differentiated:
its derivative is 0 on either side of its switch ``a - b``, which the kink detector
watches. ``where(c, a, b)`` takes a condition of 0s and 1s (a comparison, or a 0/1 mask
input, drawn as such), so that ``c * a + (1 - c) * b`` is its exact symbolic form.
"""

from __future__ import annotations

import numpy as np

from gradcheck.engine.batched import DomainError
from gradcheck.engine.ops.core import elementwise, piecewise, step

# The symbolic value of each comparison: Heaviside(d, value at 0) of d = a - b (or b - a),
# whose derivative (DiracDelta) is 0 off the switch, as the comparison's is.
_HEAVISIDE = {"gt": (1, 0), "ge": (1, 1), "lt": (-1, 0), "le": (-1, 1)}


def comparison(name, test, symbol):
    """``a > b`` and its kin: 0 or 1, never differentiated, switching at ``a - b``."""
    if name in _HEAVISIDE:
        sign, at_zero = _HEAVISIDE[name]
        lower = lambda sp, a, b: sp.Heaviside(sign * (a - b), at_zero)  # noqa: E731
    else:  # sign(a - b)**2 is 1 where a != b, 0 where a == b
        equal = name == "eq"
        lower = lambda sp, a, b: (1 - sp.sign(a - b) ** 2) if equal else sp.sign(a - b) ** 2  # noqa: E731
    return piecewise(
        name,
        forward=lambda a, b: test(np.real(a), np.real(b)).astype(float),
        sympy=lower,
        summary=f"a {symbol} b: 1 where true, 0 where false (not differentiated)",
        switch=lambda a, b: np.real(a - b),
        derivative=(0, 0),
        public=False,
    )


def _where(c, a, b):
    condition = np.real(c)
    if np.any((condition != 0) & (condition != 1)):
        bad = condition[(condition != 0) & (condition != 1)].flat[0]
        raise DomainError(
            f"where(c, a, b) takes a condition of 0s and 1s, like x > 0; it has {bad:g}"
        )
    return np.where(condition == 1, a, b)


def _clip(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def _clip_sides(x, lo, hi):
    """Which of the three pieces each entry is on: below lo, between, above hi; a
    distinct value exactly on either switch."""
    return np.sign(x - lo) + 3 * np.sign(hi - np.maximum(x, lo))


def _clip_switch(x, lo, hi):
    return np.minimum(np.abs(x - lo), np.abs(hi - np.maximum(x, lo)))


# d clip / d(x, lo, hi), with m = max(x, lo): the midpoint of the one-sided derivatives on
# a switch, as min and max have.
_CLIP_DERIVATIVES = (
    lambda o, x, lo, hi: step(hi, np.maximum(x, lo)) * step(x, lo),
    lambda o, x, lo, hi: step(hi, np.maximum(x, lo)) * step(lo, x),
    lambda o, x, lo, hi: step(np.maximum(x, lo), hi),
)

# fmt: off
TABLE = [
    comparison("gt", np.greater, ">"),
    comparison("ge", np.greater_equal, ">="),
    comparison("lt", np.less, "<"),
    comparison("le", np.less_equal, "<="),
    comparison("eq", np.equal, "=="),
    comparison("ne", np.not_equal, "!="),
    elementwise("where", forward=_where, sympy=lambda sp, c, a, b: c * a + (1 - c) * b,
                summary="where(c, a, b): a where the condition c is 1, b where it is 0",
                derivative=(0, lambda o, c, a, b: c, lambda o, c, a, b: 1 - c),
                labels=lambda c, a, b: {0: 2}, computed_labels=True),
    piecewise("clip", forward=_clip, sympy=lambda sp, x, lo, hi: sp.Min(sp.Max(x, lo), hi),
              summary="clip(x, lo, hi): x limited to [lo, hi], as min(max(x, lo), hi)",
              switch=_clip_switch, branch=_clip_sides, derivative=_CLIP_DERIVATIVES),
]
# fmt: on
