"""Reductions: sums, means, norms, logsumexp and softmax."""

from __future__ import annotations

import numpy as np

from gradcheck.engine import batched as bt
from gradcheck.engine.ops.core import Op, _same, reduction


def _sym_norm(sp, x):
    return sp.sqrt(sp.Add(*(v**2 for v in x.flat)))


def _sym_logsumexp(sp, x):
    return sp.log(sp.Add(*(sp.exp(v) for v in x.flat)))


def _sym_softmax(sp, x):
    exps = np.frompyfunc(sp.exp, 1, 1)(x)
    total = sp.Add(*exps.flat)
    return np.frompyfunc(lambda v: v / total, 1, 1)(exps)


# fmt: off
TABLE = [
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
]
# fmt: on
