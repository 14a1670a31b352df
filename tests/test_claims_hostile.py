"""No wrong claimed formula passes: switch surfaces are crossed, an unproved claim is judged
at 40 digits, and SymPy's proof has a budget. A right claim still passes, said to be proved
or only held."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck import check, problem
from gradcheck.cli.main import main
from gradcheck.deadline import deadline
from gradcheck.engine import formulas, symbolic
from gradcheck.judge import claims

from .conftest import program

#: Every test here ran in about a second; a hang is cut short and fails.
GUARD = 30


def claim_json(expression: str, *args: str) -> tuple[int, dict]:
    """Exit code and the JSON of the one claim of ``gradcheck eval``."""
    with deadline(GUARD, "the command"):
        result = CliRunner().invoke(main, ["eval", expression, *args, "--format", "json"])
    (judged,) = json.loads(result.stdout)["problems"][0]["claims"].values()
    return result.exit_code, judged


def judge(expression: str, claim: str, **kw):
    with deadline(GUARD, "the check"):
        (result,) = check(problem(expression, claims=[claim], **kw)).problems
    return next(iter(result.claims.values()))


# ---------------------------------------------------------------- wrong claims fail


def test_a_claim_wrong_only_past_a_switch_fails_there():
    code, judged = claim_json("sin(x)*y", "--claim", "x=cos(x)*y + relu(x-5)")
    assert code == 1 and judged["status"] == "fail"
    at = judged["counterexample"]["at"]
    assert at["x"] > 5  # found on the far side of relu's switch, not at the random points
    assert judged["counterexample"]["claimed"] - judged["counterexample"]["true"] == (
        pytest.approx(at["x"] - 5, rel=1e-9)
    )


def test_a_claim_off_by_a_relative_1e_8_fails_at_40_digits():
    code, judged = claim_json("sin(x)*y", "--claim", "x=cos(x)*y*(1+1e-8)")
    assert code == 1 and judged["status"] == "fail" and not judged["proved"]
    assert "by a relative 1e-08" in judged["message"] and "40-digit" in judged["message"]
    example = judged["counterexample"]
    assert example["error"] == pytest.approx(1e-8 * abs(example["true"]), rel=1e-6)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(-1e4, 1e4, allow_nan=False).map(lambda c: round(c, 3)))
def test_a_term_that_switches_on_anywhere_is_caught(shift):
    judged = judge("sin(x)*y", f"x=cos(x)*y + relu(x - ({shift!r}))")
    assert judged.status == "fail"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(-1e4, 1e4, allow_nan=False).map(lambda c: round(c, 3)))
def test_a_right_claim_with_a_switch_anywhere_holds(shift):
    judged = judge(f"relu(x - ({shift!r}))**2*y", f"x=2*relu(x - ({shift!r}))*y")
    assert judged.status == "pass"


def test_every_entry_of_a_switching_layer_is_crossed():
    p = program("sum(abs(W @ x))", W=(3, 3), x=(3,))
    rng = np.random.default_rng(0)
    base = {"W": rng.standard_normal((3, 3)), "x": rng.standard_normal(3)}
    points = claims.switch_crossings([p], [base], {}, rng)
    values = p.forward({n: np.stack([q[n] for q in points]) for n in ("W", "x")})
    (sides,) = p.branches(values).values()
    assert (sides > 0).any(axis=0).all() and (sides < 0).any(axis=0).all()


def test_a_switch_far_out_is_crossed_too():
    p = program("relu(x - 50000)*y")
    rng = np.random.default_rng(1)
    points = claims.switch_crossings([p], [{"x": np.array(0.5), "y": np.array(0.3)}], {}, rng)
    xs = [float(q["x"]) for q in points]
    assert min(xs) < 50000 < max(xs)


def test_smooth_programs_need_no_crossings():
    rng = np.random.default_rng(0)
    base = {"x": np.array(0.5), "y": np.array(0.3)}
    assert claims.switch_crossings([program("sin(x)*y")], [base], {}, rng) == []


# ---------------------------------------------------------------- right claims pass


def test_a_claim_sympy_proves_is_proved_without_more_points():
    code, judged = claim_json("sin(x)*y", "--claim", "x=y*cos(x)")
    assert code == 0 and judged["status"] == "pass" and judged["proved"]
    assert judged["points"] == 4  # the check's point and three random ones: no crossings


def test_a_right_claim_sympy_cannot_prove_is_held_not_proved():
    code, judged = claim_json("relu(x)**2*y", "--claim", "x=2*relu(x)*y")
    assert code == 0 and judged["status"] == "pass" and not judged["proved"]
    assert judged["points"] > 4
    assert judged["message"].startswith(f"held at {judged['points']} points, ")
    assert (
        "in float64 and in 40-digit arithmetic; not proved: SymPy could not" in (judged["message"])
    )


def test_round_off_of_a_right_claim_at_40_digits_is_not_a_failure():
    # The claim for z is 0 written as relu(x)*(sin(z)^2 + cos(z)^2 - 1): SymPy gives up on
    # Max, 40-digit arithmetic leaves ~1e-40 where the truth is 0, and 60 digits shrink it.
    judged = judge("relu(x)*y + 0*z", "z=relu(x)*(sin(z)**2 + cos(z)**2 - 1)")
    assert judged.status == "pass" and not judged.proved
    assert "40-digit" in judged.message


def test_the_proof_has_a_budget_past_which_the_claim_is_held_not_proved(monkeypatch):
    def forever(*args, **kw):
        while True:
            pass

    monkeypatch.setenv("GRADCHECK_NO_CACHE", "1")
    monkeypatch.setattr(claims, "PROOF_SECONDS", 0.05)
    monkeypatch.setattr(formulas, "formulas", forever)
    right = judge("sin(x)*y", "x=cos(x)*y")
    assert right.status == "pass" and not right.proved and right.points == 4
    assert right.message == (
        "held at 4 points in float64 and in 40-digit arithmetic; not proved: "
        "SymPy ran past its budget of 0.05 s"
    )
    wrong = judge("sin(x)*y", "x=cos(x)*y*(1+1e-8)")
    assert wrong.status == "fail"


def test_without_a_symbolic_truth_a_claim_is_held_in_float64_only(monkeypatch):
    monkeypatch.setenv("GRADCHECK_NO_CACHE", "1")
    monkeypatch.setattr(symbolic, "SIZE_LIMIT", 1)
    judged = judge("sin(x)*y", "x=cos(x)*y")
    assert judged.status == "pass" and not judged.proved and judged.points == 4
    assert judged.message.startswith("held at 4 points in float64 only; not proved: ")
    assert judged.message.endswith("operations (limit 1)")


def test_an_unproved_verdict_is_the_same_from_the_cache():
    first = judge("relu(x)**3*y", "x=3*relu(x)**2*y")
    again = judge("relu(x)**3*y", "x=3*relu(x)**2*y")
    assert first.status == again.status == "pass"
    assert not first.proved and not again.proved
    assert first.message == again.message


def test_float64_round_off_in_a_right_claim_is_not_a_failure():
    # (x + 1e12) - 1e12 keeps 4 digits of x in float64: the claim is off by 1e-4 there,
    # but right, as 40 digits (and SymPy) show.
    judged = judge("x**2*y", "x=2*y*((x + 1e12) - 1e12)")
    assert judged.status == "pass"
