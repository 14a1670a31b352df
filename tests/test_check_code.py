"""gradcheck func, through the library: every convention right and wrong, each diagnosis
on a planted mistake, and what only code gets wrong."""

from pathlib import Path

import numpy as np
import pytest

from gradcheck import assert_gradient, check_function
from gradcheck.check import Settings
from gradcheck.check_code import check_code
from gradcheck.results import CauseCode
from gradcheck.source.func import func_problem

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LAYER = ["x=random(4,5)", "w=random(5,3)", "b=random(3)"]


def run(function, *, settings=None, **kwargs):
    base = {k: str(EXAMPLES / v) if k in ("grad", "backward") else v for k, v in kwargs.items()}
    return check_code(func_problem(str(EXAMPLES / function), **base), settings or Settings())


def diagnosis(out, name):
    return out.points[0].gradient[name].diagnosis


@pytest.mark.parametrize(
    ("function", "kwargs"),
    [
        ("layers.py:affine_forward", {"backward": "layers.py:affine_backward", "at": LAYER}),
        ("layers.py:softmax_loss", {"at": ["x=random(6,10)", "y=[1,3,0,9,2,2]"], "wrt": ["x"]}),
        ("layers.py:svm_loss", {"at": ["x=random(6,10)", "y=[1,3,0,9,2,2]"]}),
        ("layers.py:l2_loss", {"at": ["w=random(3,4)", "reg=0.1"], "wrt": ["w"]}),
        ("softmax.py:softmax_forward", {"backward": "softmax.py:softmax_backward_jacobian",
                                         "at": ["o=random(4,3)"]}),
    ],
)  # fmt: skip
def test_right_code_passes(function, kwargs):
    out = run(function, **kwargs)
    assert out.status == "pass", out.message
    assert out.kind == "func" and out.code["function"].endswith(function)


def test_a_transposed_rectangular_gradient_names_both_shapes():
    out = run(
        "layers_buggy.py:affine_forward", backward="layers_buggy.py:affine_backward", at=LAYER
    )
    assert out.status == "fail"
    assert diagnosis(out, "w") == (
        "it has shape (3, 5) but w has shape (5, 3): it is the true gradient transposed"
    )
    assert any(f.code == CauseCode.WRONG_SHAPE for f in out.findings)


def test_a_transposed_square_gradient_is_named_from_the_numbers():
    at = ["x=random(4,3)", "w=random(3,3)", "b=random(3)"]
    out = run("layers_buggy.py:affine_forward", backward="layers_buggy.py:affine_backward_square",
              at=at)  # fmt: skip
    assert out.status == "fail"
    assert diagnosis(out, "w") == "it is the true gradient transposed"
    assert out.points[0].gradient["x"].worst == "pass"


def test_a_missing_factor_is_named():
    out = run("layers_buggy.py:l2_loss", at=["w=random(3,4)", "reg=0.1"], wrt=["w"])
    assert diagnosis(out, "w") == "it is the true gradient times 1/2 (a factor 2 missing)"


def test_a_diagonal_only_softmax_jacobian_is_named():
    out = run("softmax.py:softmax_forward", backward="softmax.py:softmax_backward",
              at=["o=random(4,3)"])  # fmt: skip
    assert out.status == "fail"
    assert "only the diagonal of the layer's Jacobian" in diagnosis(out, "o")
    assert out.points[0].upstream.shape == (4, 3)


def test_a_function_that_modifies_its_input_is_said_to_and_fails():
    out = run("layers_buggy.py:relu_forward", backward="layers_buggy.py:relu_backward",
              at=["x=[[1.5, -2.0], [0.5, 3.0]]"])  # fmt: skip
    assert out.status == "fail"
    assert "modifies the upstream gradient dout in place" in out.message
    assert out.points[0].gradient["x"].worst == "pass"  # its numbers are right


def test_a_function_that_is_not_deterministic_is_an_error_before_any_gradient():
    out = run("layers_buggy.py:dropout_loss", at=["x=random(10)"])
    assert out.status == "error" and "not deterministic" in out.message
    assert out.points == []


def test_relu_at_its_kink_is_a_kink_with_both_one_sided_values():
    out = run("layers.py:relu_forward", backward="layers.py:relu_backward",
              at=["x=[[0.0, 1.0], [-1.0, 2.0]]"])  # fmt: skip
    assert out.status == "kink"
    cause = out.points[0].gradient["x"].causes[0]
    assert cause.code == CauseCode.KINK and "one-sided derivatives" in cause.text


def test_labels_are_integers_never_differentiated():
    out = run("layers.py:softmax_loss", at=["x=random(6,10)", "y=[1,3,0,9,2,2]"])
    assert list(out.points[0].gradient) == ["x"]


def test_float32_code_that_is_right_passes_at_float32_tolerances():
    def loss(x):
        x32 = x.astype(np.float32)
        return np.sum(np.tanh(x32) ** 2)

    def grad(x):
        x32 = x.astype(np.float32)
        return 2 * np.tanh(x32) / np.cosh(x32) ** 2

    (out,) = check_function(loss, grad=grad, x=np.linspace(-1, 1, 7)).problems
    assert out.status == "pass", out.points[0].gradient["x"].causes
    assert out.tolerance.rtol == 1e-3


def test_an_exception_in_user_code_names_their_file_and_line():
    out = run("layers.py:affine_forward", backward="layers.py:affine_backward",
              at=["x=random(4,5)", "w=random(4,3)", "b=random(3)"])  # fmt: skip
    assert out.status == "error"
    assert "layers.py, line" in out.message and "affine_forward" in out.message


def test_a_missing_input_is_named():
    out = run("layers.py:affine_forward", backward="layers.py:affine_backward",
              at=["x=random(4,5)", "w=random(5,3)"])  # fmt: skip
    assert out.status == "error" and "b" in out.message and "--at" in out.message


def test_the_library_never_modifies_the_callers_arrays():
    x = np.array([1.0, 2.0, 3.0])

    def rude(x):
        x *= 2
        return np.sum(x**2)

    (out,) = check_function(rude, grad=lambda x: 2 * x, x=x).problems
    assert np.array_equal(x, [1.0, 2.0, 3.0])
    assert out.status == "fail" and "modifies its input x in place" in out.message


def test_assert_gradient_passes_right_code_and_names_a_wrong_entry():
    x = np.array([0.5, -1.0, 2.0])
    assert_gradient(lambda x: np.sum(np.sin(x)), grad=lambda x: np.cos(x), x=x)

    def wrong(x):
        g = np.cos(x)
        g[2] = 0.0
        return g

    with pytest.raises(AssertionError) as caught:
        assert_gradient(lambda x: np.sum(np.sin(x)), grad=wrong, x=x)
    lines = [line for line in str(caught.value).splitlines() if "fail" in line]
    assert any("x[2]" in line for line in lines)


def test_a_report_shows_itself_as_html_in_a_notebook():
    report = check_function(lambda x: np.sum(x**2), grad=lambda x: 2 * x, x=np.ones(2))
    html = report._repr_html_()
    assert html.lstrip().startswith("<") and "pass" in html
