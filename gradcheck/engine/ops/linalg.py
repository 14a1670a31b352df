"""Linear algebra of square (and rectangular) matrices: trace, determinants (det, logdet,
slogdet), inverses (inv, solve, pinv) and matrix_power. The group's table also holds the
products (``products``: @, dot, outer, kron), ``einsum`` and the running sums and
products (``cumulative``)."""

from __future__ import annotations

import math

import numpy as np

from gradcheck.engine import batched as bt
from gradcheck.engine.ops import cumulative, products
from gradcheck.engine.ops.core import REQUIRED, Keyword, Op
from gradcheck.engine.ops.einsum import EINSUM
from gradcheck.engine.ops.products import sym_matmul

# ---------------------------------------------------------------- shape rules


def _square(shape: tuple[int, ...], **params) -> tuple[int, ...]:
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError("it needs a square matrix")
    return shape


def _square_to_scalar(shape: tuple[int, ...]) -> tuple[int, ...]:
    _square(shape)
    return ()


def _det_cost(out: tuple[int, ...], a: tuple[int, ...]) -> int:
    return math.factorial(a[0]) * a[0]


def _inv_cost(out: tuple[int, ...], a: tuple[int, ...]) -> int:
    return math.factorial(a[0]) * a[0] * math.prod(a)


# ---------------------------------------------------------------- square matrices


det = bt.lapack(np.linalg.det)


@bt.lapack
def inv(a: np.ndarray) -> np.ndarray:
    """Each matrix's inverse."""
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise bt.DomainError("the matrix is singular") from None


def cofactors(a: np.ndarray) -> np.ndarray:
    """Cofactor matrices, the derivative of det that exists even for singular matrices."""
    n = a.shape[-1]
    out = np.empty(a.shape, dtype=a.dtype)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, axis=-2), j, axis=-1)
            out[..., i, j] = (-1) ** (i + j) * (det(minor) if n > 1 else 1.0)
    return out


def trace(a: np.ndarray) -> np.ndarray:
    """The sum of each matrix's diagonal."""
    return np.trace(a, axis1=-2, axis2=-1)


def _sym_trace(sp, a):
    return np.asarray(sp.Add(*np.diagonal(a)), dtype=object)


def _sym_det(sp, a):
    with sp.evaluate(True):  # matrix algorithms need canonical forms to cancel terms
        return np.asarray(sp.Matrix(a.tolist()).det(method="berkowitz"), dtype=object)


def _sym_inv(sp, a):
    with sp.evaluate(True):
        inverse = sp.Matrix(a.tolist()).inv(method="ADJ")
    return np.array(inverse.tolist(), dtype=object).reshape(a.shape)


# ---------------------------------------------------------------- matrix_power


def matrix_power(x: np.ndarray, k: int) -> np.ndarray:
    """X^k for each batch entry (k < 0: the inverse's power)."""
    return np.linalg.matrix_power(inv(x) if k < 0 else x, abs(k))


def matrix_power_vjp(g, out, x, k):
    """sum_i (Y^T)^i G (Y^T)^(m-1-i) for Y^m, Y = X (or X^-1 when k < 0): the top-right
    block of [[Y^T, G], [0, Y^T]]^m, so that the work grows with log m, not m."""
    base, m, n = inv(x) if k < 0 else x, abs(k), x.shape[-1]
    if m == 0:
        return np.zeros(bt.adjoint_shape(g, x))
    batch = bt.batch_of(g, base)
    block = np.zeros((batch, 2 * n, 2 * n), dtype=np.result_type(g, base))
    block[:, :n, :n] = block[:, n:, n:] = bt.swap(base)
    block[:, :n, n:] = g
    d = np.linalg.matrix_power(block, m)[:, :n, n:]
    return d if k > 0 else -bt.swap(base) @ d @ bt.swap(base)


def _sym_identity(sp, n: int) -> np.ndarray:
    return np.array([[sp.Integer(int(i == j)) for j in range(n)] for i in range(n)], dtype=object)


def _sym_matrix_power(sp, x, k):
    """Repeated squaring, as NumPy does it."""
    square, m, power = _sym_inv(sp, x) if k < 0 else x, abs(k), None
    while m:
        if m & 1:
            power = square if power is None else sym_matmul(sp, power, square)
        m >>= 1
        if m:
            square = sym_matmul(sp, square, square)
    return _sym_identity(sp, x.shape[0]) if power is None else power


def _power_cost(out, x, k) -> int:
    products = abs(k).bit_length() + bin(abs(k)).count("1")
    return products * x[0] ** 3 + (_inv_cost(out, x) if k < 0 else 0)


# ---------------------------------------------------------------- solve


def _solve_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if len(a) != 2 or a[0] != a[1]:
        raise ValueError("solve(A, b) needs A square")
    if len(b) not in (1, 2) or b[0] != a[0]:
        raise ValueError(f"b must have {a[0]} rows, as A does: a vector or a matrix")
    return b


def _solved(a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """A^-1 rhs for each batch entry, rhs of shape (B, n, k)."""
    dtype = np.result_type(a, rhs)
    native = dtype in (np.float32, np.float64, np.complex64, np.complex128)
    try:
        if native:
            return np.linalg.solve(a, rhs)
        return np.linalg.solve(a.astype(np.float64), rhs.astype(np.float64)).astype(dtype)
    except np.linalg.LinAlgError:
        raise bt.DomainError("the matrix is singular") from None


def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The x with A x = b, for each batch entry (b a vector or a matrix)."""
    return _solved(a, b[..., None])[..., 0] if b.ndim == 2 else _solved(a, b)


def solve_vjp_b(g, out, a, b):
    """A^-T g: the same system, transposed."""
    return solve(bt.swap(a), g)


def solve_vjp_a(g, out, a, b):
    """-(A^-T g) x^T."""
    gb = solve_vjp_b(g, out, a, b)
    if b.ndim == 2:
        return -gb[:, :, None] * out[:, None, :]
    return -gb @ bt.swap(out)


def _sym_solve(sp, a, b):
    return sym_matmul(sp, _sym_inv(sp, a), b)


def _solve_cost(out, a, b) -> int:
    return _inv_cost((), a) + a[0] * math.prod(b)


# ---------------------------------------------------------------- log-determinants


@bt.lapack
def logdet(a: np.ndarray) -> np.ndarray:
    """log(det A): nan where det A < 0 and -inf where it is 0, so that the point is
    refused as not finite, naming this node (slogdet is log|det A|)."""
    sign, logabs = np.linalg.slogdet(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        return logabs + np.log(sign)  # 0 for a positive real det; the phase for complex step


@bt.lapack
def slogdet(a: np.ndarray) -> np.ndarray:
    """log|det A|, NumPy's slogdet without its sign; at a complex point, the analytic
    continuation of log(+det A) or log(-det A), whichever is real there."""
    sign, logabs = np.linalg.slogdet(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        return logabs + np.log(sign * np.where(sign.real < 0, -1, 1))


def logdet_vjp(g, out, a):
    """g A^-T, for log det and log|det| alike."""
    return bt.per_entry(g, a) * bt.swap(inv(a))


def _logdet_cost(out, a) -> int:
    return _det_cost(out, a) + 1


# ---------------------------------------------------------------- pinv


def _pinv_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(shape) != 2:
        raise ValueError("pinv needs a matrix")
    return shape[::-1]


def pinv(a: np.ndarray) -> np.ndarray:
    """The Moore-Penrose pseudo-inverse of each batch entry."""
    if np.iscomplexobj(a):
        return _full_rank_pinv(a)
    try:
        return bt.lapack(np.linalg.pinv)(a)
    except np.linalg.LinAlgError:
        raise bt.DomainError("its singular value decomposition does not converge") from None


def _full_rank_pinv(a: np.ndarray) -> np.ndarray:
    """(A^T A)^-1 A^T, or A^T (A A^T)^-1 when A is wide: pinv at full rank, with plain
    transposes where np.linalg.pinv conjugates, so that complex step sees its derivative."""
    if a.shape[-2] >= a.shape[-1]:
        return _solved(bt.swap(a) @ a, bt.swap(a))
    return bt.swap(_solved(a @ bt.swap(a), a))


def pinv_vjp(g, out, a):
    """The derivative of pinv where the rank is constant (Golub and Pereyra, 1973),
    applied to g: -P^T g P^T + (I - A P) g^T P P^T + P^T P g^T (I - P A), P = pinv(A)."""
    p, pt, gt = out, bt.swap(out), bt.swap(g)
    left = np.eye(a.shape[-2]) - a @ p
    right = np.eye(a.shape[-1]) - p @ a
    return -pt @ g @ pt + left @ gt @ p @ pt + pt @ p @ gt @ right


def _sym_pinv(sp, a):
    at = np.ascontiguousarray(a.T)
    if a.shape[0] >= a.shape[1]:
        return sym_matmul(sp, _sym_inv(sp, sym_matmul(sp, at, a)), at)
    return sym_matmul(sp, at, _sym_inv(sp, sym_matmul(sp, a, at)))


def _pinv_cost(out, a) -> int:
    k = min(a)
    return 2 * math.prod(a) * k + _inv_cost((), (k, k))


# fmt: off
TABLE = [
    *products.TABLE,
    Op("trace", arity=(1, 1), shape=_square_to_scalar, forward=trace, sympy=_sym_trace,
       summary="sum of the diagonal",
       vjps=(lambda g, o, a: bt.per_entry(g, a) * np.eye(a.shape[-1]),)),
    Op("det", arity=(1, 1), shape=_square_to_scalar, forward=det, sympy=_sym_det,
       summary="determinant", vjps=(lambda g, o, a: bt.per_entry(g, a) * cofactors(a),),
       cost=_det_cost),
    Op("inv", arity=(1, 1), shape=_square, forward=inv, sympy=_sym_inv,
       summary="matrix inverse", cost=_inv_cost,
       vjps=(lambda g, o, a: -bt.swap(o) @ g @ bt.swap(o),)),
    Op("matrix_power", arity=(1, 1), shape=_square, forward=matrix_power,
       sympy=_sym_matrix_power, keywords=(Keyword("k", REQUIRED, "int", positional=True),),
       summary="X @ X @ ... (k factors; k = 0: the identity; k < 0: powers of inv(X))",
       vjps=(matrix_power_vjp,), cost=_power_cost),
    Op("solve", arity=(2, 2), shape=_solve_shape, forward=solve, sympy=_sym_solve,
       summary="the x with A @ x = b, for A square and b a vector or a matrix",
       vjps=(solve_vjp_a, solve_vjp_b), cost=_solve_cost),
    Op("logdet", arity=(1, 1), shape=_square_to_scalar, forward=logdet,
       sympy=lambda sp, a: sp.log(_sym_det(sp, a)[()]), vjps=(logdet_vjp,), cost=_logdet_cost,
       summary="log(det(A)), for det(A) > 0 (not finite elsewhere; slogdet is log|det(A)|)"),
    Op("slogdet", arity=(1, 1), shape=_square_to_scalar, forward=slogdet,
       sympy=lambda sp, a: sp.log(sp.Abs(_sym_det(sp, a)[()])), vjps=(logdet_vjp,),
       cost=_logdet_cost,
       summary="log|det(A)|, NumPy's slogdet(A)[1]; the sign, sign(det(A)), has no derivative"),
    Op("pinv", arity=(1, 1), shape=_pinv_shape, forward=pinv, sympy=_sym_pinv,
       summary="Moore-Penrose pseudo-inverse (differentiable where the rank does not change)",
       vjps=(pinv_vjp,), cost=_pinv_cost),
    EINSUM,
    *cumulative.TABLE,
]
# fmt: on
