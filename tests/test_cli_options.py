"""Options out of range are usage errors: exit code 2 and a message naming the option, the
value and the bound, never an internal error, a hang or a silent default."""

import os

import pytest
from click.testing import CliRunner

from gradcheck.cli import main
from gradcheck.limits import POINTS, PROBES, STEPS

GOOD = "problems/seed-000-q1.yaml"


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["eval", "x", "--seed", "-1"], "-1 is not in the range 0<=x<=4294967295"),
        (["eval", "x", "--seed", str(2**32)], "4294967296 is not in the range"),
        (["check", GOOD, "--seed", "-1"], "'--seed': -1 is not in the range"),
        (["eval", "x", "--rtol", "nan"], "'--rtol': 'nan' is not a finite number"),
        (["eval", "x", "--rtol", "inf"], "'--rtol': 'inf' is not a finite number"),
        (["eval", "x", "--rtol", "-1"], "'--rtol': '-1' is out of range: it must be at least 0"),
        (["eval", "x", "--atol", "nan"], "'--atol': 'nan' is not a finite number"),
        (["diff", "x", "--atol", "-inf"], "'--atol': '-inf' is not a finite number"),
        (["eval", "x", "--step", "nan"], "'--step': 'nan' is not a finite number"),
        (["eval", "x", "--step", "inf"], "'--step': 'inf' is not a finite number"),
        (["eval", "x", "--step", "0"], "'--step': '0' is out of range: it must be above 0"),
        (["eval", "x", "--step", "-1"], "'--step': '-1' is out of range: it must be above 0"),
        (["eval", "x", "--rtol", "abc"], "'abc' is not a number"),
        (["sweep", "x", "--steps", "nan:1:3"], "LO and HI must be finite; expected LO:HI:N"),
        (["sweep", "x", "--steps", "1e-1:inf:3"], "LO and HI must be finite"),
        (["sweep", "x", "--steps", "-1:1e-3:3"], "LO and HI must be positive"),
        (["sweep", "x", "--steps", "0:1e-3:3"], "LO and HI must be positive"),
        (["sweep", "x", "--steps", "1e-1:1e-3:1"], "N must be at least 2"),
        (["sweep", "x", "--steps", "1e-1:1e-3:1:2"], "not three numbers"),
        (
            ["sweep", "x", "--steps", f"1e-1:1e-3:{10**6}"],
            f"N = 1,000,000 is above the limit of {STEPS.value:,} steps",
        ),
        (
            ["eval", "x", "--points", str(10**8)],
            f"'--points': 100,000,000 is above the limit of {POINTS.value:,} points",
        ),
        (
            ["check", GOOD, "--probes", str(10**7)],
            f"'--probes': 10,000,000 is above the limit of {PROBES.value:,} probes",
        ),
        (["eval", "x", "--points", "0"], "0 is not in the range x>=1"),
        (["check", GOOD, "-j", "0"], "0 is not in the range x>=1"),
        (["sweep", "x", "--plot", ""], "'--plot': an empty file name"),
        (["sweep", "x", "--plot", "sweep.gif"], "must end in .png, .svg or .pdf"),
        (["check", GOOD, "--junit", ""], "'--junit': an empty file name"),
        (["trace", "x", "--dot", ""], "'--dot': an empty file name"),
        (["check", GOOD, "--junit", "problems"], "is a directory"),
    ],
)
def test_an_option_out_of_range_is_a_usage_error(args, words):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert words in result.stderr, result.stderr
    assert result.stdout == "" and "internal error" not in result.stderr


def test_an_enormous_job_count_is_lowered_not_an_error(monkeypatch):
    import gradcheck.batch

    seen = {}
    real = gradcheck.batch.run

    def spy(found, settings, *, jobs, **kwargs):
        seen["jobs"] = jobs
        return real(found, settings, jobs=1, **kwargs)

    monkeypatch.setattr(gradcheck.batch, "run", spy)
    result = run("check", GOOD, "-j", "99999999999999999999")
    assert result.exit_code == 0, result.output
    assert seen["jobs"] == 1  # one file: one worker
    result = run("check", "problems/", "-j", "10000")
    assert 1 <= seen["jobs"] <= (os.cpu_count() or 1)
    assert "never more than the files or the CPUs" in " ".join(
        run("check", "--help").stdout.split()
    )


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (
            "missing/report.xml",
            "No such file or directory: the folder {tmp}/missing does not exist",
        ),
        ("a-file/report.xml", "Not a directory"),
    ],
)
def test_junit_that_cannot_be_written_is_named_after_the_results_are_shown(
    tmp_path, target, reason
):
    (tmp_path / "a-file").write_text("")
    path = tmp_path / target
    result = run("check", GOOD, "--junit", path, "--no-color")
    assert result.exit_code == 2
    assert "1 problem: 1 pass" in result.stdout  # the results are still printed
    assert result.stderr == (
        f"error: --junit {path}: cannot write it ({reason.format(tmp=tmp_path)})\n"
    )
    json_run = run("check", GOOD, "--junit", path, "--format", "json")
    assert json_run.exit_code == 2 and '"summary"' in json_run.stdout


def test_a_plot_or_graph_that_cannot_be_written_is_named(tmp_path, monkeypatch):
    plot = tmp_path / "missing" / "sweep.png"
    result = run("sweep", "x**3", "--plot", plot, "--no-color")
    assert result.exit_code == 2 and "d/dx" in result.stdout
    assert result.stderr.startswith(f"error: --plot {plot}: cannot write it (No such file")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no Graphviz: the .dot alone
    dot = tmp_path / "missing" / "graph.dot"
    result = run("trace", "x**3", "--dot", dot, "--no-color")
    assert result.exit_code == 2 and "adjoint" in result.stdout
    assert result.stderr.startswith(f"error: --dot {dot}: cannot write it (No such file")
