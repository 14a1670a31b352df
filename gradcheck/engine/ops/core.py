"""ONE table of primitives: shape rule, NumPy forward, local derivatives (VJPs), SymPy lowering.

Every array the graph handles carries a leading batch axis: a node of shape ``(3, 2)``
holds an array of shape ``(B, 3, 2)``, where ``B`` is the number of points evaluated at
once (``B == 1`` broadcasts against any ``B``). The plumbing for that axis lives in
``batched.py``, so that each rule here reads as the maths.

* ``forward(*args)``: the batched NumPy value. Element-wise ops receive arguments already
  aligned for broadcasting; the others receive ``(B, *shape)`` arrays.
* ``vjps``: one rule per argument, ``(g, out, *args) -> contribution``: the upstream
  gradient ``g`` times the local derivative. Element-wise contributions are summed back to
  the argument's shape by the graph (``unbroadcast``), never inside a rule.
* ``sympy(sp, *args)``: the same operation on SymPy expressions. Element-wise rules take
  one scalar per argument; the others take NumPy object arrays without a batch axis.
* ``switch(*args)``: for piecewise ops, the signed distance of the argument to the
  surface where the formula changes (``relu``: ``x``; ``max``: ``a - b``). Exactly on it,
  the derivative is the midpoint of the one-sided ones (relu'(0) = 1/2, abs'(0) = 0), as
  SymPy's Heaviside(0) = 1/2 gives the symbolic side.
* ``no_complex``: why complex step does not apply, or None where it does.

SymPy is passed in as ``sp`` so that importing this table never imports SymPy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Why complex step does not apply to an op (``Op.no_complex``).
NOT_ANALYTIC = "not analytic"
NO_COMPLEX_IMPLEMENTATION = "no complex implementation"


@dataclass(frozen=True)
class Op:
    """One primitive; see the module docstring for what each rule receives."""

    name: str
    arity: tuple[int, int]
    shape: Callable[..., tuple[int, ...]]
    forward: Callable[..., np.ndarray]
    vjps: Any  # indexable by argument position: one rule per argument
    sympy: Callable[..., Any]
    elementwise: bool = False
    switch: Callable[..., np.ndarray] | None = None
    no_complex: str | None = None
    public: bool = True
    summary: str = ""

    @property
    def complex_safe(self) -> bool:
        """Whether complex step applies (the op is analytic and evaluates complex points)."""
        return self.no_complex is None


# ---------------------------------------------------------------- shape rules


def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of the operands' shapes."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError("the shapes do not broadcast against each other") from None


def _scalar(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    return ()


def _same(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape


def _step(a, b=0.0):
    """d max(a, b) / da: 1 above, 0 below, and the midpoint 1/2 exactly at the switch."""
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))


# ---------------------------------------------------------------- the entries' helpers


def _vjp(derivative) -> Callable[..., np.ndarray]:
    """The VJP of an element-wise op: the upstream gradient times the local derivative."""
    if derivative == 1:
        return lambda g, out, *args: g
    if derivative == -1:
        return lambda g, out, *args: -g
    if not callable(derivative):
        return lambda g, out, *args: derivative * g
    return lambda g, out, *args: g * derivative(out, *args)


def _lowering(sympy) -> Callable[..., Any]:
    """A SymPy function's name ("tanh") or a lowering ``(sp, *args) -> expression``."""
    if callable(sympy):
        return sympy
    return lambda sp, *args: getattr(sp, sympy)(*args)


def elementwise(name, *, forward, derivative, sympy, summary, arity=None, **rest) -> Op:
    """An element-wise op; ``derivative(out, *args)`` is its local derivative, entry by
    entry (one per argument, as a tuple, for several arguments; a number if constant)."""
    derivatives = derivative if isinstance(derivative, tuple) else (derivative,)
    n = len(derivatives)
    return Op(
        name,
        arity or (n, n),
        broadcast_shape,
        forward,
        tuple(_vjp(d) for d in derivatives),
        _lowering(sympy),
        elementwise=True,
        summary=summary,
        **rest,
    )


def operator(name, *, forward, derivative, sympy, summary) -> Op:
    """An element-wise operator (``a + b``): written as a symbol, never called by name."""
    return elementwise(
        name, forward=forward, derivative=derivative, sympy=sympy, summary=summary, public=False
    )


def piecewise(name, *, forward, derivative, sympy, summary, switch=lambda x: x, **rest) -> Op:
    """An element-wise op whose formula changes across ``switch``: not analytic there."""
    return elementwise(
        name,
        forward=forward,
        derivative=derivative,
        sympy=sympy,
        summary=summary,
        switch=switch,
        no_complex=NOT_ANALYTIC,
        **rest,
    )


def reduction(name, *, forward, vjp, sympy, summary, switch=None) -> Op:
    """A reduction of all entries to a scalar; ``sympy(sp, x)`` gives one expression."""
    return Op(
        name,
        (1, 1),
        _scalar,
        forward,
        (vjp,),
        lambda sp, x: np.asarray(sympy(sp, x), dtype=object),
        switch=switch,
        summary=summary,
    )
