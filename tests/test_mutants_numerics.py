"""Tests that kill mutants `make mutate` found alive in the verdicts and the sweep.

Through the public API: what each verdict's cause says and is coded as, which reference
a gradient is judged against and how strictly, and the sweep's error columns.
"""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

import gradcheck
from gradcheck import Settings
from gradcheck.cli import main
from gradcheck.engine.ops import OPS
from gradcheck.results import CauseCode

A_7X7 = ["A=random(7,7)", "x=random(7)"]  # SymPy's inverse is too large: no symbolic truth


def checked(expression: str, at=(), **settings):
    return gradcheck.check(gradcheck.problem(expression, at=list(at)), Settings(**settings))


def gradient(expression: str, at=(), name="x", **settings):
    out = checked(expression, at, **settings).problems[0]
    return out, out.points[0].gradient[name]


def plant_sin_off_by(monkeypatch, relative: float) -> None:
    """sin's local derivative planted ``relative`` too large."""
    sin = OPS["sin"]
    wrong = (lambda g, o, x: sin.vjps[0](g, o, x) * (1 + relative),)
    monkeypatch.setitem(OPS, "sin", replace(sin, vjps=wrong))


# ---------------------------------------------------------------- causes: codes and words


def test_a_point_at_the_edge_of_the_domain_is_an_edge_error():
    out, g = gradient("log(x)", ["x=1e-9"])
    assert out.status == "error"
    assert g.causes[0].code == CauseCode.EDGE
    assert g.causes[0].text == (
        "the function is not finite within the finite-difference step; "
        "the point is too close to the edge of its domain"
    )


def test_an_infinite_derivative_is_a_not_finite_error_naming_each_estimate():
    _, g = gradient("sqrt(x)", ["x=0"])
    assert g.causes[0].code == CauseCode.NOT_FINITE
    assert g.causes[0].text == (
        "the derivative is not finite at the point "
        "(backprop gives inf and symbolic derivative gives nan)"
    )


def test_a_wrong_rule_is_a_backprop_failure_against_the_symbolic_derivative(monkeypatch):
    plant_sin_off_by(monkeypatch, 1e-6)
    out, g = gradient("sin(x)", ["x=0.5"])
    assert out.status == "fail" and g.causes[0].code == CauseCode.BACKPROP
    assert "disagrees with the symbolic derivative 0.87758256189" in g.causes[0].text


def test_round_off_is_a_pass_with_a_roundoff_cause_naming_extended_precision():
    out, g = gradient("log(1 + (log(1 + (log(1 + x**2))**2))**2)", ["x=0.015625"])
    assert out.status == "pass"
    assert g.causes[0].code == CauseCode.ROUNDOFF
    assert "but in extended precision by" in g.causes[0].text


# ---------------------------------------------------------------- kinks: what the cause says


def test_a_kink_near_its_switch_says_how_far_and_which_estimates_are_subgradients():
    out, g = gradient("abs(x)", ["x=1e-9"])
    text = g.causes[0].text
    assert out.status == "kink" and g.causes[0].code == CauseCode.KINK
    assert "(at the point its argument is 1e-09 from the switch)" in text
    assert text.endswith("backprop 1 and symbolic 1 between them (valid subgradients)")


def test_a_kink_at_its_switch_says_so():
    _, g = gradient("abs(x)", ["x=0"])
    assert (
        "(at the point its argument is exactly at the switch): one-sided derivatives "
        "-1 (left) and 1 (right); backprop 0 and symbolic 0 between them" in g.causes[0].text
    )


def test_an_estimate_outside_the_one_sided_derivatives_is_no_subgradient(monkeypatch):
    relu = OPS["relu"]
    monkeypatch.setitem(
        OPS, "relu", replace(relu, vjps=(lambda g, o, x: relu.vjps[0](g, o, x) + 1.5,))
    )
    _, g = gradient("relu(x)", ["x=0"])
    text = g.causes[0].text
    assert "symbolic 0.5 between them (valid subgradient)" in text
    assert text.endswith("backprop 2 outside them (not a subgradient)")


def test_an_undefined_derivative_at_a_switch_is_a_kink_naming_the_switch():
    out, g = gradient("sqrt(abs(x))", ["x=0"])
    assert out.status == "kink" and g.causes[0].code == CauseCode.KINK
    assert g.causes[0].text.startswith(
        "the derivative does not exist at the point (backprop gives nan and symbolic "
        "derivative gives nan): 'abs(x)' (column 6) switches branch within the step"
    )


# ---------------------------------------------------------------- the reference and its strictness


def test_without_symbolic_complex_step_is_an_exact_reference(monkeypatch):
    # 1e-8 off is far inside the differences' tolerance (1e-6), far outside backprop's (1e-9)
    plant_sin_off_by(monkeypatch, 1e-8)
    out = checked("sum(sin(inv(A) @ x))", A_7X7).problems[0]
    g = out.points[0].gradient["x"]
    assert out.status == "fail" and g.causes[0].code == CauseCode.BACKPROP
    assert "disagrees with the complex-step derivative" in g.causes[0].text


def test_without_symbolic_or_complex_step_richardson_is_the_reference_with_its_round_off():
    # relu is not analytic: Richardson's extrapolation is the reference, itself a
    # difference with a round-off of its own, so a right gradient passes against it
    out = checked("sum(relu(inv(A) @ x))", A_7X7).problems[0]
    assert out.status == "pass", [
        str(c) for g in out.points[0].gradient.values() for c in g.causes.values()
    ]
    assert set(out.points[0].gradient["x"].errors) >= {"richardson", "central", "backprop"}


def test_against_richardson_a_wrong_rule_fails_naming_it(monkeypatch):
    plant_sin_off_by(monkeypatch, 1e-3)
    out = checked("sum(relu(sin(inv(A) @ x)))", A_7X7).problems[0]
    causes = [c for c in out.points[0].gradient["x"].causes.values()]
    assert out.status == "fail"
    assert any("disagrees with the Richardson extrapolation" in c.text for c in causes)


def test_the_richardson_column_is_reported_when_asked_for():
    _, g = gradient("sum(x*x)", ["x=[1, 2]"], methods=("central", "richardson"))
    assert g.richardson is not None and g.richardson.shape == (2,)
    np.testing.assert_allclose(g.richardson, [2, 4], rtol=1e-9)
    assert g.errors["richardson"].shape == (2,) and g.step.shape == (2,)


# ---------------------------------------------------------------- the sweep's columns


def sweep_json(expression, at, steps):
    run = CliRunner().invoke(
        main, ["sweep", expression, "--at", at, "--steps", steps, "--format", "json"]
    )
    assert run.exit_code == 0, run.output
    return json.loads(run.output)


def test_the_sweeps_columns_carry_their_truncation_errors():
    # sin at 1: relative to f' = cos 1, forward is off by h tan(1)/2 + h^2/6, backward by
    # h tan(1)/2 - h^2/6, central and complex step by h^2/6
    out = sweep_json("sin(x)", "x=1", "1e-2:1e-3:2")
    h = np.array(out["steps"])
    errors = {m: np.array(v["errors"]) for m, v in out["methods"].items()}
    np.testing.assert_allclose(errors["forward"], h * math.tan(1) / 2 + h**2 / 6, rtol=1e-3)
    np.testing.assert_allclose(errors["backward"], h * math.tan(1) / 2 - h**2 / 6, rtol=1e-3)
    np.testing.assert_allclose(errors["central"], h**2 / 6, rtol=1e-3)
    np.testing.assert_allclose(errors["complex"], h**2 / 6, rtol=1e-3)
    assert np.all(errors["richardson"] < 1e-12)


# ---------------------------------------------------------------- the ladder of central steps


@pytest.mark.parametrize(("dtype", "top"), [("float64", 0.08), ("float32", 0.3)])
def test_a_function_without_truncation_takes_the_top_rung_of_its_precisions_ladder(dtype, top):
    # no third derivative: the larger the step, the smaller the round-off; the ladder's
    # top is 0.08 in float64, scaled as eps^(1/3) but capped at 0.3 in float32
    _, g = gradient("3*x", ["x=0.5"], dtype=dtype)
    assert float(g.step) == pytest.approx(top, rel=1e-6)


@pytest.mark.parametrize("expression", ["abs(x - 0.01)", "abs(x + 0.01)"])
def test_a_kink_above_or_below_caps_the_step_at_the_rung_below_it(expression):
    # the kink is 0.01 away, up or down: rungs 0.08 and 0.01 would cross it, 0.00125 not
    out, g = gradient(expression, ["x=0"])
    assert out.status == "pass" and float(g.step) == pytest.approx(0.00125)
