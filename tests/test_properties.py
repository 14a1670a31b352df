"""Properties over random expressions: the symbolic, backprop and finite-difference answers
agree, and a wrong derivative rule is always caught."""

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gradcheck import Settings, check, problem
from gradcheck.engine.ops import OPS
from gradcheck.source.language import parse

# Smooth building blocks whose domains are kept away from singularities by construction.
UNARY = [
    "sin({})",
    "cos({})",
    "tanh({})",
    "atan({})",
    "sigmoid({})",
    "erf({})",
    "softplus({})",
    "exp(sin({}))",
    "exp(-({})**2)",
    "log(1 + ({})**2)",
    "sqrt(1 + ({})**2)",
    "sinh(tanh({}))",
    "cosh(sin({}))",
    "asin(tanh({})/2)",
    "acos(sigmoid({}))",
    "({})**2",
    "({})^3",
    "tan(atan({})/2)",
    "-({})",
]
BINARY = ["({} + {})", "({} - {})", "({} * {})", "({} / (1 + ({})**2))", "(0.5 * {} + {} / 3)"]
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def trees(leaves):
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(lambda t, a: t.format(a), st.sampled_from(UNARY), inner),
            st.builds(
                lambda t, a, b: t.format(a, b, b) if t.count("{}") == 3 else t.format(a, b),
                st.sampled_from(BINARY),
                inner,
                inner,
            ),
        ),
        max_leaves=6,
    )


SCALAR = trees(st.sampled_from(["x", "y", "z", "x", "y", "1.5", "0.25"]))
VECTOR = trees(st.sampled_from(["v", "u", "v", "2", "W @ u"]))
REDUCTIONS = [
    "sum({})",
    "mean({})",
    "logsumexp({})",
    "norm(1 + ({})**2)",
    "dot({}, u)",
    "sum(softmax({}) * v)",
    "u @ outer({}, v) @ u",
]
# Away from singularities, and from where the expressions as written lose digits
# (log(1 + u) with u tiny): that case has its own test, in test_check.
POINT = st.floats(min_value=-1.5, max_value=1.5, allow_nan=False).filter(lambda t: abs(t) >= 0.25)


def assert_estimators_agree(report):
    (out,) = report.problems
    assert out.status == "pass", (out.message, out.notes)
    point = out.points[0]
    for name, g in point.gradient.items():
        # the leaves and points are O(1), so round-off is at least ~1e-16 absolute even
        # where terms cancel to an f or a gradient of exactly 0
        scale = max(abs(point.value), float(np.max(np.abs(g.symbolic))), 1.0)
        np.testing.assert_allclose(
            g.backprop, g.symbolic, rtol=1e-10, atol=1e-12 * scale, err_msg=f"backprop d/d{name}"
        )
        # A central difference is as good as the computation's round-off allows, and f can
        # be tiny while its intermediates are not: hence an absolute floor (the default atol).
        np.testing.assert_allclose(
            g.central,
            g.symbolic,
            rtol=1e-5,
            atol=max(1e-9, 1e-7 * scale),
            err_msg=f"central d/d{name}",
        )


def names(expression):
    return parse(expression).names()


@PROPERTY
@given(SCALAR, POINT, POINT, POINT)
def test_scalar_expressions(expression, x, y, z):
    if not names(expression):
        expression += " + x"
    at = [f"{n}={v!r}" for n, v in zip("xyz", (x, y, z)) if n in names(expression)]
    assert_estimators_agree(check(problem(expression, at=at)))


@PROPERTY
@given(VECTOR, st.sampled_from(REDUCTIONS), st.integers(0, 2**31 - 1))
def test_vector_expressions(inner, reduction, seed):
    expression = reduction.format(f"{inner} + v")  # the + v makes every tree a vector
    shapes = {"v": "random(3)", "u": "random(3)", "W": "random(3, 3)"}
    at = [f"{n}={shapes[n]}" for n in names(expression)]
    report = check(problem(expression, at=at), Settings(seed=seed))
    assert_estimators_agree(report)


@PROPERTY
@given(SCALAR, st.sampled_from(["sin", "tanh", "exp", "sigmoid", "atan"]), POINT, POINT, POINT)
def test_a_wrong_rule_is_always_caught(expression, op, x, y, z):
    # The broken op sits at the top, so every entry's gradient flows through it.
    expression = f"{op}({expression} + x + y + z)"
    at = [f"x={x!r}", f"y={y!r}", f"z={z!r}"]
    right = OPS[op]
    wrong = replace(right, vjps=(lambda g, o, a: 1.01 * right.vjps[0](g, o, a),))
    original, OPS[op] = OPS[op], wrong
    try:
        (out,) = check(problem(expression, at=at)).problems
    finally:
        OPS[op] = original
    gradients = out.points[0].gradient.values()
    # What the wrong rule moved backprop by, against backprop's tolerance of 1e-12 of f's
    # scale (here at most a few): far above it, the entry must fail; far below it (a
    # zero gradient, right even when scaled), pass; in between either is right.
    shifts = [abs(float(g.backprop) - float(g.symbolic)) for g in gradients]
    assume(max(shifts) > 1e-10)
    assert out.status == "fail"
    for g, shift in zip(gradients, shifts):
        if shift > 1e-10:
            assert g.status[()] == "fail"
        elif shift < 1e-14:
            assert g.status[()] == "pass"
