"""``einsum("ij,jk->ik", A, B)``: NumPy's Einstein summation, its spec validated.

The spec is the only string literal the language accepts. It holds letters, one
comma-separated group per operand, and at most one ``->`` before the output's letters;
spaces are ignored, as NumPy ignores them. Without ``->`` the output is the letters that
appear exactly once, sorted (NumPy's implicit mode: ``"ij,jk"`` is ``"ij,jk->ik"``,
``"ii"`` the trace). A letter repeated within an operand takes its diagonal. NumPy's
``...`` is not accepted: every axis is named by a letter (``"bij,bjk->bik"``), so that
each letter has one length, checked when the expression is typed.

Each operand's gradient is an einsum of the upstream gradient with the other operands,
broadcast along the letters that only that operand sums over and put back on the
diagonal where its letters repeat.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from gradcheck.engine.ops.core import REQUIRED, Keyword, Op

#: The most operands an einsum takes (NumPy's own limit is 32).
MOST_OPERANDS = 8


class SpecError(ValueError):
    """A spec outside the grammar: why, and where in the spec text (``at``, from 0)."""

    def __init__(self, message: str, at: int = 0) -> None:
        super().__init__(message)
        self.at = at


@dataclass(frozen=True)
class Spec:
    """A parsed spec: each operand's letters, the output's, and where each started."""

    operands: tuple[str, ...]
    output: str
    starts: tuple[int, ...]  # offset in the text of each operand's first character

    def letters(self) -> str:
        """Every letter of the operands, each once, in order of first appearance."""
        return "".join(dict.fromkeys("".join(self.operands)))


class SpecKeyword(Keyword):
    """The spec: a string literal written before the arrays, validated as it is parsed."""

    def check(self, value: str, operands: int) -> None:
        """Raises ``SpecError`` if ``value`` is not a spec for that many operands."""
        parse_spec(value, operands)


SPEC = SpecKeyword("spec", REQUIRED, "str", positional=True)


def parse_spec(text: str, operands: int | None = None) -> Spec:
    """The spec ``text``, validated (for ``operands`` arrays, when given).

    Raises:
        SpecError: a character other than letters, commas, spaces and one ``->``; a
            repeated or unknown output letter; a count of operands that differs.
    """
    for at, char in enumerate(text):
        if char == ".":
            raise SpecError(
                "'...' is not accepted in a spec: name every axis with a letter, "
                "like 'bij,bjk->bik'",
                at,
            )
        if not (char.isascii() and char.isalpha()) and char not in ",-> ":
            raise SpecError(
                f"{char!r} cannot be in a spec: it takes letters, commas and one '->'",
                at,
            )
    arrow = _arrow(text)
    inputs = text if arrow is None else text[:arrow]
    groups, starts, start = [], [], 0
    for group in inputs.split(","):
        groups.append(group.replace(" ", ""))
        starts.append(start)
        start += len(group) + 1
    if operands is not None and len(groups) != operands:
        raise SpecError(
            f"the spec {text!r} names {_count(len(groups), 'operand')} but "
            f"{_count(operands, 'array')} follow{'s' * (operands == 1)} it",
            0,
        )
    if arrow is None:
        counts = {}
        for letter in "".join(groups):
            counts[letter] = counts.get(letter, 0) + 1
        output = "".join(sorted(letter for letter, n in counts.items() if n == 1))
    else:
        output = _output(text, arrow + 2, set("".join(groups)))
    return Spec(tuple(groups), output, tuple(starts))


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' * (n != 1)}"


def _arrow(text: str) -> int | None:
    """Where the one ``->`` is (None: implicit output), every ``-`` and ``>`` in it."""
    arrows = [at for at in range(len(text) - 1) if text[at : at + 2] == "->"]
    if len(arrows) > 1:
        raise SpecError("a spec has at most one '->'", arrows[1])
    for at, char in enumerate(text):
        if (char == "-" and at not in arrows) or (char == ">" and at - 1 not in arrows):
            raise SpecError(f"{char!r} in a spec must be part of '->'", at)
    return arrows[0] if arrows else None


def _output(text: str, start: int, known: set[str]) -> str:
    """The letters after ``->``: each once, each in some operand."""
    seen = ""
    for at in range(start, len(text)):
        letter = text[at]
        if letter == " ":
            continue
        if letter == ",":
            raise SpecError("the output of a spec is one group of letters, no commas", at)
        if letter in seen:
            raise SpecError(f"the output letter {letter!r} is repeated", at)
        if letter not in known:
            raise SpecError(f"the output letter {letter!r} is in no operand", at)
        seen += letter
    return seen


@functools.lru_cache(maxsize=256)
def _parsed(spec: str) -> Spec:
    return parse_spec(spec)


# ---------------------------------------------------------------- shape rule


def lengths(spec: Spec, shapes) -> dict[str, int]:
    """Each letter's length, read from the operands' shapes.

    Raises:
        ValueError: an operand whose number of letters is not its number of axes, a
            letter of two lengths.
    """
    sizes: dict[str, int] = {}
    for k, (letters, shape) in enumerate(zip(spec.operands, shapes)):
        if len(letters) != len(shape):
            has = "a scalar" if not shape else f"{len(shape)} axes"
            raise ValueError(
                f"operand {k + 1} is written {letters!r} ({len(letters)} letters) but is {has}"
            )
        for axis, (letter, n) in enumerate(zip(letters, shape)):
            if sizes.setdefault(letter, n) != n:
                raise ValueError(
                    f"the letter {letter!r} stands for {sizes[letter]} entries and for {n} "
                    f"(operand {k + 1}, axis {axis})"
                )
    return sizes


def einsum_shape(*shapes: tuple[int, ...], spec: str) -> tuple[int, ...]:
    """The output's shape: the length of each output letter."""
    try:
        parsed = parse_spec(spec, len(shapes))
    except SpecError as error:
        raise ValueError(str(error)) from None
    sizes = lengths(parsed, shapes)
    return tuple(sizes[letter] for letter in parsed.output)


def einsum_cost(out, *shapes: tuple[int, ...], spec: str) -> int:
    """One product of the operands for each assignment of every letter."""
    parsed = _parsed(spec)
    sizes = lengths(parsed, shapes)
    return math.prod(sizes.values()) * len(shapes)


# ---------------------------------------------------------------- numerics


def _batched(operands: list[str], output: str) -> str:
    """NumPy's subscripts with the batch axis as ``...`` in front of every group."""
    return ",".join("..." + o for o in operands) + "->..." + output


def einsum(*arrays: np.ndarray, spec: str) -> np.ndarray:
    """The einsum of the operands, for each batch entry."""
    parsed = _parsed(spec)
    subscripts = _batched(list(parsed.operands), parsed.output)
    return np.einsum(subscripts, *arrays, optimize=len(arrays) > 2)


def einsum_vjp(k: int):
    """The VJP for operand ``k``: g contracted with the other operands."""

    def rule(g, out, *arrays, spec):
        parsed = _parsed(spec)
        mine = parsed.operands[k]
        letters = "".join(dict.fromkeys(mine))
        others = [j for j in range(len(arrays)) if j != k]
        reached = set(parsed.output).union(*(parsed.operands[j] for j in others))
        present = "".join(letter for letter in letters if letter in reached)
        subscripts = _batched([parsed.output, *(parsed.operands[j] for j in others)], present)
        summed = np.einsum(subscripts, g, *(arrays[j] for j in others), optimize=len(arrays) > 2)
        sizes = dict(zip(mine, arrays[k].shape[1:]))
        # letters only this operand sums over: each of their entries gets the same share
        lined = summed.reshape(
            summed.shape[:1] + tuple(sizes[c] if c in present else 1 for c in letters)
        )
        spread = np.broadcast_to(lined, lined.shape[:1] + tuple(sizes[c] for c in letters))
        return spread if letters == mine else _on_diagonal(spread, mine, letters, sizes)

    return rule


def _on_diagonal(values, mine: str, letters: str, sizes: dict[str, int]) -> np.ndarray:
    """Values indexed by the distinct ``letters``, placed where the operand's repeated
    letters agree (``"ii"``: its diagonal), zero elsewhere."""
    out = np.zeros(values.shape[:1] + tuple(sizes[c] for c in mine), dtype=values.dtype)
    where = []
    for c in mine:
        position = letters.index(c)
        where.append(
            np.arange(sizes[c]).reshape([-1 if p == position else 1 for p in range(len(letters))])
        )
    out[(slice(None), *where)] = values
    return out


def sym_einsum(sp, *arrays, spec: str):
    """The einsum over object arrays: a sum over the contracted letters, written out."""
    parsed = _parsed(spec)
    sizes = lengths(parsed, [a.shape for a in arrays])
    contracted = [c for c in parsed.letters() if c not in parsed.output]
    out = np.empty(tuple(sizes[c] for c in parsed.output), dtype=object)
    for out_at in np.ndindex(out.shape):
        chosen = dict(zip(parsed.output, out_at))
        terms = []
        for summed_at in np.ndindex(*(sizes[c] for c in contracted)):
            chosen.update(zip(contracted, summed_at))
            factors = (a[tuple(chosen[c] for c in sub)] for a, sub in zip(arrays, parsed.operands))
            terms.append(sp.Mul(*factors))
        out[out_at] = sp.Add(*terms)
    return out


EINSUM = Op(
    "einsum",
    arity=(1, MOST_OPERANDS),
    shape=einsum_shape,
    forward=einsum,
    vjps=tuple(einsum_vjp(k) for k in range(MOST_OPERANDS)),
    sympy=sym_einsum,
    summary='Einstein summation, like einsum("ij,jk->ik", A, B)',
    keywords=(SPEC,),
    cost=einsum_cost,
)
