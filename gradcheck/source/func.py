"""A problem that checks the user's own code: which functions, at which values.

Built from what ``gradcheck func`` is given (``FILE.py:NAME`` references and ``--at``
values) or from a problem file's ``func:`` keys; nothing is imported here. Inputs written
with integers only (``--at "y=[1, 3, 0]"``) are *labels*: passed to the code as integers
and never differentiated, unless ``--wrt`` names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradcheck.errors import ExpressionError
from gradcheck.source.code import CodeRef, parse_ref
from gradcheck.source.language import RandomSpec, Term, check_name, parse_value
from gradcheck.source.problems import given_value, split_assignment


@dataclass(frozen=True)
class FuncProblem:
    """The user's function and what claims its gradient: ``grad`` (a function of the same
    inputs), ``backward`` (a layer's, called with ``dout``), or neither (the function
    returns ``(value, grads)``). ``jacobian`` asks a layer for its full Jacobian."""

    name: str
    function: CodeRef
    values: dict[str, np.ndarray | RandomSpec]
    labels: frozenset[str]
    wrt: tuple[str, ...] | None = None
    grad: CodeRef | None = None
    backward: CodeRef | None = None
    jacobian: bool = False
    rtol: float | None = None
    atol: float | None = None
    step: float | None = None
    file: str | None = None
    line: int | None = None

    @property
    def kind(self) -> str:
        """The convention: ``grad``, ``layer`` (with a backward) or ``pair``."""
        return "grad" if self.grad else "layer" if self.backward else "pair"

    @property
    def helper(self) -> CodeRef | None:
        return self.grad or self.backward


def func_problem(
    function: str,
    *,
    grad: str | None = None,
    backward: str | None = None,
    at: Sequence[str] = (),
    wrt: Sequence[str] | None = None,
    jacobian: bool = False,
    name: str | None = None,
    base: Path | None = None,
) -> FuncProblem:
    """A problem from text, as ``gradcheck func`` takes it (paths relative to ``base``).

    Raises:
        GradcheckError: a bad reference or value, located.
    """
    if grad is not None and backward is not None:
        raise ExpressionError("give --grad or --backward, not both", where="--backward")
    values, labels = {}, set()
    for text in at:
        key, value_text, offset = split_assignment(text, "--at")
        raw = parse_value(value_text, f"--at {key}", offset=offset)
        values[key] = given_value(key, raw, f"--at {key}")
        if isinstance(raw, Term) and written_as_integers(raw):
            labels.add(key)
    chosen = None
    if wrt is not None:
        for n in wrt:
            check_name(n, "--wrt")
        chosen = tuple(dict.fromkeys(wrt))
        labels -= set(chosen)
    return FuncProblem(
        name=name or function,
        function=parse_ref(function, base, where="FUNCTION"),
        grad=None if grad is None else parse_ref(grad, base, where="--grad"),
        backward=None if backward is None else parse_ref(backward, base, where="--backward"),
        values=values,
        labels=frozenset(labels),
        wrt=chosen,
        jacobian=jacobian,
    )


def written_as_integers(term: Term) -> bool:
    """``[1, 3, 0]`` but not ``[1.0, 3, 0]`` nor ``2*pi``: a literal of integers only."""
    if term.kind == "list":
        return all(written_as_integers(t) for t in term.args)
    if term.kind == "num":
        text = term.text.strip().lstrip("-+")
        return text.isdigit()
    return False
