"""What a problem's parts are called when shown: an entry (``W[1, 0]``), a Jacobian's
entry (``∂f[1]/∂W[1, 0]``: the output's index, then the input's), the user's code.

One notation everywhere: the table, the causes under it, the summary, the assertion
message. No rich here, and no printing.
"""

from __future__ import annotations

import numpy as np

from gradcheck.render.numbers import entry
from gradcheck.results import CauseCode, ProblemResult

#: Findings about the user's code itself, said in words wherever its problem is shown.
CODE_FINDINGS = (CauseCode.MODIFIES_INPUTS, CauseCode.NOT_DETERMINISTIC, CauseCode.WRONG_SHAPE)


def is_code(p: ProblemResult) -> bool:
    """Whether the problem checked the user's own code (``gradcheck func``)."""
    return p.kind == "func"


def output_name(p: ProblemResult) -> str:
    """What is differentiated: ``out`` for a layer's output, ``f`` for an expression."""
    return "out" if is_code(p) else "f"


def output_shape(p: ProblemResult) -> tuple[int, ...]:
    """The Jacobian's leading axes: () for a scalar function.

    A problem whose result does not say its output shape, but whose value at a point is
    an array, is vector-valued all the same: its gradients are Jacobians.
    """
    if p.output_shape:
        return tuple(p.output_shape)
    for point in p.points:
        if np.ndim(point.value):
            return tuple(np.shape(point.value))
    return ()


def label(p: ProblemResult, name: str, index) -> str:
    """``W[1, 0]``; in a Jacobian, ``∂f[1]/∂W[1, 0]`` (``∂f[1]/∂b`` for a scalar input)."""
    index = tuple(int(i) for i in index)
    shape = output_shape(p)
    if not shape:
        return entry(name, index)
    n = len(shape)
    return f"∂{entry(output_name(p), index[:n])}/∂{entry(name, index[n:])}"


def flat_label(p: ProblemResult, name: str, k: int, shape: tuple[int, ...]) -> str:
    """The label of flat entry ``k`` of an array of ``shape`` (a gradient's or Jacobian's)."""
    return label(p, name, np.unravel_index(int(k), shape) if shape else ())


def code_heading(p: ProblemResult) -> str:
    """The user's code: ``layers.py:affine_forward, backward layers.py:affine_backward``;
    ``loss.py:f, grad loss.py:g``; ``loss.py:f (value and gradients)``."""
    code = p.code or {}
    function = code.get("function", p.name)
    for helper in ("grad", "backward"):
        if helper in code:
            return f"{function}, {helper} {code[helper]}"
    return f"{function} (value and gradients)"


def is_layer(p: ProblemResult) -> bool:
    """A layer checked through ``sum(out * dout)``: its points carry the seeded ``dout``."""
    return any(point.upstream is not None for point in p.points)


def code_findings(p: ProblemResult) -> list[str]:
    """What the code did besides answering (modifies its inputs, draws at random, returns a
    gradient of the wrong shape), each in words."""
    return [f.text for f in p.findings if f.code in CODE_FINDINGS]
