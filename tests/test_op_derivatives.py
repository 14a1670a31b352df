"""The element-wise additions of version 2, each against an independent computation.

Values come from each function's definition written here in mpmath (PyTorch's definitions:
gelu exact with erf, elu with alpha 1, selu's constants, hardtanh to [-1, 1], sinc as
NumPy's sin(pi x) / (pi x)); derivatives from mpmath's own numerical differentiation at 30
digits. Neither shares code with gradcheck's table. Then each op is checked end to end,
at random points and exactly on its switches.
"""

from dataclasses import replace

import mpmath as mp
import numpy as np
import pytest

import gradcheck
from gradcheck.engine.ops import OPS

ALPHA = mp.mpf("1.6732632423543772848170429916717")  # PyTorch's selu constants
SCALE = mp.mpf("1.0507009873554804934193349852946")

#: name -> (the definition in mpmath, where to draw points, switches to stay away from)
DEFINITIONS = {
    "log1p": (lambda x: mp.log(1 + x), (-0.9, 3.0), []),
    "expm1": (lambda x: mp.exp(x) - 1, (-4.0, 4.0), []),
    "log2": (lambda x: mp.log(x) / mp.log(2), (0.1, 5.0), []),
    "log10": (lambda x: mp.log(x) / mp.log(10), (0.1, 5.0), []),
    "cbrt": (lambda x: mp.sign(x) * mp.root(abs(x), 3), (-4.0, 4.0), [0.0]),
    "square": (lambda x: x * x, (-4.0, 4.0), []),
    "reciprocal": (lambda x: 1 / x, (-4.0, 4.0), [0.0]),
    "asinh": (lambda x: mp.sign(x) * mp.log(abs(x) + mp.sqrt(x * x + 1)), (-4.0, 4.0), []),
    "acosh": (lambda x: mp.log(x + mp.sqrt(x * x - 1)), (1.05, 5.0), []),
    "atanh": (lambda x: mp.log((1 + x) / (1 - x)) / 2, (-0.95, 0.95), []),
    "sinc": (lambda x: mp.sin(mp.pi * x) / (mp.pi * x) if x else mp.mpf(1), (-3.0, 3.0), []),
    "gelu": (lambda x: x * (1 + mp.erf(x / mp.sqrt(2))) / 2, (-4.0, 4.0), []),
    "elu": (lambda x: x if x > 0 else mp.exp(x) - 1, (-4.0, 4.0), [0.0]),
    "selu": (lambda x: SCALE * (x if x > 0 else ALPHA * (mp.exp(x) - 1)), (-4.0, 4.0), [0.0]),
    "silu": (lambda x: x / (1 + mp.exp(-x)), (-6.0, 6.0), []),
    "softsign": (lambda x: x / (1 + abs(x)), (-4.0, 4.0), [0.0]),
    "hardtanh": (lambda x: min(max(x, -1), 1), (-3.0, 3.0), [-1.0, 1.0]),
    "relu6": (lambda x: min(max(x, 0), 6), (-2.0, 8.0), [0.0, 6.0]),
    "mish": (lambda x: x * mp.tanh(mp.log(1 + mp.exp(x))), (-6.0, 6.0), []),
    "heaviside": (lambda x: mp.mpf(1) if x > 0 else mp.mpf(0), (-3.0, 3.0), [0.0]),
}

#: Points where a naive formula loses digits (cancellation, overflow): each stable form
#: must still agree with the definition to a few ulps.
HARD_POINTS = {
    "log1p": [1e-12, -1e-9, 1e-300],
    "expm1": [1e-12, -1e-9, 1e-300, 700.0],
    "cbrt": [-1e-300, 1e300, -27.0],
    "asinh": [1e-10, -1e10, 1e150],
    "acosh": [1.0 + 1e-10, 1e10],
    "atanh": [1e-12, 0.999999],
    "sinc": [1e-8, 1e-3, 0.15, -0.16, 0.999, 2.0, 0.0],
    "gelu": [-10.0, -30.0, 1e-8, 30.0],
    "elu": [-800.0, 800.0, -1e-10],
    "selu": [-800.0, 800.0, -1e-10],
    "silu": [-40.0, -800.0, 800.0],
    "mish": [-30.0, -800.0, 800.0, 1e-9],
    "softsign": [1e300, -1e-300],
}

NEW_OPS = list(DEFINITIONS)


def draw(name: str, count: int, seed: int) -> np.ndarray:
    """Random points in the op's domain, at least 0.05 from each switch."""
    _, (low, high), switches = DEFINITIONS[name]
    rng = np.random.default_rng(seed)
    points = rng.uniform(low, high, size=4 * count)
    far = np.ones(points.shape, dtype=bool)
    for switch in switches:
        far &= np.abs(points - switch) > 0.05
    return points[far][:count]


def exact(name: str, points, digits: int = 30) -> list[float]:
    """The definition, evaluated at ``digits`` digits."""
    with mp.workdps(digits):
        return [float(DEFINITIONS[name][0](mp.mpf(float(x)))) for x in points]


def exact_derivative(name: str, points, digits: int = 30) -> list[float]:
    """mpmath's central differences of the definition, with a step relative to x."""
    with mp.workdps(digits):
        return [
            float(mp.diff(DEFINITIONS[name][0], x, h=max(1, abs(x)) * mp.mpf(10) ** (-digits // 3)))
            for x in (mp.mpf(float(p)) for p in points)
        ]


def forward(name: str, x) -> np.ndarray:
    return OPS[name].forward(np.asarray(x, dtype=float).reshape(1, -1))[0]


def derivative(name: str, x) -> np.ndarray:
    """The table's local derivative, read through its VJP with an upstream gradient of 1."""
    x = np.asarray(x, dtype=float).reshape(1, -1)
    op = OPS[name]
    return op.vjps[0](np.ones_like(x), op.forward(x), x)[0]


def test_every_element_wise_addition_of_version_2_is_in_the_table():
    for name in NEW_OPS:
        op = OPS[name]
        assert op.public and op.elementwise and op.arity == (1, 1), name


@pytest.mark.parametrize("name", NEW_OPS)
@pytest.mark.parametrize("seed", range(3))
def test_value_matches_the_definition(name, seed):
    # a few ulps: the rounding of composite formulas (x / sqrt 2 inside erfc, for gelu)
    points = draw(name, 20, seed)
    np.testing.assert_allclose(forward(name, points), exact(name, points), rtol=4e-15, atol=0)


@pytest.mark.parametrize("name", list(HARD_POINTS))
def test_value_is_stable_where_a_naive_formula_is_not(name):
    # The definition at 400 digits (1 + erf(-30 / sqrt 2) is 1e-197). A stable forward is
    # as exact as the input allows: a few ulps times the condition number |x f' / f|
    # (gelu(-30) moves 900 ulps per ulp of x, so any float evaluation does).
    points = np.array(HARD_POINTS[name])
    expected = np.array(exact(name, points, digits=400))
    slope = np.array(exact_derivative(name, points, digits=400))
    condition = np.abs(points * slope) / np.maximum(np.abs(expected), 1e-300)
    error = np.abs(forward(name, points) - expected)
    assert np.all(error <= 4e-16 * (4 + condition) * np.abs(expected)), error


@pytest.mark.parametrize("name", NEW_OPS)
@pytest.mark.parametrize("seed", range(3))
def test_derivative_matches_mpmath_differences(name, seed):
    points = draw(name, 10, seed)
    expected = exact_derivative(name, points)
    np.testing.assert_allclose(derivative(name, points), expected, rtol=1e-13, atol=1e-15)


HARD_DERIVATIVES = {
    "sinc": [1e-8, 1e-3, 0.15, -0.16, 0.999, 0.0],
    "asinh": [1e10, -1e150],
    "acosh": [1.0 + 1e-10, 1e10],
    "atanh": [0.999999, -0.999999],
    "gelu": [-10.0, -30.0, 30.0],
    "silu": [-40.0, 40.0],
    "mish": [-30.0, 30.0, 400.0],
    "elu": [-800.0],
    "selu": [-800.0],
}


@pytest.mark.parametrize("name", list(HARD_DERIVATIVES))
def test_derivative_is_stable_where_a_naive_formula_is_not(name):
    points = HARD_DERIVATIVES[name]
    expected = exact_derivative(name, points, digits=400)
    np.testing.assert_allclose(derivative(name, points), expected, rtol=1e-13, atol=1e-300)


# ---------------------------------------------------------------- end to end


def status(expression: str, points) -> str:
    at = [f"x=[{', '.join(repr(float(p)) for p in points)}]"]
    return gradcheck.check(gradcheck.problem(expression, at=at)).problems[0].status


@pytest.mark.parametrize("name", NEW_OPS)
def test_checks_end_to_end_at_random_points(name):
    assert status(f"sum({name}(x))", draw(name, 4, seed=11)) == "pass"


#: Each switch, and whether the derivative jumps there (a kink) or is continuous across it
#: (elu with alpha 1 and softsign: the second derivative jumps, the first does not).
SWITCHES = [
    ("relu6", 0.0, "kink"),
    ("relu6", 6.0, "kink"),
    ("hardtanh", -1.0, "kink"),
    ("hardtanh", 1.0, "kink"),
    ("selu", 0.0, "kink"),
    ("heaviside", 0.0, "kink"),
    ("elu", 0.0, "pass"),
    ("softsign", 0.0, "pass"),
]


@pytest.mark.parametrize(("name", "switch", "expected"), SWITCHES)
def test_a_switch_is_a_kink_not_a_failure(name, switch, expected):
    assert status(f"sum({name}(x))", [switch, switch + 0.5]) == expected


@pytest.mark.parametrize("name", NEW_OPS)
def test_a_wrong_derivative_is_caught(name):
    right = OPS[name]
    wrong = replace(right, vjps=(lambda g, o, x: 1.01 * right.vjps[0](g, o, x) + 0.01 * g,))
    original, OPS[name] = OPS[name], wrong
    try:
        report = gradcheck.check(
            gradcheck.problem(
                f"sum({name}(x))",
                at=[f"x=[{', '.join(repr(float(p)) for p in draw(name, 3, seed=5))}]"],
            )
        )
    finally:
        OPS[name] = original
    (result,) = report.problems
    assert result.status == "fail"
