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

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.engine import batched as bt
from gradcheck.engine.batched import DomainError

__all__ = ["FUNCTIONS", "LEAKY_SLOPE", "OPS", "DomainError", "Op", "broadcast_shape"]

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


def _square(shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError("it needs a square matrix")
    return shape


def _square_to_scalar(shape: tuple[int, ...]) -> tuple[int, ...]:
    _square(shape)
    return ()


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


def _stack_shape(*items: tuple[int, ...]) -> tuple[int, ...]:
    return (len(items), *items[0])


def _index_shape(x: tuple[int, ...], *indices: tuple[int, ...]) -> tuple[int, ...]:
    return x[len(indices) :]


# ---------------------------------------------------------------- element-wise numerics


def _step(a, b=0.0):
    """d max(a, b) / da: 1 above, 0 below, and the midpoint 1/2 exactly at the switch."""
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    if np.iscomplexobj(x):  # complex step: the analytic form (logaddexp is real only)
        return 1 / (1 + np.exp(-x))
    return np.exp(-np.logaddexp(0.0, -x))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(x)) if np.iscomplexobj(x) else np.logaddexp(0.0, x)


def _silu(x: np.ndarray) -> np.ndarray:
    return x * _sigmoid(x)


def _silu_derivative(o, x):
    return _sigmoid(x) * (1 + x * _sigmoid(-x))


def _mish(x: np.ndarray) -> np.ndarray:
    return x * np.tanh(_softplus(x))


def _mish_derivative(o, x):
    soft = _softplus(x)  # > 0, so sech^2 = (2 e^-soft / (1 + e^-2soft))^2 never overflows
    sech = 2 * np.exp(-soft) / (1 + np.exp(-2 * soft))
    return np.tanh(soft) + x * _sigmoid(x) * sech * sech  # sech^2, not 1 - tanh^2: no cancelling


def _entrywise(fn: Callable[[float], float]) -> Callable[[np.ndarray], np.ndarray]:
    """A real function from ``math`` (erf, erfc) applied entry by entry: no complex points."""
    each = np.frompyfunc(fn, 1, 1)
    return lambda x: np.asarray(each(x)).astype(x.dtype)


_erf, _erfc = _entrywise(math.erf), _entrywise(math.erfc)
_SQRT_2, _SQRT_PI = math.sqrt(2.0), math.sqrt(math.pi)


def _gelu(x: np.ndarray) -> np.ndarray:
    return x * _erfc(-x / _SQRT_2) / 2  # erfc: 1 + erf(x / sqrt 2) cancels for x << 0


def _gelu_derivative(o, x):
    return _erfc(-x / _SQRT_2) / 2 + x * np.exp(-x * x / 2) / (_SQRT_2 * _SQRT_PI)


def _cbrt(x: np.ndarray) -> np.ndarray:
    """The real cube root; at complex points, its analytic continuation off the real axis."""
    if not np.iscomplexobj(x):
        return np.cbrt(x)
    return np.where(x.real < 0, -((-x) ** (1 / 3)), x ** (1 / 3))


def _sinpi(x: np.ndarray) -> np.ndarray:
    """sin(pi x), exact at integers: x is reduced to [-1/2, 1/2] before pi multiplies it."""
    n = np.round(x.real)
    return np.where(n % 2, -1.0, 1.0) * np.sin(np.pi * (x - n))


def _cospi(x: np.ndarray) -> np.ndarray:
    n = np.round(x.real)
    return np.where(n % 2, -1.0, 1.0) * np.cos(np.pi * (x - n))


def _sinc(x: np.ndarray) -> np.ndarray:
    """sin(pi x) / (pi x), 1 at 0 (NumPy's sinc, without its rounding near integers)."""
    nonzero = np.where(x == 0, 1.0, x)
    return np.where(x == 0, 1.0, _sinpi(nonzero) / (np.pi * nonzero))


def _sinc_derivative(o, x):
    """(cos(pi x) - sinc(x)) / x; near 0, where that cancels, its series."""
    y = np.pi * x
    near = np.abs(y) < 0.5
    far = np.where(near, 1.0, x)
    direct = (_cospi(far) - _sinc(far)) / far
    # (y cos y - sin y) / y^2 = sum over n >= 1 of (-1)^n 2n y^(2n-1) / (2n+1)!; to n = 8,
    # the rest is below 1e-20 of the first term for |y| < 0.5
    series = sum(
        (-1) ** n * 2 * n * y ** (2 * n - 1) / math.factorial(2 * n + 1) for n in range(1, 9)
    )
    return np.where(near, np.pi * series, direct)


def _leaky_relu(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, s * x)


_leaky_relu_derivatives = (
    lambda o, x, s: _step(x) + s * _step(0.0, x),
    lambda o, x, s: np.minimum(x, 0.0),
)


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))  # the min: exp never overflows


def _elu_derivative(o, x):
    return _step(x) + _step(0.0, x) * np.exp(np.minimum(x, 0.0))


#: selu's constants, as PyTorch gives them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _selu(x: np.ndarray) -> np.ndarray:
    return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))


def _selu_derivative(o, x):
    return SELU_SCALE * (_step(x) + SELU_ALPHA * _step(0.0, x) * np.exp(np.minimum(x, 0.0)))


def _pow_exponent_derivative(o, a, b):
    """d a**b / db = a**b log(a); where a = 0 < b, its limit 0 (0 * log 0 would be nan)."""
    return np.where((o == 0) & (b > 0), 0.0, o * np.log(a))


# ---------------------------------------------------------------- SymPy lowerings


def _cfunction(name: str):
    """A function of SymPy's codegen (log1p, expm1): exact where log(1 + x) would round."""

    def lower(sp, x):
        from sympy.codegen import cfunctions

        return getattr(cfunctions, name)(x)

    return lower


def _log_base(base: int):
    return lambda sp, x: sp.log(x) / sp.log(base)


def _sym_cbrt(sp, x):
    return sp.sign(x) * sp.Abs(x) ** sp.Rational(1, 3)  # x ** (1/3) is complex for x < 0


def _sym_sinc(sp, x):
    return sp.sinc(sp.pi * x)  # SymPy's sinc is sin(x) / x, NumPy's sin(pi x) / (pi x)


def _sym_sigmoid(sp, x):
    return 1 / (1 + sp.exp(-x))


def _sym_softplus(sp, x):
    return sp.log(1 + sp.exp(x))


def _sym_gelu(sp, x):
    return x * sp.erfc(-x / sp.sqrt(2)) / 2


def _sym_leaky_relu(sp, x, s):
    return sp.Max(x, 0) + s * sp.Min(x, 0)


def _sym_elu(sp, x):
    return sp.Max(x, 0) + sp.exp(sp.Min(x, 0)) - 1


def _sym_selu(sp, x):
    alpha, scale = sp.Float(repr(SELU_ALPHA)), sp.Float(repr(SELU_SCALE))  # 17 digits
    return scale * (sp.Max(x, 0) + alpha * (sp.exp(sp.Min(x, 0)) - 1))


def _sym_norm(sp, x):
    return sp.sqrt(sp.Add(*(v**2 for v in x.flat)))


def _sym_logsumexp(sp, x):
    return sp.log(sp.Add(*(sp.exp(v) for v in x.flat)))


def _sym_softmax(sp, x):
    exps = np.frompyfunc(sp.exp, 1, 1)(x)
    total = sp.Add(*exps.flat)
    return np.frompyfunc(lambda v: v / total, 1, 1)(exps)


def _sym_dot(sp, a, b):
    return np.asarray(sp.Add(*(u * v for u, v in zip(a.flat, b.flat))), dtype=object)


def _sym_outer(sp, a, b):
    return np.array([[u * v for v in b.flat] for u in a.flat], dtype=object)


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


def _sym_trace(sp, a):
    return np.asarray(sp.Add(*np.diagonal(a)), dtype=object)


def _sym_det(sp, a):
    with sp.evaluate(True):  # matrix algorithms need canonical forms to cancel terms
        return np.asarray(sp.Matrix(a.tolist()).det(method="berkowitz"), dtype=object)


def _sym_inv(sp, a):
    with sp.evaluate(True):
        inverse = sp.Matrix(a.tolist()).inv(method="ADJ")
    return np.array(inverse.tolist(), dtype=object).reshape(a.shape)


def _sym_stack(sp, *items):
    out = np.empty((len(items), *items[0].shape), dtype=object)
    for i, item in enumerate(items):
        out[i, ...] = item  # a 0-d item too: its entry, not the array itself
    return out


def _sym_index(sp, x, *indices):
    return np.asarray(x[tuple(int(i) for i in indices)], dtype=object)


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


# ---------------------------------------------------------------- the table
# One entry per op. Element-wise entries give the local derivative ``(out, *args)``, the
# others their VJPs ``(g, out, *args)``; ``o`` is the op's output, ``g`` the upstream
# gradient. Laid out by hand, as a table.

# fmt: off
_TABLE = [
    # element-wise arithmetic: the operators
    operator("add", forward=np.add, sympy=lambda sp, a, b: a + b, summary="a + b",
             derivative=(1, 1)),
    operator("sub", forward=np.subtract, sympy=lambda sp, a, b: a - b, summary="a - b",
             derivative=(1, -1)),
    operator("mul", forward=np.multiply, sympy=lambda sp, a, b: a * b, summary="a * b",
             derivative=(lambda o, a, b: b, lambda o, a, b: a)),
    operator("div", forward=np.divide, sympy=lambda sp, a, b: a / b, summary="a / b",
             derivative=(lambda o, a, b: 1 / b, lambda o, a, b: -o / b)),
    operator("pow", forward=np.power, sympy=lambda sp, a, b: a**b, summary="a ** b, also a ^ b",
             derivative=(lambda o, a, b: b * np.power(a, b - 1), _pow_exponent_derivative)),
    operator("neg", forward=np.negative, sympy=lambda sp, x: -x, summary="-x",
             derivative=-1),
    # element-wise functions
    elementwise("sin", forward=np.sin, sympy="sin", summary="sine",
                derivative=lambda o, x: np.cos(x)),
    elementwise("cos", forward=np.cos, sympy="cos", summary="cosine",
                derivative=lambda o, x: -np.sin(x)),
    elementwise("tan", forward=np.tan, sympy="tan", summary="tangent",
                derivative=lambda o, x: 1 + o * o),
    elementwise("asin", forward=np.arcsin, sympy="asin", summary="inverse sine",
                derivative=lambda o, x: 1 / np.sqrt(1 - x * x)),
    elementwise("acos", forward=np.arccos, sympy="acos", summary="inverse cosine",
                derivative=lambda o, x: -1 / np.sqrt(1 - x * x)),
    elementwise("atan", forward=np.arctan, sympy="atan", summary="inverse tangent",
                derivative=lambda o, x: 1 / (1 + x * x)),
    elementwise("sinh", forward=np.sinh, sympy="sinh", summary="hyperbolic sine",
                derivative=lambda o, x: np.cosh(x)),
    elementwise("cosh", forward=np.cosh, sympy="cosh", summary="hyperbolic cosine",
                derivative=lambda o, x: np.sinh(x)),
    elementwise("tanh", forward=np.tanh, sympy="tanh", summary="hyperbolic tangent",
                derivative=lambda o, x: 1 / np.cosh(x) ** 2),  # 1 - o*o cancels where o ~ 1
    elementwise("asinh", forward=np.arcsinh, sympy="asinh", summary="inverse hyperbolic sine",
                derivative=lambda o, x: 1 / np.hypot(1, x)),
    elementwise("acosh", forward=np.arccosh, sympy="acosh", summary="inverse hyperbolic cosine",
                derivative=lambda o, x: 1 / (np.sqrt(x - 1) * np.sqrt(x + 1))),
    elementwise("atanh", forward=np.arctanh, sympy="atanh", summary="inverse hyperbolic tangent",
                derivative=lambda o, x: 1 / ((1 - x) * (1 + x))),
    elementwise("exp", forward=np.exp, sympy="exp", summary="e ** x",
                derivative=lambda o, x: o),
    elementwise("expm1", forward=np.expm1, sympy=_cfunction("expm1"), summary="exp(x) - 1",
                derivative=lambda o, x: np.exp(x)),
    elementwise("log", forward=np.log, sympy="log", summary="natural logarithm",
                derivative=lambda o, x: 1 / x),
    elementwise("log1p", forward=np.log1p, sympy=_cfunction("log1p"), summary="log(1 + x)",
                derivative=lambda o, x: 1 / (1 + x)),
    elementwise("log2", forward=np.log2, sympy=_log_base(2), summary="base-2 logarithm",
                derivative=lambda o, x: 1 / (x * math.log(2))),
    elementwise("log10", forward=np.log10, sympy=_log_base(10), summary="base-10 logarithm",
                derivative=lambda o, x: 1 / (x * math.log(10))),
    elementwise("sqrt", forward=np.sqrt, sympy="sqrt", summary="square root",
                derivative=lambda o, x: 1 / (2 * o)),
    elementwise("cbrt", forward=_cbrt, sympy=_sym_cbrt, summary="real cube root",
                derivative=lambda o, x: 1 / (3 * o * o)),
    elementwise("square", forward=np.square, sympy=lambda sp, x: x**2, summary="x ** 2",
                derivative=lambda o, x: 2 * x),
    elementwise("reciprocal", forward=lambda x: 1 / x, sympy=lambda sp, x: 1 / x, summary="1 / x",
                derivative=lambda o, x: -o * o),
    elementwise("sinc", forward=_sinc, sympy=_sym_sinc, summary="sin(pi x) / (pi x), 1 at 0",
                derivative=_sinc_derivative),
    elementwise("sigmoid", forward=_sigmoid, sympy=_sym_sigmoid, summary="1 / (1 + exp(-x))",
                derivative=lambda o, x: o * _sigmoid(-x)),  # 1 - o cancels for large x
    elementwise("softplus", forward=_softplus, sympy=_sym_softplus, summary="log(1 + exp(x))",
                derivative=lambda o, x: _sigmoid(x)),
    elementwise("silu", forward=_silu, sympy=lambda sp, x: x * _sym_sigmoid(sp, x),
                summary="x * sigmoid(x)", derivative=_silu_derivative),
    elementwise("mish", forward=_mish, sympy=lambda sp, x: x * sp.tanh(_sym_softplus(sp, x)),
                summary="x * tanh(softplus(x))", derivative=_mish_derivative),
    elementwise("erf", forward=_erf, sympy="erf", summary="error function",
                derivative=lambda o, x: 2 / _SQRT_PI * np.exp(-x * x),
                no_complex=NO_COMPLEX_IMPLEMENTATION),
    elementwise("gelu", forward=_gelu, sympy=_sym_gelu, summary="x * Phi(x), Phi the normal CDF",
                derivative=_gelu_derivative, no_complex=NO_COMPLEX_IMPLEMENTATION),
    # piecewise: exactly at a switch, the derivative is the midpoint of the one-sided ones
    piecewise("abs", forward=np.abs, sympy="Abs", summary="absolute value",
              derivative=lambda o, x: np.sign(x)),
    piecewise("sign", forward=np.sign, sympy="sign", summary="-1, 0 or 1",
              derivative=0),
    piecewise("heaviside", forward=lambda x: np.heaviside(x, 0.5), sympy="Heaviside",
              summary="0 below 0, 1 above, 1/2 at 0", derivative=0),
    piecewise("relu", forward=lambda x: np.maximum(x, 0.0), summary="max(x, 0)",
              sympy=lambda sp, x: sp.Max(x, 0), derivative=lambda o, x: _step(x)),
    piecewise("relu6", forward=lambda x: np.clip(x, 0.0, 6.0), summary="min(max(x, 0), 6)",
              sympy=lambda sp, x: sp.Min(sp.Max(x, 0), 6), switch=lambda x: 3 - np.abs(x - 3),
              derivative=lambda o, x: _step(x) * _step(6.0, x)),
    piecewise("hardtanh", forward=lambda x: np.clip(x, -1.0, 1.0), summary="x clipped to [-1, 1]",
              sympy=lambda sp, x: sp.Min(sp.Max(x, -1), 1), switch=lambda x: 1 - np.abs(x),
              derivative=lambda o, x: _step(x, -1.0) * _step(1.0, x)),
    piecewise("leaky_relu", forward=_leaky_relu, sympy=_sym_leaky_relu, arity=(1, 2),
              summary="x where x > 0, else slope * x (slope 0.01 when left out)",
              switch=lambda x, s: x, derivative=_leaky_relu_derivatives),
    piecewise("elu", forward=_elu, sympy=_sym_elu, summary="x where x > 0, else exp(x) - 1",
              derivative=_elu_derivative),
    piecewise("selu", forward=_selu, sympy=_sym_selu, summary="scale * elu(x) with alpha",
              derivative=_selu_derivative),
    piecewise("softsign", forward=lambda x: x / (1 + np.abs(x)), summary="x / (1 + abs(x))",
              sympy=lambda sp, x: x / (1 + sp.Abs(x)),
              derivative=lambda o, x: 1 / (1 + np.abs(x)) ** 2),
    piecewise("max", forward=np.maximum, sympy="Max", summary="element-wise larger of a and b",
              switch=lambda a, b: a - b,
              derivative=(lambda o, a, b: _step(a, b), lambda o, a, b: _step(b, a))),
    piecewise("min", forward=np.minimum, sympy="Min", summary="element-wise smaller of a and b",
              switch=lambda a, b: a - b,
              derivative=(lambda o, a, b: _step(b, a), lambda o, a, b: _step(a, b))),
    # reductions
    reduction("sum", forward=bt.total, sympy=lambda sp, x: sp.Add(*x.flat),
              summary="sum of all entries", vjp=lambda g, o, x: bt.spread(g, x)),
    reduction("mean", forward=bt.mean, sympy=lambda sp, x: sp.Add(*x.flat) / x.size,
              summary="mean of all entries", vjp=lambda g, o, x: bt.spread(g, x) / x[0].size),
    reduction("norm", forward=bt.norm, sympy=_sym_norm, summary="Euclidean (Frobenius) norm",
              vjp=lambda g, o, x: bt.per_entry(g / o, x) * x, switch=bt.norm),
    reduction("logsumexp", forward=bt.logsumexp, sympy=_sym_logsumexp,
              summary="log(sum(exp(x))), computed stably", vjp=bt.logsumexp_vjp),
    Op("softmax", arity=(1, 1), shape=_same, forward=bt.softmax, sympy=_sym_softmax,
       summary="exp(x) / sum(exp(x)) over all entries", vjps=(bt.softmax_vjp,)),
    # linear algebra
    Op("dot", arity=(2, 2), shape=_dot_shape, forward=bt.dot, sympy=_sym_dot,
       summary="sum(a * b) for two arrays of the same shape", vjps=(bt.dot_vjp_a, bt.dot_vjp_b)),
    Op("outer", arity=(2, 2), shape=_outer_shape, forward=bt.outer, sympy=_sym_outer,
       summary="outer product of the flattened a and b", vjps=(bt.outer_vjp_a, bt.outer_vjp_b)),
    Op("matmul", arity=(2, 2), shape=_matmul_shape, forward=bt.matmul, sympy=_sym_matmul,
       summary="a @ b", vjps=(bt.matmul_vjp_a, bt.matmul_vjp_b), public=False),
    Op("transpose", arity=(1, 1), shape=lambda s: s[::-1], forward=bt.reverse_axes,
       sympy=lambda sp, x: x.T, summary="x.T, every axis reversed",
       vjps=(lambda g, o, x: bt.reverse_axes(g),)),  # reversing twice is the identity
    Op("trace", arity=(1, 1), shape=_square_to_scalar, forward=bt.trace, sympy=_sym_trace,
       summary="sum of the diagonal", vjps=(bt.trace_vjp,)),
    Op("det", arity=(1, 1), shape=_square_to_scalar, forward=bt.det, sympy=_sym_det,
       summary="determinant", vjps=(bt.det_vjp,)),
    Op("inv", arity=(1, 1), shape=_square, forward=bt.inv, sympy=_sym_inv,
       summary="matrix inverse", vjps=(bt.inv_vjp,)),
    # lists and indexing: written [a, b] and z[2], never called by name
    Op("stack", arity=(1, 1 << 30), shape=_stack_shape, forward=bt.stack, sympy=_sym_stack,
       summary="[a, b, c]", vjps=bt.EachItem(), public=False),
    Op("index", arity=(1, 3), shape=_index_shape, forward=bt.index, sympy=_sym_index,
       summary="z[2], W[0, 1]", vjps=(bt.index_vjp, bt.no_gradient, bt.no_gradient),
       public=False),
]
# fmt: on

OPS: dict[str, Op] = {op.name: op for op in _TABLE}

#: The functions a user may call, with the number of arguments each takes.
FUNCTIONS: dict[str, tuple[int, int]] = {op.name: op.arity for op in _TABLE if op.public}

#: Slope of leaky_relu when the call gives none (as in PyTorch).
LEAKY_SLOPE = 0.01
