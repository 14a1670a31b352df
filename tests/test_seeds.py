"""Golden values from the seed homework (../shared/seeds), checked through the library."""

import numpy as np
import pytest

import gradcheck
from gradcheck import Settings, check, problem

Q1 = "1/(2+sin(w1*x1)**2+cos(w2*x2))"


def only_point(built, **settings):
    report = check(built, Settings(**settings))
    (result,) = report.problems
    assert result.status == "pass", result.message or result.notes
    (point,) = result.points
    return point


def test_seed_000_q1_golden_values():
    point = only_point(problem(Q1, at=["w1=-3", "x1=-2", "w2=2", "x2=-1"]))
    assert point.symbolic_value == pytest.approx(0.6017114415641729, rel=1e-15)
    assert point.value == pytest.approx(0.6017114415641729, rel=1e-15)
    golden = {
        "w1": -0.38853959590483285,
        "x1": -0.5828093938572493,
        "w2": 0.32921718831127095,
        "x2": -0.6584343766225419,
    }
    for name, value in golden.items():
        g = point.gradient[name]
        assert float(g.symbolic) == pytest.approx(value, rel=1e-12)
        assert float(g.backprop) == pytest.approx(value, rel=1e-12)


def test_seed_001_q1_at_another_point():
    point = only_point(problem(Q1, at=["x1=1", "w1=2", "x2=3", "w2=4"]))
    golden = {
        "x1": 0.1123363997363994,
        "w1": 0.0561681998681997,
        "x2": -0.15929299963446267,
        "w2": -0.11946974972584701,
    }
    for name, value in golden.items():
        assert float(point.gradient[name].symbolic) == pytest.approx(value, rel=1e-12)
        assert float(point.gradient[name].backprop) == pytest.approx(value, rel=1e-12)


def test_seed_000_q2_sigmoid_norm():
    point = only_point(
        problem("sum(sigmoid(W @ x)**2)", at=["W=[[1,2,3],[3,1,2],[2,3,1]]", "x=[[1],[1],[1]]"])
    )
    assert point.value == pytest.approx(2.985182602656016, rel=1e-14)
    for source in ("symbolic", "backprop"):
        np.testing.assert_allclose(getattr(point.gradient["W"], source), 0.004920821087, rtol=1e-9)
        np.testing.assert_allclose(getattr(point.gradient["x"], source), 0.02952492652, rtol=1e-9)
    assert point.gradient["x"].backprop.shape == (3, 1)


def test_seed_002_q1_relu_chain_and_its_finite_differences():
    built = problem(
        "(w3*relu(w2*relu(w1*x)) - y)**2",
        at=["x=1", "y=10", "w1=2", "w2=2", "w3=3"],
        wrt=["w1", "w2", "w3"],
    )
    point = only_point(built)
    for name, value in {"w1": 24, "w2": 24, "w3": 16}.items():
        assert float(point.gradient[name].symbolic) == value
        assert float(point.gradient[name].backprop) == value
    fixed = only_point(built, step=1e-4)
    for name, fwd, bwd in [
        ("w1", 24.0036, 23.9964),
        ("w2", 24.0036, 23.9964),
        ("w3", 16.0016, 15.9984),
    ]:
        assert float(fixed.gradient[name].forward) == pytest.approx(fwd, rel=1e-9)
        assert float(fixed.gradient[name].backward) == pytest.approx(bwd, rel=1e-9)


NETWORK = ["p=V1 @ x + b1", "q=relu(p)", "z=V2 @ q + b2"]


def test_seed_004_network_0():
    point = only_point(
        problem(
            "0.5 * sum((z - y)**2)",
            lets=NETWORK,
            wrt=["V1", "b1", "V2", "b2"],
            at=[
                "V1=[[2, -1], [0, 3], [2, 1]]",
                "b1=[2, -1, 3]",
                "V2=[[2, 1, -3], [3, -1, 2]]",
                "b2=[4, 2]",
                "x=[-1, 2]",
                "y=[-4, 1]",
            ],
        )
    )
    assert point.value == 10
    expected = {
        "V2": [[0, 20, 12], [0, 10, 6]],
        "b2": [4, 2],
        "V1": [[0, 0], [-2, 4], [8, -16]],
        "b1": [0, 2, -8],
    }
    for name, value in expected.items():
        np.testing.assert_array_equal(point.gradient[name].symbolic, value)
        np.testing.assert_array_equal(point.gradient[name].backprop, value)


def test_seed_004_network_1_scalar_output():
    point = only_point(
        problem(
            "0.5 * (z - y)**2",
            lets=NETWORK,
            wrt=["V1", "b1", "V2", "b2"],
            at=[
                "V1=[[2, -1, 0], [0, 1, 3]]",
                "b1=[2, -1]",
                "V2=[2, -3]",
                "b2=4",
                "x=[-1, 2, 0]",
                "y=3",
            ],
        )
    )
    assert point.value == 2
    expected = {"V1": [[0, 0, 0], [-6, 12, 0]], "b1": [0, 6], "V2": [0, -2], "b2": -2}
    for name, value in expected.items():
        np.testing.assert_array_equal(point.gradient[name].backprop, value)
        np.testing.assert_array_equal(point.gradient[name].symbolic, value)


def test_seed_004_network_2_hinge_loss_indexed_by_the_label():
    built = problem(
        "logsumexp(z) - z[y]",
        lets=NETWORK,
        at=[
            "V1=[[1, 2], [1, 0]]",
            "b1=[-5, 2]",
            "V2=[[2, -3], [1, 0], [-1, -1]]",
            "b2=[1, 3, -2]",
            "x=[-1, 2]",
            "y=2",
        ],
    )
    assert "y" not in built.wrt  # used as an index, so not differentiated
    point = only_point(built)
    assert point.value == pytest.approx(6.0091744845917345, rel=1e-15)
    np.testing.assert_allclose(
        point.gradient["b2"].backprop, [0.00667641, 0.99086747, -0.99754389], atol=5e-9
    )
    np.testing.assert_allclose(point.gradient["b1"].backprop, [0, 0.97751465], atol=5e-9)
    np.testing.assert_allclose(
        point.gradient["V1"].symbolic, [[0, 0], [-0.97751465, 1.9550293]], atol=5e-8
    )


def test_the_library_doctest():
    import doctest

    assert doctest.testmod(gradcheck).failed == 0
