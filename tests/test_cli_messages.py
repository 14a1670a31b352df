"""A problem that could not be checked always says why: never ``error: None``."""

import json

import pytest
from click.testing import CliRunner

from gradcheck.cli import main
from gradcheck.render.json import to_json
from gradcheck.render.summary import error_message, what_is_wrong
from gradcheck.results import ProblemResult, Report

NOT_FINITE = "x: the derivative is not finite at the point"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_an_entry_that_could_not_be_checked_is_the_message():
    result = run("eval", "sqrt(x)", "--at", "x=0")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {NOT_FINITE}") and "None" not in result.stderr
    doc = run("eval", "sqrt(x)", "--at", "x=0", "--format", "json")
    assert json.loads(doc.stdout)["problems"][0]["message"].startswith(NOT_FINITE)
    assert doc.stderr.startswith(f"error: {NOT_FINITE}")


def test_a_batch_names_the_entry_in_the_problem_and_the_summary(tmp_path):
    (tmp_path / "root.yaml").write_text("expr: sqrt(x)\nat: {x: 0}\n")
    result = run("check", tmp_path, "--no-color")
    assert result.exit_code == 2
    assert f"error: {NOT_FINITE}" in result.stdout and "None" not in result.stdout
    assert result.stdout.count(NOT_FINITE) == 2  # the problem, and its summary row


def test_with_nothing_recorded_it_still_says_so():
    bare = ProblemResult("p", "x", "error")
    assert error_message(bare) == what_is_wrong(bare) != ""
    assert "no reason was recorded" in error_message(bare)
    assert to_json(Report([bare]))["problems"][0]["message"] == error_message(bare)
    assert to_json(Report([ProblemResult("q", "x", "pass")]))["problems"][0]["message"] is None


@pytest.mark.parametrize("message", [None, ""])
def test_an_error_without_words_is_not_printed_as_none(monkeypatch, message):
    import gradcheck.source.problems
    from gradcheck.errors import GradcheckError

    def empty(*args, **kwargs):
        raise GradcheckError(message)

    monkeypatch.setattr(gradcheck.source.problems, "problem", empty)
    result = run("diff", "x")
    assert result.exit_code == 2
    assert result.stderr == "error: could not be checked, for no reason given\n"
