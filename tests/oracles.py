"""Independent oracles the op tests share: plain central differences written on their own,
an op's output projected on a random G (so a wrong VJP cannot hide), and perturbed copies
held against whole evaluations."""

import numpy as np
import pytest

from gradcheck.engine.perturb import Perturbation

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
