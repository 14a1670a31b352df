"""Finite-difference estimators and step rules, on functions whose derivatives we know."""

import numpy as np
import pytest

from gradcheck.estimate import finite


def evaluator(f, x0):
    """An Evaluate over a plain NumPy function of a vector."""

    def evaluate(indices, values):
        out = np.empty(len(indices))
        for r, (k, v) in enumerate(zip(indices, values)):
            x = x0.copy()
            x[k] = v
            out[r] = f(x)
        return out, np.full(len(indices), -1)

    return evaluate


def test_steps_scale_with_the_input_and_the_order():
    x = np.array([0.0, 1.0, -1000.0])
    np.testing.assert_allclose(
        finite.central_step(x), finite.EPS ** (1 / 3) * np.array([1, 1, 1000])
    )
    np.testing.assert_allclose(
        finite.one_sided_step(x), np.sqrt(finite.EPS) * np.array([1, 1, 1000])
    )


def test_estimates_have_the_errors_their_order_predicts():
    x = np.array([0.5, 1.0, 2.0])
    d = finite.entrywise(evaluator(lambda v: np.sum(np.exp(v)), x), x, np.sum(np.exp(x)))
    exact = np.exp(x)
    central_error = np.abs(d.central - exact) / exact
    one_sided_error = np.abs(d.forward - exact) / exact
    assert np.all(central_error < 1e-9)
    assert np.all(one_sided_error < 1e-6)
    assert np.all(central_error < one_sided_error)
    # with a step where truncation dominates round-off, forward overestimates and
    # backward underestimates a convex function, by about h f''/2
    big = finite.entrywise(
        evaluator(lambda v: np.sum(np.exp(v)), x), x, np.sum(np.exp(x)), step=1e-3
    )
    np.testing.assert_allclose(big.forward - exact, 0.5e-3 * exact, rtol=1e-2)
    np.testing.assert_allclose(exact - big.backward, 0.5e-3 * exact, rtol=1e-2)


def test_a_fixed_step_reproduces_seed_002():
    # seed 002: (w3*relu(w2*relu(w1)) - 10)**2 at w = (2, 2, 3), step 1e-4
    def f(w):
        return (w[2] * max(w[1] * max(w[0], 0), 0) - 10) ** 2

    w = np.array([2.0, 2.0, 3.0])
    d = finite.entrywise(evaluator(f, w), w, f(w), step=1e-4)
    np.testing.assert_allclose(d.forward, [24.0036, 24.0036, 16.0016], rtol=1e-9)
    np.testing.assert_allclose(d.backward, [23.9964, 23.9964, 15.9984], rtol=1e-9)
    np.testing.assert_allclose(d.central, [24.0, 24.0, 16.0], rtol=1e-9)


def test_the_step_divides_by_what_the_function_saw():
    # x + h is rounded; dividing by (x + h) - x, the step the function really saw, makes
    # the difference of the identity exact. Dividing by h would be off by ~1e-11.
    for value in (1 / 3, 2 / 3, 1e8 / 3, -7.1):
        x = np.array([value])
        d = finite.entrywise(evaluator(lambda v: v[0], x), x, value)
        assert d.forward[0] == d.backward[0] == d.central[0] == 1.0


def test_rounding_bound_grows_with_the_function_and_shrinks_with_the_step():
    x = np.array([1.0])
    small = finite.entrywise(evaluator(lambda v: v[0], x), x, 1.0)
    large = finite.entrywise(evaluator(lambda v: 1e6 + v[0], x), x, 1e6 + 1.0)
    assert large.rounding[0] > 1e5 * small.rounding[0]


def test_quick_differences_take_two_evaluations_an_entry():
    x = np.array([1.0, -2.0, 0.5])
    seen = []

    def evaluate(at, entry):
        seen.append(len(at))
        moved = np.tile(x, (len(at), 1))
        moved[np.arange(len(at)), at] = entry
        return np.sum(moved**3, axis=1)[:, None], np.full(len(at), -1)

    d = finite.quick(evaluate, x, float(np.sum(x**3)))
    assert sum(seen) == 2 * x.size
    assert d.central == pytest.approx(3 * x**2, rel=1e-9)
    assert (d.forward + d.backward) / 2 == pytest.approx(d.central, rel=1e-12)
    assert np.all(d.forward != d.backward)  # one-sided, from the same two evaluations


def test_refine_redoes_only_the_entries_asked_for_from_the_ladder():
    x = np.array([1.0, -2.0, 0.5, 3.0])
    asked = []

    def evaluate(at, entry):
        asked.extend(np.unique(at).tolist())
        moved = np.tile(x, (len(at), 1))
        moved[np.arange(len(at)), at] = entry
        return np.sum(np.sin(moved), axis=1)[:, None], np.full(len(at), -1)

    d = finite.quick(evaluate, x, float(np.sum(np.sin(x))))
    asked.clear()
    again = finite.refine(evaluate, x, float(np.sum(np.sin(x))), d, np.array([1, 3]), 0.0)
    assert sorted(set(asked)) == [1, 3]
    assert again.central[[0, 2]] == pytest.approx(d.central[[0, 2]], abs=0)
    assert again.central[[1, 3]] == pytest.approx(np.cos(x[[1, 3]]), rel=1e-9)
    assert not np.array_equal(again.step[[1, 3]], d.step[[1, 3]])
