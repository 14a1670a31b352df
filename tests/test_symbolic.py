"""The symbolic ground truth: the tape, its cache, its limits, and formulas."""

import json

import numpy as np
import pytest

from gradcheck.engine import cache, formulas, symbolic
from gradcheck.engine.tape import Tape, evaluate

from .conftest import program


def test_tape_gives_value_and_gradient_to_30_digits():
    p = program("exp(x) * sin(y)")
    tape = symbolic.tape_for(p, ["x", "y"])
    value, grads = evaluate(tape, {"x": np.array(0.3), "y": np.array(1.2)})
    assert value == np.exp(0.3) * np.sin(1.2) or value == pytest.approx(
        np.exp(0.3) * np.sin(1.2), rel=1e-15
    )
    assert grads["x"][0] == pytest.approx(np.exp(0.3) * np.sin(1.2), rel=1e-15)
    assert grads["y"][0] == pytest.approx(np.exp(0.3) * np.cos(1.2), rel=1e-15)


def test_an_input_the_function_ignores_has_gradient_zero():
    p = program("x + 0*y")
    tape = symbolic.tape_for(p, ["x", "y"])
    _, grads = evaluate(tape, {"x": np.array(1.0), "y": np.array(2.0)})
    assert grads["y"][0] == 0.0


def test_kinks_take_sympys_conventions():
    p = program("relu(x) + abs(y)")
    tape = symbolic.tape_for(p, ["x", "y"])
    _, grads = evaluate(tape, {"x": np.array(0.0), "y": np.array(0.0)})
    assert grads["x"][0] == 0.5  # Heaviside(0) = 1/2
    assert grads["y"][0] == 0.0  # sign(0) = 0


def test_sign_has_no_derivative_at_zero():
    tape = symbolic.tape_for(program("sign(x)"), ["x"])
    assert np.isnan(evaluate(tape, {"x": np.array(0.0)})[1]["x"][0])
    assert evaluate(tape, {"x": np.array(2.0)})[1]["x"][0] == 0.0


def test_index_inputs_take_their_value():
    p = program("logsumexp(z) - z[y]", z=(3,))
    tape = symbolic.tape_for(p, ["z"], {"y": 2})
    z = np.array([-2.0, 3.0, -3.0])
    _, grads = evaluate(tape, {"z": z, "y": np.array(2.0)})
    expected = np.exp(z) / np.exp(z).sum() - np.array([0, 0, 1])
    np.testing.assert_allclose(grads["z"], expected, rtol=1e-15)


def test_cache_round_trip_gives_the_same_tape(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCHECK_CACHE_DIR", str(tmp_path))
    p = program("sum(tanh(W @ x))", W=(2, 3), x=(3,))
    built = symbolic.tape_for(p, ["W", "x"])
    files = list(tmp_path.rglob("*.json"))
    assert len(files) == 1
    again = symbolic.tape_for(p, ["W", "x"])
    assert again == built


def test_a_damaged_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCHECK_CACHE_DIR", str(tmp_path))
    p = program("x**3")
    symbolic.tape_for(p, ["x"])
    (entry,) = tmp_path.rglob("*.json")
    data = json.loads(cache.read("tapes", entry.stem))  # an entry that passes its checksum
    data["code"].append(["__import__", 0])  # but names an op no tape may run
    cache.write("tapes", entry.stem, json.dumps(data))
    tape = symbolic.tape_for(p, ["x"])
    assert evaluate(tape, {"x": np.array(2.0)})[1]["x"][0] == 12.0
    entry.write_text("not json")
    assert evaluate(symbolic.tape_for(p, ["x"]), {"x": np.array(2.0)})[0] == 8.0


def test_no_cache_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCHECK_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GRADCHECK_NO_CACHE", "1")
    symbolic.tape_for(program("x**2"), ["x"])
    assert not list(tmp_path.rglob("*.json"))


def test_validate_refuses_unknown_ops_and_slots():
    bad = Tape((("x", 0),), (("system", 0),), (1,), {"x": (0,)})
    with pytest.raises(ValueError):
        bad.validate()
    with pytest.raises(ValueError):
        Tape((("x", 0),), (("sin", 5),), (1,), {"x": (0,)}).validate()


def test_too_large_is_skipped_with_a_reason():
    p = program("sum(tanh(W @ x))", W=(400, 400), x=(400,))
    with pytest.raises(symbolic.SymbolicUnavailable, match="operations"):
        symbolic.tape_for(p, ["W"])


def test_formulas_are_what_a_student_would_write():
    rows = formulas.derivative_table(program("x*exp(-x*y)"), ["x"])
    assert rows == [("x", (), "x", "-x*y*exp(-x*y) + exp(-x*y)")]
    latex = formulas.derivative_table(program("W[0, 1]*w1", W=(2, 2)), ["W"], latex=True)
    assert latex[1][2] == "W_{0,1}" and latex[1][3] == "w_{1}"


def test_a_cached_check_never_imports_sympy(tmp_path):
    # The half-second SymPy import is what the cache exists to avoid; guard the design.
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from gradcheck.cli.main import main\n"
        "try:\n"
        "    main(['eval', 'sin(x)*y', '--at', 'x=1', '--at', 'y=2'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('sympy' in sys.modules, file=sys.stderr)\n"
    )
    env = {**__import__("os").environ, "GRADCHECK_CACHE_DIR": str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
        )
        for _ in range(2)
    ]
    assert [r.stderr.strip() for r in runs] == ["True", "False"]


def test_a_list_of_scalars_lowers_to_its_entries_not_to_nested_arrays():
    # [a, b] once became an array of 0-d arrays, which softmax's lowering could not divide
    from gradcheck import check, problem

    (out,) = check(problem("softmax([a, b])[0]", at=["a=0.5", "b=-1"])).problems
    gradient = out.points[0].gradient["a"]
    assert gradient.symbolic is not None
    s = 1 / (1 + np.exp(-1.5))  # softmax([a, b])[0] = sigmoid(a - b)
    assert float(gradient.symbolic) == pytest.approx(s * (1 - s), rel=1e-14)


def test_a_problem_above_the_size_limit_never_imports_sympy(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from gradcheck import check, problem\n"
        "check(problem('sum(tanh(W @ x))', at=['W=random(100, 100)', 'x=random(100)']))\n"
        "print('sympy' in sys.modules)\n"
    )
    env = {"GRADCHECK_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr
