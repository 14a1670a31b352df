"""Vector-valued expressions: the full Jacobian, entry by entry, laid out as
output_shape + input_shape (the layout seed 004 prints jv2 and jq in)."""

import numpy as np
import pytest

from gradcheck import Settings, check, problem
from gradcheck.engine.ops import OPS
from gradcheck.tools.trace import trace


def jacobians(expression, at, **kwargs):
    (out,) = check(problem(expression, at=at), Settings(**kwargs)).problems
    assert out.status == "pass", out.message
    return {n: g for n, g in out.points[0].gradient.items()}, out


def test_seed_004_problem_1_2_the_relu_layer():
    grads, out = jacobians("relu(x)", ["x=[-2, 1, 3]"])
    assert out.points[0].value.tolist() == [0, 1, 3]
    for estimate in ("symbolic", "backprop", "central"):
        assert getattr(grads["x"], estimate).tolist() == np.diag([0, 1, 1]).tolist()


def test_seed_004_problem_1_3_the_affine_layer():
    at = ["V=[[3, 0], [-1, 4], [2, 5]]", "x=[-2, 1]", "b=[3, -2, 1]"]
    grads, out = jacobians("V @ x + b", at)
    assert out.points[0].value.tolist() == [-3, 4, 2]
    assert grads["x"].symbolic.tolist() == [[3, 0], [-1, 4], [2, 5]]
    j_v = [[[-2, 1], [0, 0], [0, 0]], [[0, 0], [-2, 1], [0, 0]], [[0, 0], [0, 0], [-2, 1]]]
    assert grads["V"].symbolic.tolist() == j_v and grads["V"].backprop.tolist() == j_v
    assert grads["b"].symbolic.tolist() == np.eye(3).tolist()
    assert np.allclose(grads["V"].central, j_v, atol=1e-9)


def test_seed_004_problem_1_5_local_jacobians_by_trace():
    at = [
        "V1=[[2, -1], [0, 3], [2, 1]]",
        "b1=[2, -1, 3]",
        "x=[-1, 2]",
        "V2=[[2, 1, -3], [3, -1, 2]]",
    ]
    at += ["b2=[4, 2]"]
    built = problem("V2 @ relu(V1 @ x + b1) + b2", at=at)
    traced = trace(built)
    assert traced.node("f").value.tolist() == [0, 3]
    j_q = [[2, 1, -3], [3, -1, 2]]
    q = next(n for n in traced.nodes if n.operation.startswith("relu"))
    assert q.adjoint.tolist() == j_q  # d z / d q: the Jacobian of the top layer
    j_v2 = [[[0, 5, 3], [0, 0, 0]], [[0, 0, 0], [0, 5, 3]]]
    assert traced.node("V2").adjoint.tolist() == j_v2


def test_a_wrong_vjp_is_caught_entry_by_entry(monkeypatch):
    from dataclasses import replace

    wrong = replace(OPS["tanh"], vjps=(lambda g, o, x: g * (1 - o),))  # 1 - o, not 1 - o**2
    monkeypatch.setitem(OPS, "tanh", wrong)
    (out,) = check(problem("tanh(W @ x)", at=["W=random(3, 2)", "x=random(2)"])).problems
    assert out.status == "fail"
    assert out.points[0].gradient["W"].status.shape == (3, 3, 2)


def test_a_claimed_jacobian_formula_is_judged_and_the_diagonal_only_slip_named():
    right = "z=diag(softmax(z)) - outer(softmax(z), softmax(z))"
    (out,) = check(problem("softmax(z)", at=["z=[-1, 0, 3]"], claims=[right])).problems
    assert out.claims["z"].status == "pass" and not out.claims["z"].proved
    wrong = "z=diag(softmax(z) * (1 - softmax(z)))"  # seed 003's mistake
    (out,) = check(problem("softmax(z)", at=["z=[-1, 0, 3]"], claims=[wrong])).problems
    assert out.claims["z"].status == "fail"
    assert "only the diagonal of the Jacobian" in out.claims["z"].diagnosis


def test_a_claimed_jacobian_of_the_wrong_shape_is_refused_naming_both():
    with pytest.raises(Exception, match=r"must have shape \(3, 3\)"):
        problem("softmax(z)", at=["z=[-1, 0, 3]"], claims=["z=softmax(z)"])


def test_directional_mode_on_a_jacobian_checks_u_J_v():
    built = problem("tanh(W @ x)", at=["W=random(30, 20)", "x=random(20)"])
    (out,) = check(built, Settings(mode="directional", probes=3)).problems
    assert out.status == "pass" and len(out.points[0].probes) == 3


def test_a_sweep_of_a_vector_says_how_to_pick_one_entry():
    from gradcheck.errors import ExpressionError
    from gradcheck.tools.sweep import parse_steps, sweep

    with pytest.raises(ExpressionError, match=r"\(relu\(x\)\)\[0\]"):
        sweep(problem("relu(x)", at=["x=[-2, 1, 3]"]), None, parse_steps("1e-1:1e-3:3"))
