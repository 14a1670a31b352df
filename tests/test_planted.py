"""Planted mistakes that a mutation run left alive (issue 8, item 6), each with a test
that fails on it. Through the public API wherever possible (``gradcheck.check``,
``gradcheck.problem``, problem files, the CLI), so that the tests outlive refactors.
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
from gradcheck.source import files

WITH_COMPLEX = ("forward", "backward", "central", "complex")


def checked(expression: str, at=(), claims=(), **settings):
    return gradcheck.check(
        gradcheck.problem(expression, at=list(at), claims=list(claims)), Settings(**settings)
    ).problems[0]


def checked_file(tmp_path, text: str):
    path = tmp_path / "problem.yaml"
    path.write_text(text)
    (problem,) = files.load(path)
    return gradcheck.check(problem).problems[0]


# ---------------------------------------------------------------- one convention at a switch


@pytest.mark.parametrize(
    ("expression", "at", "derivative"),
    [
        ("relu(x)", "x=0", 0.5),
        ("relu(x - 1)", "x=1", 0.5),
        ("max(x, 0)", "x=0", 0.5),
        ("max(0, x)", "x=0", 0.5),
        ("min(x, 0)", "x=0", 0.5),
        ("abs(x)", "x=0", 0.0),
    ],
)
def test_at_a_switch_backprop_takes_the_midpoint_of_the_one_sided_derivatives(
    expression, at, derivative
):
    out = checked(expression, [at])
    gradient = out.points[0].gradient["x"]
    assert float(gradient.backprop) == derivative
    # ... which is SymPy's Heaviside(0) = 1/2 too: backprop and the symbolic side agree
    assert float(gradient.symbolic) == derivative
    assert out.status == "kink"


def test_relu_x_minus_relu_minus_x_is_x_at_its_switch_too():
    # relu(x) - relu(-x) is x: smooth, slope 1 at 0. With relu'(0) = 0 backprop says 0;
    # with relu'(0) = 1 (the mistake x >= 0) it says 2; the midpoint says 1.
    out = checked("relu(x) - relu(-x)", ["x=0"])
    assert float(out.points[0].gradient["x"].backprop) == 1.0
    assert out.status == "pass"


# ---------------------------------------------------------- complex step where it cannot apply


def test_erf_has_no_complex_implementation_and_says_so_rather_than_crash():
    out = checked("erf(x) * y", ["x=0.3", "y=2"], methods=WITH_COMPLEX)
    assert out.status == "pass", out.message
    assert out.message is None
    assert out.points[0].gradient["x"].complex is None
    assert any("complex step does not apply" in n and "erf(x)" in n for n in out.notes)
    # y has no erf on its path: complex step applies to it
    y = out.points[0].gradient["y"]
    assert y.complex is not None and abs(float(y.complex) - math.erf(0.3)) < 1e-14


def test_erf_is_analytic_the_note_says_it_has_no_complex_implementation():
    out = checked("erf(x)", ["x=0.3"], methods=WITH_COMPLEX)
    (note,) = [n for n in out.notes if "complex step does not apply" in n]
    assert "no complex implementation" in note and "not analytic" not in note


def test_abs_is_not_analytic_so_complex_step_gives_no_column_for_it():
    # |x + ih| is real: a complex step through abs would report 0 for a slope of 1
    out = checked("abs(x) * y", ["x=2", "y=3"], methods=WITH_COMPLEX)
    x = out.points[0].gradient["x"]
    assert x.complex is None
    assert any("complex step does not apply" in n and "abs(x)" in n for n in out.notes)
    assert float(x.backprop) == 3.0 and out.status == "pass"


# ---------------------------------------------------------------- round-off bounds


def test_a_slope_jump_far_above_round_off_is_a_kink():
    # The slope jumps by 6e-5 at 0. Round-off of evaluations near f = 1 (8 ulps over a
    # one-sided step of 1.5e-8: 2.4e-7) cannot explain that; 100 times more could.
    out = checked("1 + x + 3e-5 * abs(x)", ["x=0"])
    gradient = out.points[0].gradient["x"]
    assert out.status == "kink"
    assert gradient.causes[0].code == CauseCode.KINK
    assert float(gradient.forward) - float(gradient.backward) == pytest.approx(6e-5, rel=1e-2)


@pytest.mark.parametrize(
    "expression",
    ["x * relu(x)", "relu(x) * relu(x)", "sin(x) * relu(x)", "x * relu(x) + x * relu(x)"],
)
def test_a_continuous_slope_across_a_switch_is_no_kink_whatever_the_curvature(expression):
    # At 0 the one-sided differences are h f''/2 and 0: they differ by their truncation,
    # 1.5e-8 here, far above tolerance and round-off (f is 0), yet no jump in the slope.
    out = checked(expression, ["x=0"])
    gradient = out.points[0].gradient["x"]
    assert float(gradient.forward) - float(gradient.backward) > 1e-8
    assert out.status == "pass", [str(c) for c in gradient.causes.values()]


# ---------------------------------------------------------------- the sweep


def test_the_sweeps_one_sided_errors_are_their_truncation_h_f2_over_2():
    # sin at 1: forward and backward are both off by h |f''| / 2, relative to |f'|
    run = CliRunner().invoke(
        main, ["sweep", "sin(x)", "--at", "x=1", "--steps", "1e-2:1e-4:3", "--format", "json"]
    )
    assert run.exit_code == 0, run.output
    out = json.loads(run.output)
    steps = np.array(out["steps"])
    expected = steps * math.sin(1) / 2 / math.cos(1)
    for method in ("forward", "backward"):
        errors = np.array(out["methods"][method]["errors"])
        np.testing.assert_allclose(errors, expected, rtol=0.01)


# ---------------------------------------------------------------- the forward value


def test_a_forward_pass_off_by_3e_8_is_caught_by_the_symbolic_value(monkeypatch):
    # sin's forward planted 3e-8 too large, its derivative right: backprop and the
    # differences agree within tolerance; only the value check (1e-9) can tell.
    monkeypatch.setitem(OPS, "sin", replace(OPS["sin"], forward=lambda x: np.sin(x) * (1 + 3e-8)))
    out = checked("sin(x) + y", ["x=0.3", "y=2"])
    assert out.status == "fail"
    assert [f.code for f in out.findings] == [CauseCode.FORWARD_VALUE]


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("expression", "name", "column"),
    [("__x + 1", "__x", 1), ("y * __builtins__", "__builtins__", 5), ("__x__", "__x__", 1)],
)
def test_a_dunder_variable_is_refused_where_it_stands(expression, name, column):
    with pytest.raises(gradcheck.ExpressionError) as error:
        gradcheck.problem(expression)
    assert f"column {column}: dunder name {name!r} is not allowed" in str(error.value)
    run = CliRunner().invoke(main, ["eval", expression])
    assert run.exit_code == 2
    assert f"dunder name {name!r}" in run.output and "Traceback" not in run.output


# ---------------------------------------------------------------- claimed numbers


EXPECT = """\
expr: x**3
at: {{x: {x}}}
expect:
  value: {value}
"""


@pytest.mark.parametrize(
    ("value", "x", "status"),
    [
        ("1e-3", 0.11, "pass"),  # 1e-3 stands for 0.5e-3..1.5e-3: 1.331e-3 is in
        ("1e-3", 0.117, "fail"),  # 1.6e-3 is not
        ("1.0e-3", 0.1004, "pass"),  # 1.0e-3 stands for 0.95e-3..1.05e-3: 1.012e-3 is in
        ("1.0e-3", 0.11, "fail"),
        ("0.001", 0.11, "pass"),  # as 1e-3: half a unit in the third decimal
        ("0.001", 0.117, "fail"),
    ],
)
def test_a_claimed_number_holds_at_the_precision_it_is_written_with(tmp_path, value, x, status):
    out = checked_file(tmp_path, EXPECT.format(value=value, x=x))
    (expected,) = out.expected
    assert expected.status == status, expected.wrong


TOLERANCE = """\
expr: x**3
at: {{x: {x}}}
tolerance: {{rtol: {rtol}}}
expect:
  value: {value}
"""


@pytest.mark.parametrize(
    ("value", "x", "rtol", "status"),
    [
        # looser than written: 8.001 (7.9995..8.0015 as written) for 8 is within 1e-3
        ("8.001", 2, 1e-3, "pass"),
        # tighter than written: 1e-3 (0.5e-3..1.5e-3 as written) must now be within 1e-6
        ("1e-3", 0.11, 1e-6, "fail"),
        ("1e-3", 0.1, 1e-6, "pass"),
    ],
)
def test_a_tolerance_in_the_file_replaces_the_written_precision(tmp_path, value, x, rtol, status):
    out = checked_file(tmp_path, TOLERANCE.format(value=value, x=x, rtol=rtol))
    (expected,) = out.expected
    assert expected.status == status, expected.wrong


# ---------------------------------------------------------------- claimed formulas


def test_a_claim_that_holds_but_sympy_cannot_prove_is_not_reported_proved():
    # 2 relu(x) is d/dx relu(x)**2 everywhere, but SymPy is not asked to simplify Max
    out = checked("relu(x)**2", claims=["x=2*relu(x)"])
    claim = out.claims["x"]
    assert claim.status == "pass" and claim.points >= 3
    assert claim.proved is False


def test_a_claim_that_sympy_proves_is_reported_proved():
    out = checked("x**2/3", claims=["x=2*x/3"])
    assert out.claims["x"].status == "pass" and out.claims["x"].proved is True


def test_a_claimed_formula_with_a_constant_rounded_to_four_digits_fails():
    # 0.6667 x against 2x/3: off by 5e-5 relative, fifty times the claims' rtol of 1e-6
    out = checked("x**2/3", ["x=1.5"], claims=["x=0.6667*x"])
    claim = out.claims["x"]
    assert claim.status == "fail" and claim.proved is False
    example = claim.counterexample
    assert example["error"] == pytest.approx(5e-5 * abs(example["true"]), rel=1e-3)


@pytest.mark.parametrize("text", ["1e999", "1.5e400", "2.0e-999"])
def test_the_written_precision_of_a_number_beyond_float_range_is_no_crash(text):
    from gradcheck.judge.expect import Number

    precision = Number.precision_of(text)
    assert precision == (0.0 if "-" in text else math.inf)
