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
from gradcheck.engine import symbolic
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
    notes = symbolic.constant_notes(p)
    assert len(notes) == 2
    assert notes[0].startswith("the constant 'exp(-10**10**10)' (column 1) is taken as its")
    assert "float64 value 0.0: exactly it would have about 1e+10 digits" in notes[0]
    assert "'1.0001**(10**5)'" in notes[1] and "about 8e+05 digits" in notes[1]


def test_tapes_and_notes_take_the_notes_list():
    notes: list[str] = []
    symbolic.tape_for(program("exp(-10**10**10)+x"), ["x"], notes=notes)
    assert len(notes) == 1 and "exp(-10**10**10)" in notes[0]


def test_constants_within_the_limit_stay_exact():
    assert symbolic.constant_notes(program("2**1000*x + 0.1**3")) == []
    rows = symbolic.derivative_table(program("2**1000*x + 0.1**3*x"), ["x"])
    assert rows[0][3] == f"{2**1000 * 1000 + 1}/1000"


def test_a_constant_with_no_value_is_left_to_the_graph_to_name():
    # log(-1) has no real value: no digit estimate, no folding; SymPy keeps it as written.
    assert symbolic.constant_notes(program("log(-1)**(10**10)*x")) == []


@given(st.lists(st.integers(2, 30), min_size=2, max_size=4))
def test_the_digit_estimate_never_undercounts(tower):
    """For integer towers small enough to build, the estimate is the true digit count
    less at most one (it estimates log10), plus the digits of the exponents (which are
    built too); past that, it is above the limit, so nothing is ever built."""
    estimate = max(symbolic.exact_digits(program("**".join(map(str, tower)) + " + x")))
    exponent, slack = 1, len(tower)
    for base in reversed(tower[1:]):
        exponent = base**exponent
        if exponent > 10**5:
            assert estimate > symbolic.EXACT_DIGITS
            return
        slack += len(str(exponent))
    true_digits = math.floor(exponent * math.log10(tower[0])) + 1
    assert true_digits - 1 <= estimate <= true_digits + slack
