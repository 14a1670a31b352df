"""Rendering, tested as text on a fixed-width console."""

import io
import json
import math

import numpy as np
from rich.console import Console

from gradcheck import Settings, check, problem
from gradcheck.render.json import to_json
from gradcheck.render.numbers import agreeing_digits, format_array
from gradcheck.render.tables import render
from gradcheck.results import Cause, CauseCode


def text(report, width=120) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(render(report))
    return console.file.getvalue()


def test_a_large_array_shows_its_worst_entries_and_a_summary_row(monkeypatch):
    built = problem("sum(tanh(W @ x))", at=["W=random(5, 5)", "x=random(5)"], claims=[], wrt=["W"])
    report = check(built)
    gradient = report.problems[0].points[0].gradient["W"]
    gradient.status[3, 4] = "fail"  # a failing entry must always be among those shown
    gradient.causes[19] = Cause(CauseCode.CENTRAL, "planted")
    out = text(report)
    rows = [
        line
        for line in out.splitlines()
        if line.strip().startswith("W[") and ": planted" not in line
    ]
    assert len(rows) == 12
    assert any(line.strip().startswith("W[3, 4]") and "fail" in line for line in rows)
    assert "… 13 more entries of W not shown (13 pass); largest central error" in out
    assert "W[3, 4]  fail: planted" in out


def test_small_arrays_show_every_entry_in_order():
    out = text(check(problem("sum(W)", at=["W=random(2, 2)"])))
    rows = [
        line.split()[0] + line.split()[1]
        for line in out.splitlines()
        if line.strip().startswith("W[")
    ]
    assert rows == ["W[0,0]", "W[0,1]", "W[1,0]", "W[1,1]"]


def test_agreeing_digits_are_plain_and_the_rest_marked():
    cell = agreeing_digits(0.4983941, 0.4983950, "fail")
    assert cell.plain == "0.4983941"
    assert [s.style for s in cell.spans] == ["red"]
    assert cell.plain[cell.spans[0].start :] == "41"
    assert agreeing_digits(1.5, 1.5, "pass").spans == []


def test_the_verdict_line_counts_and_states_the_tolerance():
    out = text(check(problem("relu(x - 1)*y + abs(y - 2)", at=["x=1", "y=2"])))
    assert "KINK  2 entries; 2 kinks" in out and "(rtol 1e-06, atol 1e-09)" in out


def test_values_and_random_draws_are_shown():
    out = text(check(problem("sum(x*y)", at=["x=[1, 2]"]), Settings(seed=5)))
    assert "x = [1, 2]" in out and "random (seed 5): y" in out


def test_big_values_are_summarised():
    assert format_array(np.zeros((10, 10))) == "<10 x 10 array, |max| 0>"
    assert format_array(np.array([[1, 2], [3, 4.5]])) == "[[1, 2], [3, 4.5]]"


def test_json_replaces_non_finite_numbers_with_null():
    doc = to_json(check(problem("sqrt(x)", at=["x=0"])))
    gradient = doc["problems"][0]["points"][0]["gradient"]["x"]
    assert gradient["backprop"] is None  # inf
    json.dumps(doc, allow_nan=False)  # strict JSON


def test_json_points_carry_the_draws_and_the_seed():
    doc = to_json(check(problem("x*y", at=["x=1"]), Settings(seed=7)))
    problem_doc = doc["problems"][0]
    assert problem_doc["seed"] == 7 and problem_doc["points"][0]["random"] == ["y"]
    assert problem_doc["tolerance"] == {"rtol": 1e-6, "atol": 1e-9}
    assert not math.isnan(problem_doc["points"][0]["value"])


def test_the_seed_example_fits_100_columns_untruncated():
    built = problem("1/(2+sin(w1*x1)**2+cos(w2*x2))", at=["w1=-3", "x1=-2", "w2=2", "x2=-1"])
    out = text(check(built), width=100)
    assert "…" not in out and "-0.38853959590483284" in out
    small = text(check(problem("sum(W @ x)*1e-6", at=["W=random(3, 3)", "x=random(3)"])), 100)
    assert "…" not in small
