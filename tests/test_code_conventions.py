"""Reading what user code returns, without a process: every form of gradients, every mistake."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.targets.conventions import NO_CACHE, Code, ReturnError, as_numbers, read_grads

INPUTS = {"x": np.ones((2, 3)), "w": np.ones((3, 4)), "b": np.ones(4), "y": np.array([0, 2])}
NAMES = ("x", "w", "b", "y")


def grads_for(*names):
    return [np.full(INPUTS[n].shape, i + 1.0) for i, n in enumerate(names)]


def test_a_dict_a_tuple_of_all_inputs_and_a_tuple_of_the_real_ones_read_the_same():
    dx, dw, db = grads_for("x", "w", "b")
    expected = {"x": dx, "w": dw, "b": db}
    for returned in (
        {"x": dx, "w": dw, "b": db},
        {"x": dx, "w": dw, "b": db, "y": None},
        (dx, dw, db),
        (dx, dw, db, None),
        [dx, dw, db],
    ):
        grads, shapes = read_grads(returned, "bwd", INPUTS, NAMES)
        assert shapes == {}
        assert grads.keys() == expected.keys()
        for name in expected:
            np.testing.assert_array_equal(grads[name], expected[name])


def test_one_array_belongs_to_the_one_real_input_and_labels_get_no_gradient():
    inputs = {"scores": np.ones((2, 5)), "labels": np.array([1, 4])}
    grads, _ = read_grads(np.zeros((2, 5)), "softmax_loss", inputs, ("scores", "labels"))
    assert list(grads) == ["scores"]
    grads, _ = read_grads(
        {"scores": np.zeros((2, 5)), "labels": np.ones(2)}, "f", inputs, ("scores", "labels")
    )
    assert list(grads) == ["scores"]


def test_a_list_of_numbers_is_one_gradient_not_one_per_input():
    grads, _ = read_grads([1, 2, 3], "f", {"v": np.zeros(3)}, ("v",))
    assert grads["v"].dtype == np.float64
    np.testing.assert_array_equal(grads["v"], [1.0, 2.0, 3.0])


@given(st.lists(st.integers(1, 4), min_size=2, max_size=2))
def test_a_gradient_of_the_inputs_size_and_another_shape_is_a_finding(dims):
    m, n = dims
    inputs = {"W": np.zeros((m, n))}
    grads, shapes = read_grads(np.zeros((n, m)), "grad", inputs, ("W",))
    if m == n:
        assert shapes == {}
    else:
        assert shapes == {"W": ((n, m), (m, n))}
    assert grads["W"].shape == (n, m)


@pytest.mark.parametrize(
    ("returned", "words"),
    [
        (None, "bwd returned None (does the function end without a return?)"),
        ({"dx": 1}, "bwd returned a gradient for 'dx', which is not an input (inputs: x, w, b, y)"),
        (
            (1, 2),
            "bwd returned 2 gradients; expected 4, one per input in parameter order "
            "(x, w, b, y), or 3 for the real ones (x, w, b)",
        ),
        (
            np.zeros(3),
            "bwd returned an array of shape (3,); with inputs x, w, b, y it must return one "
            "gradient per input",
        ),
        ({"x": np.zeros(5)}, "bwd returned a gradient of shape (5,) for x, whose shape is (2, 3)"),
        (
            {"x": "0"},
            "the gradient bwd returned for x is a str; expected a number or a NumPy array",
        ),
        (
            {"x": [[1, 2], [3]]},
            "the gradient bwd returned for x is a list of 2 that is not an array of numbers",
        ),
        (
            {"x": np.array([None] * 6).reshape(2, 3)},
            "is an array of shape (2, 3) of object; expected numbers",
        ),
    ],
)
def test_wrong_gradients_say_what_was_expected_and_what_came(returned, words):
    with pytest.raises(ReturnError) as error:
        read_grads(returned, "bwd", INPUTS, NAMES)
    assert words in str(error.value)


def scalar(x):
    return float(np.sum(x))


def layer(x):
    return x * 2, "cache"


def lone(x):
    return x * 2


def test_values_are_read_by_convention():
    grad = Code("grad", scalar, scalar, ("scalar", "g"))
    assert grad.value(grad.output({"x": np.ones(3)})).shape == ()
    with pytest.raises(ReturnError, match="with --grad it returns the value alone"):
        grad.split((1.0, {}))
    pair = Code("pair", scalar, None, ("scalar", ""))
    with pytest.raises(ReturnError, match=r"without --grad it must return \(value, grads\)"):
        pair.output({"x": np.ones(3)})
    cached = Code("layer", layer, None, ("layer", "bwd"))
    assert cached.split(layer(np.ones(2)))[1] == "cache"
    np.testing.assert_array_equal(cached.output({"x": np.ones(2)}), [2.0, 2.0])
    alone = Code("layer", lone, None, ("lone", "bwd"))
    assert alone.split(lone(np.ones(2)))[1] is NO_CACHE
    vector = Code("grad", lone, scalar, ("lone", "g"))
    with pytest.raises(
        ReturnError, match=r"returned an array of shape \(2,\) as its value; .* --backward"
    ):
        vector.value(vector.output({"x": np.ones(2)}))


def test_numbers_of_every_kind_are_numbers_and_nothing_else_is():
    assert as_numbers(3, "v").dtype.kind == "i"
    assert as_numbers(np.float32(2), "v").dtype == np.float32
    assert as_numbers(True, "v").dtype.kind == "b"
    for bad in ("3", b"3", {"a": 1}, object()):
        with pytest.raises(ReturnError, match="v is"):
            as_numbers(bad, "v")
