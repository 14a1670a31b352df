"""Symbolic work that would explode is refused or done safely: huge exact constants, and
simplification on a budget."""

import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.cli.main import main
from gradcheck.deadline import deadline
from gradcheck.engine import constants, formulas, symbolic
from gradcheck.engine.tape import evaluate

from .conftest import program

#: Each test below finished in well under a second; a hang is cut short and fails.
GUARD = 20


def run(*args: str):
    with deadline(GUARD, "the command"):
        return CliRunner().invoke(main, list(args))


# ---------------------------------------------------------------- huge exact constants


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("10**10**10*x", "'10**10**10' (column 1) would have about 1e+10 digits exactly"),
        ("2**2**2**2**2**2**2+x", "would have more than 1e308 digits exactly"),
        ("x**(10**10**10)", "'10**10**10' (column 5) would have about 1e+10 digits"),
    ],
)
def test_diff_refuses_a_constant_too_large_to_hold(expression, words):
    result = run("diff", expression)
    assert result.exit_code == 2
    assert "no symbolic derivative: the constant" in result.output
    assert words in result.output and "in float64 it is inf" in result.output
    assert "internal error" not in result.output


def test_diff_takes_an_astronomical_constant_as_the_graph_does():
    result = run("diff", "exp(-10**10**10)*x + x**2", "--format", "json")
    assert result.exit_code == 0, result.output
    assert '"formula": "2*x"' in result.output  # exp(-1e10) is 0.0 in float64


def test_eval_judges_exp_of_minus_a_tower_as_the_graph_sees_it():
    result = run("eval", "exp(-10**10**10)+x", "--at", "x=0.5", "--format", "json")
    assert result.exit_code == 0, result.output
    assert '"symbolic": 1.0' in result.output
    assert "internal error" not in result.output


def test_the_tape_of_a_folded_constant_evaluates_to_float64s_value():
    p = program("exp(-10**10**10) + 1.0001**(10**5)*x")
    value, grads = evaluate(symbolic.tape_for(p, ["x"]), {"x": np.array(2.0)})
    assert grads["x"][0] == np.power(1.0001, 1e5)  # the graph's constant, to the last bit
    assert value == 2 * np.power(1.0001, 1e5)
    notes = constants.constant_notes(p)
    assert len(notes) == 2
    assert notes[0].startswith("the constant 'exp(-10**10**10)' (column 1) is taken as its")
    assert "float64 value 0.0: exactly it would have about 1e+10 digits" in notes[0]
    assert "'1.0001**(10**5)'" in notes[1] and "about 8e+05 digits" in notes[1]


def test_tapes_and_notes_take_the_notes_list():
    notes: list[str] = []
    symbolic.tape_for(program("exp(-10**10**10)+x"), ["x"], notes=notes)
    assert len(notes) == 1 and "exp(-10**10**10)" in notes[0]


def test_constants_within_the_limit_stay_exact():
    assert constants.constant_notes(program("2**1000*x + 0.1**3")) == []
    rows = formulas.derivative_table(program("2**1000*x + 0.1**3*x"), ["x"])
    assert rows[0][3] == f"{2**1000 * 1000 + 1}/1000"


def test_a_constant_with_no_value_is_left_to_the_graph_to_name():
    # log(-1) has no real value: no digit estimate, no folding; SymPy keeps it as written.
    assert constants.constant_notes(program("log(-1)**(10**10)*x")) == []


@given(st.lists(st.integers(2, 30), min_size=2, max_size=4))
def test_the_digit_estimate_never_undercounts(tower):
    """For integer towers small enough to build, the estimate is the true digit count
    less at most one (it estimates log10), plus the digits of the exponents (which are
    built too); past that, it is above the limit, so nothing is ever built."""
    estimate = max(constants.exact_digits(program("**".join(map(str, tower)) + " + x")))
    exponent, slack = 1, len(tower)
    for base in reversed(tower[1:]):
        exponent = base**exponent
        if exponent > 10**5:
            assert estimate > constants.EXACT_DIGITS
            return
        slack += len(str(exponent))
    true_digits = math.floor(exponent * math.log10(tower[0])) + 1
    assert true_digits - 1 <= estimate <= true_digits + slack


# ---------------------------------------------------------------- simplification on a budget

SIGMOID_LAYER = "sum(sigmoid(W @ x)**2)"


def layer(n: int):
    return program(SIGMOID_LAYER, W=(n, n), x=(n,))


def true_gradient(p, point: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    _, grads = evaluate(symbolic.tape_for(p, ["W", "x"]), point)
    return grads


def formula_values(p, point, found) -> dict[str, np.ndarray]:
    """Each formula at the point, in SymPy's own arithmetic (no lambdify, no eval)."""
    import sympy as sp

    _, symbols, _ = formulas.formulas(p, [], simplify=False)
    values = {
        s: sp.Float(float(point[name].flat[k]), 30)
        for name, syms in symbols.items()
        for k, s in enumerate(syms.flat)
    }
    return {name: np.array([float(f.xreplace(values)) for f in found[name].flat]) for name in found}


def test_simplify_runs_once_per_formula_shape_and_never_on_large_formulas(monkeypatch):
    import sympy as sp

    seen = []
    real = sp.simplify
    monkeypatch.setattr(sp, "simplify", lambda e, **kw: seen.append(e) or real(e, **kw))
    notes: list[str] = []
    rows = formulas.derivative_table(layer(4), ["W", "x"], notes=notes)
    assert len(rows) == 20
    # d/dW[i,j] differ across i only in the names of their symbols: one simplify per j;
    # d/dx[j] sums four sigmoids (about 80 operations): never handed to simplify().
    assert len(seen) == 4
    assert all(sp.count_ops(e) <= formulas.SIMPLIFY_OPS for e in seen)
    assert notes == [
        "4 of 20 formulas are shown as differentiated, with common factors pulled out, not "
        "simplified: simplification is tried on formulas of at most 40 operations, for 1 s "
        "each and 2 s in all"
    ]


def test_a_simplify_that_never_ends_is_cut_off_and_the_formula_still_right(monkeypatch):
    import sympy as sp

    def forever(expr, **kw):
        while True:
            pass

    monkeypatch.setattr(sp, "simplify", forever)
    monkeypatch.setattr(formulas, "FORMULA_SECONDS", 0.05)
    monkeypatch.setattr(formulas, "TABLE_SECONDS", 0.12)
    p = layer(3)
    notes: list[str] = []
    with deadline(GUARD, "the table"):
        _, _, found = formulas.formulas(p, ["W", "x"], notes=notes)
    assert notes and notes[0].startswith("12 of 12 formulas are shown as differentiated")
    rng = np.random.default_rng(0)
    point = {"W": rng.standard_normal((3, 3)), "x": rng.standard_normal(3)}
    truth, shown = true_gradient(p, point), formula_values(p, point, found)
    for name in ("W", "x"):
        np.testing.assert_allclose(shown[name], truth[name], rtol=1e-14)


def test_simplified_formulas_renamed_back_are_the_true_derivative():
    p = layer(3)
    _, _, found = formulas.formulas(p, ["W", "x"])
    rng = np.random.default_rng(1)
    point = {"W": rng.standard_normal((3, 3)), "x": rng.standard_normal(3)}
    truth, shown = true_gradient(p, point), formula_values(p, point, found)
    for name in ("W", "x"):
        np.testing.assert_allclose(shown[name], truth[name], rtol=1e-14)


def test_small_formulas_are_still_simplified():
    rows = formulas.derivative_table(program("(x**2 - 1)/(x - 1) + log(sigmoid(y))"), ["x", "y"])
    assert [r[3] for r in rows] == ["1", "1/(exp(y) + 1)"]


def test_the_help_example_for_diff_finishes():
    result = run("diff", SIGMOID_LAYER, "--at", "W=random(4,4)", "--at", "x=random(4)")
    assert result.exit_code == 0, result.output
    assert result.output.count("d/d") == 20


def test_once_the_tables_budget_is_spent_each_formula_gets_only_a_glance(monkeypatch):
    import sympy as sp

    def forever(expr, **kw):
        while True:
            pass

    monkeypatch.setattr(sp, "simplify", forever)
    monkeypatch.setattr(sp, "factor_terms", forever)
    monkeypatch.setattr(formulas, "FORMULA_SECONDS", 0.5)
    monkeypatch.setattr(formulas, "TABLE_SECONDS", 0.05)
    monkeypatch.setattr(formulas, "FACTOR_SECONDS", 0.01)
    p = layer(3)
    # 12 formulas at 0.5 s each would be 6 s; at a glance each, well under the guard.
    with deadline(3, "the table"):
        _, _, found = formulas.formulas(p, ["W", "x"])
    _, _, plain = formulas.formulas(p, ["W", "x"], simplify=False)
    assert all(a == b for name in ("W", "x") for a, b in zip(found[name].flat, plain[name].flat))
