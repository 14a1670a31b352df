"""Element-wise ops: arithmetic operators, functions and piecewise functions."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from gradcheck.engine.ops.core import (
    NO_COMPLEX_IMPLEMENTATION,
    elementwise,
    operator,
    piecewise,
    step,
)


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
    lambda o, x, s: step(x) + s * step(0.0, x),
    lambda o, x, s: np.minimum(x, 0.0),
)


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))  # the min: exp never overflows


def _elu_derivative(o, x):
    return step(x) + step(0.0, x) * np.exp(np.minimum(x, 0.0))


#: selu's constants, as PyTorch gives them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _selu(x: np.ndarray) -> np.ndarray:
    return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))


def _selu_derivative(o, x):
    return SELU_SCALE * (step(x) + SELU_ALPHA * step(0.0, x) * np.exp(np.minimum(x, 0.0)))


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


# ---------------------------------------------------------------- the table
# One entry per op. Element-wise entries give the local derivative ``(out, *args)``, the
# others their VJPs ``(g, out, *args)``; ``o`` is the op's output, ``g`` the upstream
# gradient. Laid out by hand, as a table.

# fmt: off
TABLE = [
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
              sympy=lambda sp, x: sp.Max(x, 0), derivative=lambda o, x: step(x)),
    piecewise("relu6", forward=lambda x: np.clip(x, 0.0, 6.0), summary="min(max(x, 0), 6)",
              sympy=lambda sp, x: sp.Min(sp.Max(x, 0), 6), switch=lambda x: 3 - np.abs(x - 3),
              derivative=lambda o, x: step(x) * step(6.0, x)),
    piecewise("hardtanh", forward=lambda x: np.clip(x, -1.0, 1.0), summary="x clipped to [-1, 1]",
              sympy=lambda sp, x: sp.Min(sp.Max(x, -1), 1), switch=lambda x: 1 - np.abs(x),
              derivative=lambda o, x: step(x, -1.0) * step(1.0, x)),
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
              derivative=(lambda o, a, b: step(a, b), lambda o, a, b: step(b, a))),
    piecewise("min", forward=np.minimum, sympy="Min", summary="element-wise smaller of a and b",
              switch=lambda a, b: a - b,
              derivative=(lambda o, a, b: step(b, a), lambda o, a, b: step(a, b))),
]
# fmt: on
