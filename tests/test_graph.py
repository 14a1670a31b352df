"""The compiled graph: order, sharing, fan-out, batching, kinks and non-finite values."""

import numpy as np
import pytest

from gradcheck.engine.graph import unbroadcast
from gradcheck.errors import ValueProblem

from .conftest import batched, program


def test_arguments_come_before_their_users_and_order_is_reproducible():
    p = program("sin(x)*cos(y) + x")
    for i, args in enumerate(p.args):
        assert all(j < i for j in args)
    assert [n.op for n in p.nodes] == [n.op for n in program("sin(x)*cos(y) + x").nodes]


def test_fan_out_accumulates():
    # x is used three times; a graph that overwrites adjoints would give 1, not 2x + 1.
    p = program("x*x + x")
    _, grads = p.gradient(batched(x=3.0), ["x"])
    assert grads["x"][0] == 7.0


def test_one_pass_evaluates_many_points():
    p = program("sum(sigmoid(W @ x)**2)", W=(3, 3), x=(3,))
    rng = np.random.default_rng(0)
    W, x = rng.normal(size=(5, 3, 3)), rng.normal(size=(5, 3))
    values, grads = p.gradient({"W": W, "x": x}, ["W", "x"])
    for b in range(5):
        value, grad = p.gradient(batched(W=W[b], x=x[b]), ["W", "x"])
        assert values[b] == pytest.approx(value[0], rel=1e-15)
        np.testing.assert_allclose(grads["W"][b], grad["W"][0], rtol=1e-14)


def test_a_shared_input_broadcasts_against_a_batch():
    p = program("sum(W @ x)", W=(2, 2), x=(2,))
    out = p.value({"W": np.eye(2)[None], "x": np.array([[1.0, 2.0], [3.0, 4.0]])})
    np.testing.assert_array_equal(out, [3.0, 7.0])


def test_unbroadcast_sums_what_broadcasting_copied():
    g = np.ones((4, 2, 3))
    assert unbroadcast(g, (3,)).shape == (4, 3) and unbroadcast(g, (3,))[0, 0] == 2
    assert unbroadcast(g, (2, 1)).shape == (4, 2, 1) and unbroadcast(g, (2, 1))[0, 0, 0] == 3
    assert unbroadcast(g, ()).shape == (4,) and unbroadcast(g, ())[0] == 6


def test_lets_are_shared_not_copied():
    from gradcheck.source.problems import problem

    built = problem(
        "sum(q) + sum(q**2)", lets=["q=relu(V @ x)"], at=["V=[[1, 2], [3, 4]]", "x=[1, -1]"]
    )
    relus = [n for n in built.program.nodes if n.op == "relu"]
    assert len(relus) == 1 and relus[0].name == "q"


def test_first_nonfinite_names_the_node():
    p = program("exp(x) + log(y)")
    values = p.forward(batched(x=1.0, y=-1.0))
    assert p.nodes[p.first_nonfinite(values)].op == "log"


def test_branches_say_which_side_of_each_switch():
    p = program("relu(x) + abs(y) + max(x, y)")
    sides = p.branches(p.forward(batched(x=-2.0, y=0.0)))
    assert sorted(float(s[0]) for s in sides.values()) == [-1.0, -1.0, 0.0]


def test_domain_errors_name_the_node():
    p = program("sum(inv(A))", A=(2, 2))
    with pytest.raises(ValueProblem) as info:
        p.forward(batched(A=np.ones((2, 2))))
    assert "singular" in info.value.message and "inv(A)" in info.value.message


def test_index_by_a_value_checks_range_and_integrality():
    p = program("z[y]", z=(3,))
    assert p.value(batched(z=[1.0, 2.0, 3.0], y=2.0))[0] == 3.0
    with pytest.raises(ValueProblem, match="out of range"):
        p.value(batched(z=[1.0, 2.0, 3.0], y=3.0))
    with pytest.raises(ValueProblem, match="not an integer"):
        p.value(batched(z=[1.0, 2.0, 3.0], y=0.5))


def test_fingerprint_sees_constants_and_shapes():
    assert program("2*x").fingerprint() != program("3*x").fingerprint()
    assert program("sum(x)", x=(2,)).fingerprint() != program("sum(x)", x=(3,)).fingerprint()
    assert program("x*y").fingerprint() == program("x*y").fingerprint()
