"""expect: {jacobian: ...}: claimed Jacobians of vector-valued expressions, of shape the
value's then the input's, judged entry by entry at the precision they are written with."""

import textwrap

import numpy as np
import pytest

from gradcheck import check
from gradcheck.source.files import Broken, load

SOFTMAX_AT = np.array([-1.0, 0.0, 3.0])


def write(tmp_path, text, name="p.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def checked(tmp_path, text):
    (problem,) = load(write(tmp_path, text))
    assert not isinstance(problem, Broken), problem.error
    (result,) = check(problem).problems
    return problem, result


def broken(tmp_path, text) -> str:
    (item,) = load(write(tmp_path, text))
    assert isinstance(item, Broken), item
    return str(item.error)


def softmax_jacobian(z: np.ndarray) -> np.ndarray:
    """diag(s) - s s^T, computed here, apart from gradcheck."""
    s = np.exp(z) / np.exp(z).sum()
    return np.diag(s) - np.outer(s, s)


def written(array: np.ndarray, digits: int = 4) -> str:
    """A nested YAML list of numbers, each written to ``digits`` significant digits."""
    if array.ndim == 0:
        return f"{float(array):.{digits}g}"
    return "[" + ", ".join(written(row, digits) for row in array) + "]"


RELU = """
    expr: relu(x)
    at: {x: [-2, 1, 3]}
    expect:
      value: [0, 1, 3]
      jacobian:
        x: JX
    """


def test_a_claimed_jacobian_is_kept_with_the_shape_value_then_input(tmp_path):
    problem, result = checked(tmp_path, RELU.replace("JX", "[[0, 0, 0], [0, 1, 0], [0, 0, 1]]"))
    claimed = problem.expectation.grads["x"]
    np.testing.assert_array_equal(claimed.value, np.diag([0, 1, 1]))
    assert claimed.value.shape == (3, 3)
    assert result.status == "pass"
    assert [(x.what, x.status) for x in result.expected] == [("value", "pass"), ("x", "pass")]


def test_a_wrong_entry_is_named_by_both_indices(tmp_path):
    # seed 004 problem 1.2 with J_x[1, 1] claimed 0 (relu's slope at x = 1 is 1)
    _, result = checked(tmp_path, RELU.replace("JX", "[[0, 0, 0], [0, 0, 0], [0, 0, 1]]"))
    assert result.status == "fail"
    (judged,) = [x for x in result.expected if x.what == "x"]
    assert [w["index"] for w in judged.wrong] == [[1, 1]]
    assert (judged.wrong[0]["claimed"], judged.wrong[0]["true"]) == (0.0, 1.0)
    status = result.points[0].gradient["x"].status
    assert status[1, 1] == "fail" and (status == "fail").sum() == 1


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (None, "pass"),  # each entry to 4 significant digits holds
        ((1, 2), "fail"),  # one entry off by two in its last written digit
        ((2, 0), "fail"),
    ],
)
def test_claimed_jacobian_numbers_hold_at_the_precision_written(tmp_path, change, status):
    truth = softmax_jacobian(SOFTMAX_AT)
    claimed = np.array([[float(f"{v:.4g}") for v in row] for row in truth])
    text = written(claimed)
    if change is not None:
        i, j = change
        digit = 10 ** (np.floor(np.log10(abs(claimed[i, j]))) - 3)
        text = written(
            np.where(np.arange(9).reshape(3, 3) == 3 * i + j, claimed + 2 * digit, claimed)
        )
    _, result = checked(
        tmp_path, f"expr: softmax(z)\nat: {{z: [-1, 0, 3]}}\nexpect:\n  jacobian:\n    z: {text}\n"
    )
    assert result.status == status
    wrong = [w["index"] for x in result.expected for w in x.wrong]
    assert wrong == ([] if change is None else [list(change)])


def test_a_tolerance_in_the_file_replaces_the_written_precision(tmp_path):
    off = written(softmax_jacobian(SOFTMAX_AT) * 1.02)  # 2% off: beyond 4 digits' precision
    text = f"expr: softmax(z)\nat: {{z: [-1, 0, 3]}}\nexpect:\n  jacobian:\n    z: {off}\n"
    assert checked(tmp_path, text)[1].status == "fail"
    loose = text + "tolerance: {rtol: 0.05, atol: 1.0e-9}\n"
    assert checked(tmp_path, loose)[1].status == "pass"
    tight = text + "tolerance: {rtol: 0.01, atol: 1.0e-9}\n"
    assert checked(tmp_path, tight)[1].status == "fail"


def test_a_matrix_valued_expression_claims_a_jacobian_of_rank_three(tmp_path):
    # outer(x, y)[i, j] = x_i y_j: d/dx_k is delta_ik y_j, so J_x[i, j, k] = delta_ik y_j
    x, y = np.array([1.0, -2.0]), np.array([3.0, 0.5, -1.0])
    jx = np.einsum("ik,j->ijk", np.eye(2), y)
    jy = np.einsum("i,jk->ijk", x, np.eye(3))
    problem, result = checked(
        tmp_path,
        f"expr: outer(x, y)\nat: {{x: {written(x)}, y: {written(y)}}}\n"
        f"expect:\n  jacobian:\n    x: {written(jx)}\n    y: {written(jy)}\n",
    )
    assert problem.expectation.grads["x"].value.shape == (2, 3, 2)
    assert problem.expectation.grads["y"].value.shape == (2, 3, 3)
    assert result.status == "pass"
    wrong_y = written(np.einsum("i,jk->ijk", x[::-1], np.eye(3)))  # rows of x swapped
    _, result = checked(
        tmp_path, f"expr: outer(x, y)\nat: {{x: {written(x)}, y: {written(y)}}}\n"
        f"expect:\n  jacobian:\n    y: {wrong_y}\n",
    )  # fmt: skip
    assert result.status == "fail"


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (
            "expr: relu(x)\nat: {x: [-2, 1, 3]}\nexpect:\n  grad: {x: [0, 1, 1]}\n",
            ":4:3",
            "expect grad: the expression's value has shape (3,), so each input has a Jacobian, "
            "not a gradient: claim it with expect: {jacobian: {x: ...}}, of shape the value's "
            "then the input's ((3, 3) for x)",
        ),
        (
            "expr: sum(x)\nat: {x: [-2, 1, 3]}\nexpect:\n  jacobian: {x: [1, 1, 1]}\n",
            ":4:3",
            "expect jacobian: the expression's value is a scalar, so each input has a "
            "gradient, not a Jacobian: claim it with expect: {grad: {x: ...}}, of x's shape (3,)",
        ),
        (
            "expr: relu(x)\nat: {x: [-2, 1, 3]}\nexpect:\n  jacobian: {x: [0, 1, 1]}\n",
            ":4:17",
            "expect jacobian x has shape (3,), but the Jacobian has shape (3, 3): the value's "
            "shape (3,), then x's (3,)",
        ),
        (
            "expr: V @ x\nat: {V: [[1, 2], [3, 4]], x: [1, 1]}\nexpect:\n"
            "  jacobian: {V: [[1, 1], [0, 0]]}\n",
            ":4:17",
            "the Jacobian has shape (2, 2, 2): the value's shape (2,), then V's (2, 2)",
        ),
        (
            "expr: relu(x)\nat: {x: [-2, 1, 3]}\nexpect:\n  value: 3\n",
            ":4:10",
            "expect value has shape (), but the expression's value has shape (3,)",
        ),
        (
            "expr: sum(x)\nat: {x: [1, 2]}\nexpect:\n  value: [3]\n",
            ":4:10",
            "expect value has shape (1,), but the expression's value has shape ()",
        ),
        (
            "let: {p: 2*x}\nexpr: relu(p)\nat: {x: [1, 2]}\nexpect:\n"
            "  jacobian: {p: [[1, 0], [0, 1]]}\n",
            ":5",
            "expect jacobian names 'p', which is not differentiated; it must be one of x",
        ),
        (
            "expr: relu(x)\nat: {x: [1, 2]}\nwrt: [x]\nexpect:\n"
            "  jacobian: {y: [[1, 0], [0, 1]]}\n",
            ":5",
            "expect jacobian names 'y', which is not differentiated",
        ),
        (
            "expr: relu(x)\nat: {x: [1, 2]}\nexpect:\n  jacobain: {x: [[1, 0], [0, 1]]}\n",
            ":4:3",
            "unknown key 'jacobain' in expect; did you mean 'jacobian'?",
        ),
        (
            "expr: relu(x)\nat: {x: [1, 2]}\nexpect:\n  jacobian: {x: [[1, 0], [0]]}\n",
            ":4",
            "ragged",
        ),
    ],
)
def test_each_mistake_in_a_claimed_jacobian_is_named(tmp_path, text, where, words):
    message = broken(tmp_path, text)
    assert message.startswith(str(tmp_path / "p.yaml") + where), message
    assert words in message


def test_the_shipped_seed_004_jacobians_are_every_one_the_seed_prints():
    from .conftest import PROBLEMS

    problems = load(PROBLEMS / "seed-004-jacobians.yaml")
    shapes = [{n: c.value.shape for n, c in p.expectation.grads.items()} for p in problems]
    assert shapes == [
        {"x": (3, 3)},  # 1.2
        {"x": (3, 2), "V": (3, 3, 2), "b": (3, 3)},  # 1.3
        {"V2": (2, 2, 3), "b2": (2, 2), "q": (2, 3)},  # 1.5, z = V2 q + b2
        {"p": (3, 3)},  # 1.5, q = relu(p)
        {"V1": (3, 3, 2), "b1": (3, 3)},  # 1.5, p = V1 x + b1
    ]
    jv = problems[1].expectation.grads["V"].value
    np.testing.assert_array_equal(jv[1], [[0, 0], [-2, 1], [0, 0]])  # the seed's second matrix
    np.testing.assert_array_equal(
        problems[2].expectation.grads["q"].value, [[2, 1, -3], [3, -1, 2]]
    )
    for result in check(problems).problems:
        assert result.status == "pass", result.name
        assert {x.status for x in result.expected} == {"pass"}
