"""Accuracy you can see: sweeps, complex step, Richardson, automatic steps, float32."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck import Settings, check, problem
from gradcheck.cli.main import main
from gradcheck.engine.ops import OPS
from gradcheck.source.files import find, load
from gradcheck.tools.sweep import parse_steps, robust_best, sweep

SIGMOID_CHAIN = "(w3*sigmoid(w2*sigmoid(w1*x)) - 10)**2"
CHAIN_AT = ["w1=2", "w2=2", "w3=3", "x=1"]
CHAIN_OPTIONS = [option for a in CHAIN_AT for option in ("--at", a)]
STEPS = parse_steps("1e-1:1e-13:25")
PROBLEMS = Path(__file__).resolve().parent.parent / "problems"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# ---------------------------------------------------------------- the seed 002 Q2 experiment


@pytest.mark.parametrize("wrt", ["w1", "w2"])
def test_the_sigmoid_chain_shows_the_v_of_truncation_and_round_off(wrt):
    # seed 002 Q2 plotted the error of each difference against the step by hand
    result = sweep(problem(SIGMOID_CHAIN, at=CHAIN_AT), wrt, STEPS)
    central = result.methods["central"]
    best = int(np.argmin(np.abs(result.steps - central.best_step)))
    assert 1e-6 <= central.best_step <= 1e-4
    # truncation: falling as h falls, from the largest step to the best
    assert np.all(np.diff(np.log10(central.errors[: best - 2])) < 0)
    # round-off: the smallest steps are far worse than the best
    assert central.errors[-1] > 1e3 * central.best_error
    for one_sided in ("forward", "backward"):
        assert result.methods[one_sided].best_error > 10 * central.best_error


def test_where_f_is_quadratic_central_differences_have_no_truncation():
    # w3 enters the chain squared: the larger the step, the better
    central = sweep(problem(SIGMOID_CHAIN, at=CHAIN_AT), "w3", STEPS).methods["central"]
    assert central.best_step >= 1e-2 and central.auto_step >= 1e-3
    assert central.auto_error < 1e-13


def test_richardson_beats_central_at_the_same_step():
    result = sweep(problem(SIGMOID_CHAIN, at=CHAIN_AT), "w2", STEPS)
    large = result.steps >= 1e-4  # where truncation, not round-off, rules
    assert np.all(
        result.methods["richardson"].errors[large] < result.methods["central"].errors[large]
    )


def test_robust_best_ignores_a_lucky_step():
    errors = np.array([1e-3, 1e-5, 3e-7, 1e-10, 4e-7, 1e-6, 1e-5])
    index, error = robust_best(errors)
    assert index in (2, 3) and error == 3e-7  # not the lucky 1e-10


# ---------------------------------------------------------------- complex step


@pytest.mark.parametrize(
    ("expression", "at"),
    [
        ("1/(2+sin(w1*x1)**2+cos(w2*x2))", ["w1=-3", "x1=-2", "w2=2", "x2=-1"]),
        (SIGMOID_CHAIN, CHAIN_AT),
        ("sum(tanh(W @ x)**2) + logsumexp(x) + norm(W)", ["W=random(4, 3)", "x=random(3)"]),
        (
            "sum(softmax(v) * log(1 + v**2)) * det(A) + trace(inv(A))",
            ["v=random(4)", "A=[[3, 1, 0], [1, 4, 1], [0, 1, 5]]"],
        ),
    ],
)
def test_complex_step_is_exact_to_1e_14_where_f_is_analytic(expression, at):
    (out,) = check(problem(expression, at=at), Settings(methods=("central", "complex"))).problems
    assert out.status == "pass"
    for g in out.points[0].gradient.values():
        assert float(np.max(g.errors["complex"])) < 1e-14


def test_complex_step_is_refused_with_the_reason_where_f_is_not_analytic():
    (out,) = check(
        problem("relu(x)*sin(y)", at=["x=2", "y=1"]), Settings(methods=("central", "complex"))
    ).problems
    assert out.points[0].gradient["x"].complex is None
    assert out.points[0].gradient["y"].complex is not None  # relu is not on y's path
    assert any(
        "complex step does not apply to x: 'relu(x)' (column 1) is not analytic" in n
        for n in out.notes
    )
    result = sweep(problem("relu(x)*sin(y)", at=["x=2", "y=1"]), "x", STEPS)
    assert result.methods["complex"].errors is None
    assert "'relu(x)' (column 1) is not analytic" in result.methods["complex"].reason


# ---------------------------------------------------------------- automatic steps


def test_automatic_steps_are_within_10x_of_the_best_a_sweep_finds():
    floor = 64 * np.finfo(float).eps  # relative errors below this are round-off level
    worst = {"central": 0.0, "richardson": 0.0}
    for path in find([str(PROBLEMS)]):
        for built in load(path):
            if built.program.root.shape:  # a Jacobian: a sweep follows one derivative
                continue
            for name in built.wrt:
                for index in np.ndindex(built.shapes[name]):
                    label = name + (str(list(index)) if index else "")
                    result = sweep(built, label, STEPS)
                    for method in worst:
                        s = result.methods[method]
                        worst[method] = max(worst[method], s.auto_error / max(s.best_error, floor))
    assert worst["central"] < 10, worst  # the automatic step the issue holds to 10x
    assert worst["richardson"] < 100, worst  # its own step model: close, not tuned to 10x


def test_a_piecewise_linear_function_takes_a_large_step():
    # no truncation at all: the larger the step, the less round-off
    (out,) = check(problem("relu(3*x - 1) + 2*y", at=["x=1", "y=1"])).problems
    assert out.points[0].gradient["x"].step[()] >= 1e-3
    assert out.points[0].gradient["x"].errors["central"][()] < 1e-13


def test_a_nearby_kink_caps_the_step():
    # relu switches at x = 1 + 1e-4: a larger step would cross it
    (out,) = check(problem("relu(x - 1.0001)**2 + x", at=["x=1"])).problems
    gradient = out.points[0].gradient["x"]
    assert out.status == "pass" and gradient.step[()] < 1e-4


# ---------------------------------------------------------------- kinks, with the distance


def test_a_kink_says_how_far_the_point_is_from_the_switch():
    (out,) = check(problem("relu(x - 1)*y", at=["x=1", "y=2"])).problems
    cause = out.points[0].gradient["x"].causes[0].text
    assert "at the point its argument is exactly at the switch" in cause


# ---------------------------------------------------------------- float32


def test_float32_passes_a_correct_gradient():
    built = problem("sum(tanh(W @ x)**2) + sum(sigmoid(x))", at=["W=random(5, 4)", "x=random(4)"])
    (out,) = check(built, Settings(dtype="float32")).problems
    assert out.status == "pass"
    assert out.tolerance.rtol == 1e-3
    backprop_error = max(
        float(np.max(g.errors["backprop"])) for g in out.points[0].gradient.values()
    )
    assert 1e-9 < backprop_error < 1e-4  # float32 round-off, not float64's


def test_float32_still_catches_a_wrong_rule(monkeypatch):
    monkeypatch.setitem(
        OPS, "tanh", replace(OPS["tanh"], vjps=(lambda g, o, x: 1.01 * g * (1 - o * o),))
    )
    built = problem("sum(tanh(W @ x)**2)", at=["W=random(3, 3)", "x=random(3)"])
    (out,) = check(built, Settings(dtype="float32")).problems
    assert out.status == "fail"


def test_float32_round_off_is_named_as_such(monkeypatch):
    # With a round-off bound too small for float32 and a tight tolerance, float32's
    # central differences fail; float64's hold: round-off, said so, not a failure.
    from gradcheck.estimate import finite
    from gradcheck.results import CauseCode

    monkeypatch.setattr(finite, "EVALUATION_ULPS", 0.01)
    built = problem("sin(3*x)*y", at=["x=0.7", "y=1.3"])
    (out,) = check(built, Settings(dtype="float32", rtol=1e-7, atol=0)).problems
    causes = [c for g in out.points[0].gradient.values() for c in g.causes.values()]
    assert out.status == "pass" and causes
    assert all(c.code == CauseCode.FLOAT32 and "round-off of float32" in c.text for c in causes)


# ---------------------------------------------------------------- the command line


def test_sweep_command_table_and_plot_in_the_terminal():
    result = run(
        "sweep",
        SIGMOID_CHAIN,
        *CHAIN_OPTIONS,
        "--wrt",
        "w1",
        "--no-color",
    )
    assert result.exit_code == 0
    out = result.stdout
    assert "d/dw1 = -1.1726480497813314" in out and "(symbolic)" in out
    for method in ("forward", "backward", "central", "complex", "richardson"):
        assert method in out
    assert "automatic step" in out and "c central" in out and "^" in out


def test_sweep_json_follows_the_issue():
    result = run(
        "sweep",
        SIGMOID_CHAIN,
        *CHAIN_OPTIONS,
        "--wrt",
        "w1",
        "--steps",
        "1e-2:1e-10:9",
        "--format",
        "json",
    )
    doc = json.loads(result.stdout)
    assert {"wrt", "index", "exact", "steps", "methods"} <= set(doc)
    assert len(doc["steps"]) == 9 and doc["wrt"] == "w1" and doc["index"] == []
    for method in ("forward", "backward", "central", "complex", "richardson"):
        entry = doc["methods"][method]
        assert {"errors", "best_step", "best_error", "auto_step", "auto_error"} <= set(entry)
        assert len(entry["errors"]) == 9


def test_sweep_of_a_problem_file_entry_and_a_plot(tmp_path):
    plot = tmp_path / "sweep.svg"
    result = run(
        "sweep",
        PROBLEMS / "seed-004-network-0.yaml",
        "--wrt",
        "V1[1,0]",
        "--plot",
        plot,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["wrt"] == "V1" and doc["index"] == [1, 0]
    assert doc["methods"]["complex"]["errors"] is None  # relu: not analytic
    assert plot.read_text().lstrip().startswith("<?xml")


def test_sweep_of_an_array_picks_the_largest_entry():
    doc = json.loads(
        run(
            "sweep",
            "sum(W @ x)",
            "--at",
            "W=random(2, 3)",
            "--at",
            "x=[1, 5, 2]",
            "--wrt",
            "W",
            "--format",
            "json",
        ).stdout
    )
    assert doc["index"][1] == 1  # d/dW[i, j] = x[j]: largest at j = 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--steps", "1e-1:0:5"], "expected LO:HI:N"),
        (["--steps", "abc"], "expected LO:HI:N"),
        (["--wrt", "z"], "not an input to differentiate"),
        (["--wrt", "x[3]"], "is not one of its entries"),
        (["--plot", "sweep.gif"], "must end in .png, .svg or .pdf"),
    ],
)
def test_sweep_bad_input(args, words):
    result = run("sweep", "x*y", *args)
    assert result.exit_code == 2 and words in result.stderr and "Traceback" not in result.output


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    result = run("sweep", "x**3", "--plot", tmp_path / "p.png")
    assert result.exit_code == 2
    assert "pip install 'gradcheck[plot]'" in result.stderr


def test_methods_option():
    result = run("eval", "exp(sin(x))*y", "--methods", "all", "--no-color")
    assert result.exit_code == 0 and "complex" in result.stdout and "richardson" in result.stdout
    bad = run("eval", "x", "--methods", "central,magic")
    assert bad.exit_code == 2 and "unknown method 'magic'" in bad.output
    doc = json.loads(
        run("eval", "x**2", "--at", "x=2", "--methods", "complex", "--format", "json").stdout
    )
    assert doc["problems"][0]["points"][0]["gradient"]["x"]["complex"] == 4.0


def test_dtype_option():
    result = run(
        "eval",
        "sum(tanh(W @ x))",
        "--at",
        "W=random(3,3)",
        "--at",
        "x=random(3)",
        "--dtype",
        "float32",
    )
    assert result.exit_code == 0 and "working in float32" in result.stdout
