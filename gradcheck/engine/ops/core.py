"""What an entry of the op table is, and the builders its groups are written with.

Every array the graph handles carries a leading batch axis: a node of shape ``(3, 2)``
holds an array of shape ``(B, 3, 2)``, where ``B`` is the number of points evaluated at
once (``B == 1`` broadcasts against any ``B``). The plumbing for that axis lives in
``batched.py``, so that each rule here reads as the maths.

* ``forward(*args, **params)``: the batched NumPy value. Element-wise ops receive
  arguments already aligned for broadcasting; the others receive ``(B, *shape)`` arrays.
* ``vjps``: one rule per argument, ``(g, out, *args, **params) -> contribution``: the
  upstream gradient ``g`` times the local derivative. Element-wise contributions are summed
  back to the argument's shape by the graph (``unbroadcast``), never inside a rule.
* ``sympy(sp, *args, **params)``: the same operation on SymPy expressions. Element-wise
  rules take one scalar per argument; the others take NumPy object arrays without a
  batch axis.
* ``switch(*args, **params)``: for piecewise ops, the signed distance of the argument to
  the surface where the formula changes (``relu``: ``x``; ``max``: ``a - b``). Exactly on
  it, the derivative is the midpoint of the one-sided ones (relu'(0) = 1/2, abs'(0) = 0),
  as SymPy's Heaviside(0) = 1/2 gives the symbolic side. ``branch`` names the smooth
  piece each entry is on where the sign of ``switch`` cannot (which entry is the largest).
* ``no_complex``: why complex step does not apply, or None where it does.
* ``keywords``: the static parameters the op takes, written as literals (``axis=1``); the
  rules above receive them, defaults filled in, as keyword arguments (``params``).

SymPy is passed in as ``sp`` so that importing this table never imports SymPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Why complex step does not apply to an op (``Op.no_complex``).
NOT_ANALYTIC = "not analytic"
NO_COMPLEX_IMPLEMENTATION = "no complex implementation"


class Required:
    """The default of a keyword that must be given (``reshape``'s shape)."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = Required()

#: What each kind of keyword value is, in words, for messages.
KINDS = {
    "int": "an integer, like 1",
    "ints": "an integer or a tuple of integers, like (2, 3)",
    "axis": "an integer or a tuple of integers, like (0, 2)",
    "bool": "True or False",
    "str": "a string",
}


@dataclass(frozen=True)
class Keyword:
    """A static parameter, written as a literal: ``axis=1``, ``keepdims=True``.

    ``kind`` is a key of ``KINDS``; a default of None also admits None. A ``positional``
    keyword may also be written after the array arguments, as NumPy allows
    (``reshape(x, (2, 3))``, ``one_hot(y, 10)``).
    """

    name: str
    default: object = REQUIRED
    kind: str = "int"
    positional: bool = False
    nullable: bool = False  # None admitted though the default is not (concatenate's axis)

    @property
    def takes_none(self) -> bool:
        return self.default is None or self.nullable

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is of this keyword's kind."""
        if value is None:
            return self.takes_none
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "str":
            return isinstance(value, str)
        if _integer(value):
            return True
        return (
            self.kind in ("ints", "axis")
            and isinstance(value, tuple)
            and all(_integer(v) for v in value)
        )


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


Params = tuple[tuple[str, object], ...]


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
    keywords: tuple[Keyword, ...] = ()
    #: The name a user calls it by, where that differs (one-argument ``max`` is ``amax``).
    called: str | None = None
    #: Takes its arrays as one list, as NumPy does: ``concatenate([a, b], axis=0)``.
    sequence: bool = False
    branch: Callable[..., np.ndarray] | None = None
    #: ``(out shape, *argument shapes, **params)`` -> scalar operations when expanded
    #: symbolically; None for the default, one per entry of the largest array.
    cost: Callable[..., int] | None = None
    #: ``(*argument shapes, **params)`` -> {argument position: exclusive bound}: the
    #: arguments that are integer labels (never differentiated), and their range.
    labels: Callable[..., dict[int, int]] | None = None
    #: Whether a label position may hold any expression (its values are checked when
    #: evaluated): where's condition. Else it holds an input or a constant.
    computed_labels: bool = False

    @property
    def complex_safe(self) -> bool:
        """Whether complex step applies (the op is analytic and evaluates complex points)."""
        return self.no_complex is None

    @property
    def user_name(self) -> str:
        """What a user calls this op: ``max`` for ``amax``."""
        return self.called or self.name

    def sides(self, *args: np.ndarray, **params) -> np.ndarray:
        """Per entry, the smooth piece it is on; 0 (or -1) exactly on a switch."""
        if self.branch is not None:
            return self.branch(*args, **params)
        return np.sign(self.switch(*args, **params))

    def expanded_cost(self, out: tuple[int, ...], /, *shapes: tuple[int, ...], **params) -> int:
        """About how many scalar operations this op adds to a symbolic expansion."""
        if self.cost is not None:
            return self.cost(out, *shapes, **params)
        return max(math.prod(out), *(math.prod(s) for s in shapes))

    def resolve(self, given: dict[str, object]) -> Params:
        """Every keyword's value, defaults filled in, in declared order.

        Raises:
            KeyError: a required keyword left out (its name).
        """
        params = []
        for keyword in self.keywords:
            value = given.get(keyword.name, keyword.default)
            if value is REQUIRED:
                raise KeyError(keyword.name)
            params.append((keyword.name, value))
        return tuple(params)


# ---------------------------------------------------------------- shape rules


def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of the operands' shapes."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError("the shapes do not broadcast against each other") from None


def scalar(*shapes: tuple[int, ...], **params) -> tuple[int, ...]:
    return ()


def same(shape: tuple[int, ...], **params) -> tuple[int, ...]:
    return shape


def normal_axes(ndim: int, axis, *, what: str = "axis") -> tuple[int, ...]:
    """The axes ``axis`` names (None: every axis), each in ``range(ndim)``, sorted.

    Raises:
        ValueError: an axis out of range, or named twice.
    """
    items = range(ndim) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    axes = []
    for a in items:
        if not -ndim <= a < ndim:
            have = "a scalar" if ndim == 0 else f"an array of {ndim} dimension(s)"
            raise ValueError(f"{what} {a} is out of range for {have}")
        axes.append(a % ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{what}={axis} names an axis twice")
    return tuple(sorted(axes))


def ints_of(value) -> tuple[int, ...]:
    """An integer or a tuple of integers (a static parameter), as a tuple."""
    return value if isinstance(value, tuple) else (value,)


def positive(shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    """``shape``, refused if it has no entries (no array of the language is empty)."""
    if any(n < 1 for n in shape):
        raise ValueError(f"{what} {shape} has no entries; every length must be at least 1")
    return shape


def step(a, b=0.0):
    """d max(a, b) / da: 1 above, 0 below, and the midpoint 1/2 exactly at the switch."""
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))


def free(*shapes, **params) -> int:
    """The symbolic cost of rearranging entries: no arithmetic at all."""
    return 0


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


def operator(name, *, forward, derivative, sympy, summary, **rest) -> Op:
    """An element-wise operator (``a + b``): written as a symbol, never called by name."""
    return elementwise(
        name,
        forward=forward,
        derivative=derivative,
        sympy=sympy,
        summary=summary,
        public=False,
        **rest,
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
