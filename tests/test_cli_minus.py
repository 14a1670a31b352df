"""An expression that starts with a minus sign works as typed, before or after options."""

import json

import pytest
from click.testing import CliRunner

from gradcheck.cli import main

LOSS = "-sum(y*log(p))"
AT = ["--at", "y=[0, 1]", "--at", "p=[0.3, 0.7]"]


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def gradient_of_p(result) -> list[float]:
    doc = json.loads(result.stdout)
    return doc["problems"][0]["points"][0]["gradient"]["p"]["symbolic"]


@pytest.mark.parametrize(
    "args",
    [
        [LOSS, *AT],
        [*AT, LOSS],
        [AT[0], AT[1], LOSS, AT[2], AT[3]],
        ["--", LOSS, *AT],  # the way a shell user reaches for first
        [*AT, "--", LOSS],
    ],
)
def test_eval_reads_a_leading_minus_as_the_expression(args):
    result = run("eval", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    assert gradient_of_p(result) == pytest.approx([0.0, -1 / 0.7], rel=1e-12)


def test_every_expression_command_takes_it():
    assert "d/dx = -2*x" in run("diff", "-x**2", "--no-color").stdout
    trace = run("trace", "-x*tanh(h)", "--at", "x=3", "--at", "h=1", "--format", "json")
    assert trace.exit_code == 0 and json.loads(trace.stdout)["expression"] == "-x*tanh(h)"
    sweep = run("sweep", "-x**3", "--at", "x=2", "--steps", "1e-2:1e-6:3", "--format", "json")
    assert sweep.exit_code == 0 and json.loads(sweep.stdout)["exact"] == -12.0


def test_negative_option_values_and_unknown_long_options_keep_their_meaning():
    result = run("eval", "--at", "-1", "-x", "--format", "json")  # --at's value, not EXPR
    assert result.exit_code == 2 and "expected NAME=VALUE" in result.stderr
    result = run("eval", "--at=x=-2", "-x**3", "--format", "json", "--atol", "-0")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["problems"][0]["points"][0]["at"] == {"x": -2.0}
    typo = run("eval", "-x", "--att", "x=1")
    assert typo.exit_code == 2 and "No such option '--att'" in typo.stderr


def test_help_documents_it():
    for command in ("eval", "diff"):
        text = " ".join(run(command, "--help").stdout.split())
        assert "may start with a minus sign" in text
