"""A wrong gradient is named for what it looks like: transposed, scaled, sign-flipped, or
the chain rule with one local derivative left out."""

import json

import numpy as np
import pytest

from gradcheck import check, problem
from gradcheck.judge.mistakes import diagnose
from gradcheck.source.files import load


def agree(mine, candidate):
    return np.abs(mine - candidate) <= 1e-9 + 1e-6 * np.abs(candidate)


TRUTH = np.array([[1.0, 2.0, -3.0], [0.5, 4.0, 7.0], [-2.0, 1.5, 3.0]])


@pytest.mark.parametrize(
    ("claimed", "words"),
    [
        (TRUTH.T, "it is the true gradient transposed"),
        (2 * TRUTH, "times 2 (a factor 2 too many)"),
        (TRUTH / 2, "times 1/2 (a factor 2 missing)"),
        (TRUTH / 3, "times 1/3 (a factor 3 missing)"),
        (-TRUTH, "the sign is flipped: it is the true gradient times -1"),
        (-2 * TRUTH, "times -2 (a factor 2 too many); the sign is flipped too"),
    ],
)
def test_each_kind_is_recognised(claimed, words):
    assert words in diagnose(claimed, TRUTH, agree)


def test_unrecognisable_mistakes_get_no_story():
    assert diagnose(TRUTH + 0.1, TRUTH, agree) is None
    assert diagnose(TRUTH * 1.07, TRUTH, agree) is None  # no simple factor
    assert diagnose(np.array(2.0), np.array(1.0), agree) is None  # one number proves nothing


def test_a_dropped_local_derivative_is_found_among_the_alternatives():
    alternatives = [("sin(x)", TRUTH + 1), ("tanh(y)", 2 * TRUTH + 1)]
    text = diagnose(2 * TRUTH + 1, TRUTH, agree, alternatives)
    assert text == "it matches the chain rule with the local derivative of tanh(y) left out"


def claimed_numbers(tmp_path, grad: np.ndarray):
    """Numbers claimed for the gradient of sum(tanh(W @ x)^2), written as float64 prints."""
    path = tmp_path / "p.yaml"
    path.write_text(
        "expr: sum(tanh(W @ x)^2)\n"
        "at:\n  W: [[0.5, -1, 0.25], [1, 0.3, -0.7]]\n  x: [1, -0.5, 2]\n"
        f"expect:\n  grad:\n    W: {json.dumps(grad.tolist())}\n"
    )
    (out,) = check(load(path)).problems
    (judged,) = out.expected
    return judged


def true_grad():
    W = np.array([[0.5, -1, 0.25], [1, 0.3, -0.7]])
    x = np.array([1, -0.5, 2])
    t = np.tanh(W @ x)
    return np.outer(2 * t * (1 - t**2), x), np.outer(2 * t, x)  # right, and tanh' left out


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda g, d: 2 * g, "times 2"),
        (lambda g, d: -g, "the sign is flipped"),
        (lambda g, d: d, "local derivative of 'tanh(W @ x)' (line 1, column 11) left out"),
    ],
)
def test_planted_wrong_numbers_are_named(tmp_path, make, words):
    right, dropped = true_grad()
    wrong = make(right, dropped)
    judged = claimed_numbers(tmp_path, wrong)
    assert judged.status == "fail" and words in judged.diagnosis


def test_right_numbers_pass(tmp_path):
    right, _ = true_grad()
    judged = claimed_numbers(tmp_path, right)
    assert judged.status == "pass"


@pytest.mark.parametrize(
    ("claim", "words"),
    [
        ("W=2 * outer(2 * t * (1 - t^2), x)", "times 2 (a factor 2 too many)"),
        ("W=-outer(2 * t * (1 - t^2), x)", "the sign is flipped"),
        ("W=outer(2 * t, x)", "local derivative of t = 'tanh(W @ x)'"),
        ("W=outer(x, 2 * t * (1 - t^2))", "it is the true gradient transposed"),
    ],
)
def test_planted_wrong_formulas_are_named(claim, words):
    out = check(
        problem(
            "sum(t^2)", lets=["t=tanh(W @ x)"], at=["W=random(2, 3)", "x=random(3)"], claims=[claim]
        )
    ).problems[0]
    (result,) = out.claims.values()
    assert result.status == "fail" and words in result.diagnosis, result


def test_a_scalar_formula_scaled_everywhere_is_named():
    # one number is no evidence, but the same factor at every trial point is
    out = check(problem("x^3", claims=["x=6*x^2"])).problems[0]
    assert "times 2" in out.claims["x"].diagnosis


def test_a_transposed_claim_for_a_square_matrix_is_named():
    # d trace(A @ B) / dA is B.T; claiming B is the classic slip, and A is square.
    built = problem("trace(A @ B)", at=["A=random(3,3)", "B=random(3,3)"], claims=["A=B"])
    (out,) = check(built).problems
    assert out.claims["A"].status == "fail"
    assert out.claims["A"].diagnosis == "it is the true gradient transposed"


def test_a_stack_of_transposed_square_matrices_is_named_and_a_symmetric_one_is_not():
    truth = np.array([[[5.0, 7.0], [6.0, 8.0]], [[1.0, 2.0], [3.0, 4.0]]])  # two points
    claimed = np.swapaxes(truth, -1, -2)
    assert diagnose(claimed, truth, np.isclose) == "it is the true gradient transposed"
    symmetric = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert diagnose(symmetric.T * 3, symmetric, np.isclose) != "it is the true gradient transposed"
