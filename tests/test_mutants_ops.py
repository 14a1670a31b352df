"""Tests that kill mutants `make mutate` found alive in engine/ops: the shape messages
users read, and the numerics of ops at the edges of their formulas."""

import pytest

import gradcheck


@pytest.mark.parametrize(
    ("expression", "at", "message"),
    [
        (
            "sum(x @ v)",
            ["x=2", "v=[1, 2]"],
            "@ needs arrays on both sides; use * to multiply by a scalar",
        ),
        (
            "sum(v @ x)",
            ["x=2", "v=[1, 2]"],
            "@ needs arrays on both sides; use * to multiply by a scalar",
        ),
        ("dot(u, v)", ["u=[1, 2]", "v=[1, 2, 3]"], "dot needs two arrays of the same shape"),
        ("det(A)", ["A=[[1, 2, 3], [4, 5, 6]]"], "A has shape (2, 3); it needs a square matrix"),
    ],
)
def test_shapes_that_do_not_fit_say_why(expression, at, message):
    with pytest.raises(gradcheck.ShapeError) as error:
        gradcheck.problem(expression, at=at)
    assert str(error.value).endswith(message)


def test_softplus_of_a_large_argument_neither_overflows_nor_loses_its_slope():
    out = gradcheck.check(gradcheck.problem("softplus(x)", at=["x=1000"])).problems[0]
    assert out.status == "pass"
    assert out.points[0].value == 1000.0
    assert float(out.points[0].gradient["x"].backprop) == 1.0


def test_sinc_at_zero_is_one_with_slope_zero():
    out = gradcheck.check(gradcheck.problem("sinc(x)", at=["x=0"])).problems[0]
    assert out.points[0].value == 1.0
    assert float(out.points[0].gradient["x"].backprop) == 0.0


@pytest.mark.xfail(strict=True, reason="the symbolic derivative of sinc at 0 evaluates to nan")
def test_sinc_at_zero_passes():
    out = gradcheck.check(gradcheck.problem("sinc(x)", at=["x=0"])).problems[0]
    assert out.status == "pass", out.message
