"""--fail-fast says how many files it did not check, in the summary and in the JSON."""

import json

from click.testing import CliRunner

from gradcheck.cli import main

FAILING = "expr: x**2\nat: {x: 3}\nexpect:\n  grad:\n    x: 5\n"
GOOD = "expr: x**2\nat: {x: 3}\nexpect:\n  grad:\n    x: 6\n"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def folder(tmp_path):
    (tmp_path / "a_failing.yaml").write_text(FAILING)
    for name in ("b_good.yaml", "c_good.yaml"):
        (tmp_path / name).write_text(GOOD)
    return tmp_path


def test_the_summary_counts_the_files_not_checked(tmp_path):
    result = run("check", folder(tmp_path), "--fail-fast", "--no-color")
    assert result.exit_code == 1
    assert "1 problem: 0 pass, 0 kink, 1 fail, 0 error; 2 files not checked" in result.stdout
    assert "--fail-fast stopped the run" in result.stdout


def test_the_json_summary_counts_them_too(tmp_path):
    doc = json.loads(run("check", folder(tmp_path), "--fail-fast", "--format", "json").stdout)
    assert doc["summary"] == {"pass": 0, "kink": 0, "fail": 1, "error": 0, "unchecked": 2}


def test_a_run_that_checks_everything_says_nothing_of_it(tmp_path):
    result = run("check", folder(tmp_path), "--no-color")
    assert "3 problems: 2 pass, 0 kink, 1 fail, 0 error\n" in result.stdout
    assert "not checked" not in result.stdout
    doc = json.loads(run("check", tmp_path, "--format", "json").stdout)
    assert "unchecked" not in doc["summary"]
