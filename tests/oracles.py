"""Independent oracles the op tests share: plain central differences written on their own,
an op's output projected on a random G (so a wrong VJP cannot hide), and perturbed copies
held against whole evaluations."""

import numpy as np
import pytest

from gradcheck.engine import symbolic
from gradcheck.engine.perturb import Perturbation
from gradcheck.engine.tape import evaluate

from .conftest import batched, program


def projected(text: str, shapes: dict, values: dict, seed=1):
    """``sum((text) * G)`` with G random of the output's shape: its program and values."""
    out = program(text, **shapes).root.shape
    G = np.random.default_rng(seed).normal(size=out)
    return program(f"sum(({text}) * G)", **shapes, G=out), {**values, "G": G}


def central(p, values, name, h=1e-6):
    """Plain central differences, entry by entry, written here on their own."""
    out = np.zeros_like(values[name])
    for k in range(values[name].size):
        plus = {n: v.copy() for n, v in values.items()}
        minus = {n: v.copy() for n, v in values.items()}
        plus[name].flat[k] += h
        minus[name].flat[k] -= h
        out.flat[k] = (p.value(batched(**plus))[0] - p.value(batched(**minus))[0]) / (2 * h)
    return out


def assert_copies_match_whole(full, all_values: dict, names) -> None:
    """Each copy with one entry moved, by the perturbation engine, is what evaluating that
    copy whole gives."""
    point = full.forward(batched(**all_values))
    for name in names:
        at = np.arange(all_values[name].size)
        entry = all_values[name].ravel() + 1e-3 * (1 + at)
        got, _ = Perturbation(full, point, name)(at, entry)
        for k in at:
            moved = {n: v.copy() for n, v in all_values.items()}
            moved[name].flat[k] = entry[k]
            expected = full.value(batched(**moved))[0]
            assert got[k] == pytest.approx(expected, rel=1e-13, abs=1e-14), (name, k)


def assert_vjp_matches_central(full, all_values: dict, names, text: str) -> None:
    """Backprop through ``full`` against plain central differences, input by input."""
    _, grads = full.gradient(batched(**all_values), list(names))
    for name in names:
        np.testing.assert_allclose(
            grads[name][0],
            central(full, all_values, name),
            rtol=1e-6,
            atol=1e-7,
            err_msg=f"d/d{name} of sum(({text}) * G)",
        )


def assert_tape_matches_backprop(full, all_values: dict, names, rtol: float = 1e-10) -> None:
    """The symbolic tape's value and gradients against backprop's (``rtol`` for the
    gradients; the value is held 100 times tighter)."""
    value, grads = full.gradient(batched(**all_values), list(names))
    sym_value, sym_grads = evaluate(symbolic.tape_for(full, list(names)), all_values)
    assert sym_value == pytest.approx(float(value[0]), rel=rtol / 100, abs=1e-13)
    for name in names:
        np.testing.assert_allclose(grads[name][0].ravel(), sym_grads[name], rtol=rtol, atol=1e-12)
