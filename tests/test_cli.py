"""The command line as a user meets it: exit codes, messages and output, as text."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from gradcheck import __version__
from gradcheck.cli.main import main

SEED = "1/(2+sin(w1*x1)**2+cos(w2*x2))"
SEED_AT = ["--at", "w1=-3", "--at", "x1=-2", "--at", "w2=2", "--at", "x2=-1"]


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_the_first_example_works_as_written():
    result = run("eval", SEED)
    assert result.exit_code == 0, result.output
    assert "PASS" in result.stdout and "random (seed 0): w1, x1, w2, x2" in result.stdout


def test_values_symbolic_and_estimators_are_shown():
    result = run("eval", SEED, *SEED_AT)
    assert result.exit_code == 0
    out = result.stdout
    for column in ("symbolic", "backprop", "forward", "backward", "central", "status"):
        assert column in out
    assert "0.601711441564172" in out and "-0.38853959590483" in out


@pytest.mark.parametrize(
    "args",
    [
        [
            "eval",
            "sum(sigmoid(W @ x)**2)",
            "--at",
            "W=[[1,2,3],[3,1,2],[2,3,1]]",
            "--at",
            "x=[[1],[1],[1]]",
        ],
        [
            "eval",
            "0.5*sum((z - y)**2)",
            "--let",
            "p=V1 @ x + b1",
            "--let",
            "z=V2 @ relu(p) + b2",
            "--at",
            "V1=[[2, -1], [0, 3], [2, 1]]",
            "--at",
            "b1=[2, -1, 3]",
            "--at",
            "V2=[[2, 1, -3], [3, -1, 2]]",
            "--at",
            "b2=[4, 2]",
            "--at",
            "x=[-1, 2]",
            "--at",
            "y=[-4, 1]",
            "--wrt",
            "V1,b1,V2,b2",
        ],
        ["eval", "x*exp(-x*y)", "--claim", "x=exp(-x*y)*(1-x*y)"],
        [
            "eval",
            "sum(tanh(W @ x)**2)",
            "--at",
            "W=random(30, 40)",
            "--at",
            "x=random(40)",
            "--mode",
            "directional",
            "--probes",
            "2",
        ],
        ["diff", SEED, "--latex"],
        ["diff", SEED],
    ],
)
def test_documented_examples_run(args):
    result = run(*args)
    assert result.exit_code == 0, result.output


def test_a_wrong_claim_exits_1_and_shows_where():
    result = run("eval", "x*exp(-x*y)", "--claim", "y=x*exp(-x*y)")
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "the derivative for y is" in result.stdout


def test_a_kink_exits_0_and_strict_exits_1():
    result = run("eval", "relu(x - 1)*y", "--at", "x=1", "--at", "y=2")
    assert result.exit_code == 0 and "KINK" in result.stdout and "relu(x - 1)" in result.stdout
    assert run("eval", "relu(x - 1)*y", "--at", "x=1", "--at", "y=2", "--strict").exit_code == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["eval", "sin(x"], "column 4: syntax error"),
        (["eval", "sinh2(x)"], "did you mean 'sinh'?"),
        (["eval", "__import__('os').system('echo hi')"], "dunder name '__import__'"),
        (["eval", "x.__class__.__bases__"], "only .T (transpose)"),
        (["eval", "(lambda: 1)()"], "only functions can be called"),
        (["eval", "lambda: 1"], "lambda"),
        (["eval", "'rm -rf /'"], "strings are not allowed"),
        (["eval", "[x for x in y]"], "comprehensions"),
        (
            ["eval", "sum(W @ x)", "--at", "W=random(3,3)", "--at", "x=random(2)"],
            "W has shape (3, 3) and x has shape (2,)",
        ),
        (["eval", "W @ x"], "give W one, or a shape"),
        (["eval", "W @ x", "--at", "W=random(2,3)", "--at", "x=random(2)"], "shapes do not fit"),
        (["eval", "exp(1000)*x"], "'exp(1000)' (column 1) is inf"),
        (["eval", "log(x)", "--at", "x=-1"], "'log(x)' (column 1) is nan"),
        (["eval", "x", "--at", "x=[1, 2"], "--at x, column 3"),
        (["eval", "x", "--at", "x"], "expected NAME=VALUE"),
        (["eval", "x", "--at", "x=abc"], "cannot refer to 'abc'"),
        (["eval", "x", "--at", "y=1"], "'y' is given a value but the expression does not use it"),
        (["eval", "sum(x)", "--at", "x=[[1],[2,3]]"], "must all have the same shape"),
        (["eval", "x*y", "--wrt", "z"], "'z' is not an input"),
        (["eval", "z[y]", "--at", "z=[1,2]", "--wrt", "y"], "used as an index"),
        (["eval", "z[y]", "--at", "z=[1,2]", "--at", "y=5"], "out of range"),
        (["eval", "x", "--let", "p"], "expected NAME=EXPRESSION"),
        (["eval", "q", "--let", "q=p*2", "--let", "p=x"], "'p' is used before it is defined"),
        (["eval", "x*y", "--claim", "z=1"], "'z' is not an input"),
        (["eval", "sum(W)", "--at", "W=random(2,3)", "--claim", "W=[1,2]"], "claimed derivative"),
        (["diff", "sinn(x)"], "did you mean 'sin'"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(args, words):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_usage_errors_exit_2():
    assert run("eval").exit_code == 2
    assert run("eval", "x", "--mode", "sideways").exit_code == 2
    assert run("eval", "x", "--step", "0").exit_code == 2


def test_json_follows_the_design_document():
    result = run("eval", SEED, *SEED_AT, "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["version"] == 1
    assert doc["summary"] == {"pass": 1, "fail": 0, "kink": 0, "error": 0}
    (problem,) = doc["problems"]
    assert {"name", "file", "status", "message", "points", "claims", "notes"} <= set(problem)
    (point,) = problem["points"]
    assert point["at"] == {"w1": -3.0, "x1": -2.0, "w2": 2.0, "x2": -1.0}
    assert point["value"] == pytest.approx(0.6017114415641729, rel=1e-15)
    w1 = point["gradient"]["w1"]
    for key in ("symbolic", "backprop", "forward", "backward", "central", "expected", "status"):
        assert key in w1
    assert set(w1["error"]) == {"backprop", "forward", "backward", "central"}
    assert w1["status"] == "pass" and w1["expected"] is None


def test_json_arrays_have_the_inputs_shape():
    result = run(
        "eval", "sum(W @ x)", "--at", "W=random(2, 3)", "--at", "x=random(3)", "--format", "json"
    )
    gradient = json.loads(result.stdout)["problems"][0]["points"][0]["gradient"]
    assert len(gradient["W"]["backprop"]) == 2 and len(gradient["W"]["backprop"][0]) == 3
    assert len(gradient["W"]["status"]) == 2


def test_json_errors_are_documents_too():
    result = run("eval", "sinh2(x)", "--format", "json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["problems"][0]["status"] == "error"
    assert "sinh2" in doc["problems"][0]["message"]
    assert doc["summary"]["error"] == 1


def test_claims_in_json():
    result = run("eval", "x*exp(-x*y)", "--claim", "y=x*exp(-x*y)", "--format", "json")
    claim = json.loads(result.stdout)["problems"][0]["claims"]["y"]
    assert claim["status"] == "fail" and {"at", "claimed", "true"} <= set(claim["counterexample"])


def test_every_command_has_help():
    for command in main.commands:
        result = run(command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.stdout and "Examples" in result.stdout


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.stdout


def test_no_color():
    forced = {"FORCE_COLOR": "1", "NO_COLOR": None}
    assert "\x1b[" in run("eval", SEED, *SEED_AT, env=forced).stdout
    assert "\x1b[" not in run("eval", SEED, *SEED_AT, "--no-color", env=forced).stdout
    assert "\x1b[" not in run("eval", SEED, *SEED_AT, env={**forced, "NO_COLOR": "1"}).stdout


def test_python_dash_m():
    done = subprocess.run(
        [sys.executable, "-m", "gradcheck", "eval", "x**2", "--at", "x=3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "PASS" in done.stdout


def test_a_bug_of_ours_is_one_line_and_exit_2(monkeypatch):
    import gradcheck.engine.formulas

    def broken(*args, **kwargs):
        raise TypeError("planted")

    monkeypatch.setattr(gradcheck.engine.formulas, "derivative_table", broken)
    monkeypatch.delenv("GRADCHECK_DEBUG", raising=False)
    result = CliRunner().invoke(main, ["diff", "x*y"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: internal error (TypeError: planted)")
    assert "Traceback" not in result.output


def test_json_names_the_causes_of_failing_array_entries(monkeypatch):
    from dataclasses import replace

    from gradcheck.engine.ops import OPS

    matmul = OPS["matmul"]
    wrong = (lambda g, o, a, b: 2 * matmul.vjps[0](g, o, a, b), matmul.vjps[1])
    monkeypatch.setitem(OPS, "matmul", replace(matmul, vjps=wrong))
    result = run("eval", "sum(tanh(W @ x))", "--at", "W=random(2, 3)", "--at", "x=random(3)",
                 "--format", "json")  # fmt: skip
    assert result.exit_code == 1, result.output
    causes = json.loads(result.stdout)["problems"][0]["points"][0]["gradient"]["W"]["causes"]
    assert [c["index"] for c in causes] == [[i, j] for i in range(2) for j in range(3)]
    assert all(c["status"] == "fail" and "backprop" in c["cause"] for c in causes)
