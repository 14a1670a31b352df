"""Every primitive in the table: its VJP against central differences, its SymPy lowering
against its NumPy forward. Shapes are chosen so that broadcasting is exercised."""

import numpy as np
import pytest

import gradcheck
from gradcheck.engine import symbolic
from gradcheck.engine.ops import FUNCTIONS, OPS
from gradcheck.engine.perturb import Perturbation
from gradcheck.engine.tape import evaluate
from tests import test_ops_conv, test_ops_linalg, test_tensors_ops

from .conftest import batched, program

#: Ops with keywords are tested, with them, in the files of their groups.
RULE_ARGUMENTS = {
    **test_tensors_ops.RULE_ARGUMENTS,
    **test_ops_linalg.RULE_ARGUMENTS,
    **test_ops_conv.RULE_ARGUMENTS,
}
OTHER_CASES = test_tensors_ops.CASES + test_ops_linalg.CASES + test_ops_conv.CASES

rng = np.random.default_rng(7)


def positive(*shape):
    return rng.uniform(0.5, 2.0, size=shape)


def anywhere(*shape):
    # away from 0 so that relu, abs, sign and max are smooth at the point
    return rng.choice([-1, 1], size=shape) * rng.uniform(0.3, 1.5, size=shape)


def unit(*shape):
    return rng.uniform(-0.8, 0.8, size=shape)


def well_conditioned(n):
    return np.eye(n) * 3 + rng.uniform(-0.5, 0.5, size=(n, n))


def above_one(*shape):
    return rng.uniform(1.2, 3.0, size=shape)


UNARY_DOMAIN = {
    **dict.fromkeys(["log", "log1p", "log2", "log10", "sqrt"], positive),
    **dict.fromkeys(["asin", "acos", "atanh"], unit),
    "acosh": above_one,
}

CASES = [
    *[
        (f"sum(c * {f}(a))", {"a": UNARY_DOMAIN.get(f, anywhere)(2, 3), "c": anywhere(2, 3)})
        for f, arity in FUNCTIONS.items()
        if arity == (1, 1) and OPS[f].elementwise
    ],
    ("sum(c * (a + b))", {"a": anywhere(2, 3), "b": anywhere(3), "c": anywhere(2, 3)}),
    ("sum(c * (a - b))", {"a": anywhere(2, 3), "b": anywhere(2, 1), "c": anywhere(2, 3)}),
    ("sum(c * (a * b))", {"a": anywhere(2, 3), "b": anywhere(), "c": anywhere(2, 3)}),
    ("sum(c * (a / b))", {"a": anywhere(3), "b": positive(2, 3), "c": anywhere(2, 3)}),
    ("sum(c * a ** b)", {"a": positive(2, 3), "b": anywhere(3), "c": anywhere(2, 3)}),
    ("sum(c * -a)", {"a": anywhere(2, 3), "c": anywhere(2, 3)}),
    ("sum(c * max(a, b))", {"a": anywhere(2, 3), "b": anywhere(2, 3) + 0.1, "c": anywhere(2, 3)}),
    ("sum(c * min(a, b))", {"a": anywhere(3), "b": anywhere(2, 3) + 0.1, "c": anywhere(2, 3)}),
    ("sum(c * leaky_relu(a, s))", {"a": anywhere(2, 3), "s": positive(), "c": anywhere(2, 3)}),
    ("sum(c * leaky_relu(a))", {"a": anywhere(2, 3), "c": anywhere(2, 3)}),
    ("c * sum(a)", {"a": anywhere(2, 3), "c": anywhere()}),
    ("c * mean(a)", {"a": anywhere(2, 3), "c": anywhere()}),
    ("c * norm(a)", {"a": anywhere(2, 3), "c": anywhere()}),
    ("c * logsumexp(a)", {"a": anywhere(2, 3), "c": anywhere()}),
    ("sum(c * softmax(a))", {"a": anywhere(4), "c": anywhere(4)}),
    ("sum(c * softmax(a))", {"a": anywhere(2, 3), "c": anywhere(2, 3)}),
    ("dot(a, b)", {"a": anywhere(2, 3), "b": anywhere(2, 3)}),
    ("sum(c * outer(a, b))", {"a": anywhere(2), "b": anywhere(3, 1), "c": anywhere(2, 3)}),
    ("sum(c * (A @ B))", {"A": anywhere(2, 3), "B": anywhere(3, 4), "c": anywhere(2, 4)}),
    ("sum(c * (A @ b))", {"A": anywhere(2, 3), "b": anywhere(3), "c": anywhere(2)}),
    ("sum(c * (a @ B))", {"a": anywhere(3), "B": anywhere(3, 4), "c": anywhere(4)}),
    ("a @ b", {"a": anywhere(3), "b": anywhere(3)}),
    ("sum(c * A.T)", {"A": anywhere(2, 3), "c": anywhere(3, 2)}),
    ("sum(c * transpose(A))", {"A": anywhere(2, 3), "c": anywhere(3, 2)}),
    ("sum(c * transpose(A))", {"A": anywhere(3), "c": anywhere(3)}),
    ("trace(A) * trace(A @ A)", {"A": anywhere(3, 3)}),
    ("det(A)", {"A": well_conditioned(3)}),
    ("sum(c * inv(A))", {"A": well_conditioned(3), "c": anywhere(3, 3)}),
    ("z[1] * z[-1]", {"z": anywhere(3)}),
    ("W[1, 0] * W[0, 1] + sum(c * W[1])", {"W": anywhere(2, 3), "c": anywhere(3)}),
    ("sum(c * [a, 2 * b, a * b])", {"a": anywhere(2), "b": anywhere(2), "c": anywhere(3, 2)}),
]


def central(p, values, name, h=1e-6):
    """Plain central differences, written here independently of gradcheck.finite."""
    out = np.zeros_like(values[name])
    for k in range(values[name].size):
        plus, minus = dict(values), dict(values)
        plus[name] = values[name].copy()
        minus[name] = values[name].copy()
        plus[name].flat[k] += h
        minus[name].flat[k] -= h
        out.flat[k] = (p.value(batched(**plus))[0] - p.value(batched(**minus))[0]) / (2 * h)
    return out


@pytest.mark.parametrize(("text", "values"), CASES, ids=[c[0] for c in CASES])
def test_vjp_matches_central_differences(text, values):
    values = {n: np.array(v, dtype=float) for n, v in values.items()}
    p = program(text, **{n: np.shape(v) for n, v in values.items()})
    _, grads = p.gradient(batched(**values), values)
    for name in values:
        np.testing.assert_allclose(
            grads[name][0],
            central(p, values, name),
            rtol=1e-6,
            atol=1e-7,
            err_msg=f"d/d{name} of {text}",
        )


@pytest.mark.parametrize(("text", "values"), CASES, ids=[c[0] for c in CASES])
def test_sympy_lowering_matches_numpy(text, values):
    p = program(text, **{n: np.shape(v) for n, v in values.items()})
    value, grads = p.gradient(batched(**values), values)
    tape = symbolic.tape_for(p, list(values))
    sym_value, sym_grads = evaluate(tape, values)
    assert sym_value == pytest.approx(float(value[0]), rel=1e-12, abs=1e-13)
    for name in values:
        np.testing.assert_allclose(grads[name][0].ravel(), sym_grads[name], rtol=1e-10, atol=1e-12)


def test_every_public_function_is_exercised():
    texts = [text for text, _ in CASES] + [case[0] for case in OTHER_CASES]
    covered = {word for text in texts for word in FUNCTIONS if f"{word}(" in text}
    assert covered == set(FUNCTIONS), set(FUNCTIONS) - covered


@pytest.mark.parametrize(
    "name",
    [
        *["relu", "abs", "sign", "max", "min", "leaky_relu", "norm"],
        *["heaviside", "relu6", "hardtanh", "elu", "selu", "softsign"],
    ],
)
def test_nonsmooth_ops_declare_a_switch(name):
    assert OPS[name].switch is not None


def test_ties_split_the_gradient_evenly():
    p = program("max(a, b)")
    _, grads = p.gradient(batched(a=1.0, b=1.0), ["a", "b"])
    assert grads["a"][0] == grads["b"][0] == 0.5


def test_det_gradient_exists_for_singular_matrices():
    p = program("det(A)", A=(2, 2))
    A = np.array([[1.0, 2.0], [2.0, 4.0]])
    _, grads = p.gradient(batched(A=A), ["A"])
    np.testing.assert_allclose(grads["A"][0], [[4.0, -2.0], [-2.0, 1.0]])  # the cofactors


# ---------------------------------------------------------------- transpose, of any rank


def test_transpose_reverses_every_axis_as_numpy_does():
    x = np.arange(24.0).reshape(2, 3, 4)
    transpose = OPS["transpose"]
    np.testing.assert_array_equal(transpose.forward(x[None])[0], x.T)
    g = rng.normal(size=(1, 4, 3, 2))
    np.testing.assert_array_equal(transpose.vjps[0](g, None, x[None])[0], g[0].T)
    assert transpose.shape((2, 3, 4)) == (4, 3, 2)


def test_transpose_of_a_3d_array_backprop_symbolic_and_perturbed():
    values = {"A": anywhere(2, 3, 4), "c": anywhere(4, 3, 2)}
    p = program("sum(c * A.T)", A=(2, 3, 4), c=(4, 3, 2))
    value, grads = p.gradient(batched(**values), ["A", "c"])
    assert value[0] == pytest.approx(np.sum(values["c"] * values["A"].T), rel=1e-14)
    np.testing.assert_allclose(grads["A"][0], values["c"].T, rtol=1e-15)
    np.testing.assert_allclose(grads["c"][0], values["A"].T, rtol=1e-15)
    sym_value, sym_grads = evaluate(symbolic.tape_for(p, ["A", "c"]), values)
    assert sym_value == pytest.approx(float(value[0]), rel=1e-14)
    np.testing.assert_allclose(sym_grads["A"], values["c"].T.ravel(), rtol=1e-14)
    # one moved entry of A lands where A.T puts it
    at = np.arange(values["A"].size)
    entry = values["A"].ravel() + 0.25
    got, _ = Perturbation(p, p.forward(batched(**values)), "A")(at, entry)
    for k in at:
        moved = values["A"].copy()
        moved.flat[k] = entry[k]
        assert got[k] == pytest.approx(np.sum(values["c"] * moved.T), rel=1e-13)


# ---------------------------------------------------------------- switch points


#: (expression, point on a switch, the midpoint of the one-sided derivatives there),
#: worked out by hand.
AT_SWITCHES = [
    ("relu(x)", {"x": 0.0}, {"x": 0.5}),
    ("abs(x)", {"x": 0.0}, {"x": 0.0}),
    ("max(a, b)", {"a": 1.5, "b": 1.5}, {"a": 0.5, "b": 0.5}),
    ("min(a, b)", {"a": -2.0, "b": -2.0}, {"a": 0.5, "b": 0.5}),
    ("max(a, 0)", {"a": 0.0}, {"a": 0.5}),
    ("leaky_relu(x, s)", {"x": 0.0, "s": 0.2}, {"x": 0.6, "s": 0.0}),
    ("leaky_relu(x)", {"x": 0.0}, {"x": 0.505}),
    ("relu6(x)", {"x": 0.0}, {"x": 0.5}),
    ("relu6(x)", {"x": 6.0}, {"x": 0.5}),
    ("hardtanh(x)", {"x": -1.0}, {"x": 0.5}),
    ("hardtanh(x)", {"x": 1.0}, {"x": 0.5}),
    ("elu(x)", {"x": 0.0}, {"x": 1.0}),
    ("selu(x)", {"x": 0.0}, {"x": 1.0507009873554805 * (1 + 1.6732632423543772) / 2}),
    ("softsign(x)", {"x": 0.0}, {"x": 1.0}),
]


@pytest.mark.parametrize(
    ("text", "point", "midpoint"), AT_SWITCHES, ids=[c[0] for c in AT_SWITCHES]
)
def test_at_a_switch_the_derivative_is_the_midpoint(text, point, midpoint):
    p = program(text)
    _, grads = p.gradient(batched(**point), list(point))
    for name, expected in midpoint.items():
        assert grads[name][0] == pytest.approx(expected, rel=1e-15), f"backprop d/d{name}"
    # the symbolic side, through SymPy's Heaviside(0) = 1/2, agrees
    _, sym_grads = evaluate(symbolic.tape_for(p, list(point)), point)
    for name, expected in midpoint.items():
        assert sym_grads[name][0] == pytest.approx(expected, rel=1e-15), f"symbolic d/d{name}"


SWITCHING = [
    (name, surface)
    for name, op in OPS.items()
    if op.elementwise and op.switch is not None and op.arity[0] == 1
    for surface in {"relu6": [0.0, 6.0], "hardtanh": [-1.0, 1.0]}.get(name, [0.0])
]


@pytest.mark.parametrize(("name", "surface"), SWITCHING)
def test_the_midpoint_convention_holds_for_every_switch_in_the_table(name, surface):
    # One-sided derivatives, read from the rule just off the switch (exact for the
    # piecewise-linear ops, within 1e-8 for elu and selu); the rule on it, their mean.
    op = OPS[name]
    extra = [np.array([[0.2]])] if op.arity[1] == 2 else []  # leaky_relu's slope

    def local(x):
        out = op.forward(np.array([[x]]), *extra)
        return float(op.vjps[0](np.ones((1, 1)), out, np.array([[x]]), *extra)[0, 0])

    sides = (local(surface - 1e-9) + local(surface + 1e-9)) / 2
    assert local(surface) == pytest.approx(sides, abs=1e-8)


@pytest.mark.parametrize(
    ("name", "values"), [("heaviside", [0, 0, 0.5, 1, 1]), ("sign", [-1, -1, 0, 1, 1])]
)
def test_jumps_take_the_midpoint_and_are_flat_on_either_side(name, values):
    # No derivative exists at the jump (SymPy's is DiracDelta(0)); backprop's rule gives
    # the midpoint of the one-sided derivatives, 0, as everywhere else.
    p = program(f"{name}(x)")
    points = np.array([-2.0, -1e-300, 0.0, 1e-300, 3.0])
    value, grads = p.gradient({"x": points}, ["x"])
    np.testing.assert_array_equal(value, values)
    np.testing.assert_array_equal(grads["x"], np.zeros(5))


# ---------------------------------------------------------------- complex step


#: Arguments (no batch axis) at which each op is smooth, and the positions differentiated.
def arguments(name):
    op = OPS[name]
    special = {
        "div": ([anywhere(2, 3), positive(2, 3)], [0, 1]),
        "pow": ([positive(2, 3), anywhere(2, 3)], [0, 1]),
        "leaky_relu": ([anywhere(2, 3), positive(2, 3)], [0, 1]),
        "softmax": ([anywhere(4)], [0]),
        "dot": ([anywhere(2, 3), anywhere(2, 3)], [0, 1]),
        "outer": ([anywhere(2), anywhere(3)], [0, 1]),
        "matmul": ([anywhere(2, 3), anywhere(3, 4)], [0, 1]),
        "transpose": ([anywhere(2, 3, 4)], [0]),
        "trace": ([well_conditioned(3)], [0]),
        "det": ([well_conditioned(3)], [0]),
        "inv": ([well_conditioned(3)], [0]),
        "stack": ([anywhere(2), anywhere(2), anywhere(2)], [0, 1, 2]),
        "index": ([anywhere(2, 3), np.array(1.0), np.array(-1.0)], [0]),
    }
    if name in special:
        return special[name]
    if name in RULE_ARGUMENTS:  # ops with keywords: tested with them where they are
        return None
    if op.arity == (2, 2):
        return [anywhere(2, 3), anywhere(2, 3)], [0, 1]
    assert op.arity == (1, 1), f"{name}: give it arguments here or in a RULE_ARGUMENTS"
    return [UNARY_DOMAIN.get(name, anywhere)(2, 3)], [0]


COMPLEX_SAFE = [name for name, op in OPS.items() if op.complex_safe and name not in RULE_ARGUMENTS]


def test_every_op_has_arguments_for_a_complex_step_test():
    for name in OPS:  # here, or with its keywords in a RULE_ARGUMENTS table
        assert name in RULE_ARGUMENTS or arguments(name) is not None, name


@pytest.mark.parametrize("name", COMPLEX_SAFE)
@pytest.mark.parametrize("draw", range(3))
def test_complex_step_agrees_with_the_vjp_wherever_it_is_said_to_apply(name, draw):
    # u^T (J v) by complex step, Im f(x + i h v) / h, against (u^T J) v by the VJP.
    op = OPS[name]
    args, differentiated = arguments(name)
    args = [np.asarray(a, dtype=float)[None] for a in args]
    out = op.forward(*args)
    u = rng.normal(size=out.shape)
    for k in differentiated:
        v = rng.normal(size=args[k].shape)
        moved = list(args)
        moved[k] = args[k] + 1e-20j * v
        jv = np.imag(op.forward(*moved)) / 1e-20
        vjp = np.broadcast_to(op.vjps[k](u, out, *args), args[k].shape)
        assert np.sum(u * jv) == pytest.approx(np.sum(vjp * v), rel=1e-10, abs=1e-12), (
            f"{name}, argument {k}"
        )


def test_complex_step_is_refused_with_the_right_reason():
    reasons = {name: op.no_complex for name, op in OPS.items() if not op.complex_safe}
    assert reasons["erf"] == reasons["gelu"] == "no complex implementation"
    for name in ["relu", "abs", "sign", "max", "min", "leaky_relu", "heaviside", "elu"]:
        assert reasons[name] == "not analytic", name
    assert set(reasons.values()) <= {"not analytic", "no complex implementation"}
    # a piecewise element-wise op is never analytic across its switch
    for name, op in OPS.items():
        if op.elementwise and op.switch is not None:
            assert op.no_complex == "not analytic", name
    assert OPS["tanh"].complex_safe and not OPS["erf"].complex_safe


@pytest.mark.parametrize(
    "name", [n for n, op in OPS.items() if op.no_complex == "no complex implementation"]
)
def test_what_lacks_only_a_complex_implementation_is_analytic(name):
    # SymPy evaluates the op at a complex point (40 digits): its complex step is the VJP.
    import sympy as sp

    x = sp.Symbol("x")
    expr = OPS[name].sympy(sp, x)
    for x0 in (-1.3, 0.4, 2.2):
        h = sp.Float("1e-30", 40)
        step = sp.N(expr.subs(x, sp.Float(x0, 40) + sp.I * h), 40)
        derivative = float(sp.im(step) / h)
        point = np.array([[x0]])
        vjp = OPS[name].vjps[0](np.ones((1, 1)), OPS[name].forward(point), point)
        assert float(vjp[0, 0]) == pytest.approx(derivative, rel=1e-13)


# ---------------------------------------------------------------- x ** y at x = 0


def test_the_exponent_derivative_of_zero_to_a_positive_power_is_zero():
    p = program("x ** y")
    points = {"x": np.array([0.0, 0.0, 2.0]), "y": np.array([2.5, 1.0, 2.5])}
    _, grads = p.gradient(points, ["x", "y"])
    np.testing.assert_array_equal(grads["y"], [0.0, 0.0, 2.0**2.5 * np.log(2.0)])
    np.testing.assert_array_equal(grads["x"], [0.0, 1.0, 2.5 * 2.0**1.5])
    tape = symbolic.tape_for(p, ["x", "y"])
    _, sym_grads = evaluate(tape, {"x": 0.0, "y": 2.5})
    assert sym_grads["y"][0] == 0.0 and sym_grads["x"][0] == 0.0


def test_zero_to_a_negative_or_zero_power_is_not_given_a_derivative():
    # only 0 < y has the limit 0; elsewhere the derivative in y does not exist
    p = program("x ** y")
    _, grads = p.gradient({"x": np.array([0.0, 0.0]), "y": np.array([-1.0, 0.0])}, ["y"])
    assert not np.any(np.isfinite(grads["y"]))
    _, sym_grads = evaluate(symbolic.tape_for(p, ["x", "y"]), {"x": 0.0, "y": 0.0})
    assert not np.isfinite(sym_grads["y"][0])


def test_zero_to_a_positive_power_checks_end_to_end():
    report = gradcheck.check(gradcheck.problem("x ** y", at=["x=0", "y=2.5"], wrt=["y"]))
    assert report.problems[0].status == "pass"
