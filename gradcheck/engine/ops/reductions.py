"""Reductions along axes (NumPy's ``axis=`` and ``keepdims=``), and the normalisations
softmax and log_softmax. With no axis, every entry is combined (softmax too)."""

from __future__ import annotations

import math

import numpy as np

from gradcheck.engine import batched as bt
from gradcheck.engine.ops.core import NOT_ANALYTIC, Keyword, Op, normal_axes

AXIS = Keyword("axis", None, "axis")
KEEPDIMS = Keyword("keepdims", False, "bool")


def reduced_shape(shape: tuple[int, ...], *, axis=None, keepdims=False) -> tuple[int, ...]:
    """NumPy's shape of a reduction of ``shape`` along ``axis``."""
    reduced = normal_axes(len(shape), axis)
    if keepdims:
        return tuple(1 if i in reduced else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in reduced)


def shaped_along(shape: tuple[int, ...], *, axis=None) -> tuple[int, ...]:
    """A normalisation along ``axis`` keeps the shape (the axis is validated)."""
    normal_axes(len(shape), axis)
    return shape


# ---------------------------------------------------------------- SymPy over axes


def over(x: np.ndarray, axis, keepdims: bool, combine) -> np.ndarray:
    """``combine(entries)`` for the entries of object array ``x`` behind each output
    entry of a reduction along ``axis``."""
    blocks = bt.to_last(x[None], axis)[0]
    flat = blocks.reshape(-1, blocks.shape[-1])
    out = np.empty(len(flat), dtype=object)
    for i, entries in enumerate(flat):
        out[i] = combine(list(entries))
    return out.reshape(reduced_shape(x.shape, axis=axis, keepdims=keepdims))


def along(x: np.ndarray, axis, transform) -> np.ndarray:
    """``transform(entries) -> entries`` applied to each block of ``x`` along ``axis``."""
    blocks = bt.to_last(x[None], axis)[0]
    flat = blocks.reshape(-1, blocks.shape[-1])
    out = np.empty(flat.shape, dtype=object)
    for i, entries in enumerate(flat):
        out[i, :] = transform(list(entries))
    return bt.from_last(out.reshape(1, *blocks.shape), x[None], axis)[0]


def _sym(combine):
    """A reduction's lowering from ``combine(sp, entries) -> expression``."""
    return lambda sp, x, axis=None, keepdims=False: over(
        x, axis, keepdims, lambda entries: combine(sp, entries)
    )


def _sym_mean(sp, entries):
    return sp.Add(*entries) / len(entries)


def _sym_var(sp, entries):
    m = _sym_mean(sp, entries)
    return sp.Add(*((v - m) ** 2 for v in entries)) / len(entries)


def _sym_softmax(sp, x, axis=None):
    def normalise(entries):
        exps = [sp.exp(v) for v in entries]
        total = sp.Add(*exps)
        return [e / total for e in exps]

    return along(x, axis, normalise)


def _sym_log_softmax(sp, x, axis=None):
    def normalise(entries):
        total = sp.log(sp.Add(*(sp.exp(v) for v in entries)))
        return [v - total for v in entries]

    return along(x, axis, normalise)


# ---------------------------------------------------------------- numerics


def total(x, axis=None, keepdims=False):
    return np.sum(x, axis=bt.axes(x, axis), keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return total(x, axis, keepdims) / bt.count(x, axis)


def product(x, axis=None, keepdims=False):
    return np.prod(x, axis=bt.axes(x, axis), keepdims=keepdims)


def product_vjp(g, out, x, axis=None, keepdims=False):
    """g times the product of the other entries: prefix times suffix products, so that
    an entry of 0 gets its true derivative (out / x would be 0 / 0)."""
    entries = bt.to_last(x, axis)
    ones = np.ones_like(entries[..., :1])
    before = np.cumprod(np.concatenate([ones, entries[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, entries[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return bt.kept(g, x, axis, keepdims) * bt.from_last(before * after, x, axis)


def largest(x, axis=None, keepdims=False):
    return np.max(x, axis=bt.axes(x, axis), keepdims=keepdims)


def smallest(x, axis=None, keepdims=False):
    return np.min(x, axis=bt.axes(x, axis), keepdims=keepdims)


def extreme_vjp(g, out, x, axis=None, keepdims=False):
    """g shared evenly by the entries that attain the max (or min): at a tie, the
    midpoint of the one-sided derivatives."""
    attains = x == bt.kept(out, x, axis, keepdims)
    ties = np.sum(attains, axis=bt.axes(x, axis), keepdims=True)
    return bt.kept(g, x, axis, keepdims) * attains / ties


def _top_two(x, axis, sign):
    """The largest (sign 1) or smallest (sign -1) entry of each block and the gap to the
    next one (inf for a block of one entry), and where the extreme is."""
    entries = sign * bt.to_last(x, axis)
    if entries.shape[-1] == 1:
        return np.full(entries.shape[:-1], np.inf), np.zeros(entries.shape[:-1], dtype=np.intp)
    two = -np.partition(-entries, 1, axis=-1)[..., :2]
    return two[..., 0] - two[..., 1], np.argmax(entries, axis=-1)


def gap(sign):
    """The switch of a max (min): the gap between the two largest (smallest) entries,
    0 at a tie, where the entry that attains it changes."""

    def switch(x, axis=None, keepdims=False):
        distance, _ = _top_two(x, axis, sign)
        return _keep(distance, x, axis, keepdims)

    return switch


def which(sign):
    """The branch of a max (min): which entry attains it, -1 at a tie."""

    def branch(x, axis=None, keepdims=False):
        distance, where = _top_two(x, axis, sign)
        return _keep(np.where(distance == 0, -1, where), x, axis, keepdims)

    return branch


def _keep(values, x, axis, keepdims):
    return bt.kept(values, x, axis) if keepdims else values


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) along ``axis``, shifted by the largest entry to stay in range."""
    reduced = bt.axes(x, axis)
    top = np.max(x.real, axis=reduced, keepdims=True)  # complex step: the real part's
    top = np.where(np.isfinite(top), top, 0.0)
    out = top + np.log(np.sum(np.exp(x - top), axis=reduced, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=reduced)


def logsumexp_vjp(g, out, x, axis=None, keepdims=False):
    """g times softmax(x) along the axis, the gradient of logsumexp."""
    return bt.kept(g, x, axis, keepdims) * np.exp(x - bt.kept(out, x, axis, keepdims))


def softmax(x, axis=None):
    """exp(x) / sum(exp(x)) along ``axis`` (every entry when None), shifted to stay in
    range."""
    reduced = bt.axes(x, axis)
    shifted = np.exp(x - np.max(x.real, axis=reduced, keepdims=True))
    return shifted / np.sum(shifted, axis=reduced, keepdims=True)


def softmax_vjp(g, out, x, axis=None):
    """softmax's Jacobian (diag(s) - s s^T) applied to g along the axis, unformed."""
    return out * (g - np.sum(g * out, axis=bt.axes(x, axis), keepdims=True))


def log_softmax(x, axis=None):
    return x - logsumexp(x, axis, keepdims=True)


def log_softmax_vjp(g, out, x, axis=None):
    return g - np.exp(out) * np.sum(g, axis=bt.axes(x, axis), keepdims=True)


def norm(x, axis=None, keepdims=False):
    """The Euclidean norm along ``axis`` (Frobenius over several axes)."""
    return np.sqrt(total(x * x, axis, keepdims))


def norm_vjp(g, out, x, axis=None, keepdims=False):
    return bt.kept(g / out, x, axis, keepdims) * x


def _deviation(x, axis):
    return x - mean(x, axis, keepdims=True)


def variance(x, axis=None, keepdims=False):
    """The population variance (NumPy's default, ddof=0), without conjugates: complex
    step sees the analytic continuation."""
    d = _deviation(x, axis)
    return mean(d * d, axis, keepdims)


def variance_vjp(g, out, x, axis=None, keepdims=False):
    return bt.kept(g, x, axis, keepdims) * 2 * _deviation(x, axis) / bt.count(x, axis)


def deviation(x, axis=None, keepdims=False):
    return np.sqrt(variance(x, axis, keepdims))


def deviation_vjp(g, out, x, axis=None, keepdims=False):
    scale = bt.kept(g / out, x, axis, keepdims) / bt.count(x, axis)
    return scale * _deviation(x, axis)


# ---------------------------------------------------------------- the entries


def per_entry(operations: int):
    """The symbolic cost of an op that takes ``operations`` steps per entry it reads."""
    return lambda out, x, **params: operations * math.prod(x)


def reduction(name, *, forward, vjp, sympy, summary, operations=1, **rest) -> Op:
    """A reduction along ``axis=`` (every axis by default), with ``keepdims=``;
    ``sympy(sp, entries)`` combines the entries behind one output into one expression,
    in about ``operations`` steps per entry."""
    return Op(
        name,
        (1, 1),
        reduced_shape,
        forward,
        (vjp,),
        _sym(sympy),
        summary=summary,
        keywords=(AXIS, KEEPDIMS),
        cost=per_entry(operations),
        **rest,
    )


def normalisation(name, *, forward, vjp, sympy, summary) -> Op:
    """A normalisation along ``axis=`` (every entry by default): the shape is kept."""
    return Op(
        name,
        (1, 1),
        shaped_along,
        forward,
        (vjp,),
        sympy,
        summary=summary,
        keywords=(AXIS,),
        cost=per_entry(3),
    )


# fmt: off
TABLE = [
    reduction("sum", forward=total, sympy=lambda sp, e: sp.Add(*e), summary="sum of entries",
              vjp=lambda g, o, x, axis=None, keepdims=False: bt.spread(g, x, axis, keepdims)),
    reduction("mean", forward=mean, sympy=_sym_mean, summary="mean of entries",
              vjp=lambda g, o, x, axis=None, keepdims=False:
                  bt.spread(g, x, axis, keepdims) / bt.count(x, axis)),
    reduction("prod", forward=product, sympy=lambda sp, e: sp.Mul(*e),
              summary="product of entries", vjp=product_vjp),
    reduction("amax", forward=largest, sympy=lambda sp, e: sp.Max(*e), called="max",
              summary="largest entry (max(x) with one argument)", vjp=extreme_vjp,
              switch=gap(1), branch=which(1), no_complex=NOT_ANALYTIC),
    reduction("amin", forward=smallest, sympy=lambda sp, e: sp.Min(*e), called="min",
              summary="smallest entry (min(x) with one argument)", vjp=extreme_vjp,
              switch=gap(-1), branch=which(-1), no_complex=NOT_ANALYTIC),
    reduction("logsumexp", forward=logsumexp, sympy=lambda sp, e: sp.log(sp.Add(*map(sp.exp, e))),
              summary="log(sum(exp(x))), computed stably", vjp=logsumexp_vjp, operations=2),
    reduction("norm", forward=norm, sympy=lambda sp, e: sp.sqrt(sp.Add(*(v**2 for v in e))),
              summary="Euclidean (Frobenius) norm", vjp=norm_vjp, operations=2,
              switch=norm),  # no derivative where the norm is 0
    reduction("var", forward=variance, sympy=_sym_var, vjp=variance_vjp, operations=3,
              summary="population variance (ddof=0, as NumPy)"),
    reduction("std", forward=deviation, sympy=lambda sp, e: sp.sqrt(_sym_var(sp, e)),
              summary="population standard deviation (ddof=0, as NumPy)", vjp=deviation_vjp,
              operations=3,
              switch=deviation),
    normalisation("softmax", forward=softmax, sympy=_sym_softmax, vjp=softmax_vjp,
                  summary="exp(x) / sum(exp(x)) along axis (over every entry by default)"),
    normalisation("log_softmax", forward=log_softmax, sympy=_sym_log_softmax, vjp=log_softmax_vjp,
                  summary="x - logsumexp(x) along axis (over every entry by default)"),
]
# fmt: on
