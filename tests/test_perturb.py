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
