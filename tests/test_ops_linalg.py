"""einsum, kron, matrix_power, solve, logdet, slogdet, pinv, cumsum and cumprod, each
against an independent computation.

For each case: the value against NumPy called directly; backprop of ``sum(OP(...) * G)``
(G random of the output's shape, so every entry of the Jacobian counts) against central
differences written here; the symbolic tape against backprop; perturbed copies against
whole evaluations; complex step through the graph; and ``gradcheck.check`` end to end.
Then closed forms (logdet's gradient is inv(A).T), zeros in cumprod, the einsum spec's
grammar with its messages, and planted wrong rules.
"""

from dataclasses import replace

import numpy as np
import pytest

import gradcheck
from gradcheck.engine import symbolic
from gradcheck.engine.ops import OPS
from gradcheck.engine.ops.einsum import SpecError, parse_spec
from gradcheck.errors import ExpressionError, ShapeError

from . import oracles
from .conftest import batched, program
from .oracles import (
    assert_copies_match_whole,
    assert_tape_matches_backprop,
    assert_vjp_matches_central,
)


def anywhere(rng, *shape):
    """Away from 0 and from each other."""
    size = int(np.prod(shape))
    spaced = (np.arange(size) + 0.5) / size * 2.4 + 0.3
    return (rng.permutation(spaced) * rng.choice([-1.0, 1.0], size=size)).reshape(shape)


def conditioned(rng, n):
    """Strictly diagonally dominant with a positive diagonal: det > 0, far from singular."""
    return 0.3 * anywhere(rng, n, n) + 3 * np.eye(n)


def shape(*s):
    return lambda rng: anywhere(rng, *s)


def square(n, sign=1.0):
    return lambda rng: sign * conditioned(rng, n)


def numpy_pinv_full_rank(a):
    return np.linalg.pinv(a)


#: (expression, how to draw each input, NumPy's own computation of it).
CASES = [
    ("einsum('ij,jk->ik', A, B)", {"A": shape(2, 3), "B": shape(3, 4)}, lambda A, B: A @ B),
    ("einsum('ij,jk', A, B)", {"A": shape(2, 3), "B": shape(3, 2)}, lambda A, B: A @ B),
    ("einsum('ii', A)", {"A": shape(3, 3)}, np.trace),
    ("einsum('ii->i', A)", {"A": shape(3, 3)}, np.diag),
    ("einsum('ij->ji', A)", {"A": shape(2, 3)}, np.transpose),
    (
        "einsum('bij,bjk->bik', A, B)",
        {"A": shape(2, 2, 3), "B": shape(2, 3, 2)},
        lambda A, B: A @ B,
    ),
    (
        "einsum('i,ij,j', x, A, y)",
        {"x": shape(2), "A": shape(2, 3), "y": shape(3)},
        lambda x, A, y: x @ A @ y,
    ),
    (
        "einsum('iij,k->jk', A, x)",
        {"A": shape(2, 2, 3), "x": shape(4)},
        lambda A, x: np.einsum("iij,k->jk", A, x),
    ),
    (
        "einsum('Ba,aC', A, B)",
        {"A": shape(2, 3), "B": shape(3, 2)},
        lambda A, B: np.einsum("Ba,aC", A, B),
    ),
    ("einsum(' i j , i j -> ', A, A)", {"A": shape(2, 3)}, lambda A: np.sum(A * A)),
    ("kron(A, B)", {"A": shape(2, 3), "B": shape(2, 2)}, np.kron),
    ("kron(x, B)", {"x": shape(3), "B": shape(2, 2)}, np.kron),
    ("kron(A, x)", {"A": shape(2, 2, 2), "x": shape(2)}, np.kron),
    ("matrix_power(A, 3)", {"A": shape(3, 3)}, lambda A: np.linalg.matrix_power(A, 3)),
    ("matrix_power(A, k=1)", {"A": shape(2, 2)}, lambda A: A),
    ("matrix_power(A, 0) * A", {"A": shape(2, 2)}, lambda A: np.eye(2) * A),
    ("matrix_power(A, -2)", {"A": square(3)}, lambda A: np.linalg.matrix_power(A, -2)),
    ("solve(A, b)", {"A": square(3), "b": shape(3)}, np.linalg.solve),
    ("solve(A, B)", {"A": square(3), "B": shape(3, 2)}, np.linalg.solve),
    ("logdet(A)", {"A": square(3)}, lambda A: np.log(np.linalg.det(A))),
    ("slogdet(A)", {"A": square(3)}, lambda A: np.linalg.slogdet(A)[1]),
    ("slogdet(A)", {"A": square(3, -1.0)}, lambda A: np.log(abs(np.linalg.det(A)))),
    ("pinv(A)", {"A": shape(3, 2)}, np.linalg.pinv),
    ("pinv(A)", {"A": shape(2, 4)}, np.linalg.pinv),
    ("cumsum(x, axis=0)", {"x": shape(3, 2)}, lambda x: np.cumsum(x, axis=0)),
    ("cumsum(x, axis=-1)", {"x": shape(2, 2, 3)}, lambda x: np.cumsum(x, axis=-1)),
    ("cumsum(x)", {"x": shape(2, 3)}, np.cumsum),
    ("cumprod(x, axis=1)", {"x": shape(2, 4)}, lambda x: np.cumprod(x, axis=1)),
    ("cumprod(x)", {"x": shape(2, 3)}, np.cumprod),
]
IDS = [f"{text} {list(draw)}" for text, draw, _ in CASES]


def values_for(draw, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: make(rng) for name, make in draw.items()}


def projected(text, values, seed=1):
    """The shared ``projected``, the shapes read off the values."""
    return oracles.projected(text, {n: v.shape for n, v in values.items()}, values, seed)


@pytest.mark.parametrize(("text", "draw", "numpy"), CASES, ids=IDS)
def test_value_is_numpys(text, draw, numpy):
    values = values_for(draw)
    p = program(text, **{n: v.shape for n, v in values.items()})
    got = p.value(batched(**values))[0]
    expected = numpy(*values.values())
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("text", "draw", "numpy"), CASES, ids=IDS)
def test_vjp_matches_central_differences(text, draw, numpy):
    values = values_for(draw)
    full, all_values = projected(text, values)
    assert_vjp_matches_central(full, all_values, values, text)


@pytest.mark.parametrize(("text", "draw", "numpy"), CASES, ids=IDS)
def test_symbolic_tape_agrees_with_backprop(text, draw, numpy):
    values = values_for(draw)
    full, all_values = projected(text, values)
    assert_tape_matches_backprop(full, all_values, values, rtol=1e-9)


@pytest.mark.parametrize(("text", "draw", "numpy"), CASES, ids=IDS)
def test_perturbed_copies_match_whole_evaluations(text, draw, numpy):
    values = values_for(draw)
    full, all_values = projected(text, values)
    assert_copies_match_whole(full, all_values, values)


@pytest.mark.parametrize(("text", "draw", "numpy"), CASES, ids=IDS)
def test_complex_step_through_the_graph_agrees_with_backprop(text, draw, numpy):
    # every op here is analytic where it is evaluated: u^T (J v) against (u^T J) v
    values = values_for(draw)
    full, all_values = projected(text, values)
    assert not any(full.not_analytic(n) for n in values), text
    _, grads = full.gradient(batched(**all_values), list(values))
    rng = np.random.default_rng(3)
    for name in values:
        v = rng.normal(size=values[name].shape)
        moved = dict(batched(**all_values))
        moved[name] = moved[name] + 1e-20j * v[None]
        jv = np.imag(full.value(moved, dtype=np.complex128))[0] / 1e-20
        assert jv == pytest.approx(np.sum(grads[name][0] * v), rel=1e-10, abs=1e-12), name


@pytest.mark.parametrize(("text", "draw", "numpy"), CASES, ids=IDS)
def test_checks_end_to_end(text, draw, numpy):
    values = values_for(draw)
    _, all_values = projected(text, values)
    at = [f"{n}={v.tolist()}" for n, v in all_values.items()]
    report = gradcheck.check(gradcheck.problem(f"sum(({text}) * G)", at=at, wrt=list(values)))
    (result,) = report.problems
    assert result.status == "pass", (result.message, result.notes)


def test_every_op_of_this_group_has_a_case():
    covered = {
        node.op
        for text, draw, _ in CASES
        for node in program(text, **{n: v.shape for n, v in values_for(draw).items()}).nodes
    }
    new = {"einsum", "kron", "matrix_power", "solve", "logdet", "slogdet", "pinv"}
    assert new | {"cumsum", "cumprod"} <= covered


# ---------------------------------------------------------------- the rules, called directly

_r = np.random.default_rng(11)

#: Arguments (no batch axis), params and the arguments differentiated, for each op here:
#: for tests that call the table's rules directly.
RULE_ARGUMENTS = {
    "einsum": (
        [anywhere(_r, 2, 3), anywhere(_r, 3, 3, 4), anywhere(_r, 4)],
        {"spec": "ij,jjk,k->i"},
        [0, 1, 2],
    ),
    "kron": ([anywhere(_r, 2, 3), anywhere(_r, 3)], {}, [0, 1]),
    "matrix_power": ([conditioned(_r, 3)], {"k": -3}, [0]),
    "solve": ([conditioned(_r, 3), anywhere(_r, 3, 2)], {}, [0, 1]),
    "logdet": ([conditioned(_r, 3)], {}, [0]),
    "slogdet": ([-conditioned(_r, 3)], {}, [0]),
    "pinv": ([anywhere(_r, 4, 2)], {}, [0]),
    "cumsum": ([anywhere(_r, 2, 3)], {"axis": 0}, [0]),
    "cumprod": ([np.array([[1.5, 0.0, -2.0], [0.0, 0.0, 3.0]])], {"axis": 1}, [0]),
}


@pytest.mark.parametrize("name", RULE_ARGUMENTS)
def test_complex_step_agrees_with_each_rule_called_directly(name):
    op = OPS[name]
    assert op.complex_safe
    args, params, differentiated = RULE_ARGUMENTS[name]
    args = [np.asarray(a, dtype=float)[None] for a in args]
    assert op.forward(*args, **params).shape[1:] == op.shape(*(a.shape[1:] for a in args), **params)
    out = op.forward(*args, **params)
    u = _r.normal(size=out.shape)
    for k in differentiated:
        v = _r.normal(size=args[k].shape)
        moved = list(args)
        moved[k] = args[k] + 1e-20j * v
        jv = np.imag(op.forward(*moved, **params)) / 1e-20
        vjp = np.broadcast_to(op.vjps[k](u, out, *args, **params), args[k].shape)
        assert np.sum(u * jv) == pytest.approx(np.sum(vjp * v), rel=1e-10, abs=1e-12), (name, k)


# ---------------------------------------------------------------- closed forms


def test_the_log_determinants_gradient_is_the_inverse_transposed():
    rng = np.random.default_rng(5)
    for text, A in [("logdet(A)", conditioned(rng, 4)), ("slogdet(A)", -conditioned(rng, 3))]:
        _, grads = program(text, A=A.shape).gradient(batched(A=A), ["A"])
        np.testing.assert_allclose(grads["A"][0], np.linalg.inv(A).T, rtol=1e-12)


def test_logdet_where_det_is_not_positive_is_refused_naming_the_node():
    # log(det A) has no real value where det A < 0 (and is -inf at 0): not finite at the
    # point, an error naming the node; slogdet is log|det A| and checks there
    for at in ["A=[[1, 2], [3, 4]]", "A=[[1, 2], [2, 4]]"]:
        (result,) = gradcheck.check(gradcheck.problem("2 * logdet(A)", at=[at])).problems
        assert result.status == "error"
        assert "'logdet(A)' (column 5) is" in result.message
        assert "at the point" in result.message
    (result,) = gradcheck.check(gradcheck.problem("slogdet(A)", at=["A=[[1, 2], [3, 4]]"])).problems
    assert result.status == "pass"


def test_slogdet_is_the_log_of_the_absolute_determinant_its_sign_not_differentiated():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])  # det -2
    value, grads = program("slogdet(A)", A=(2, 2)).gradient(batched(A=A), ["A"])
    assert value[0] == pytest.approx(np.log(2.0), rel=1e-15)
    np.testing.assert_allclose(grads["A"][0], [[-2.0, 1.5], [1.0, -0.5]], rtol=1e-14)


def test_cumprod_with_zeros_has_its_true_gradient_without_dividing_by_zero():
    # d/dx_i sum_j prod_{k<=j} x_k = sum_{j>=i} prod_{k<=j, k!=i} x_k, computed here by
    # deleting x_i from each running product
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    expected = [
        sum(np.prod(np.delete(x[: j + 1], i)) for j in range(i, len(x))) for i in range(len(x))
    ]
    with np.errstate(all="raise"):  # a division by zero would raise here
        _, grads = program("sum(cumprod(x))", x=(5,)).gradient(batched(x=x), ["x"])
    np.testing.assert_array_equal(grads["x"][0], expected)
    assert expected == [1.0, 2.0 + 6.0, 0.0, 0.0, 0.0]
    (result,) = gradcheck.check(
        gradcheck.problem("sum(cumprod(x) * [1, 2, 3, 4, 5])", at=["x=[2, 0, 3, 0, 5]"])
    ).problems
    assert result.status == "pass"


def test_a_high_matrix_power_has_the_sum_of_products_as_gradient():
    # d <G, A^k> / dA = sum_i (A^T)^i G (A^T)^(k-1-i), summed here term by term
    rng = np.random.default_rng(7)
    A, G = 0.3 * anywhere(rng, 3, 3), rng.normal(size=(3, 3))
    for k in [1, 2, 7, 50]:
        p = program(f"sum(matrix_power(A, {k}) * G)", A=(3, 3), G=(3, 3))
        _, grads = p.gradient(batched(A=A, G=G), ["A"])
        power = np.linalg.matrix_power
        expected = sum(power(A.T, i) @ G @ power(A.T, k - 1 - i) for i in range(k))
        np.testing.assert_allclose(grads["A"][0], expected, rtol=1e-12, atol=1e-15)


def test_matrix_power_zero_is_the_identity_with_no_gradient():
    p = program("sum(matrix_power(A, 0) * G)", A=(2, 2), G=(2, 2))
    value, grads = p.gradient(batched(A=[[1.0, 2.0], [3.0, 4.0]], G=[[1, 2], [3, 4]]), ["A"])
    assert value[0] == 5.0
    np.testing.assert_array_equal(grads["A"][0], np.zeros((2, 2)))


def test_a_singular_matrix_is_refused_naming_the_node():
    for text in ["sum(solve(A, b))", "sum(matrix_power(A, -1))"]:
        p = program(text, A=(2, 2), b=(2,))
        with pytest.raises(gradcheck.ValueProblem, match="is singular"):
            p.value(batched(A=[[1.0, 2.0], [2.0, 4.0]], b=[1.0, 1.0]))


def test_symbolic_sizes_count_each_ops_work():
    assert (
        symbolic.expanded_size(program("sum(einsum('ij,jk->ik', A, B))", A=(4, 5), B=(5, 6)))
        == 4 * 5 * 6 * 2 + 4 * 6
    )
    assert symbolic.expanded_size(program("matrix_power(A, 5)[0, 0]", A=(3, 3))) == 5 * 27
    big = program("sum(einsum('ij,jk,kl->il', A, B, C))", A=(20, 20), B=(20, 20), C=(20, 20))
    assert symbolic.expanded_size(big) > symbolic.SIZE_LIMIT


# ---------------------------------------------------------------- the spec and other refusals


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ('einsum("ij,jk->iz", A, B)', 17, "the output letter 'z' is in no operand"),
        ('einsum("ij,jk->ii", A, B)', 17, "the output letter 'i' is repeated"),
        ('einsum("ij,j%->i", A, B)', 13, "'%' cannot be in a spec"),
        ('einsum("ij,j1->i", A, B)', 13, "'1' cannot be in a spec"),
        ("einsum('ij->i->j', A)", 14, "at most one '->'"),
        ("einsum('i-j', A)", 10, "'-' in a spec must be part of '->'"),
        ("einsum('i>j', A)", 10, "'>' in a spec must be part of '->'"),
        ("einsum('...ij->ij', A)", 9, "'...' is not accepted"),
        ("einsum('ij->i,j', A)", 14, "no commas"),
        ("einsum('ij,jk->ik', A)", 9, "names 2 operands but 1 array follows it"),
        ("einsum('ij', A, B)", 9, "names 1 operand but 2 arrays follow it"),
        ("einsum(A, B)", 8, 'takes its spec first, as a string, like einsum("ij,jk->ik", A, B)'),
        ("einsum('ij')", 1, "needs arrays after its spec"),
        ("einsum('ij', A, spec='ij')", 22, "einsum() takes its spec first, not as a keyword"),
        ('x + "ij"', 5, "strings are not allowed"),
        ('sin("ij")', 5, "strings are not allowed"),
        ("sum(x, axis='0')", 13, "axis takes an integer or a tuple"),
    ],
)
def test_a_bad_spec_is_refused_at_the_offending_character(text, column, message):
    with pytest.raises(ExpressionError) as caught:
        program(text, A=(2, 2), B=(2, 2), x=(2,))
    assert message in caught.value.message
    assert caught.value.column == column, caught.value


def test_the_spec_grammar_on_its_own():
    spec = parse_spec("ij,jk->ik", 2)
    assert (spec.operands, spec.output, spec.starts) == (("ij", "jk"), "ik", (0, 3))
    assert parse_spec("ii").output == ""
    assert parse_spec("ba,ac").output == "bc"  # implicit: the letters seen once, sorted
    assert parse_spec("Ba,aC").output == "BC"  # as NumPy sorts them, capitals first
    assert parse_spec("ij->").output == ""
    assert parse_spec(",i->i").operands == ("", "i")  # a scalar operand has no letters
    with pytest.raises(SpecError) as caught:
        parse_spec("ab,bc->ad")
    assert caught.value.at == 8


@pytest.mark.parametrize(
    ("text", "shapes", "message"),
    [
        (
            "einsum('ij,jk->ik', A, B)",
            {"A": (2, 3), "B": (4, 2)},
            "A has shape (2, 3) and B has shape (4, 2); the letter 'j' stands for 3 entries "
            "and for 4 (operand 2, axis 0)",
        ),
        (
            "einsum('ij,jk', A, B)",
            {"A": (2, 3), "B": (3, 2, 2)},
            "operand 2 is written 'jk' (2 letters) but is 3 axes",
        ),
        ("einsum('i', A)", {"A": ()}, "operand 1 is written 'i' (1 letters) but is a scalar"),
        ("solve(A, b)", {"A": (2, 3), "b": (2,)}, "A has shape (2, 3) and b has shape (2,)"),
        ("solve(A, b)", {"A": (3, 3), "b": (2,)}, "b must have 3 rows, as A does"),
        ("logdet(A)", {"A": (2, 3)}, "it needs a square matrix"),
        ("matrix_power(A, 2)", {"A": (3,)}, "it needs a square matrix"),
        ("pinv(A)", {"A": (3,)}, "pinv needs a matrix"),
        ("cumsum(A, axis=2)", {"A": (2, 3)}, "axis 2 is out of range"),
    ],
)
def test_shapes_that_do_not_fit_are_refused_naming_them(text, shapes, message):
    with pytest.raises(ShapeError) as caught:
        program(text, **shapes)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("matrix_power(A)", "matrix_power() needs k"),
        ("matrix_power(A, 1.5)", "k must be written as an integer"),
        ("matrix_power(A, n)", "k must be written as an integer"),
        ("cumsum(A, axis=(0, 1))", "axis takes an integer, like 1"),
        ("cumprod(A, keepdims=True)", "does not take the keyword 'keepdims'; it takes axis"),
        ("kron(A, B, C)", "kron() takes 2 arguments, got 3"),
    ],
)
def test_keywords_are_accepted_only_as_declared(text, message):
    with pytest.raises(ExpressionError) as caught:
        program(text, A=(2, 2), B=(2, 2), C=(2, 2), n=())
    assert message in caught.value.message


# ---------------------------------------------------------------- planted mistakes


@pytest.mark.parametrize(
    ("name", "expression", "at"),
    [
        (
            "einsum",
            "sum(einsum('ij,jk->ik', A, B) * G)",
            ["A=random(2, 3)", "B=random(3, 2)", "G=random(2, 2)"],
        ),
        (
            "solve",
            "sum(solve(A + 3 * eye(3), b) * G)",
            ["A=random(3, 3)", "b=random(3)", "G=random(3)"],
        ),
        ("cumprod", "sum(cumprod(x, axis=1) * G)", ["x=random(2, 3)", "G=random(2, 3)"]),
        ("pinv", "sum(pinv(A) * G)", ["A=random(3, 2)", "G=random(2, 3)"]),
    ],
)
def test_a_planted_wrong_vjp_is_caught(name, expression, at, monkeypatch):
    right = OPS[name]
    first = right.vjps[0]
    wrong = (lambda g, o, *a, **p: 1.01 * first(g, o, *a, **p), *right.vjps[1:])
    monkeypatch.setitem(OPS, name, replace(right, vjps=wrong))
    (result,) = gradcheck.check(gradcheck.problem(expression, at=at)).problems
    assert result.status == "fail"
    monkeypatch.setitem(OPS, name, right)
    (result,) = gradcheck.check(gradcheck.problem(expression, at=at)).problems
    assert result.status == "pass"
