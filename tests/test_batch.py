"""gradcheck check: the shipped problems, batches, JUnit, annotations, shards, workers."""

import json
import os
import signal
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck import batch as batches
from gradcheck import limits
from gradcheck.batch import in_shard, run, workers
from gradcheck.check import Settings, check_one
from gradcheck.cli.main import main
from gradcheck.results import ProblemResult
from gradcheck.source import files
from gradcheck.source.files import find

from .test_files import HOSTILE

PROBLEMS = Path(__file__).resolve().parent.parent / "problems"
SHIPPED = sorted(PROBLEMS.rglob("*.yaml"))

GOOD = "expr: sin(x)*y\nat: {x: 1, y: 2}\nexpect:\n  grad: {x: 1.0806, y: 0.8415}\n"
FAILING = "name: wrong\nexpr: x^2\nat: {x: 3}\nexpect:\n  grad: {x: 5}\n"
BROKEN = "expr: x\nat: [1, 2\n"  # an unclosed list: the error is where it opens


def cli(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.relative_to(PROBLEMS).as_posix() for p in SHIPPED])
def test_every_shipped_problem_gets_its_verdict(path):
    expected = "fail" if "mistakes" in path.parts else "pass"
    report = run([path], Settings())
    assert [p.status for p in report.problems] == [expected] * len(report.problems)
    if expected == "fail":
        assert path.read_text().startswith("# MUST FAIL."), "say what is wrong, at the top"


def test_the_shipped_mistakes_are_recognised():
    report = run(find([str(PROBLEMS / "mistakes")]), Settings())
    by_name = {p.name: p for p in report.problems}
    dropped = by_name["seed 000 Q2: the formulas, sigmoid's derivative dropped"]
    for claim in dropped.claims.values():
        assert "local derivative of q = 'sigmoid(W @ x)'" in claim.diagnosis
    hand = by_name["seed 000 Q2: the hand values"]
    assert [x.what for x in hand.expected if x.status == "fail"] == ["W", "x"]
    assert [x.status for x in hand.expected if x.what == "value"] == ["pass"]
    diagonal = by_name["seed 003: softmax's Jacobian, the diagonal only"]
    only = "it is only the diagonal of the Jacobian: the terms that couple the entries"
    assert diagonal.claims["z"].status == "fail" and only in diagonal.claims["z"].diagnosis
    (numbers,) = diagonal.expected
    assert numbers.status == "fail" and only in numbers.diagnosis
    off_diagonal = [[i, j] for i in range(3) for j in range(3) if i != j]
    assert [w["index"] for w in numbers.wrong] == off_diagonal


def batch(tmp_path):
    for name, text in (
        ("a_good.yaml", GOOD),
        ("b_failing.yaml", FAILING),
        ("c_broken.yaml", BROKEN),
    ):
        (tmp_path / name).write_text(text)
    return tmp_path


def test_a_mixed_batch_gives_every_problem_a_row_and_exit_2(tmp_path):
    result = cli("check", batch(tmp_path))
    assert result.exit_code == 2
    out = result.stdout
    assert "3 problems: 1 pass, 0 kink, 1 fail, 1 error" in out
    assert "a_good.yaml" in out and "b_failing.yaml:1" in out and "c_broken.yaml" in out
    assert "expected grad x: 1 of 1 wrong, e.g. x claimed 5, true 6" in out
    assert "not valid YAML" in out


def test_hostile_files_are_each_one_error_and_the_batch_completes(tmp_path):
    for i, (data, _, _) in enumerate(HOSTILE):
        (tmp_path / f"h{i:02}.yaml").write_bytes(data)
    with open(tmp_path / "huge.yaml", "wb") as f:
        f.truncate(limits.FILE_BYTES.value + 1)
    (tmp_path / "zz_good.yaml").write_text(GOOD)
    junit = tmp_path / "out.xml"
    result = cli("check", tmp_path, "--format", "json", "--junit", junit)
    assert result.exit_code == 2
    problems = json.loads(result.stdout)["problems"]
    assert len(problems) == len(HOSTILE) + 2  # one result for every file
    good = problems.pop()
    assert good["file"].endswith("zz_good.yaml") and good["status"] == "pass"
    for problem in problems:
        assert problem["status"] == "error"
        assert problem["message"].startswith(problem["file"] + ":"), problem
    assert len(ElementTree.parse(junit).getroot().findall(".//testcase")) == len(HOSTILE) + 2


def test_a_bug_in_reading_one_file_is_that_files_error(tmp_path, monkeypatch):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    real = files.load

    def load(path):
        if Path(path).name == "a.yaml":
            raise ValueError("a bug")
        return real(path)

    monkeypatch.setattr(files, "load", load)
    report = run(find([str(tmp_path)]), Settings())
    bad, good = report.problems
    assert good.status == "pass" and bad.status == "error"
    assert bad.message == (
        f"{tmp_path / 'a.yaml'}: internal error while reading the file (ValueError: a bug); "
        "please report it"
    )


def test_what_cannot_be_looked_at_is_an_error_not_a_silent_pass(tmp_path, monkeypatch):
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "wrong.yaml").write_text(FAILING)
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    os.mkfifo(tmp_path / "pipe.yaml")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":  # as root, chmod 000 would not stop us
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    junit = tmp_path / "out.xml"
    result = cli("check", tmp_path, "--format", "json", "--junit", junit)
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert [(Path(p["file"]).name, p["status"], p["message"]) for p in doc["problems"]] == [
        (
            "gone.yaml",
            "error",
            f"{tmp_path}/gone.yaml: a broken link: its target "
            f"'{tmp_path}/nowhere.yaml' does not exist",
        ),
        ("good.yaml", "pass", None),
        ("locked", "error", f"{tmp_path}/locked: cannot list the folder: Permission denied"),
        ("pipe.yaml", "error", f"{tmp_path}/pipe.yaml: not a regular file (a FIFO)"),
    ]
    assert len(ElementTree.parse(junit).getroot().findall(".//testcase")) == 4


def test_a_fifo_named_directly_is_not_a_regular_file(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "good.yaml").write_text(GOOD)
    real_open = os.open

    def opening(path, *args, **kwargs):
        assert Path(path).name != "pipe.yaml", "the FIFO was opened"
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", opening)
    result = cli("check", tmp_path / "pipe.yaml", tmp_path / "good.yaml")
    assert result.exit_code == 2
    assert "not a regular file (a FIFO)" in result.stdout and "no such" not in result.output


def test_shards_place_what_could_not_be_read_by_its_path(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (broken,) = find([str(tmp_path / "pipe")])
    for n in (2, 3, 5):
        assert sum(in_shard(broken, (k, n)) for k in range(1, n + 1)) == 1
        assert [in_shard(broken, (k, n)) for k in range(1, n + 1)] == [
            in_shard(tmp_path / "pipe", (k, n)) for k in range(1, n + 1)
        ]


def test_exit_1_without_errors(tmp_path):
    (tmp_path / "f.yaml").write_text(FAILING)
    (tmp_path / "g.yaml").write_text(GOOD)
    assert cli("check", tmp_path).exit_code == 1
    assert cli("check", tmp_path / "g.yaml").exit_code == 0


def test_json_is_the_design_document(tmp_path):
    result = cli("check", batch(tmp_path), "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["version"] == 1 and doc["summary"] == {"pass": 1, "fail": 1, "kink": 0, "error": 1}
    good, failing, broken = doc["problems"]
    assert good["status"] == "pass" and good["points"][0]["gradient"]["x"]["expected"] == 1.0806
    assert failing["expect"]["x"]["wrong"][0] == {
        "index": [],
        "claimed": 5.0,
        "true": 6.0,
        "allowed": pytest.approx(6e-6, rel=1e-3),
    }
    assert broken["status"] == "error" and broken["file"].endswith("c_broken.yaml")
    assert (
        broken["line"] == 2 and "not valid YAML: while parsing a flow sequence" in broken["message"]
    )


def test_junit_has_one_testcase_per_problem(tmp_path):
    report = tmp_path / "out" / "report.xml"
    report.parent.mkdir()
    cli("check", batch(tmp_path), "--junit", report)
    root = ElementTree.parse(report).getroot()
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["a_good", "wrong", "c_broken"]
    assert root.get("tests") == "3" and root.get("failures") == "1" and root.get("errors") == "1"
    assert cases[0].find("failure") is None and cases[0].find("error") is None
    assert "claimed 5, true 6" in cases[1].find("failure").get("message")
    assert "claimed" in cases[1].find("failure").text
    assert "not valid YAML" in cases[2].find("error").get("message")
    assert cases[1].get("file").endswith("b_failing.yaml") and cases[1].get("line") == "1"


def test_github_annotations(tmp_path):
    result = cli("check", batch(tmp_path), env={"GITHUB_ACTIONS": "true"})
    lines = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert len(lines) == 2
    assert lines[0].startswith(f"::error file={tmp_path / 'b_failing.yaml'},line=1,title=")
    assert lines[1].startswith("::error file=") and ",line=2," in lines[1]
    assert "%0A" not in lines[0] or "\n" not in lines[0]
    plain = cli("check", batch(tmp_path), env={"GITHUB_ACTIONS": None}).stdout
    assert "::error" not in plain


def test_kinks_are_warnings_in_annotations(tmp_path):
    (tmp_path / "k.yaml").write_text("expr: relu(x - 1)*y\nat: {x: 1, y: 2}\n")
    result = cli("check", tmp_path, env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 0
    assert any(line.startswith("::warning file=") for line in result.stdout.splitlines())


def test_fail_fast_stops_at_the_first_failure_and_counts_what_it_left(tmp_path):
    for i in range(4):
        (tmp_path / f"{i}.yaml").write_text(FAILING if i == 1 else GOOD)
    report = run(find([str(tmp_path)]), Settings(), fail_fast=True)
    assert [p.status for p in report.problems] == ["pass", "fail"]
    assert report.unchecked == 2
    everything = run(find([str(tmp_path)]), Settings())
    assert len(everything.problems) == 4 and everything.unchecked == 0


def acting(problem, settings):
    """A stand-in for check_one, run in workers: the problem's name says what to do."""
    action, _, argument = problem.name.partition(" ")
    if action == "check":
        return check_one(problem, settings)
    if action == "sleep":
        time.sleep(float(argument))
    elif action == "hang":
        while True:  # outside check_one's own deadline, as C code can be deaf to it
            time.sleep(60)
    elif action == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return ProblemResult(problem.name, problem.expression, "pass", file=problem.file)


def named(*names: str) -> str:
    return "---\n".join(f"name: {name}\nexpr: x\n" for name in names)


def test_fail_fast_in_workers_counts_every_file_it_did_not_check(tmp_path):
    (tmp_path / "0.yaml").write_text(FAILING.replace("name: wrong", "name: check"))
    for i in range(1, 6):
        (tmp_path / f"{i}.yaml").write_text(named("sleep 1"))
    report = run(find([str(tmp_path)]), Settings(), jobs=2, fail_fast=True, check=acting)
    files_checked = len({p.file for p in report.problems})
    assert "fail" in [p.status for p in report.problems]
    assert files_checked + report.unchecked == 6 and report.unchecked >= 3


def test_a_stuck_problem_is_stopped_and_the_rest_go_on(tmp_path):
    (tmp_path / "a.yaml").write_text(named("first", "hang", "third"))
    (tmp_path / "b.yaml").write_text(named("other"))
    report = run(find([str(tmp_path)]), Settings(timeout=1), jobs=2, check=acting)
    assert [(p.name, p.status) for p in report.problems] == [
        ("first", "pass"),
        ("hang", "error"),
        ("third", "pass"),
        ("other", "pass"),
    ]
    assert report.problems[1].message == (
        f"{tmp_path / 'a.yaml'}:4: checking 'hang' took longer than 1 s; its worker was "
        "stopped (--timeout raises the limit)"
    )


def test_a_worker_found_dead_when_given_a_file_is_replaced(tmp_path, monkeypatch):
    for name in "abc":
        (tmp_path / f"{name}.yaml").write_text(named(name))
    real_give = batches._Worker.give
    refused = []

    def give(worker, task, path):
        if not refused:  # as if the worker had died while idle: its pipe is broken
            refused.append(task)
            raise BrokenPipeError(32, "Broken pipe")
        real_give(worker, task, path)

    monkeypatch.setattr(batches._Worker, "give", give)
    report = run(find([str(tmp_path)]), Settings(), jobs=2, check=acting)
    assert refused and [(p.name, p.status) for p in report.problems] == [
        ("a", "pass"),
        ("b", "pass"),
        ("c", "pass"),
    ]


def test_workers_keep_the_limits_an_option_lifted(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "ENTRIES", replace(limits.ENTRIES, value=5))
    (tmp_path / "a.yaml").write_text("expr: sum(W)\nat:\n  W: random(3, 3)\n")
    (tmp_path / "b.yaml").write_text(GOOD)
    paths = find([str(tmp_path)])
    for jobs in (1, 2):
        refused, good = run(paths, Settings(), jobs=jobs).problems
        assert "W has 9 entries, above the limit of 5" in refused.message, jobs
        assert good.status == "pass"


def test_a_worker_that_dies_costs_its_problem_only(tmp_path):
    (tmp_path / "a.yaml").write_text(named("first", "die", "third"))
    (tmp_path / "b.yaml").write_text(named("other"))
    report = run(find([str(tmp_path)]), Settings(), jobs=2, check=acting)
    assert [(p.name, p.status) for p in report.problems] == [
        ("first", "pass"),
        ("die", "error"),
        ("third", "pass"),
        ("other", "pass"),
    ]
    assert report.problems[1].message.startswith(
        f"{tmp_path / 'a.yaml'}:4: the worker checking it stopped (exit code -9"
    )


def test_workers_never_outnumber_the_files_or_the_cpus(tmp_path, monkeypatch):
    cpus = len(os.sched_getaffinity(0))
    assert workers(10**20, 3) == min(3, cpus)
    assert workers(10**20, 10**6) == cpus
    assert workers(1, 10) == workers(4, 1) == workers(0, 0) == 1
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(FAILING)
    started = []

    class Counted(batches._Worker):
        def __init__(self, *args):
            started.append(self)
            super().__init__(*args)

    monkeypatch.setattr(batches, "_Worker", Counted)
    report = run(find([str(tmp_path)]), Settings(), jobs=10**20)
    assert [p.status for p in report.problems] == ["pass", "fail"]
    assert len(started) == min(2, cpus)


def test_shards_split_the_files_stably_and_completely(tmp_path):
    paths = [Path(f"problems/p{i}.yaml") for i in range(40)]
    shards = [[p for p in paths if in_shard(p, (k, 3))] for k in (1, 2, 3)]
    assert sorted(p for shard in shards for p in shard) == sorted(paths) and all(shards)
    assert shards == [[p for p in paths if in_shard(p, (k, 3))] for k in (1, 2, 3)]


def test_shard_option(tmp_path):
    batch(tmp_path)
    counts = []
    for k in (1, 2):
        doc = json.loads(cli("check", tmp_path, "--shard", f"{k}/2", "--format", "json").stdout)
        counts.append(len(doc["problems"]))
    assert sum(counts) == 3
    assert cli("check", tmp_path, "--shard", "3/2").exit_code == 2
    assert cli("check", tmp_path, "--shard", "x").exit_code == 2


def test_workers_give_the_same_report(tmp_path):
    paths = find([str(batch(tmp_path))])
    one = run(paths, Settings())
    two = run(paths, Settings(), jobs=2)
    assert [(p.name, p.status, p.message) for p in one.problems] == [
        (p.name, p.status, p.message) for p in two.problems
    ]


def test_paths_that_do_not_exist_or_hold_no_problems(tmp_path):
    assert cli("check", tmp_path / "missing").exit_code == 2
    (tmp_path / "notes.txt").write_text("x")
    result = cli("check", tmp_path)
    assert result.exit_code == 2 and "no problem files" in result.stderr
    assert cli("check", tmp_path / "notes.txt").exit_code == 2


def test_verbose_shows_passing_problems_in_full(tmp_path):
    (tmp_path / "g.yaml").write_text(GOOD)
    assert "symbolic" not in cli("check", tmp_path).stdout
    assert "symbolic" in cli("check", tmp_path, "-v").stdout


def test_the_pre_commit_hook_is_valid_and_picks_problem_files():
    import re

    import yaml

    root = Path(__file__).resolve().parent.parent
    (hook,) = yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "gradcheck" and hook["entry"] == "gradcheck check"
    pattern = re.compile(hook["files"])
    assert pattern.search("problems/seed-000-q1.yaml")
    assert pattern.search("course/problems/week1/a.yml")
    assert not pattern.search(".github/workflows/ci.yml")


# ---------------------------------------------------------------- func: the user's code

CODE = """\
import pathlib
import numpy as np

pathlib.Path(__file__).with_name("imported.marker").write_text("imported")


def square(x):
    return float(np.sum(x**2)), 2 * x


def wrong(x):
    return float(np.sum(x**2)), 3 * x


def loops(x):
    while True:
        pass
"""
HOMEWORK = """\
name: square
func: code.py:square
at: {x: [1.0, 2.0]}
---
name: sine
expr: sin(x)
at: {x: 1}
"""
REFUSED = "this problem runs code.py: run gradcheck check with --allow-code to allow it"
EXAMPLES = PROBLEMS.parent / "examples"


def homework(tmp_path, text=HOMEWORK) -> Path:
    """A folder of YAML beside the code it names; the code marks its import."""
    (tmp_path / "code.py").write_text(CODE)
    (tmp_path / "hw.yaml").write_text(text)
    return tmp_path


@pytest.mark.parametrize("jobs", [1, 2])
def test_code_runs_only_with_allow_code(tmp_path, jobs):
    folder = homework(tmp_path)
    (folder / "other.yaml").write_text(GOOD)  # two files, so that -j 2 starts workers
    marker = folder / "imported.marker"
    refused = cli("check", folder, "-j", jobs, "--format", "json")
    assert refused.exit_code == 2 and not marker.exists()  # not even imported
    square, sine, _ = json.loads(refused.stdout)["problems"]
    assert (square["status"], square["kind"], square["function"]) == (
        "error",
        "func",
        "code.py:square",
    )
    assert square["message"] == f"{folder / 'hw.yaml'}:1: {REFUSED}"
    assert sine["status"] == "pass"
    allowed = cli("check", folder, "-j", jobs, "--allow-code", "--format", "json")
    assert allowed.exit_code == 0, allowed.stdout
    assert [p["status"] for p in json.loads(allowed.stdout)["problems"]] == ["pass"] * 3
    assert marker.exists()


def test_each_problem_goes_to_its_checker(tmp_path):
    homework(tmp_path, HOMEWORK + "---\nname: wrong\nfunc: code.py:wrong\nat: {x: [1.0, 2.0]}\n")
    (tmp_path / "other.yaml").write_text(GOOD)  # two files, so that -j 2 starts workers
    for jobs in (1, 2):
        report = run(find([str(tmp_path)]), Settings(), jobs=jobs, allow_code=True)
        assert [(p.name, p.kind, p.status) for p in report.problems] == [
            ("square", "func", "pass"),
            ("sine", "expression", "pass"),
            ("wrong", "func", "fail"),
            ("other", "expression", "pass"),
        ], jobs
        assert report.problems[0].code == {"function": "code.py:square"}


@pytest.mark.parametrize("jobs", [1, 2])
def test_code_that_never_returns_is_stopped_and_the_file_goes_on(tmp_path, jobs):
    text = "name: loops\nfunc: code.py:loops\nat: {x: [1.0]}\n---\n" + HOMEWORK
    folder = homework(tmp_path, text)
    (folder / "other.yaml").write_text(GOOD)
    report = run(find([str(folder)]), Settings(timeout=1), jobs=jobs, allow_code=True)
    assert [(p.name, p.status) for p in report.problems] == [
        ("loops", "error"),
        ("square", "pass"),
        ("sine", "pass"),
        ("other", "pass"),
    ]
    assert "took longer than 1 s" in report.problems[0].message


def test_a_problems_own_step_holds_unless_step_is_given(tmp_path):
    step = "step: 0.125\n"
    folder = homework(tmp_path, HOMEWORK.replace("---", step + "---") + step)
    (folder / "other.yaml").write_text(HOMEWORK.replace("---", step + "---") + step)
    paths = find([str(folder)])
    for settings, expected in ((Settings(), 0.125), (Settings(step=0.25), 0.25)):
        for problem in run(paths, settings, jobs=2, allow_code=True).problems:
            steps = problem.points[0].gradient["x"].step
            np.testing.assert_allclose(steps, expected, rtol=1e-12, err_msg=problem.name)


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, killed but not reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def spawning(problem, settings):
    """A stand-in for a problem named for a file: it starts a process of its own (as
    check_code does), writes its id there, then hangs."""
    import subprocess
    import sys

    if not problem.name.endswith(".pid"):
        return acting(problem, settings)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    Path(problem.name).write_text(str(child.pid))
    while True:
        time.sleep(60)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_worker_ended_ends_the_processes_it_started(tmp_path):
    pid_file = tmp_path / "child.pid"
    (tmp_path / "a.yaml").write_text(named(str(pid_file)))
    (tmp_path / "b.yaml").write_text(named("other"))
    report = run(find([str(tmp_path)]), Settings(timeout=1), jobs=2, check=spawning)
    assert [p.status for p in report.problems] == ["error", "pass"]
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "the stuck worker's own process outlived it"


def test_the_shipped_homework_gets_its_statuses():
    result = cli("check", EXAMPLES / "homework.yaml", "--allow-code", "--format", "json")
    statuses = {p["name"]: p["status"] for p in json.loads(result.stdout)["problems"]}
    assert statuses == {
        "affine layer, backward checked through a random dout": "pass",
        "relu layer, full Jacobian at x = (-2, 1, 3) (seed 004, problem 1.2)": "pass",
        "softmax loss, the labels y never differentiated": "pass",
        "tied-weight autoencoder, both uses of w added up": "pass",
        "l2 penalty, gradient 2 reg w": "pass",
        "affine layer (buggy), dw transposed": "fail",
        "affine layer with a square w (buggy), dw transposed where only the numbers tell": "fail",
        "l2 penalty (buggy), the factor 2 missing": "fail",
        "tied-weight autoencoder (buggy), the second use of w overwrites the first": "fail",
        "relu layer (buggy), backward writes into dout": "fail",
        "dropout (buggy), a new mask on every call": "error",
    }
    assert result.exit_code == 2
    refused = json.loads(cli("check", EXAMPLES / "homework.yaml", "--format", "json").stdout)
    assert {p["status"] for p in refused["problems"]} == {"error"}
    assert all("--allow-code to allow it" in p["message"] for p in refused["problems"])
