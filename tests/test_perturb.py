"""The one-entry perturbation engine gives what a dense evaluation of each copy gives."""

import numpy as np
import pytest

from gradcheck.engine import perturb
from gradcheck.engine.perturb import Perturbation

from .conftest import program
from .test_ops import CASES


def dense(p, values, name, at, entry):
    """Each copy evaluated in full, the slow and obvious way."""
    out = []
    for k, v in zip(at, entry):
        moved = {n: np.array(x, dtype=float) for n, x in values.items()}
        moved[name].flat[k] = v
        out.append(p.value({n: x[None] for n, x in moved.items()})[0])
    return np.array(out)


def copies(value, rng):
    size = np.size(value)
    at = np.concatenate([np.arange(size), rng.integers(size, size=5)])
    entry = np.asarray(value, dtype=float).reshape(-1)[at] + rng.normal(scale=1e-3, size=len(at))
    return at, entry


@pytest.mark.parametrize(("text", "values"), CASES, ids=[c[0] for c in CASES])
def test_same_values_as_dense_copies(text, values):
    rng = np.random.default_rng(1)
    p = program(text, **{n: np.shape(v) for n, v in values.items()})
    base = p.forward({n: np.asarray(v, dtype=float)[None] for n, v in values.items()})
    scale = max(1.0, abs(float(base[p.output][0])))
    for name in values:
        at, entry = copies(values[name], rng)
        got, crossed = Perturbation(p, base, name)(at, entry)
        np.testing.assert_allclose(
            got,
            dense(p, values, name, at, entry),
            rtol=1e-13,
            atol=1e-13 * scale,
            err_msg=f"moving {name} in {text}",
        )
        assert np.all(crossed == -1)  # the cases sit away from every kink


def test_kinks_crossed_by_a_copy_are_named():
    p = program("sum(relu(W @ x))", W=(2, 2), x=(2,))
    values = {"W": np.array([[1.0, -0.5], [2.0, 0.5]]), "x": np.array([1.0, 1.0])}
    base = p.forward({n: v[None] for n, v in values.items()})
    # W[0, 0] -> -2 turns W @ x's first entry negative: relu switches branch.
    _, crossed = Perturbation(p, base, "W")(np.array([0, 0]), np.array([1.5, -2.0]))
    assert crossed[0] == -1 and p.nodes[crossed[1]].op == "relu"


def test_small_batches_give_the_same_answer(monkeypatch):
    p = program("sum(tanh(W @ x + b)) * logsumexp(x)", W=(4, 3), x=(3,), b=(4,))
    rng = np.random.default_rng(2)
    values = {"W": rng.normal(size=(4, 3)), "x": rng.normal(size=3), "b": rng.normal(size=4)}
    base = p.forward({n: v[None] for n, v in values.items()})
    at, entry = copies(values["x"], rng)
    whole = Perturbation(p, base, "x")(at, entry)[0]
    monkeypatch.setattr(perturb, "BATCH_FLOATS", 1)
    tiny = Perturbation(p, base, "x")
    np.testing.assert_array_equal(tiny(at, entry)[0], whole)
    assert tiny.rows_per_batch == 2


@pytest.mark.parametrize(
    "text",
    [
        "0.5*sum((W2 @ tanh(W1 @ X + b1) + b2 - Y)**2)",  # a row of W1 @ X moves, then all
        "sum(tanh(W1 @ X) * G)",  # a row patch met by an element-wise product
        "sum(W2 @ sigmoid(W1 @ X))",
        "sum(exp(W1 @ X)) + sum(W2 @ (W1 @ X))",  # one patch used twice
        "w @ tanh(W1 @ X) @ v",  # a vector on the left of a moved row
        "sum(tanh(W1 @ x) * g)",  # (m,k) @ (k,): one entry moves
        "sum(W1.T @ W1)",
    ],
)
def test_patches_through_matrix_products_match_dense_copies(text):
    rng = np.random.default_rng(7)
    shapes = {"W1": (5, 4), "X": (4, 3), "b1": (5, 1), "W2": (2, 5), "b2": (2, 1), "Y": (2, 3),
              "G": (5, 3), "w": (5,), "v": (3,), "x": (4,), "g": (5,)}  # fmt: skip
    p = program(text, **shapes)
    values = {n: rng.normal(size=shapes[n]) for n in p.inputs}
    base = p.forward({n: v[None] for n, v in values.items()})
    for name in values:
        at, entry = copies(values[name], rng)
        got, _ = Perturbation(p, base, name)(at, entry)
        want = dense(p, values, name, at, entry)
        np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-12, atol=1e-12)
        complex_got, _ = Perturbation(p, base, name)(at, values[name].reshape(-1)[at] + 1e-20j)
        assert np.all(np.isfinite(complex_got))


def test_a_moved_weight_row_costs_a_row_not_the_layer():
    # moving W1[i, j] changes row i of W1 @ X: tanh is taken of that row only
    p = program("sum(W2 @ tanh(W1 @ X))", W1=(300, 300), X=(300, 8), W2=(1, 300))
    rng = np.random.default_rng(0)
    values = {n: rng.normal(size=p.shapes[n]) for n in p.inputs}
    base = p.forward({n: v[None] for n, v in values.items()})
    moved = Perturbation(p, base, "W1")
    moved(np.arange(64), values["W1"].reshape(-1)[:64] + 1e-6)
    assert moved.largest <= 2 * 8  # the widest dense value a copy needed: one row of 8
