"""Sizes are bounded before anything is allocated, with a message naming the limit."""

import numpy as np
import pytest

from gradcheck import limits, problem
from gradcheck.errors import GradcheckError


@pytest.mark.parametrize(
    ("expression", "at", "words"),
    [
        ("sum(W)", ["W=random(100000, 100000)"], "W has 10,000,000,000 entries"),
        ("sum(outer(x, x))", ["x=random(5000)"], "'outer(x, x)' has 25,000,000 entries"),
    ],
)
def test_arrays_over_the_entry_limit_are_refused_before_allocation(expression, at, words):
    with pytest.raises(GradcheckError) as caught:
        problem(expression, at=at)
    assert words in str(caught.value) and "--max-entries" in str(caught.value)


def test_the_entry_limit_can_be_lifted(monkeypatch):
    monkeypatch.setattr(limits, "ENTRIES", limits.ENTRIES)
    monkeypatch.setattr(limits, "TOTAL_ENTRIES", limits.TOTAL_ENTRIES)
    limits.lift(entries=10)
    with pytest.raises(GradcheckError, match="above the limit of 10;"):
        problem("sum(x)", at=["x=random(11)"])
    limits.lift(entries=100)
    assert problem("sum(x)", at=["x=random(11)"]).shapes["x"] == (11,)


def test_the_whole_graph_is_bounded_too(monkeypatch):
    monkeypatch.setattr(limits, "TOTAL_ENTRIES", limits.Limit(50, "entries in all", "--max"))
    with pytest.raises(GradcheckError, match="the expression's graph has"):
        problem("sum(exp(x) * sin(x) + x)", at=["x=random(20)"])


@pytest.mark.parametrize("op", ["softmax", "logsumexp", "norm"])
def test_an_operation_over_all_entries_of_a_matrix_says_so(op):
    expression = "sum(softmax(W) * G)" if op == "softmax" else f"{op}(W)"
    at = ["W=random(2, 3)", "G=random(2, 3)"] if op == "softmax" else ["W=random(2, 3)"]
    (note,) = problem(expression, at=at).notes
    assert f"'{op}(W)'" in note and "all 6 entries of the 2x3 array" in note


def test_an_operation_over_a_vector_needs_no_note():
    assert problem("logsumexp(x)", at=["x=random(3)"]).notes == ()


def test_a_tower_of_variables_is_evaluated_by_its_limits_not_in_full():
    # x**x**x**x at 3 has about 1.2e13 bits of magnitude: exp of its negative is 0, and the
    # symbolic side takes that limit instead of computing with 1.2e13 bits of precision
    from gradcheck import check
    from gradcheck.engine import symbolic
    from gradcheck.engine.tape import evaluate

    built = problem("exp(-x**x**x**x) + x", at=["x=3"])
    tape = symbolic.tape_for(built.program, built.wrt)
    value, grads = evaluate(tape, {"x": np.array(3.0)})
    assert value == 3.0 and grads["x"][0] == 1.0
    (out,) = check(built).problems
    assert out.status == "error" and "backprop gives nan" in out.message


def test_the_cli_lifts_and_lowers_limits_by_option(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from gradcheck.cli import main

    for name in ("ENTRIES", "TOTAL_ENTRIES", "FILE_BYTES"):
        monkeypatch.setattr(limits, name, getattr(limits, name))
    low = CliRunner().invoke(
        main, ["eval", "sum(x)", "--at", "x=random(20)", "--max-entries", "10"]
    )
    assert low.exit_code == 2 and "above the limit of 10; --max-entries lifts it" in low.output
    high = CliRunner().invoke(
        main, ["eval", "sum(x)", "--at", "x=random(20)", "--max-entries", "99"]
    )
    assert high.exit_code == 0
    big = tmp_path / "big.yaml"
    big.write_text("expr: x\nat: {x: 1}\n" + "# padding\n" * 20)
    small = CliRunner().invoke(main, ["check", str(big), "--max-file-size", "50"])
    assert small.exit_code == 2 and "--max-file-size" in small.output


def test_a_file_of_too_many_problems_is_one_error_naming_the_limit(tmp_path):
    from gradcheck.source.files import Broken, load

    many = tmp_path / "many.yaml"
    many.write_text("---\n".join("expr: x\nat: {x: 1}\n" for _ in range(1001)))
    (broken,) = load(many)
    assert isinstance(broken, Broken)
    assert "1,001 problems (YAML documents), above the limit of 1,000" in str(broken.error)
    fine = tmp_path / "fine.yaml"
    fine.write_text("---\n".join("expr: x\nat: {x: 1}\n" for _ in range(3)))
    assert len(load(fine)) == 3
