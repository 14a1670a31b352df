"""Problem files with func: the user's code as a problem, read but never imported, and
an error with file, line and column for every key that does not fit."""

import textwrap

import numpy as np
import pytest

from gradcheck.source.files import KEYS, Broken, load
from gradcheck.source.func import FuncProblem
from gradcheck.source.language import RandomSpec
from gradcheck.source.problems import Problem

LAYERS = """\
import pathlib
pathlib.Path(__file__).with_name("imported.marker").write_text("imported")


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def loss(x, y):
    return float((x**2).sum()), 2 * x


def loss_grad(x, y):
    return 2 * x
"""


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A homework folder with the code beside the YAML; the tests run from elsewhere."""
    home = tmp_path / "homework"
    home.mkdir()
    (home / "layers.py").write_text(LAYERS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return home


def write(folder, text, name="hw.yaml"):
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def broken(folder, text) -> str:
    (item,) = load(write(folder, text))
    assert isinstance(item, Broken), item
    return str(item.error)


def test_a_layer_problem_with_every_key(folder):
    (problem,) = load(
        write(
            folder,
            """
            name: affine layer
            func: layers.py:affine_forward
            backward: layers.py:affine_backward
            jacobian: true
            at:
              x: random(4, 5)
              w: [[1.5, 2], [3, 4]]
              b: [1, 2]
            wrt: [x, w, b]
            tolerance: {rtol: 1.0e-5, atol: 1e-8}
            step: 1e-6
            """,
        )
    )
    assert isinstance(problem, FuncProblem) and problem.kind == "layer"
    assert problem.name == "affine layer" and problem.jacobian
    assert problem.function.path == folder / "layers.py"  # beside the YAML, not the cwd
    assert problem.function.name == "affine_forward" and problem.function.file == "layers.py"
    assert problem.backward.name == "affine_backward" and problem.grad is None
    assert problem.values["x"] == RandomSpec((4, 5))
    np.testing.assert_array_equal(problem.values["w"], [[1.5, 2], [3, 4]])
    assert problem.wrt == ("x", "w", "b") and problem.labels == frozenset()  # b named in wrt
    assert (problem.rtol, problem.atol, problem.step) == (1e-5, 1e-8, 1e-6)
    assert (problem.file, problem.line) == (str(folder / "hw.yaml"), 1)


def test_labels_are_the_inputs_written_with_integers_only(folder):
    (problem,) = load(
        write(
            folder,
            """
            func: layers.py:loss
            grad: layers.py:loss_grad
            at:
              x: [1.0, 2, 3]
              y: [1, 0, 2]
              c: 3
              d: "[2, 0]"
              g: "[2.5, 0]"
              f: random(2)
            """,
        )
    )
    assert problem.kind == "grad" and problem.grad.name == "loss_grad"
    assert problem.labels == {"y", "c", "d"}
    assert problem.name == "hw" and problem.wrt is None
    np.testing.assert_array_equal(problem.values["d"], [2, 0])


def test_a_file_mixes_expressions_and_code(folder):
    items = load(
        write(
            folder,
            """
            expr: sum(x^2)
            at: {x: [1, 2]}
            ---
            name: code
            func: layers.py:loss
            ---
            expr: relu(x)
            at: {x: [-2.0, 1, 3]}
            """,
            "mixed.yaml",
        )
    )
    assert [type(i) for i in items] == [Problem, FuncProblem, Problem]
    assert [i.name for i in items] == ["mixed #1", "code", "mixed #3"]


def test_reading_a_func_problem_never_imports_the_code(folder):
    load(write(folder, "func: layers.py:affine_forward\nbackward: layers.py:affine_backward\n"))
    assert not (folder / "imported.marker").exists()


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (
            "func: layers.py:loss\nexpr: x\n",
            ":2:1",
            "'expr' does not go with 'func': a problem checks an expression (expr, with let, "
            "claims, expect) or your code (func, with grad or backward, and jacobian), not both",
        ),
        ("func: layers.py:loss\nlet: {p: x}\n", ":2:1", "'let' does not go with 'func'"),
        ("claims: {x: 2*x}\nfunc: layers.py:loss\n", ":1:1", "'claims' does not go with 'func'"),
        ("func: layers.py:loss\nexpect: {value: 1}\n", ":2:1", "'expect' does not go with"),
        (
            "expr: sum(x^2)\nbackward: layers.py:affine_backward\n",
            ":2:1",
            "'backward' goes with 'func' (your code): a problem checks an expression",
        ),
        (
            "expr: sum(x^2)\ngrad: {x: [1, 2]}\n",
            ":2:1",
            "to claim the expression's grad, write expect: {grad: ...}",
        ),
        (
            "expr: relu(x)\njacobian: true\n",
            ":2:1",
            "to claim the expression's jacobian, write expect: {jacobian: ...}",
        ),
        ("func: layers.py:loss\nbakward: layers.py:f\n", ":2:1", "did you mean 'backward'?"),
        ("name: nothing\n", ":1:1", "missing key 'expr' (the expression to check), or 'func'"),
        ("func: 3\n", ":1:7", "func must be FILE.py:NAME (e.g. layers.py:affine_forward), got '3'"),
        ("func: [a.py:f]\n", ":1:7", "func must be FILE.py:NAME"),
        ("func: layers.py\n", ":1:7", "'layers.py' names no function"),
        ("func: other.py:f\n", ":1:7", "no such file: 'other.py'"),
        ("func: layers.py:affine_forwrd\n", ":1:7", "defines no 'affine_forwrd' at its top"),
        ("func: layers.py:loss\ngrad: 'layers.py:nope'\n", ":2:7", "defines no 'nope'"),
        (
            "func: layers.py:loss\ngrad: layers.py:loss_grad\nbackward: layers.py:loss_grad\n",
            ":3:1",
            "give grad (a function's gradient) or backward (a layer's), not both",
        ),
        (
            "func: layers.py:loss\ngrad: layers.py:loss_grad\njacobian: true\n",
            ":3:11",
            "jacobian: true checks a layer's full Jacobian: it goes with backward:",
        ),
        (
            "func: layers.py:affine_forward\nbackward: layers.py:affine_backward\njacobian: 1\n",
            ":3:11",
            "jacobian must be true or false, got '1'",
        ),
        ("func: layers.py:loss\nat: [1]\n", ":2:5", "at must be a mapping"),
        ("func: layers.py:loss\nat: {x: [[1, 2], [3]]}\n", ":2:9", "ragged"),
        ("func: layers.py:loss\nat: {x: .nan}\n", ":2:9", "must be finite"),
        ("func: layers.py:loss\nat: {x: 'y + 1'}\n", ":2:10", "a value cannot refer to 'y'"),
        (
            "func: layers.py:loss\nat: {x: '[1, exp(1000)]'}\n",
            ":2:9",
            "x has a value that is not finite",
        ),
        ("func: layers.py:loss\nat: {sin: 1}\n", ":2", "'sin' is a function"),
        ("func: layers.py:loss\nwrt: [x, 3]\n", ":2:10", "wrt must be a list of input names"),
        ("func: layers.py:loss\nwrt: [x, 2y]\n", ":2", "2y"),
        ("func: layers.py:loss\nwrt: []\n", ":2", "nothing to differentiate"),
        ("func: layers.py:loss\ntolerance: {rtol: -1}\n", ":2", "rtol must not be negative"),
        ("func: layers.py:loss\nstep: 0\n", ":2:7", "step must be a positive number"),
    ],
)
def test_each_mistake_is_named_with_its_file_and_line(folder, text, where, words):
    message = broken(folder, text)
    assert message.startswith(str(folder / "hw.yaml") + where), message
    assert words in message


def test_a_typo_in_a_key_lists_the_keys_of_both_kinds():
    assert {"func", "grad", "backward", "jacobian", "expr", "let", "claims"} <= set(KEYS)


def test_one_broken_code_problem_does_not_stop_the_others(folder):
    items = load(write(folder, "func: layers.py:missing\n---\nfunc: layers.py:loss\n"))
    assert isinstance(items[0], Broken) and isinstance(items[1], FuncProblem)
    assert items[0].name == "hw #1"
