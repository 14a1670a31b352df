"""ONE table of primitives: shape rule, NumPy forward, local derivatives (VJPs), SymPy lowering.

Every array the graph handles carries a leading batch axis: a node of shape ``(3, 2)``
holds an array of shape ``(B, 3, 2)``, where ``B`` is the number of points evaluated at
once (``B == 1`` broadcasts against any ``B``).

* ``forward(*args)``: the batched NumPy value. Element-wise ops receive arguments already
  aligned for broadcasting; the others receive ``(B, *shape)`` arrays.
* ``vjps``: one rule per argument, ``(g, out, *args) -> contribution``: the upstream
  gradient ``g`` times the local derivative. Element-wise contributions are summed back to
  the argument's shape by the graph (``unbroadcast``), never inside a rule.
* ``sympy(sp, *args)``: the same operation on SymPy expressions. Element-wise rules take
  one scalar per argument; the others take NumPy object arrays without a batch axis.
* ``switch(*args)``: for non-smooth ops, the signed distance of the argument to the
  surface where the derivative jumps (``relu``: ``x``; ``max``: ``a - b``).

SymPy is passed in as ``sp`` so that importing this table never imports SymPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


class DomainError(Exception):
    """An operation that has no value at the point (singular matrix, index out of range)."""


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
    complex_safe: bool = True
    public: bool = True
    summary: str = ""


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


def _square(shape: tuple[int, ...]) -> int:
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError("it needs a square matrix")
    return shape[0]


def _square_scalar(shape: tuple[int, ...]) -> tuple[int, ...]:
    _square(shape)
    return ()


def _square_same(shape: tuple[int, ...]) -> tuple[int, ...]:
    _square(shape)
    return shape


def _transpose_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[::-1]


def _matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if not a or not b:
        raise ValueError("@ needs arrays on both sides; use * to multiply by a scalar")
    inner_a = a[-1]
    inner_b = b[0] if len(b) == 1 else b[-2]
    if inner_a != inner_b:
        raise ValueError(f"the inner dimensions differ ({inner_a} vs {inner_b})")
    return a[:-1] + b[1:]


def _dot_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if a != b:
        raise ValueError("dot needs two arrays of the same shape")
    return ()


def _outer_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return (math.prod(a), math.prod(b))


# ---------------------------------------------------------------- batched helpers


def _rows(x: np.ndarray) -> np.ndarray:
    """One row per batch entry: (B, *shape) -> (B, size)."""
    return x.reshape(x.shape[0], -1)


def _per_entry(g: np.ndarray, like: np.ndarray) -> np.ndarray:
    """A per-row scalar (B,) reshaped to broadcast against (B, *shape)."""
    return g.reshape(g.shape + (1,) * (like.ndim - 1))


def _adjoint_shape(g: np.ndarray, x: np.ndarray) -> tuple[int, ...]:
    """The shape of x's adjoint: the upstream gradient's batch, x's entries."""
    return g.shape[:1] + x.shape[1:]


def _swap(m: np.ndarray) -> np.ndarray:
    return np.swapaxes(m, -1, -2)


def _as_matrices(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectors promoted as NumPy's matmul does: a row on the left, a column on the right."""
    return (a[:, None, :] if a.ndim == 2 else a), (b[:, :, None] if b.ndim == 2 else b)


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a2, b2 = _as_matrices(a, b)
    out = a2 @ b2
    if b.ndim == 2:
        out = out[..., 0]
    if a.ndim == 2:
        out = out[..., 0, :] if b.ndim > 2 else out[..., 0]
    return out


def _matmul_g(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The upstream gradient reshaped to the promoted (matrix) product's shape."""
    if a.ndim == 2 and b.ndim == 2:
        return g[:, None, None]
    if a.ndim == 2:
        return g[:, None, :]
    if b.ndim == 2:
        return g[:, :, None]
    return g


def _matmul_vjp_a(g, out, a, b):
    if a.ndim == 3 and b.ndim == 2:  # matrix @ vector: the gradient is an outer product,
        return g[:, :, None] * b[:, None, :]  # which matmul with inner size 1 does slowly
    _, b2 = _as_matrices(a, b)
    return (_matmul_g(g, a, b) @ _swap(b2)).reshape(_adjoint_shape(g, a))


def _matmul_vjp_b(g, out, a, b):
    a2, _ = _as_matrices(a, b)
    return (_swap(a2) @ _matmul_g(g, a, b)).reshape(_adjoint_shape(g, b))


def _stable_sigmoid(x: np.ndarray) -> np.ndarray:
    if np.iscomplexobj(x):  # complex step: the analytic form (logaddexp is real only)
        return 1 / (1 + np.exp(-x))
    return np.exp(-np.logaddexp(0.0, -x))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(x)) if np.iscomplexobj(x) else np.logaddexp(0.0, x)


_erf_entries = np.frompyfunc(math.erf, 1, 1)


def _erf(x: np.ndarray) -> np.ndarray:
    return _erf_entries(x).astype(x.dtype)


def _logsumexp(x: np.ndarray) -> np.ndarray:
    rows = _rows(x)
    top = np.max(rows.real, axis=1)  # the shift keeps exp in range; complex: its real part
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.sum(np.exp(rows - top[:, None]), axis=1))


def _softmax(x: np.ndarray) -> np.ndarray:
    rows = _rows(x)
    shifted = np.exp(rows - np.max(rows.real, axis=1, keepdims=True))
    return (shifted / np.sum(shifted, axis=1, keepdims=True)).reshape(x.shape)


def _softmax_vjp(g, out, x):
    return out * (g - _per_entry(np.sum(_rows(g * out), axis=1), out))


def _norm(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(_rows(x) ** 2, axis=1))


def _lapack(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """np.linalg takes float32/64 and complex only; other types (extended precision) go
    through float64, losing their extra digits in this one operation."""

    def call(a: np.ndarray) -> np.ndarray:
        if a.dtype in (np.float32, np.float64, np.complex64, np.complex128):
            return fn(a)
        return fn(a.astype(np.float64)).astype(a.dtype)

    return call


_det = _lapack(np.linalg.det)


@_lapack
def _inv(a: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise DomainError("the matrix is singular") from None


def _cofactors(a: np.ndarray) -> np.ndarray:
    """Cofactor matrices, the derivative of det that exists even for singular matrices."""
    n = a.shape[-1]
    out = np.empty(a.shape, dtype=a.dtype)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, axis=-2), j, axis=-1)
            out[..., i, j] = (-1) ** (i + j) * (_det(minor) if n > 1 else 1.0)
    return out


def _det_vjp(g, out, a):
    return _per_entry(g, a) * _cofactors(a)


def _index_arrays(x: np.ndarray, idx: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Validated integer index arrays, one per indexed axis, plus the batch rows."""
    batch = max([x.shape[0], *(i.shape[0] for i in idx)])
    ints = []
    for axis, raw in enumerate(idx):
        values = np.real(np.broadcast_to(raw, (batch,)))
        rounded = np.round(values)
        if not np.all(values == rounded):
            raise DomainError(f"index {values[values != rounded][0]:g} is not an integer")
        size = x.shape[axis + 1]
        if np.any((rounded < -size) | (rounded >= size)):
            bad = rounded[(rounded < -size) | (rounded >= size)][0]
            raise DomainError(f"index {bad:g} is out of range for an axis of length {size}")
        ints.append(rounded.astype(np.intp))
    return (np.arange(batch), *ints)


def _index(x, *idx):
    where = _index_arrays(x, idx)
    return np.broadcast_to(x, (len(where[0]), *x.shape[1:]))[where]


def _index_vjp(g, out, x, *idx):
    where = _index_arrays(x, idx)
    grad = np.zeros((len(where[0]), *x.shape[1:]))
    np.add.at(grad, where, g)
    return grad


class _EachItem:
    """stack's VJPs, one per item however many: item i gets slice i of the gradient."""

    def __getitem__(self, i: int) -> Callable[..., np.ndarray]:
        return lambda g, out, *items: g[:, i]


def _no_gradient(g, out, *args):
    raise AssertionError("index positions are never differentiated")


# ---------------------------------------------------------------- SymPy lowerings


def _sym_matmul(sp, a, b):
    a2 = a if a.ndim == 2 else a.reshape(1, -1)
    b2 = b if b.ndim == 2 else b.reshape(-1, 1)
    out = np.empty((a2.shape[0], b2.shape[1]), dtype=object)
    for i in range(a2.shape[0]):
        for j in range(b2.shape[1]):
            out[i, j] = sp.Add(*(a2[i, k] * b2[k, j] for k in range(a2.shape[1])))
    if b.ndim == 1:
        out = out[:, 0]
    if a.ndim == 1:
        out = out[0]
    return np.asarray(out, dtype=object)


def _sym_total(sp, x):
    return sp.Add(*x.flat)


def _sym_softmax(sp, x):
    exps = np.frompyfunc(sp.exp, 1, 1)(x)
    total = sp.Add(*exps.flat)
    return np.frompyfunc(lambda v: v / total, 1, 1)(exps)


def _sym_outer(sp, a, b):
    return np.array([[u * v for v in b.flat] for u in a.flat], dtype=object)


def _sym_det(sp, a):
    with sp.evaluate(True):  # matrix algorithms need canonical forms to cancel terms
        return np.asarray(sp.Matrix(a.tolist()).det(method="berkowitz"), dtype=object)


def _sym_inv(sp, a):
    with sp.evaluate(True):
        inverse = sp.Matrix(a.tolist()).inv(method="ADJ")
    return np.array(inverse.tolist(), dtype=object).reshape(a.shape)


def _sym_stack(items):
    out = np.empty((len(items), *items[0].shape), dtype=object)
    for i, item in enumerate(items):
        out[i, ...] = item  # a 0-d item too: its entry, not the array itself
    return out


def _sym_index(sp, x, *idx):
    return np.asarray(x[tuple(int(i) for i in idx)], dtype=object)


# ---------------------------------------------------------------- the table


def _unary(name, forward, vjp, sympy, *, summary, switch=None, complex_safe=True):
    return Op(
        name,
        (1, 1),
        broadcast_shape,
        forward,
        (vjp,),
        sympy,
        elementwise=True,
        switch=switch,
        complex_safe=complex_safe,
        summary=summary,
    )


def _binary(name, forward, vjp_a, vjp_b, sympy, *, summary, public=False, switch=None, **kw):
    return Op(
        name,
        (2, 2),
        broadcast_shape,
        forward,
        (vjp_a, vjp_b),
        sympy,
        elementwise=True,
        switch=switch,
        public=public,
        summary=summary,
        **kw,
    )


def _tie(a, b):
    """Where a == b the gradient is split evenly, like SymPy's Heaviside(0) = 1/2."""
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))


_SQRT_PI = math.sqrt(math.pi)

_TABLE = [
    # element-wise arithmetic (the operators)
    _binary(
        "add",
        np.add,
        lambda g, o, a, b: g,
        lambda g, o, a, b: g,
        lambda sp, a, b: a + b,
        summary="a + b",
    ),
    _binary(
        "sub",
        np.subtract,
        lambda g, o, a, b: g,
        lambda g, o, a, b: -g,
        lambda sp, a, b: a - b,
        summary="a - b",
    ),
    _binary(
        "mul",
        np.multiply,
        lambda g, o, a, b: g * b,
        lambda g, o, a, b: g * a,
        lambda sp, a, b: a * b,
        summary="a * b",
    ),
    _binary(
        "div",
        np.divide,
        lambda g, o, a, b: g / b,
        lambda g, o, a, b: -g * o / b,
        lambda sp, a, b: a / b,
        summary="a / b",
    ),
    _binary(
        "pow",
        np.power,
        lambda g, o, a, b: g * b * np.power(a, b - 1),
        lambda g, o, a, b: g * o * np.log(a),
        lambda sp, a, b: a**b,
        summary="a ** b, also a ^ b",
    ),
    Op(
        "neg",
        (1, 1),
        broadcast_shape,
        np.negative,
        (lambda g, o, x: -g,),
        lambda sp, x: -x,
        elementwise=True,
        public=False,
        summary="-x",
    ),
    # element-wise functions
    _unary("sin", np.sin, lambda g, o, x: g * np.cos(x), lambda sp, x: sp.sin(x), summary="sine"),
    _unary(
        "cos", np.cos, lambda g, o, x: -g * np.sin(x), lambda sp, x: sp.cos(x), summary="cosine"
    ),
    _unary(
        "tan", np.tan, lambda g, o, x: g * (1 + o * o), lambda sp, x: sp.tan(x), summary="tangent"
    ),
    _unary(
        "asin",
        np.arcsin,
        lambda g, o, x: g / np.sqrt(1 - x * x),
        lambda sp, x: sp.asin(x),
        summary="inverse sine",
    ),
    _unary(
        "acos",
        np.arccos,
        lambda g, o, x: -g / np.sqrt(1 - x * x),
        lambda sp, x: sp.acos(x),
        summary="inverse cosine",
    ),
    _unary(
        "atan",
        np.arctan,
        lambda g, o, x: g / (1 + x * x),
        lambda sp, x: sp.atan(x),
        summary="inverse tangent",
    ),
    _unary(
        "sinh",
        np.sinh,
        lambda g, o, x: g * np.cosh(x),
        lambda sp, x: sp.sinh(x),
        summary="hyperbolic sine",
    ),
    _unary(
        "cosh",
        np.cosh,
        lambda g, o, x: g * np.sinh(x),
        lambda sp, x: sp.cosh(x),
        summary="hyperbolic cosine",
    ),
    _unary(
        "tanh",
        np.tanh,
        lambda g, o, x: g / np.cosh(x) ** 2,  # sech^2: 1 - tanh^2 cancels when tanh ~ 1
        lambda sp, x: sp.tanh(x),
        summary="hyperbolic tangent",
    ),
    _unary("exp", np.exp, lambda g, o, x: g * o, lambda sp, x: sp.exp(x), summary="e ** x"),
    _unary(
        "log", np.log, lambda g, o, x: g / x, lambda sp, x: sp.log(x), summary="natural logarithm"
    ),
    _unary(
        "sqrt",
        np.sqrt,
        lambda g, o, x: g / (2 * o),
        lambda sp, x: sp.sqrt(x),
        summary="square root",
    ),
    _unary(
        "abs",
        np.abs,
        lambda g, o, x: g * np.sign(x),
        lambda sp, x: sp.Abs(x),
        summary="absolute value",
        switch=lambda x: x,
        complex_safe=False,
    ),
    _unary(
        "sign",
        np.sign,
        lambda g, o, x: 0 * g,
        lambda sp, x: sp.sign(x),
        summary="-1, 0 or 1",
        switch=lambda x: x,
        complex_safe=False,
    ),
    _unary(
        "sigmoid",
        _stable_sigmoid,
        lambda g, o, x: g * o * _stable_sigmoid(-x),  # 1 - sigmoid(x) cancels for large x
        lambda sp, x: 1 / (1 + sp.exp(-x)),
        summary="1 / (1 + exp(-x))",
    ),
    _unary(
        "relu",
        lambda x: np.maximum(x, 0.0),
        lambda g, o, x: g * (x > 0),
        lambda sp, x: sp.Max(x, 0),
        summary="max(x, 0)",
        switch=lambda x: x,
        complex_safe=False,
    ),
    _unary(
        "softplus",
        _softplus,
        lambda g, o, x: g * _stable_sigmoid(x),
        lambda sp, x: sp.log(1 + sp.exp(x)),
        summary="log(1 + exp(x))",
    ),
    _unary(
        "erf",
        _erf,
        lambda g, o, x: g * (2 / _SQRT_PI) * np.exp(-x * x),
        lambda sp, x: sp.erf(x),
        summary="error function",
        complex_safe=False,
    ),
    _binary(
        "max",
        np.maximum,
        lambda g, o, a, b: g * _tie(a, b),
        lambda g, o, a, b: g * _tie(b, a),
        lambda sp, a, b: sp.Max(a, b),
        summary="element-wise larger of a and b",
        public=True,
        switch=lambda a, b: a - b,
        complex_safe=False,
    ),
    _binary(
        "min",
        np.minimum,
        lambda g, o, a, b: g * _tie(b, a),
        lambda g, o, a, b: g * _tie(a, b),
        lambda sp, a, b: sp.Min(a, b),
        summary="element-wise smaller of a and b",
        public=True,
        switch=lambda a, b: a - b,
        complex_safe=False,
    ),
    Op(
        "leaky_relu",
        (1, 2),
        broadcast_shape,
        lambda x, s: np.where(x > 0, x, s * x),
        (
            lambda g, o, x, s: g * np.where(x > 0, 1.0, s),
            lambda g, o, x, s: g * np.where(x > 0, 0, x),
        ),
        lambda sp, x, s: sp.Max(x, 0) + s * sp.Min(x, 0),
        elementwise=True,
        switch=lambda x, s: x,
        complex_safe=False,
        summary="x where x > 0, else slope * x (slope 0.01 when left out)",
    ),
    # reductions
    Op(
        "sum",
        (1, 1),
        _scalar,
        lambda x: np.sum(_rows(x), axis=1),
        (lambda g, o, x: np.broadcast_to(_per_entry(g, x), _adjoint_shape(g, x)),),
        lambda sp, x: np.asarray(_sym_total(sp, x), dtype=object),
        summary="sum of all entries",
    ),
    Op(
        "mean",
        (1, 1),
        _scalar,
        lambda x: np.mean(_rows(x), axis=1),
        (
            lambda g, o, x: np.broadcast_to(
                _per_entry(g, x) / _rows(x).shape[1], _adjoint_shape(g, x)
            ),
        ),
        lambda sp, x: np.asarray(_sym_total(sp, x) / x.size, dtype=object),
        summary="mean of all entries",
    ),
    Op(
        "norm",
        (1, 1),
        _scalar,
        _norm,
        (lambda g, o, x: _per_entry(g / o, x) * x,),
        lambda sp, x: np.asarray(sp.sqrt(sp.Add(*(v**2 for v in x.flat))), dtype=object),
        switch=lambda x: _norm(x),
        summary="Euclidean (Frobenius) norm",
    ),
    Op(
        "logsumexp",
        (1, 1),
        _scalar,
        _logsumexp,
        (lambda g, o, x: _per_entry(g, x) * np.exp(x - _per_entry(o, x)),),
        lambda sp, x: np.asarray(sp.log(sp.Add(*(sp.exp(v) for v in x.flat))), dtype=object),
        summary="log(sum(exp(x))), computed stably",
    ),
    Op(
        "softmax",
        (1, 1),
        _same,
        _softmax,
        (_softmax_vjp,),
        _sym_softmax,
        summary="exp(x) / sum(exp(x)) over all entries",
    ),
    # linear algebra
    Op(
        "dot",
        (2, 2),
        _dot_shape,
        lambda a, b: np.sum(_rows(a * b), axis=1),
        (lambda g, o, a, b: _per_entry(g, b) * b, lambda g, o, a, b: _per_entry(g, a) * a),
        lambda sp, a, b: np.asarray(sp.Add(*(u * v for u, v in zip(a.flat, b.flat))), dtype=object),
        summary="sum(a * b) for two arrays of the same shape",
    ),
    Op(
        "outer",
        (2, 2),
        _outer_shape,
        lambda a, b: _rows(a)[:, :, None] * _rows(b)[:, None, :],
        (
            lambda g, o, a, b: np.sum(g * _rows(b)[:, None, :], axis=2).reshape(
                _adjoint_shape(g, a)
            ),
            lambda g, o, a, b: np.sum(g * _rows(a)[:, :, None], axis=1).reshape(
                _adjoint_shape(g, b)
            ),
        ),
        _sym_outer,
        summary="outer product of the flattened a and b",
    ),
    Op(
        "matmul",
        (2, 2),
        _matmul_shape,
        _matmul,
        (_matmul_vjp_a, _matmul_vjp_b),
        _sym_matmul,
        public=False,
        summary="a @ b",
    ),
    Op(
        "transpose",
        (1, 1),
        _transpose_shape,
        lambda x: np.swapaxes(x, 1, -1) if x.ndim == 3 else x,
        (lambda g, o, x: np.swapaxes(g, 1, -1) if g.ndim == 3 else g,),
        lambda sp, x: x.T,
        summary="x.T, the transpose",
    ),
    Op(
        "trace",
        (1, 1),
        _square_scalar,
        lambda a: np.trace(a, axis1=-2, axis2=-1),
        (lambda g, o, a: _per_entry(g, a) * np.eye(a.shape[-1]),),
        lambda sp, a: np.asarray(sp.Add(*np.diagonal(a)), dtype=object),
        summary="sum of the diagonal",
    ),
    Op("det", (1, 1), _square_scalar, _det, (_det_vjp,), _sym_det, summary="determinant"),
    Op(
        "inv",
        (1, 1),
        _square_same,
        _inv,
        (lambda g, o, a: -_swap(o) @ g @ _swap(o),),
        _sym_inv,
        summary="matrix inverse",
    ),
    Op(
        "stack",
        (1, 1 << 30),
        lambda *items: (len(items), *items[0]),
        lambda *items: np.stack(np.broadcast_arrays(*items), axis=1),
        _EachItem(),
        lambda sp, *items: _sym_stack(items),
        public=False,
        summary="[a, b, c]",
    ),
    Op(
        "index",
        (1, 3),
        lambda x, *i: x[len(i) :],
        _index,
        (_index_vjp,) + (_no_gradient,) * 2,
        _sym_index,
        public=False,
        summary="z[2], W[0, 1]",
    ),
]

OPS: dict[str, Op] = {op.name: op for op in _TABLE}

#: The functions a user may call, with the number of arguments each takes.
FUNCTIONS: dict[str, tuple[int, int]] = {op.name: op.arity for op in _TABLE if op.public}

#: Slope of leaky_relu when the call gives none (as in PyTorch).
LEAKY_SLOPE = 0.01
