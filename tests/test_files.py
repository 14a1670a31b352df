"""Problem files: the schema, and an error with file and line for every kind of mistake."""

import textwrap

import numpy as np
import pytest

from gradcheck.source.files import Broken, find, load
from gradcheck.source.language import RandomSpec

from .conftest import network_0


def write(tmp_path, text, name="p.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def broken(tmp_path, text) -> str:
    (item,) = load(write(tmp_path, text))
    assert isinstance(item, Broken), item
    return str(item.error)


def test_a_full_problem(tmp_path):
    (problem,) = load(
        write(
            tmp_path,
            """
        name: two-layer net
        let:
          p: V1 @ x + b1
          z: V2 @ relu(p)
        expr: 0.5 * sum((z - y)^2)
        at:
          V1: [[2, -1], [0, 3], [2, 1]]
          b1: [2, -1, 3]
          V2: random(2, 3)
          x: [-1, 2]
          y: [-4, 1]
        wrt: [V1, b1]
        claims:
          b1: V2.T @ (z - y) * sign(relu(p))
        tolerance: {rtol: 1.0e-5, atol: 1e-8}
        step: 1e-6
        """,
        )
    )
    assert problem.name == "two-layer net" and problem.wrt == ("V1", "b1")
    assert problem.values["V2"] == RandomSpec((2, 3))
    np.testing.assert_array_equal(problem.values["b1"], [2, -1, 3])
    assert (problem.rtol, problem.atol, problem.step) == (1e-5, 1e-8, 1e-6)
    assert problem.lets == ("p", "z") and set(problem.claims) == {"b1"}
    assert problem.line == 1


def test_several_problems_in_one_file_and_default_names(tmp_path):
    items = load(
        write(
            tmp_path,
            """
        expr: x^2
        ---
        expr: sin(x)
        ---
        name: third
        expr: cos(
        """,
            "many.yaml",
        )
    )
    assert [i.name for i in items] == ["many #1", "many #2", "third"]
    assert isinstance(items[2], Broken) and not isinstance(items[0], Broken)


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("exprs: x^2\n", ":1:1", "unknown key 'exprs'; did you mean 'expr'?"),
        ("expr: x\nfoo: 1\n", ":2:1", "unknown key 'foo'; the keys are name, let, expr, at"),
        ("expr: x\nclaim:\n  x: 1\n", ":2", "unknown key 'claim'; did you mean 'claims'?"),
        ("name: no expression\n", ":1:1", "missing key 'expr'"),
        ("expr: [1, 2]\n", ":1:7", "expr must be an expression"),
        ("expr: x\nat: [1, 2]\n", ":2:5", "at must be a mapping"),
        ("expr: x\nat:\n  x: yes\n", ":3:6", "must be a number, got 'yes'"),
        ("expr: x\nat:\n  x: .inf\n", ":3:6", "must be finite"),
        ("expr: sum(x)\nat:\n  x: [[1, 2], [3]]\n", ":3:6", "ragged"),
        ("expr: x\nstep: -1\n", ":2:7", "must be a positive number"),
        ("expr: x\nstep: small\n", ":2:7", "step must be a number"),
        ("expr: x\ntolerance: {rtol: 1e-6, btol: 1}\n", ":2:25", "unknown key 'btol' in tolerance"),
        ("expr: x\ntolerance: {rtol: -1}\n", ":2", "rtol must not be negative"),
        ("expr: x*y\nwrt: [x, 3]\n", ":2:10", "wrt must be a list of input names"),
        ("expr: x*y\nwrt: [x, z]\n", ":", "'z' is not an input"),
        ("expr: x\nexpr: y\n", ":2:1", "'expr' is given twice"),
        ("expr: sin(x\n", ":1:10", "syntax error"),
        ("expr: 'x + sinn(y)'\n", ":1:12", "unknown function 'sinn'; did you mean 'sin'?"),
        ("expr: x\nlet:\n  q: 2*p\n  p: x\n", ":3:6", "'p' is used before it is defined"),
        ("expr: q\nlet:\n  q: q + 1\n", ":3:6", "defined in terms of itself"),
        ("expr: x\nlet:\n  sin: x\n", ":3", "'sin' is a function"),
        (
            "expr: sum(W @ x)\nat:\n  W: [[1, 2], [3, 4]]\n  x: [1, 2, 3]\n",
            ":1:11",
            "W has shape (2, 2) and x has shape (3,)",
        ),
        ("expr: x\nat:\n  y: 1\n", "", "'y' is given a value but the expression does not use it"),
        (
            "expr: sum(W)\nat:\n  W: [[1, 2]]\nexpect:\n  grad:\n    W: [1, 2]\n",
            ":6:8",
            "expect grad W has shape (2,), but W has shape (1, 2)",
        ),
        ("expr: x*y\nat: {x: 1}\nexpect:\n  value: 2\n", ":4", "expect needs every input given"),
        (
            "expr: x*y\nat: {x: 1, y: 2}\nexpect:\n  grad:\n    z: 1\n",
            ":5",
            "expect grad names 'z', which is neither differentiated nor a let",
        ),
        ("expr: x\nat: {x: 1}\nexpect:\n  values: 1\n", ":4", "unknown key 'values' in expect"),
        ("expr: x\n  at: 1\n", ":2:5", "not valid YAML"),
        ("expr: x\nat:\n\tx: 1\n", ":3:1", "not valid YAML"),
        ("- expr: x\n", ":1:1", "a problem must be a mapping"),
        ("expr: x\nat: {x: '__import__(1)'}\n", ":2:10", "dunder name"),
    ],
)
def test_each_mistake_is_named_with_its_file_and_line(tmp_path, text, where, words):
    message = broken(tmp_path, text)
    assert message.startswith(str(tmp_path / "p.yaml") + where), message
    assert words in message, message


def test_an_empty_file_holds_no_problem(tmp_path):
    assert "holds no problem" in broken(tmp_path, "# nothing here\n")


def test_a_binary_file_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    (item,) = load(path)
    assert isinstance(item, Broken) and "cannot read" in str(item.error)


def test_yaml_tags_that_build_python_objects_are_refused(tmp_path):
    for value in ("!!python/object/apply:os.system ['echo hi']", "!!python/name:os.system x"):
        message = broken(tmp_path, f"expr: {value}\n")
        assert ":1:7: the YAML tag 'tag:yaml.org,2002:python/" in message


def test_numbers_written_with_their_precision(tmp_path):
    (problem,) = load(
        write(
            tmp_path,
            """
        expr: sum(z)
        at: {z: [1, 2, 3]}
        expect:
          grad: {z: [0.01715, 1.50e-3, 24]}
        """,
        )
    )
    precision = problem.expectation.grads["z"].precision
    assert precision[0] == pytest.approx(5e-6) and precision[1] == pytest.approx(5e-6)
    assert np.isnan(precision[2])  # an integer is exact


def test_find_walks_folders_and_keeps_order(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("b/z.yml", "a.yaml", "b/y.yaml", "notes.txt"):
        (tmp_path / name).write_text("expr: x\n")
    assert [p.relative_to(tmp_path).as_posix() for p in find([str(tmp_path)])] == [
        "a.yaml",
        "b/y.yaml",
        "b/z.yml",
    ]


@pytest.mark.parametrize(
    ("claimed", "status"),
    [
        ("0.2449", "pass"),
        ("0.24490", "pass"),  # 0.244895..0.244905
        ("0.24491", "fail"),
        ("0.2448", "fail"),
        ("0.245", "pass"),
        ("0.24", "pass"),  # 0.235..0.245
        ("0.23", "fail"),
    ],
)
def test_claimed_numbers_hold_at_the_precision_written(tmp_path, claimed, status):
    from gradcheck import check

    # d/dx of 12/49 * x is 0.24489795...: 0.2449 stands for 0.24485..0.24495
    (problem,) = load(
        write(tmp_path, f"expr: 12/49 * x\nat: {{x: 1}}\nexpect:\n  grad: {{x: {claimed}}}\n")
    )
    (out,) = check(problem).problems
    assert out.status == status


@pytest.mark.parametrize(
    ("gq", "status"),
    [("[14, 2, -8]", "pass"), ("[14, 2, 8]", "fail"), ("[0, 2, -8]", "fail")],
)
def test_expect_grad_may_name_a_let_intermediate(tmp_path, gq, status):
    from gradcheck import check

    # seed 004 network 0: the upstream gradient at q = relu(p) is gq = (14, 2, -8)
    text = network_0("[V1, b1]", {"q": gq, "z": "[4, 2]"})
    (problem,) = load(write(tmp_path, text))
    (out,) = check(problem).problems
    assert out.status == status
    assert [e.what for e in out.expected] == ["q", "z"]


def test_expect_grad_of_a_let_must_have_its_shape(tmp_path):
    text = "let:\n  q: 2*x\nexpr: sum(q)\nat: {x: [1, 2]}\nexpect:\n  grad:\n    q: 1\n"
    message = broken(tmp_path, text)
    assert "expect grad q has shape (), but q has shape (2,)" in message
