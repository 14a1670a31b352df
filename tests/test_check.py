"""Verdicts: pass, fail, kink and error, each for the right reason, and named."""

from dataclasses import replace

import numpy as np
import pytest

from gradcheck import Settings, check, problem
from gradcheck.engine.ops import OPS
from gradcheck.results import CauseCode


def result(expression, *, settings=None, **kwargs):
    (out,) = check(problem(expression, **kwargs), settings or Settings()).problems
    return out


# ---------------------------------------------------------------- the checker can say "wrong"


def test_a_planted_wrong_derivative_rule_fails_and_names_the_entry(monkeypatch):
    # sin's local derivative replaced by sin itself: backprop is now wrong wherever
    # the gradient flows through sin, and only there.
    monkeypatch.setitem(OPS, "sin", replace(OPS["sin"], vjps=(lambda g, o, x: g * np.sin(x),)))
    out = result("1/(2+sin(w1*x1)**2+cos(w2*x2))", at=["w1=-3", "x1=-2", "w2=2", "x2=-1"])
    assert out.status == "fail"
    gradient = out.points[0].gradient
    assert gradient["w1"].status[()] == "fail" and gradient["x1"].status[()] == "fail"
    assert gradient["w2"].status[()] == "pass" and gradient["x2"].status[()] == "pass"
    assert (
        "backprop" in gradient["w1"].causes[0].text and "symbolic" in gradient["w1"].causes[0].text
    )


def test_a_planted_wrong_matmul_rule_names_the_array_entries(monkeypatch):
    matmul = OPS["matmul"]
    wrong = (lambda g, o, a, b: 2 * matmul.vjps[0](g, o, a, b), matmul.vjps[1])
    monkeypatch.setitem(OPS, "matmul", replace(matmul, vjps=wrong))
    out = result("sum(tanh(W @ x))", at=["W=random(2, 3)", "x=random(3)"])
    assert out.status == "fail"
    assert set(out.points[0].gradient["W"].status.ravel()) == {"fail"}
    assert set(out.points[0].gradient["x"].status.ravel()) == {"pass"}


def test_a_planted_wrong_forward_is_caught_by_the_symbolic_value(monkeypatch):
    # A wrong forward with a VJP consistent with it fools finite differences and
    # backprop alike; only the symbolic value of the expression can tell.
    wrong = replace(
        OPS["sigmoid"],
        forward=lambda x: 1 / (1 + np.exp(-2 * x)),
        vjps=(lambda g, o, x: 2 * g * o * (1 - o),),
    )
    monkeypatch.setitem(OPS, "sigmoid", wrong)
    out = result("sigmoid(x) * y", at=["x=0.3", "y=2"])
    assert out.status == "fail"
    assert any("forward pass disagrees" in n for n in out.notes)


def test_a_correct_gradient_passes_with_tiny_errors():
    out = result("1/(2+sin(w1*x1)**2+cos(w2*x2))")
    assert out.status == "pass"
    for g in out.points[0].gradient.values():
        assert g.errors["backprop"] < 1e-14
        assert g.errors["central"] < 1e-8


def test_round_off_is_told_from_a_wrong_rule_by_extended_precision():
    # log(1 + u) with u ~ 6e-8 loses nine digits as written: float64 backprop is off by
    # 1.3e-9, which extended precision shrinks to ~1e-12. Round-off, not a bug.
    expression = "log(1 + (log(1 + (log(1 + x**2))**2))**2)"
    out = result(expression, at=["x=0.015625"])
    assert out.status == "pass"
    cause = out.points[0].gradient["x"].causes[0].text
    assert "round-off in the expression as written" in cause


def test_terms_that_cancel_leave_round_off_not_a_failure():
    # d/dy is 0.5 + 1/3 - 0.5 - 1/3: 5.6e-17 in float64, 0 in extended precision
    out = result("(0.5 * y + y / 3) - (0.5 * y + y / 3)", at=["y=1"])
    assert out.status == "pass"
    assert "round-off" in out.points[0].gradient["y"].causes[0].text


V_DRAWN = "v=[0.5478467492858172, -0.9208531449445188, -1.8361059042552212]"


def test_round_off_in_the_forward_pass_is_not_a_wrong_forward():
    # 2**27 + v keeps 8 fewer digits of v in float64: the value is off by 5e-9 relative
    out = result("sum(softmax(2**27 + v) * v)", at=[V_DRAWN])
    assert out.status == "pass", out.notes
    assert not any("forward pass disagrees" in n for n in out.notes)


def test_a_third_derivative_only_the_largest_steps_show_still_sets_the_step():
    # d/dv[0] is 2.3e-6 beside f = 4e4: the truncation that the largest rungs show
    # (1.5e-8 at h = 0.08) stands far above the measured round-off, so it is truncation
    # and the step shrinks to where the central difference is within tolerance
    out = result(
        "norm(1 + (v^9 + v)**2)",
        at=["v=[0.047286498801026866, 1.8018547853037412, -1.423361549121465]"],
    )
    assert out.status == "pass"
    gradient = out.points[0].gradient["v"]
    assert gradient.step[0] < 0.05
    assert abs(gradient.central[0] - gradient.symbolic[0]) < 1e-9


def test_extended_precision_does_not_excuse_a_wrong_rule(monkeypatch):
    log = OPS["log"]
    monkeypatch.setitem(OPS, "log", replace(log, vjps=(lambda g, o, x: (1 + 1e-8) * g / x,)))
    out = result("log(1 + (log(1 + (log(1 + x**2))**2))**2)", at=["x=0.015625"])
    assert out.status == "fail"


# ---------------------------------------------------------------- kinks


@pytest.mark.parametrize(
    ("expression", "at", "node"),
    [
        ("relu(x - 1)*y", ["x=1", "y=2"], "relu(x - 1)"),
        ("abs(x)*y", ["x=0", "y=3"], "abs(x)"),
        ("max(a, b)", ["a=1", "b=1"], "max(a, b)"),
        ("min(a, 2*b)", ["a=2", "b=1"], "min(a, 2*b)"),
        ("leaky_relu(x, 0.1)", ["x=0"], "leaky_relu"),
        ("norm(v)", ["v=[0, 0]"], "norm(v)"),
    ],
)
def test_kinks_are_named_not_failed(expression, at, node):
    out = result(expression, at=at)
    assert out.status == "kink"
    causes = [c.text for g in out.points[0].gradient.values() for c in g.causes.values()]
    assert causes and all(node in c and "one-sided derivatives" in c for c in causes)


def test_strict_turns_kinks_into_failures():
    out = result("relu(x - 1)*y", at=["x=1", "y=2"], settings=Settings(strict=True))
    assert out.status == "fail"


def test_only_the_entries_at_the_kink_are_kinks():
    out = result("relu(x - 1)*y", at=["x=1", "y=2"])
    assert out.points[0].gradient["x"].status[()] == "kink"
    assert out.points[0].gradient["y"].status[()] == "pass"


def test_a_smooth_crossing_is_not_a_kink():
    # relu(x)**2 switches branch at 0, but its derivative is continuous there.
    out = result("relu(x)**2 + x", at=["x=0"])
    assert out.status == "pass"


# ---------------------------------------------------------------- errors


def test_a_value_not_finite_at_the_point_is_an_error_naming_the_node():
    out = result("log(x - 2) + y", at=["x=1", "y=0"])
    assert out.status == "error"
    assert "'log(x - 2)'" in out.message and "nan" in out.message and "-1" in out.message


def test_overflow_in_a_constant_is_an_error():
    out = result("exp(1000)*x")
    assert out.status == "error" and "exp(1000)" in out.message and "inf" in out.message


def test_a_derivative_not_finite_at_the_point_is_an_error():
    out = result("sqrt(x)", at=["x=0"])
    assert out.status == "error"
    assert "not finite" in out.points[0].gradient["x"].causes[0].text


def test_too_close_to_the_edge_of_the_domain():
    out = result("log(x)", at=["x=1e-9"])
    assert out.status == "error"
    assert "edge of its domain" in out.points[0].gradient["x"].causes[0].text


# ---------------------------------------------------------------- points


def test_random_points_are_redrawn_until_the_function_is_finite():
    out = result("log(x) + sqrt(y) + asin(z)")
    assert out.status == "pass"
    at = out.points[0].at
    assert at["x"] > 0 and at["y"] > 0 and abs(at["z"]) < 1


def test_seeded_points_are_reproducible():
    a = result("sin(x)*y", settings=Settings(seed=3)).points[0].at
    b = result("sin(x)*y", settings=Settings(seed=3)).points[0].at
    c = result("sin(x)*y", settings=Settings(seed=4)).points[0].at
    assert a == b and a != c


def test_several_points():
    out = result("sin(x)*y", settings=Settings(points=3))
    assert len(out.points) == 3 and out.status == "pass"
    assert len({float(p.at["x"]) for p in out.points}) == 3


def test_given_values_are_not_redrawn():
    out = result("sin(x)*y", at=["x=0.5"], settings=Settings(points=2))
    assert [float(p.at["x"]) for p in out.points] == [0.5, 0.5]
    assert out.points[0].drawn == ("y",)


def test_random_arrays_take_their_shape():
    out = result("sum(W @ x)", at=["W=random(2, 3)", "x=random(3)"])
    assert out.points[0].at["W"].shape == (2, 3)


def test_index_inputs_are_drawn_in_range_and_not_differentiated():
    out = result("logsumexp(z) - z[y]", at=["z=random(4)"], settings=Settings(points=3))
    assert out.status == "pass"
    assert "y" not in out.points[0].gradient
    assert 0 <= int(out.points[0].at["y"]) < 4


# ---------------------------------------------------------------- claims


def test_a_right_claim_is_proved():
    out = result("x*exp(-x*y)", claims=["x=exp(-x*y)*(1-x*y)"])
    claim = out.claims["x"]
    assert claim.status == "pass" and claim.proved and claim.points >= 4


def test_a_wrong_claim_fails_with_a_counterexample():
    out = result("x*exp(-x*y)", claims=["y=x*exp(-x*y)"])
    assert out.status == "fail"
    example = out.claims["y"].counterexample
    assert example["claimed"] != pytest.approx(example["true"])
    assert set(example["at"]) == {"x", "y"}


def test_an_array_claim_names_the_wrong_entry():
    # seed 000's formula grad_W f = 2 q x^T drops the sigmoid's derivative
    out = result(
        "sum(sigmoid(W @ x)**2)",
        lets=["q=sigmoid(W @ x)"],
        at=["W=[[1,2,3],[3,1,2],[2,3,1]]", "x=[[1],[1],[1]]"],
        claims=["W=2 * q @ x.T", "x=2 * W.T @ (q * (1 - q) * q)"],
    )
    assert out.claims["W"].status == "fail"
    assert out.claims["x"].status == "pass"
    assert len(out.claims["W"].counterexample["index"]) == 2


def test_a_transposed_claim_fails_and_says_so():
    out = result("sum(W @ x)", at=["W=random(2, 3)", "x=random(3)"], claims=["W=outer(x, [1, 1])"])
    claim = out.claims["W"]
    assert claim.status == "fail" and "shape (3, 2) but W has shape (2, 3)" in claim.message
    assert claim.diagnosis == "it is the true gradient transposed"
    assert claim.counterexample is None  # right but for the transposition: no wrong number


def test_a_scalar_claim_broadcasts_over_an_array():
    out = result("sum(3*v)", at=["v=random(4)"], claims=["v=3"])
    assert out.claims["v"].status == "pass"


# ---------------------------------------------------------------- modes and limits


def test_directional_mode_passes_a_correct_gradient():
    out = result(
        "sum(tanh(W @ x)**2)",
        at=["W=random(20, 30)", "x=random(30)"],
        settings=Settings(mode="directional", probes=4),
    )
    assert out.status == "pass" and len(out.points[0].probes) == 4


def test_directional_mode_catches_a_planted_bug(monkeypatch):
    monkeypatch.setitem(OPS, "tanh", replace(OPS["tanh"], vjps=(lambda g, o, x: g * (1 - o),)))
    out = result(
        "sum(tanh(W @ x)**2)",
        at=["W=random(20, 30)", "x=random(30)"],
        settings=Settings(mode="directional"),
    )
    assert out.status == "fail"


def test_above_the_size_limit_complex_step_is_the_reference(monkeypatch):
    from gradcheck.engine import symbolic

    monkeypatch.setattr(symbolic, "SIZE_LIMIT", 10)
    monkeypatch.setenv("GRADCHECK_NO_CACHE", "1")  # a cached tape would be used: no cost
    out = result("sum(tanh(W @ x))", at=["W=random(3, 3)", "x=random(3)"])
    assert out.status == "pass"
    gradient = out.points[0].gradient["W"]
    assert gradient.symbolic is None and gradient.complex is not None
    assert float(gradient.errors["backprop"].max()) < 1e-14  # held to an exact reference
    assert any("symbolic derivative skipped" in n for n in out.notes)


def test_above_the_size_limit_and_not_analytic_richardson_is_the_reference(monkeypatch):
    from gradcheck.engine import symbolic

    monkeypatch.setattr(symbolic, "SIZE_LIMIT", 10)
    monkeypatch.setenv("GRADCHECK_NO_CACHE", "1")  # a cached tape would be used: no cost
    out = result("sum(relu(W @ x)**2)", at=["W=random(3, 3)", "x=random(3)"])
    gradient = out.points[0].gradient["W"]
    assert out.status == "pass" and gradient.complex is None and gradient.richardson is not None


def test_a_planted_bug_is_caught_without_symbolic(monkeypatch):
    from gradcheck.engine import symbolic

    monkeypatch.setattr(symbolic, "SIZE_LIMIT", 10)
    monkeypatch.setenv("GRADCHECK_NO_CACHE", "1")  # a cached tape would be used: no cost
    monkeypatch.setitem(OPS, "tanh", replace(OPS["tanh"], vjps=(lambda g, o, x: g * (1 - o),)))
    out = result("sum(tanh(W @ x))", at=["W=random(3, 3)", "x=random(3)"])
    assert out.status == "fail"
    assert "complex-step derivative" in next(iter(out.points[0].gradient["W"].causes.values())).text


def test_tolerances_from_the_problem_win_over_settings():
    built = replace(problem("x**3", at=["x=1"]), rtol=0.5)
    (out,) = check(built, Settings(rtol=1e-12)).problems
    assert out.tolerance.rtol == 0.5
    (out,) = check(problem("x**3", at=["x=1"]), Settings(rtol=1e-3)).problems
    assert out.tolerance.rtol == 1e-3


def test_a_huge_step_makes_central_differences_fail():
    out = result("sin(x)", at=["x=1"], settings=Settings(step=0.5))
    assert out.status == "fail"
    assert "central difference" in out.points[0].gradient["x"].causes[0].text


def test_a_nan_derivative_is_never_a_bare_number_in_a_verdict():
    # norm at the zero vector: backprop and SymPy both give nan; the cause says so.
    out = result("norm(x)", at=["x=[0, 0, 0]"])
    assert out.status == "kink"
    cause = out.points[0].gradient["x"].causes[0]
    assert cause.code == CauseCode.KINK
    assert "does not exist at the point" in cause.text and "backprop gives nan" in cause.text


@pytest.mark.parametrize("expression", ["sqrt(x)", "x^1e308"])
def test_an_entry_that_cannot_be_checked_gives_the_problem_a_message(expression):
    out = result(expression, at=["x=0" if "sqrt" in expression else "x=1"])
    assert out.status == "error"
    assert out.message and out.message.startswith("x: ") and "None" not in out.message


def test_a_problem_past_its_time_limit_is_an_error_naming_the_flag(monkeypatch):
    import time

    from gradcheck.estimate import finite

    slow = finite.entrywise

    def stuck(*args, **kwargs):  # a check that takes far longer than its limit
        time.sleep(5)
        return slow(*args, **kwargs)

    monkeypatch.setattr(finite, "entrywise", stuck)
    started = time.monotonic()
    (out,) = check(problem("sin(x)", at=["x=1"]), Settings(timeout=0.2)).problems
    assert time.monotonic() - started < 2
    assert out.status == "error"
    assert "took longer than" in out.message and "--timeout" in out.message


@pytest.mark.parametrize(
    ("expression", "reason"),
    [("erf(x)*y", "has no complex implementation"), ("abs(x)*y", "is not analytic")],
)
def test_why_complex_step_does_not_apply_is_said_right(expression, reason):
    methods = ("forward", "backward", "central", "complex")
    out = result(expression, at=["x=0.3", "y=2"], settings=Settings(methods=methods))
    assert out.status == "pass"
    assert any(f"complex step does not apply to x: '{expression[:6]}' (column 1) {reason}" in n
               for n in out.notes)  # fmt: skip
    assert out.points[0].gradient["x"].complex is None
