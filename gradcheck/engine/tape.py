"""Tapes: the symbolic derivative as plain data, evaluated in mpmath, kept on disk.

A tape is a straight-line program over a closed vocabulary (add, mul, pow and SymPy's
function names) that computes a function and every entry of its gradient. This module
never imports SymPy: a tape read from the cache is evaluated without it, which is what
keeps a repeated check fast (importing SymPy alone takes about half a second).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gradcheck.engine import cache

#: Working precision of the ground truth, in decimal digits.
DIGITS = 30

TAPE_FORMAT = 2


@dataclass(frozen=True)
class Tape:
    """A straight-line program computing the value and every gradient entry.

    Slots ``0 .. len(inputs) - 1`` hold the input entries ``(name, flat index)``; each
    instruction ``(op, *argument slots)`` (or ``("const", text)``) fills the next slot.
    ``values`` are the slots of the output's entries (one for a scalar function), and
    ``grads[name][i * size + k]`` is the slot of d value[i] / d name[k] (output-major,
    the Jacobian's layout; ``size`` is name's), or -1 where it is zero.
    """

    inputs: tuple[tuple[str, int], ...]
    code: tuple[tuple, ...]
    values: tuple[int, ...]
    grads: dict[str, tuple[int, ...]]

    @property
    def value(self) -> int:
        """The slot of a scalar function's value (of the first output entry)."""
        return self.values[0]

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": TAPE_FORMAT,
                "inputs": self.inputs,
                "code": self.code,
                "values": self.values,
                "grads": self.grads,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Tape:
        data = json.loads(text)
        if data.get("format") != TAPE_FORMAT:
            raise ValueError("old tape format")
        tape = cls(
            tuple((str(n), int(k)) for n, k in data["inputs"]),
            tuple(tuple(step) for step in data["code"]),
            tuple(int(s) for s in data["values"]),
            {str(n): tuple(int(s) for s in slots) for n, slots in data["grads"].items()},
        )
        tape.validate()
        return tape

    def validate(self) -> None:
        """Refuse a tape (say, a damaged cache file) that names unknown ops or slots."""
        slots = len(self.inputs)
        for step in self.code:
            if step[0] == "const":
                _constant(step[1])
            elif step[0] not in OPERATIONS or not all(
                isinstance(a, int) and 0 <= a < slots for a in step[1:]
            ):
                raise ValueError(f"bad tape step {step!r}")
            slots += 1
        if (
            not self.values
            or any(not 0 <= s < slots for s in self.values)
            or any(not -1 <= s < slots for grads in self.grads.values() for s in grads)
        ):
            raise ValueError("bad tape output slot")


# ---------------------------------------------------------------- evaluation


def _heaviside(x, at_zero=None):
    import mpmath

    if x == 0:
        return mpmath.mpf(0.5) if at_zero is None else at_zero
    return mpmath.mpf(1 if x > 0 else 0)


def _dirac(x, *rest):
    import mpmath

    return mpmath.mpf(0) if x != 0 else mpmath.nan


def _mp(name):
    """Look up an mpmath function lazily, so this table costs nothing to import."""

    def call(*args):
        import mpmath

        return getattr(mpmath, name)(*args)

    return call


#: The closed vocabulary of a tape: each step's operation, evaluated in mpmath.
OPERATIONS = {
    "add": lambda *a: _mp("fsum")(a),
    "mul": lambda *a: _mp("fprod")(a),
    "pow": _mp("power"),
    **{
        f: _mp(f)
        for f in (
            "sin",
            "cos",
            "tan",
            "asin",
            "acos",
            "atan",
            "sinh",
            "cosh",
            "tanh",
            "asinh",
            "acosh",
            "atanh",
            "exp",
            "expm1",
            "log",
            "log1p",
            "erf",
            "erfc",
            "sign",
            "sinc",
        )
    },
    "Abs": _mp("fabs"),
    "Max": lambda *a: max(a),
    "Min": lambda *a: min(a),
    "Heaviside": _heaviside,
    "DiracDelta": _dirac,
}


def _constant(text: str):
    import mpmath

    if text == "pi":
        return +mpmath.pi
    if text == "E":
        return +mpmath.e
    if text.startswith("mpf:"):
        sign, man, exp, bc = (int(p) for p in text[4:].split(":"))
        return mpmath.mpf((sign, man, exp, bc))
    p, _, q = text.partition("/")
    return mpmath.mpf(int(p)) / int(q or 1)


#: Beyond this many bits of magnitude (about 1e4932, long double's range) a tape value is
#: taken as infinite: no float is that large, and mpmath would otherwise carry a tower
#: such as x**x**x**x at its full, astronomical size.
MAGNITUDE = 16_384


def run(tape: Tape, point: Mapping[str, np.ndarray], digits: int = DIGITS) -> list:
    """Every slot of the tape at ``point``, as mpmath numbers at ``digits`` digits (NaN
    where a step has no real value, infinite past ``MAGNITUDE``)."""
    import mpmath

    limits = _power_log_products(tape)
    with mpmath.workdps(digits):
        slots: list = [
            mpmath.mpf(float(np.asarray(point[name]).reshape(-1)[k])) for name, k in tape.inputs
        ]
        for step in tape.code:
            if step[0] == "const":
                slots.append(_constant(step[1]))
                continue
            args = [slots[a] for a in step[1:]]
            result = _beyond_reach(mpmath, step[0], args)
            if result is None:
                try:
                    result = OPERATIONS[step[0]](*args)
                except (ValueError, ZeroDivisionError, OverflowError):
                    result = mpmath.nan
            if len(slots) in limits:
                power, exponent = limits[len(slots)]
                if slots[power] == 0 and slots[exponent] > 0:
                    result = mpmath.mpf(0)  # the limit of a**b log(a) as a -> 0, b > 0
            slots.append(result if isinstance(result, mpmath.mpf) else mpmath.nan)
    return slots


def _beyond_reach(mpmath, name: str, args: list):
    """The limit of a transcendental function of an astronomically large argument, or None.

    exp, sin and their kin reduce their argument modulo log 2 or pi, which needs as many
    bits of precision as the argument has bits of magnitude: for a tower such as
    exp(-x**x**x**x) that is more memory than any machine has. Past ``MAGNITUDE`` bits
    the limit is taken instead (exp(-huge) is 0), or nan where there is none (sin).
    """
    huge = [bool(mpmath.isfinite(a) and a and mpmath.mag(a) > MAGNITUDE) for a in args]
    if name == "pow":
        base, exponent = args
        if not huge[1]:
            return None
        if abs(base) == 1:
            return mpmath.mpf(1) if base == 1 else mpmath.nan
        grows = (abs(base) > 1) == (exponent > 0)
        return mpmath.inf if grows else mpmath.mpf(0)
    if name not in _LIMITS or not huge[0]:
        return None
    return _LIMITS[name](mpmath, args[0] > 0)


#: Each function's limit at +-infinity (``up``: the argument is positive).
_LIMITS = {
    "exp": lambda mp, up: mp.inf if up else mp.mpf(0),
    "expm1": lambda mp, up: mp.inf if up else mp.mpf(-1),
    "sinh": lambda mp, up: mp.inf if up else -mp.inf,
    "cosh": lambda mp, up: mp.inf,
    "tanh": lambda mp, up: mp.mpf(1 if up else -1),
    "erf": lambda mp, up: mp.mpf(1 if up else -1),
    "erfc": lambda mp, up: mp.mpf(0 if up else 2),
    "sinc": lambda mp, up: mp.mpf(0),
    "sin": lambda mp, up: mp.nan,
    "cos": lambda mp, up: mp.nan,
    "tan": lambda mp, up: mp.nan,
}


def evaluate(tape: Tape, point: Mapping[str, np.ndarray]):
    """The value (a float; for several output entries an array) and gradients (flat,
    output-major) at one point, to ``DIGITS`` digits.

    ``point`` maps input names to arrays of their shape. Entries whose derivative is not
    defined there (or not real) are NaN; a value that is not real raises ValueError.
    """
    import mpmath

    slots = run(tape, point)
    with mpmath.workdps(DIGITS):
        values = [_real(slots[s]) for s in tape.values]
        if not all(math.isfinite(v) for v in values):
            raise ValueError("the symbolic value is not finite or not real at the point")
        value = values[0] if len(values) == 1 else np.array(values)
        grads = {
            name: np.array([_real(slots[s]) if s >= 0 else 0.0 for s in entries])
            for name, entries in tape.grads.items()
        }
    return value, grads


def _power_log_products(tape: Tape) -> dict[int, tuple[int, int]]:
    """The slots of products ``a**b * log(a)`` (d a**b / db), each with its power's slot
    and its exponent's: at a = 0 < b the product is 0 * log(0), nan, where its limit is 0."""
    first = len(tape.inputs)

    def step(slot: int) -> tuple:
        return tape.code[slot - first] if slot >= first else ()

    products = {}
    for k, (op, *args) in enumerate(tape.code):
        if op != "mul" or len(args) != 2:
            continue
        for power, log in (args, args[::-1]):
            p, q = step(power), step(log)
            if p[:1] == ("pow",) and q[:1] == ("log",) and len(p) == 3 and q[1:] == p[1:2]:
                products[first + k] = (power, p[2])
    return products


def _real(number) -> float:
    try:
        return float(number)
    except (TypeError, ValueError):
        return math.nan


# ---------------------------------------------------------------- cache


def load(key: str) -> Tape | None:
    """The cached tape for ``key``; None when absent, off, or damaged."""
    text = cache.read("tapes", key)
    if text is None:
        return None
    try:
        return Tape.from_json(text)
    except (ValueError, KeyError, TypeError):
        return None  # a damaged entry is rebuilt by the caller


def store(key: str, tape: Tape) -> None:
    """Keep a tape for next time."""
    cache.write("tapes", key, tape.to_json())
