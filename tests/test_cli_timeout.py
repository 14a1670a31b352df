"""--timeout: eval and check pass it to the library as the per-problem limit; diff stops
at it; it must be a positive, finite number of seconds."""

import time

import pytest
from click.testing import CliRunner

from gradcheck.cli import main
from gradcheck.limits import TIMEOUT

GOOD = "problems/seed-000-q1.yaml"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def settings_seen(monkeypatch):
    import importlib

    import gradcheck.batch

    module = importlib.import_module("gradcheck.check")  # gradcheck.check is the function
    seen = []
    real_check, real_run = module.check, gradcheck.batch.run

    def check(problems, settings=None):
        seen.append(settings)
        return real_check(problems, settings)

    def batch(found, settings, **kwargs):
        seen.append(settings)
        return real_run(found, settings, **kwargs)

    monkeypatch.setattr(module, "check", check)
    monkeypatch.setattr(gradcheck.batch, "run", batch)
    return seen


def test_eval_and_check_pass_the_timeout_in_the_settings(settings_seen):
    assert run("eval", "x*y", "--timeout", "2.5").exit_code == 0
    assert run("check", GOOD, "--timeout", "7").exit_code == 0
    assert run("eval", "x*y").exit_code == 0
    assert [s.timeout for s in settings_seen] == [2.5, 7.0, TIMEOUT]


def test_diff_stops_at_its_timeout(monkeypatch):
    import gradcheck.engine.formulas

    def slow(*args, **kwargs):
        time.sleep(5)

    monkeypatch.setattr(gradcheck.engine.formulas, "derivative_table", slow)
    start = time.perf_counter()
    result = run("diff", "x*y", "--timeout", "0.2")
    assert time.perf_counter() - start < 4
    assert result.exit_code == 2
    assert result.stderr == (
        "error: differentiating the expression took longer than 0.2 s; --timeout raises the limit\n"
    )


@pytest.mark.parametrize("command", [["eval", "x"], ["check", GOOD], ["diff", "x"]])
@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_a_timeout_must_be_positive_and_finite(command, value):
    result = run(*command, "--timeout", value)
    assert result.exit_code == 2 and "Invalid value for '--timeout'" in result.stderr


def test_the_timeout_is_documented_with_its_default():
    for command in ("eval", "check", "diff"):
        text = " ".join(run(command, "--help").stdout.split())
        assert "--timeout SECONDS" in text and f"[default: {TIMEOUT}]" in text
