"""``gradcheck func`` as a user sees it, on the shipped examples: the table names the code
and says "your code", each wrong gradient's diagnosis and each finding about the code in
words, a layer's seeded dout; the JSON is design.md's func document."""

import contextlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcheck.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
AFFINE = ["--at", "x=random(4,5)", "--at", "w=random(5,3)", "--at", "b=random(3)"]


def run(*args: str):
    """``gradcheck func ARGS`` in the examples folder, as its docstrings run it."""
    with contextlib.chdir(EXAMPLES):
        return CliRunner().invoke(main, ["func", *args, "--no-color"])


def flat(text: str) -> str:
    """The output with its line wrapping and column padding undone."""
    return " ".join(text.split())


def header(text: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith("entry "))


@pytest.fixture(scope="module")
def transposed():
    return run("layers_buggy.py:affine_forward", "--backward", "layers_buggy.py:affine_backward",
               *AFFINE)  # fmt: skip


def test_a_layer_names_its_code_and_says_your_code(transposed):
    out = transposed.stdout
    assert transposed.exit_code == 1
    assert out.startswith(
        "● layers_buggy.py:affine_forward, backward layers_buggy.py:affine_backward"
    )
    columns = header(out).split()
    assert columns[:2] == ["entry", "your"] and "code" in columns
    assert "symbolic" not in columns and "backprop" not in columns
    assert columns[-4:] == ["forward", "backward", "central", "status"]


def test_a_wrong_gradient_is_diagnosed_on_its_own_line(transposed):
    lines = [" ".join(line.split()) for line in transposed.stdout.splitlines()]
    assert (
        "w: it has shape (3, 5) but w has shape (5, 3): it is the true gradient transposed" in lines
    )
    assert not any(line.startswith(("x:", "b:")) for line in lines)  # right, so no diagnosis


def test_a_layer_says_what_is_differentiated_and_its_seeded_dout(transposed):
    out = flat(transposed.stdout)
    assert "f sum(out * dout) = " in out
    assert "random (seed 0), shape (4, 3)" in out and "dout = [[" in out
    seeded = flat(run("layers.py:affine_forward", "--backward", "layers.py:affine_backward",
                      *AFFINE, "--seed", "7").stdout)  # fmt: skip
    assert "random (seed 7), shape (4, 3)" in seeded


def test_findings_are_said_in_words_and_counted_in_the_verdict(transposed):
    out = flat(transposed.stdout)
    assert "found: the gradient for w has shape (3, 5) but w has shape (5, 3)" in out
    verdict = next(line for line in transposed.stdout.splitlines() if "FAIL" in line)
    assert "38 entries; 12 failures, 1 gradient of the wrong shape" in flat(verdict)
    assert "worst error of your code" in verdict and "central error" not in verdict


def test_code_that_modifies_its_input_fails_and_says_so():
    result = run("layers_buggy.py:relu_forward", "--backward", "layers_buggy.py:relu_backward",
                 "--at", "x=random(3,4)")  # fmt: skip
    assert result.exit_code == 1
    out = flat(result.stdout)
    assert "found: relu_backward modifies the upstream gradient dout in place" in out
    assert "FAIL 12 entries; 1 argument modified in place" in out


def test_the_diagonal_only_softmax_backward_is_named():
    result = run("softmax.py:softmax_forward", "--backward", "softmax.py:softmax_backward",
                 "--at", "o=random(4,3)")  # fmt: skip
    assert result.exit_code == 1
    assert "o: it uses only the diagonal of the layer's Jacobian" in flat(result.stdout)


def test_a_missing_factor_is_named_and_a_function_with_grads_has_no_layer_line():
    result = run("layers_buggy.py:l2_loss", "--at", "w=random(3,2)", "--at", "reg=0.1",
                 "--wrt", "w")  # fmt: skip
    out = flat(result.stdout)
    assert result.exit_code == 1
    assert "● layers_buggy.py:l2_loss (value and gradients)" in out
    assert "w: it is the true gradient times 1/2 (a factor 2 missing)" in out
    assert "dout" not in out and "sum(out" not in out


def test_right_code_passes():
    result = run("layers.py:affine_forward", "--backward", "layers.py:affine_backward", *AFFINE)
    assert result.exit_code == 0
    assert "PASS 38 entries; worst error of your code" in flat(result.stdout)
    assert "found:" not in result.stdout and "it is" not in result.stdout


# ---------------------------------------------------------------- JSON


def test_the_json_is_the_func_document():
    function, backward = "layers_buggy.py:affine_forward", "layers_buggy.py:affine_backward"
    result = run(function, "--backward", backward, *AFFINE, "--format", "json")
    assert result.exit_code == 1
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["kind"] == "func" and "expression" not in problem
    assert problem["function"] == "layers_buggy.py:affine_forward"
    assert problem["backward"] == "layers_buggy.py:affine_backward" and "grad" not in problem
    finding = "the gradient for w has shape (3, 5) but w has shape (5, 3)"
    assert finding in problem["notes"] and finding in problem["message"]
    (point,) = problem["points"]
    assert "symbolic_value" not in point
    assert len(point["upstream"]) == 4 and len(point["upstream"][0]) == 3
    w = point["gradient"]["w"]
    assert "symbolic" not in w and "backprop" not in w and "expected" not in w
    assert len(w["claimed"]) == 5 and len(w["claimed"][0]) == 3  # laid out as w is
    assert len(w["central"]) == 5 and set(w["error"]) >= {"claimed", "central"}
    assert w["diagnosis"].endswith("it is the true gradient transposed")
    assert w["status"][0][1] == "fail" and point["gradient"]["x"]["diagnosis"] is None


def test_an_expression_says_its_kind_and_nothing_of_code():
    result = CliRunner().invoke(main, ["eval", "x**2", "--at", "x=3", "--format", "json"])
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["kind"] == "expression" and problem["expression"] == "x**2"
    assert "function" not in problem and "output_shape" not in problem
    gradient = problem["points"][0]["gradient"]["x"]
    assert gradient["symbolic"] == 6.0 and "claimed" not in gradient
    assert "upstream" not in problem["points"][0]


WRONG_ENTRY = """
import numpy as np

def loss(x):
    return np.sum(x ** 2)

def grad(x):
    g = 2 * x
    g[{k}] = 0.0
    return g
"""


def test_directional_json_carries_the_probes_and_only_the_judged_entries(tmp_path):
    (tmp_path / "big.py").write_text(WRONG_ENTRY.format(k=4321))
    code = str(tmp_path / "big.py")
    args = ["func", f"{code}:loss", "--grad", f"{code}:grad", "--at", "x=random(20000)"]
    result = CliRunner().invoke(main, [*args, "--mode", "directional", "--format", "json"])
    assert result.exit_code == 1
    (point,) = json.loads(result.stdout)["problems"][0]["points"]
    x = point["gradient"]["x"]
    assert set(x) == {"shape", "status", "entries", "diagnosis"}  # no array of 20000 values
    assert x["shape"] == [20000] and x["status"] == "fail"
    named = {tuple(e["index"]): e for e in x["entries"]}
    assert (4321,) in named and named[(4321,)]["claimed"] == 0.0
    assert named[(4321,)]["status"] == "fail" and "bisection" in named[(4321,)]["cause"]
    assert point["probes"] and all("claimed" in p and "backprop" not in p for p in point["probes"])
    del point["at"]  # the point itself, as given
    assert len(json.dumps(point)) < 20_000  # was every entry's value and status: ~1 MB here


def test_directional_table_names_the_found_entry(tmp_path):
    (tmp_path / "big.py").write_text(WRONG_ENTRY.format(k=17))
    code = str(tmp_path / "big.py")
    args = ["func", f"{code}:loss", "--grad", f"{code}:grad", "--at", "x=random(5000)"]
    result = CliRunner().invoke(main, [*args, "--mode", "directional", "--no-color"])
    out = flat(result.stdout)
    assert result.exit_code == 1
    assert "your code g·u" in out and "symbolic g·u" not in out
    assert "x[17] fail: your code 0 disagrees" in out
    assert "FAIL 3 directional probes over 5,000 entries; 1 failure" in out
