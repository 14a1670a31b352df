"""The shipped examples/ are what their docstrings say: the right ones right, the wrong ones
wrong in the way they say (held against central differences, through the worker)."""

from pathlib import Path

import numpy as np
import pytest

from gradcheck.source.code import parse_ref
from gradcheck.targets.worker import Worker

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RNG = np.random.default_rng(2024)

#: Seed 004's networks 0, 1 and 2 (the students' `tests` list).
SEED_004 = [
    dict(
        V1=[[2, -1], [0, 3], [2, 1]],
        b1=[2, -1, 3],
        V2=[[2, 1, -3], [3, -1, 2]],
        b2=[4, 2],
        x=[-1, 2],
        y=[-4, 1],
    ),
    dict(V1=[[2, -1, 0], [0, 1, 3]], b1=[2, -1], V2=[2, -3], b2=4, x=[-1, 2, 0], y=3),
    dict(
        V1=[[1, 2], [1, 0]],
        b1=[-5, 2],
        V2=[[2, -3], [1, 0], [-1, -1]],
        b2=[1, 3, -2],
        x=[-1, 2],
        y=np.array(2),
    ),
]


def point_of(values: dict) -> dict:
    """Numbers as float arrays; integer arrays (labels) kept as they are."""
    return {
        n: v if isinstance(v, np.ndarray) else np.asarray(v, dtype=float) for n, v in values.items()
    }


def worker(file: str, function: str, grad: str | None = None, backward: str | None = None):
    ref = lambda name: parse_ref(f"{EXAMPLES / file}:{name}") if name else None  # noqa: E731
    return Worker(ref(function), grad=ref(grad), backward=ref(backward))


def central(w: Worker, point: dict, name: str, dout=None) -> np.ndarray:
    """Central differences of every entry of one input, in one batch."""
    x = point[name].ravel()
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    flat = np.arange(x.size)
    rows = w.values(point, name, np.concatenate([flat, flat]), np.concatenate([x + h, x - h]), dout)
    return ((rows[: x.size] - rows[x.size :]) / (2 * h)).reshape(point[name].shape)


def errors(w: Worker, point: dict, dout=None) -> dict[str, float]:
    """The largest relative error of each claimed gradient against central differences."""
    call = w.evaluate(point, dout)
    out = {}
    for name, grad in call.grads.items():
        truth = central(w, point, name, dout)
        scale = max(1.0, float(np.max(np.abs(truth))))
        out[name] = float(np.max(np.abs(np.reshape(grad, truth.shape) - truth))) / scale
    return out


def test_seed_004_network_0_reproduces_the_students_numbers_and_is_right():
    point = point_of(SEED_004[0])
    with worker("network.py", "net_loss") as w:
        call = w.evaluate(point)
        assert call.value == 10.0
        np.testing.assert_array_equal(call.grads["V2"], [[0, 20, 12], [0, 10, 6]])
        np.testing.assert_array_equal(call.grads["V1"], [[0, 0], [-2, 4], [8, -16]])
        np.testing.assert_array_equal(call.grads["b1"], [0, 2, -8])
        assert max(errors(w, point).values()) < 1e-8


def test_seed_004_network_2_with_its_hinge_loss_is_right():
    point = point_of(SEED_004[2])
    with worker("network.py", "net_hinge_loss") as w:
        call = w.evaluate(point)
        assert call.value == pytest.approx(6.0091744845917345, rel=1e-15)
        np.testing.assert_allclose(
            call.grads["b2"], [0.00667641, 0.99086747, -0.99754389], atol=1e-8
        )
        assert set(call.grads) == {"V1", "b1", "V2", "b2", "x"}
        assert max(errors(w, point).values()) < 1e-8


def test_seed_004_network_1_has_right_values_in_the_wrong_shapes():
    point = point_of(SEED_004[1])
    with worker("network.py", "net_loss_scalar_output") as w:
        call = w.evaluate(point)
    assert call.shapes == {"V2": ((1, 1, 2), (2,)), "b2": ((1, 1), ())}
    np.testing.assert_array_equal(np.ravel(call.grads["V2"]), [0, -2])


def test_seed_004_layers_one_at_a_time_are_right():
    x, V, b = RNG.normal(size=3), RNG.normal(size=(4, 3)), RNG.normal(size=4)
    dout = RNG.normal(size=4)
    with worker("network.py", "affine_forward", backward="affine_backward") as w:
        assert max(errors(w, {"x": x, "V": V, "b": b}, dout).values()) < 1e-8
    with worker("network.py", "relu_forward", backward="relu_backward") as w:
        assert errors(w, {"x": np.array([-1.0, 0.5, 2.0, -0.25])}, dout)["x"] < 1e-8


def seed_003_point(n=5):
    return {
        "w1": RNG.normal(size=(2, 3)),
        "b1": RNG.normal(size=3),
        "w2": RNG.normal(size=(3, 4)),
        "b2": RNG.normal(size=4),
        "x": RNG.normal(size=(n, 2)),
        "c": np.array([0, 3, 1, 1, 2]),
    }


def test_seed_003_softmax_backward_uses_only_the_diagonal():
    o = RNG.normal(size=(4, 3))
    dout = RNG.normal(size=(4, 3))
    with worker("softmax.py", "softmax_forward", backward="softmax_backward") as w:
        assert errors(w, {"o": o}, dout)["o"] > 1e-2
        diagonal = w.evaluate({"o": o}, dout).grads["o"]
    with worker("softmax.py", "softmax_forward", backward="softmax_backward_jacobian") as w:
        assert errors(w, {"o": o}, dout)["o"] < 1e-8
    y = np.exp(o) / np.exp(o).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(diagonal, dout * y * (1 - y))


def test_seed_003_network_is_wrong_everywhere_and_right_when_fixed():
    point = seed_003_point()
    with worker("softmax.py", "net_loss") as w:
        assert min(errors(w, point).values()) > 1e-3
    with worker("softmax.py", "net_loss_fixed") as w:
        assert max(errors(w, point).values()) < 1e-7


@pytest.mark.parametrize("name", ["softmax_loss", "svm_loss"])
def test_the_cs231n_losses_are_right(name):
    point = {"x": RNG.normal(size=(6, 10)), "y": np.array([1, 3, 0, 9, 2, 2])}
    with worker("layers.py", name) as w:
        assert errors(w, point).keys() == {"x"}
        assert errors(w, point)["x"] < 1e-8


def test_the_cs231n_layers_are_right():
    x, w_, b = RNG.normal(size=(4, 5)), RNG.normal(size=(5, 3)), RNG.normal(size=3)
    dout = RNG.normal(size=(4, 3))
    with worker("layers.py", "affine_forward", backward="affine_backward") as w:
        assert max(errors(w, {"x": x, "w": w_, "b": b}, dout).values()) < 1e-8
    with worker("layers.py", "relu_forward", backward="relu_backward") as w:
        assert errors(w, {"x": x}, RNG.normal(size=(4, 5)))["x"] < 1e-8
    with worker("layers.py", "l2_loss") as w:
        assert errors(w, {"w": w_, "reg": np.array(0.3)})["w"] < 1e-8
    with worker("layers.py", "tied_loss") as w:
        assert (
            max(errors(w, {"w": RNG.normal(size=(3, 4)), "x": RNG.normal(size=4)}).values()) < 1e-7
        )


def test_the_planted_mistakes_are_wrong_as_their_docstring_says():
    x, w_, b = RNG.normal(size=(4, 5)), RNG.normal(size=(5, 3)), RNG.normal(size=3)
    point = {"x": x, "w": w_, "b": b}
    dout = RNG.normal(size=(4, 3))
    with worker("layers_buggy.py", "affine_forward", backward="affine_backward") as w:
        call = w.evaluate(point, dout)
        assert call.shapes == {"w": ((3, 5), (5, 3))}
        np.testing.assert_allclose(call.grads["w"].T, central(w, point, "w", dout), rtol=1e-6)
    square = {"x": RNG.normal(size=(4, 3)), "w": RNG.normal(size=(3, 3)), "b": b}
    with worker("layers_buggy.py", "affine_forward", backward="affine_backward_square") as w:
        call = w.evaluate(square, dout)
        assert call.shapes == {}
        truth = central(w, square, "w", dout)
        assert np.max(np.abs(call.grads["w"] - truth)) > 1e-2
        np.testing.assert_allclose(call.grads["w"].T, truth, rtol=1e-6)
    with worker("layers_buggy.py", "l2_loss") as w:
        l2 = {"w": w_, "reg": np.array(0.3)}
        np.testing.assert_allclose(2 * w.evaluate(l2).grads["w"], central(w, l2, "w"), rtol=1e-7)
    with worker("layers_buggy.py", "tied_loss") as w:
        tied = {"w": RNG.normal(size=(3, 4)), "x": RNG.normal(size=4)}
        assert errors(w, tied)["w"] > 1e-2 and errors(w, tied)["x"] < 1e-7


def test_the_in_place_relu_and_the_unseeded_dropout_are_findings():
    x = RNG.normal(size=(4, 5))
    with worker("layers_buggy.py", "relu_forward", backward="relu_backward") as w:
        call = w.evaluate({"x": x}, RNG.normal(size=(4, 5)))
        assert call.modified == ("dout",)
        assert errors(w, {"x": x}, RNG.normal(size=(4, 5)))["x"] < 1e-8
    with worker("layers_buggy.py", "dropout_loss") as w:
        assert "dropout" in w.deterministic({"x": x})
