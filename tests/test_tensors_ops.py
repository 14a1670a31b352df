"""Every op of version 2's tensor language, each against an independent computation.

For each case: the value against NumPy called directly; the VJP (backprop of
``sum(OP(...) * G)`` with G random of the output's shape, so that every entry of the
Jacobian counts) against central differences written here; the symbolic tape against
backprop; finite differences at scale (``Perturbation``) against whole evaluations; and
``gradcheck.check`` end to end. Points are drawn away from every switch; the switches
themselves have their own tests (a kink, not a failure).
"""

from dataclasses import replace

import numpy as np
import pytest

import gradcheck
from gradcheck.engine import symbolic
from gradcheck.engine.graph import Program
from gradcheck.engine.ops import OPS
from gradcheck.engine.tape import evaluate

from .conftest import batched, program
from .oracles import (
    assert_copies_match_whole,
    assert_tape_matches_backprop,
    assert_vjp_matches_central,
    central,
    projected,
)


def anywhere(rng, shape):
    """Away from 0 and from each other (no ties, no switch nearby)."""
    size = int(np.prod(shape))
    spaced = (np.arange(size) + 0.5) / size * 2.4 + 0.3
    signs = rng.choice([-1.0, 1.0], size=size)
    return (rng.permutation(spaced) * signs).reshape(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape)


#: (expression in the inputs, input shapes or values, NumPy's own computation of it).
#: A shape draws ``anywhere``; ``positive`` marks inputs that must be positive.
CASES = [
    # reductions along axes
    ("sum(x, axis=1)", {"x": (3, 4)}, lambda x: np.sum(x, axis=1)),
    (
        "sum(x, axis=(0, 2), keepdims=True)",
        {"x": (2, 3, 4)},
        lambda x: np.sum(x, axis=(0, 2), keepdims=True),
    ),
    ("sum(x, axis=-1)", {"x": (2, 3, 4)}, lambda x: np.sum(x, axis=-1)),
    ("mean(x, axis=0)", {"x": (3, 4)}, lambda x: np.mean(x, axis=0)),
    (
        "mean(x, axis=(0, 2), keepdims=True)",
        {"x": (2, 3, 4)},
        lambda x: np.mean(x, axis=(0, 2), keepdims=True),
    ),
    ("prod(x, axis=1)", {"x": (3, 4)}, lambda x: np.prod(x, axis=1)),
    ("prod(x)", {"x": (2, 3)}, np.prod),
    ("max(x)", {"x": (5,)}, np.max),
    ("max(x, axis=1)", {"x": (3, 4)}, lambda x: np.max(x, axis=1)),
    ("min(x, axis=0, keepdims=True)", {"x": (3, 4)}, lambda x: np.min(x, axis=0, keepdims=True)),
    ("min(x)", {"x": (2, 3, 2)}, np.min),
    ("logsumexp(x, axis=1)", {"x": (3, 4)}, lambda x: np.log(np.sum(np.exp(x), axis=1))),
    (
        "logsumexp(x, axis=(1, 2), keepdims=True)",
        {"x": (2, 3, 2)},
        lambda x: np.log(np.sum(np.exp(x), axis=(1, 2), keepdims=True)),
    ),
    (
        "softmax(x, axis=1)",
        {"x": (3, 4)},
        lambda x: np.exp(x) / np.sum(np.exp(x), axis=1, keepdims=True),
    ),
    (
        "softmax(x, axis=0)",
        {"x": (3, 4)},
        lambda x: np.exp(x) / np.sum(np.exp(x), axis=0, keepdims=True),
    ),
    ("softmax(x)", {"x": (2, 3)}, lambda x: np.exp(x) / np.sum(np.exp(x))),
    (
        "log_softmax(x, axis=-1)",
        {"x": (3, 4)},
        lambda x: x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True)),
    ),
    ("log_softmax(x)", {"x": (4,)}, lambda x: x - np.log(np.sum(np.exp(x)))),
    ("norm(x, axis=1)", {"x": (3, 4)}, lambda x: np.linalg.norm(x, axis=1)),
    ("norm(x, axis=(0, 1))", {"x": (3, 4)}, lambda x: np.linalg.norm(x, axis=(0, 1))),
    ("var(x, axis=0)", {"x": (5, 3)}, lambda x: np.var(x, axis=0)),
    ("var(x)", {"x": (2, 3)}, np.var),
    ("std(x, axis=1, keepdims=True)", {"x": (3, 4)}, lambda x: np.std(x, axis=1, keepdims=True)),
    ("std(x)", {"x": (6,)}, np.std),
    # shapes
    ("reshape(x, (3, 4))", {"x": (2, 6)}, lambda x: np.reshape(x, (3, 4))),
    ("reshape(x, (2, -1, 2))", {"x": (3, 4)}, lambda x: np.reshape(x, (2, -1, 2))),
    ("reshape(x, 12)", {"x": (3, 4)}, lambda x: np.reshape(x, 12)),
    ("ravel(x)", {"x": (2, 3, 2)}, np.ravel),
    ("transpose(x, (1, 0, 2))", {"x": (2, 3, 4)}, lambda x: np.transpose(x, (1, 0, 2))),
    ("transpose(x, axes=(2, 0, 1))", {"x": (2, 3, 4)}, lambda x: np.transpose(x, (2, 0, 1))),
    ("x.T", {"x": (2, 3, 4)}, lambda x: x.T),
    ("swapaxes(x, 0, 2)", {"x": (2, 3, 4)}, lambda x: np.swapaxes(x, 0, 2)),
    ("expand_dims(x, 1)", {"x": (2, 3)}, lambda x: np.expand_dims(x, 1)),
    ("expand_dims(x, axis=(0, 3))", {"x": (2, 3)}, lambda x: np.expand_dims(x, (0, 3))),
    ("squeeze(x)", {"x": (2, 1, 3, 1)}, np.squeeze),
    ("squeeze(x, axis=1)", {"x": (2, 1, 3, 1)}, lambda x: np.squeeze(x, axis=1)),
    ("flip(x)", {"x": (2, 3)}, np.flip),
    ("flip(x, axis=1)", {"x": (2, 3)}, lambda x: np.flip(x, axis=1)),
    ("roll(x, 2)", {"x": (2, 3)}, lambda x: np.roll(x, 2)),
    ("roll(x, (1, -1), axis=(0, 1))", {"x": (3, 4)}, lambda x: np.roll(x, (1, -1), axis=(0, 1))),
    ("repeat(x, 2)", {"x": (2, 3)}, lambda x: np.repeat(x, 2)),
    ("repeat(x, (1, 0, 3), axis=1)", {"x": (2, 3)}, lambda x: np.repeat(x, (1, 0, 3), axis=1)),
    ("tile(x, (2, 1, 3))", {"x": (2, 3)}, lambda x: np.tile(x, (2, 1, 3))),
    ("tile(x, 2)", {"x": (2, 3)}, lambda x: np.tile(x, 2)),
    ("diag(x)", {"x": (3,)}, np.diag),
    ("diag(x, k=-1)", {"x": (3,)}, lambda x: np.diag(x, k=-1)),
    ("diag(x, 1)", {"x": (3, 4)}, lambda x: np.diag(x, 1)),
    ("triu(x)", {"x": (3, 4)}, np.triu),
    ("tril(x, -1)", {"x": (2, 3, 3)}, lambda x: np.tril(x, -1)),
    (
        "concatenate([a, b], axis=1)",
        {"a": (2, 3), "b": (2, 2)},
        lambda a, b: np.concatenate([a, b], axis=1),
    ),
    ("concatenate((a, b, a))", {"a": (2, 3), "b": (1, 3)}, lambda a, b: np.concatenate((a, b, a))),
    (
        "concatenate([a, b], axis=None)",
        {"a": (2, 3), "b": (2,)},
        lambda a, b: np.concatenate([a, b], axis=None),
    ),
    ("stack([a, b], axis=-1)", {"a": (2, 3), "b": (2, 3)}, lambda a, b: np.stack([a, b], -1)),
    ("[[a, b], [b, a]]", {"a": (2,), "b": (2,)}, lambda a, b: np.array([[a, b], [b, a]])),
    ("x * zeros((2, 3)) + ones(3) * x", {"x": (2, 3)}, lambda x: x),
    ("eye(3, 4, 1) * x", {"x": (3, 4)}, lambda x: np.eye(3, 4, 1) * x),
    ("arange(1, 7, 2) * x", {"x": (3,)}, lambda x: np.arange(1, 7, 2) * x),
    # products, batched
    ("A @ B", {"A": (2, 3, 4), "B": (4, 5)}, lambda A, B: A @ B),
    ("A @ B", {"A": (3, 4), "B": (2, 4, 5)}, lambda A, B: A @ B),
    ("A @ B", {"A": (2, 1, 3, 4), "B": (3, 4, 2)}, lambda A, B: A @ B),
    ("A @ v", {"A": (2, 3, 4), "v": (4,)}, lambda A, v: A @ v),
    ("v @ A", {"A": (2, 4, 3), "v": (4,)}, lambda A, v: v @ A),
    ("a * b", {"a": (2, 1, 3), "b": (4, 1)}, lambda a, b: a * b),
    # slicing and gathering with written labels
    ("x[1:3]", {"x": (5,)}, lambda x: x[1:3]),
    ("x[::-1]", {"x": (5,)}, lambda x: x[::-1]),
    ("X[:, 0]", {"X": (3, 4)}, lambda X: X[:, 0]),
    ("X[..., -1]", {"X": (2, 3, 4)}, lambda X: X[..., -1]),
    ("X[1, :, ::2]", {"X": (2, 3, 4)}, lambda X: X[1, :, ::2]),
    ("X[:, None] - X[None, :]", {"X": (3,)}, lambda X: X[:, None] - X[None, :]),
    ("X[arange(3), [0, 2, 1]]", {"X": (3, 4)}, lambda X: X[np.arange(3), [0, 2, 1]]),
    ("X[0, :, [1, 2]]", {"X": (2, 3, 4)}, lambda X: X[0, :, [1, 2]]),
    ("X[[0, 0, 1]]", {"X": (2, 3)}, lambda X: X[[0, 0, 1]]),
    (
        "take_along(Z, [[0], [3], [1]], axis=1)",
        {"Z": (3, 4)},
        lambda Z: np.take_along_axis(Z, np.array([[0], [3], [1]]), axis=1),
    ),
    (
        "take_along(Z, [[2, 0, 1, 1]], 0)",
        {"Z": (3, 4)},
        lambda Z: np.take_along_axis(Z, np.array([[2, 0, 1, 1]]), axis=0),
    ),
    ("one_hot([0, 2, 1], 4) * Z", {"Z": (3, 4)}, lambda Z: np.eye(4)[[0, 2, 1]] * Z),
    # piecewise
    ("(x > 0) * x", {"x": (2, 3)}, lambda x: (x > 0) * x),
    (
        "(a <= b) + (a >= b) * 2 + (a < b) * 3",
        {"a": (4,), "b": (4,)},
        lambda a, b: (a <= b) + (a >= b) * 2 + (a < b) * 3.0,
    ),
    ("(a == b) + (a != 0.5)", {"a": (3,), "b": (3,)}, lambda a, b: (a == b) + (a != 0.5) * 1.0),
    ("where(x > 0, x, 0.1 * x)", {"x": (2, 3)}, lambda x: np.where(x > 0, x, 0.1 * x)),
    (
        "where(a < b, a * b, exp(a))",
        {"a": (3,), "b": (2, 3)},
        lambda a, b: np.where(a < b, a * b, np.exp(a)),
    ),
    ("clip(x, -0.6, 1.1)", {"x": (2, 3)}, lambda x: np.clip(x, -0.6, 1.1)),
    (
        "clip(x, lo, hi)",
        {"x": (4,), "lo": (4,), "hi": (4,)},
        lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
    ),
]

IDS = [text for text, _, _ in CASES]


def values_for(shapes, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: anywhere(rng, shape) for name, shape in shapes.items()}


@pytest.mark.parametrize(("text", "shapes", "numpy"), CASES, ids=IDS)
def test_value_is_numpys(text, shapes, numpy):
    values = values_for(shapes)
    got = program(text, **shapes).value(batched(**values))[0]
    expected = numpy(*values.values())
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("text", "shapes", "numpy"), CASES, ids=IDS)
def test_vjp_matches_central_differences(text, shapes, numpy):
    values = values_for(shapes)
    full, all_values = projected(text, shapes, values)
    assert_vjp_matches_central(full, all_values, values, text)


@pytest.mark.parametrize(("text", "shapes", "numpy"), CASES, ids=IDS)
def test_symbolic_tape_agrees_with_backprop(text, shapes, numpy):
    values = values_for(shapes)
    full, all_values = projected(text, shapes, values)
    assert_tape_matches_backprop(full, all_values, values)


@pytest.mark.parametrize(("text", "shapes", "numpy"), CASES, ids=IDS)
def test_perturbed_copies_match_whole_evaluations(text, shapes, numpy):
    values = values_for(shapes)
    full, all_values = projected(text, shapes, values)
    assert_copies_match_whole(full, all_values, values)


@pytest.mark.parametrize(("text", "shapes", "numpy"), CASES, ids=IDS)
def test_checks_end_to_end(text, shapes, numpy):
    values = values_for(shapes)
    G = np.random.default_rng(1).normal(size=program(text, **shapes).root.shape)
    at = [f"{n}={v.tolist()}" for n, v in {**values, "G": G}.items()]
    report = gradcheck.check(gradcheck.problem(f"sum(({text}) * G)", at=at, wrt=list(values)))
    (result,) = report.problems
    assert result.status == "pass", (result.message, result.notes)


def test_every_new_op_has_a_case():
    written = {text for text, _, _ in CASES}
    covered = {
        node.op
        for text, shapes, _ in CASES
        for node in program(text, **shapes).nodes
        if node.op not in ("input", "const")
    }
    assert "[[a, b], [b, a]]" in written
    new = {
        *["sum", "mean", "prod", "amax", "amin", "logsumexp", "softmax", "log_softmax", "norm"],
        *["var", "std", "reshape", "ravel", "transpose", "swapaxes", "expand_dims", "squeeze"],
        *["flip", "roll", "repeat", "tile", "diag", "triu", "tril", "concatenate", "stack"],
        *["zeros", "ones", "eye", "arange", "matmul", "index", "take_along", "one_hot"],
        *["gt", "ge", "lt", "le", "eq", "ne", "where", "clip"],
    }
    assert new <= covered, new - covered
    assert new <= set(OPS)


# ---------------------------------------------------------------- complex step


def _analytic(text: str, shapes: dict) -> bool:
    ops = {n.op for n in program(text, **shapes).nodes} - {"input", "const"}
    return all(OPS[op].complex_safe for op in ops)


COMPLEX_CASES = [(text, shapes) for text, shapes, _ in CASES if _analytic(text, shapes)]


@pytest.mark.parametrize(("text", "shapes"), COMPLEX_CASES, ids=[c[0] for c in COMPLEX_CASES])
def test_complex_step_agrees_with_backprop_for_analytic_ops(text, shapes):
    # u^T (J v) by complex step through the whole graph, against (u^T J) v by backprop
    values = values_for(shapes)
    full, all_values = projected(text, shapes, values)
    assert not any(full.not_analytic(n) for n in values), text
    _, grads = full.gradient(batched(**all_values), list(values))
    rng = np.random.default_rng(3)
    for name in values:
        v = rng.normal(size=values[name].shape)
        moved = dict(batched(**all_values))
        moved[name] = moved[name] + 1e-20j * v[None]
        jv = np.imag(full.value(moved, dtype=np.complex128))[0] / 1e-20
        assert jv == pytest.approx(np.sum(grads[name][0] * v), rel=1e-10, abs=1e-12), name


def test_what_is_not_analytic_says_so():
    for name in ["amax", "amin", "gt", "ge", "lt", "le", "eq", "ne", "clip"]:
        assert OPS[name].no_complex == "not analytic", name
    for name in ["sum", "prod", "softmax", "reshape", "index", "take_along", "where", "var"]:
        assert OPS[name].complex_safe, name


# ---------------------------------------------------------------- labels as inputs


LABELLED = [
    (
        "sum(X[arange(4), y] * G)",
        {"X": (4, 3), "G": (4,)},
        {"y": [0, 2, 1, 1]},
        lambda X, G, y: np.sum(X[np.arange(4), y] * G),
    ),
    (
        "sum(take_along(Z, y, axis=1) * G)",
        {"Z": (3, 4), "G": (3, 2)},
        {"y": [[0, 3], [1, 1], [2, 0]]},
        lambda Z, G, y: np.sum(np.take_along_axis(Z, y, axis=1) * G),
    ),
    (
        "sum(one_hot(y, 3) * log_softmax(Z, axis=1))",
        {"Z": (4, 3)},
        {"y": [0, 2, 1, 1]},
        lambda Z, y: np.sum(np.eye(3)[y] * (Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True)))),
    ),
    (
        "sum(where(m, x, 2 * x))",
        {"x": (4,)},
        {"m": [1, 0, 0, 1]},
        lambda x, m: np.sum(np.where(m == 1, x, 2 * x)),
    ),
    ("z[i] * z[-1]", {"z": (3,)}, {"i": 1}, lambda z, i: z[i] * z[-1]),
]


@pytest.mark.parametrize(
    ("text", "shapes", "labels", "numpy"), LABELLED, ids=[c[0] for c in LABELLED]
)
def test_label_inputs_are_recorded_never_differentiated_and_lowered(text, shapes, labels, numpy):
    from gradcheck.source.language import Node, Scope, build, parse

    label_shapes = {n: np.shape(v) for n, v in labels.items()}
    term = parse(text)
    scope = Scope(
        {n: Node("input", (), tuple({**shapes, **label_shapes}[n]), name=n) for n in term.names()}
    )
    p = Program(build(term, scope))
    assert set(scope.index_axes) == set(labels)
    values = values_for(shapes)
    label_values = {n: np.asarray(v, dtype=float) for n, v in labels.items()}
    point = batched(**values, **label_values)
    value, grads = p.gradient(point, list(values))
    ints = {n: np.asarray(v) for n, v in labels.items()}
    assert value[0] == pytest.approx(numpy(*values.values(), *ints.values()), rel=1e-13)
    for name in values:
        expected = central(p, {**values, **label_values}, name)
        np.testing.assert_allclose(grads[name][0], expected, rtol=1e-6, atol=1e-7)
    tape = symbolic.tape_for(p, list(values), {n: v for n, v in labels.items()})
    sym_value, sym_grads = evaluate(tape, values)
    assert sym_value == pytest.approx(float(value[0]), rel=1e-12)
    for name in values:
        np.testing.assert_allclose(grads[name][0].ravel(), sym_grads[name], rtol=1e-10, atol=1e-12)


def test_an_array_of_labels_checks_end_to_end():
    report = gradcheck.check(
        gradcheck.problem(
            "mean(logsumexp(X @ W, axis=1) - (X @ W)[arange(4), y])",
            at=["X=random(4, 5)", "W=random(5, 3)", "y=[0, 2, 1, 1]"],
            wrt=["W"],
        )
    )
    assert report.problems[0].status == "pass"


def test_a_label_out_of_range_or_fractional_is_refused_where_it_is_evaluated():
    p = program("sum(X[arange(2), y])", X=(2, 3), y=(2,))
    with pytest.raises(gradcheck.ValueProblem, match="out of range"):
        p.value(batched(X=np.ones((2, 3)), y=[0.0, 3.0]))
    with pytest.raises(gradcheck.ValueProblem, match="not an integer"):
        p.value(batched(X=np.ones((2, 3)), y=[0.0, 0.5]))
    q = program("sum(one_hot(y, 3))", y=(2,))
    with pytest.raises(gradcheck.ValueProblem, match="negative"):
        q.value(batched(y=[0.0, -1.0]))
    w = program("sum(where(m, x, 0))", m=(2,), x=(2,))
    with pytest.raises(gradcheck.ValueProblem, match="0s and 1s"):
        w.value(batched(m=[0.0, 0.5], x=[1.0, 2.0]))


def test_labels_that_differ_between_batch_rows_index_each_row():
    p = program("sum(X[arange(2), y] * [1, 10])", X=(2, 3), y=(2,))
    X = np.arange(6.0).reshape(2, 3)
    value, grads = p.gradient(
        {"X": np.stack([X, X]), "y": np.array([[0.0, 1.0], [2.0, 2.0]])}, ["X"]
    )
    np.testing.assert_array_equal(value, [0 + 10 * 4, 2 + 10 * 5])
    np.testing.assert_array_equal(grads["X"][0], [[1, 0, 0], [0, 10, 0]])
    np.testing.assert_array_equal(grads["X"][1], [[0, 0, 1], [0, 0, 10]])


# ---------------------------------------------------------------- switches


def status(expression: str, at: list[str]) -> str:
    return gradcheck.check(gradcheck.problem(expression, at=at)).problems[0].status


@pytest.mark.parametrize(
    ("expression", "at"),
    [
        ("max(x)", ["x=[1.5, 0.2, 1.5]"]),
        ("sum(min(X, axis=1) * [1, 2])", ["X=[[0.5, 0.5, 2], [1, -1, 3]]"]),
        ("sum((x > 0) * x)", ["x=[0, 1.5]"]),
        ("sum((x <= y) * y)", ["x=[0.3, 1]", "y=[0.3, 2]"]),
        ("sum(where(x > 0, x, 0.1 * x))", ["x=[0, -1.5]"]),
        ("sum(clip(x, -0.5, 0.5))", ["x=[0.5, 0.1]"]),
        ("sum(clip(x, -0.5, 0.5))", ["x=[-0.5, 2]"]),
    ],
)
def test_a_switch_is_a_kink_not_a_failure(expression, at):
    assert status(expression, at) == "kink"


@pytest.mark.parametrize(
    ("expression", "at"),
    [
        ("max(x)", ["x=[1.5, 0.2, 1.4]"]),
        ("sum((x > 0) * x)", ["x=[0.7, -1.5]"]),
        ("sum(clip(x, -0.5, 0.5))", ["x=[0.4, 2]"]),
    ],
)
def test_off_the_switch_it_passes(expression, at):
    assert status(expression, at) == "pass"


def test_ties_split_the_gradient_evenly():
    p = program("max(x)", x=(4,))
    _, grads = p.gradient(batched(x=[1.0, 3.0, 3.0, 3.0]), ["x"])
    np.testing.assert_array_equal(grads["x"][0], [0, 1 / 3, 1 / 3, 1 / 3])
    q = program("sum(min(X, axis=0) * [1, 2])", X=(2, 2))
    _, grads = q.gradient(batched(X=[[1.0, 5.0], [1.0, 4.0]]), ["X"])
    np.testing.assert_array_equal(grads["X"][0], [[0.5, 0], [0.5, 2]])


def test_the_max_switch_is_the_gap_and_its_branch_the_argmax():
    p = program("max(x, axis=1)", x=(2, 3))
    values = p.forward(batched(x=[[1.0, 4.0, 2.5], [0.0, 7.0, 7.0]]))
    (i,) = p.nonsmooth()
    np.testing.assert_array_equal(p.branches(values)[i][0], [1, -1])
    assert p.switch_distances(values)[i] == 0.0
    assert OPS["amax"].switch(np.array([[[1.0, 4.0, 2.5]]]), axis=1)[0, 0] == 1.5
    # moving entry 2 above entry 1 changes the branch: a kink the detector sees
    moved = p.forward(batched(x=[[1.0, 4.0, 4.5], [0.0, 7.0, 7.0]]))
    before = p.branches(values)
    assert p.first_crossed(moved, before)[0] == i


def test_the_midpoint_at_a_clip_boundary_matches_the_symbolic_side():
    p = program("clip(x, lo, hi)")
    point = {"x": 0.5, "lo": -0.5, "hi": 0.5}
    _, grads = p.gradient(batched(**point), list(point))
    _, sym = evaluate(symbolic.tape_for(p, list(point)), point)
    assert [grads[n][0] for n in point] == [0.5, 0.0, 0.5]
    assert [sym[n][0] for n in point] == [0.5, 0.0, 0.5]


# ---------------------------------------------------------------- planted mistakes


@pytest.mark.parametrize(
    ("name", "expression", "at"),
    [
        ("logsumexp", "sum(logsumexp(X, axis=1) * G)", ["X=random(3, 4)", "G=random(3)"]),
        ("var", "sum(var(X, axis=0) * G)", ["X=random(3, 4)", "G=random(4)"]),
        ("transpose", "sum(transpose(X, (1, 0)) * G)", ["X=random(3, 2)", "G=random(2, 3)"]),
        ("index", "sum(X[:, 1:] * G)", ["X=random(3, 4)", "G=random(3, 3)"]),
    ],
)
def test_a_planted_wrong_vjp_is_caught(name, expression, at, monkeypatch):
    right = OPS[name]
    wrong_rule = right.vjps[0]
    monkeypatch.setitem(
        OPS, name, replace(right, vjps=(lambda g, o, *a, **p: 1.01 * wrong_rule(g, o, *a, **p),))
    )
    (result,) = gradcheck.check(gradcheck.problem(expression, at=at)).problems
    assert result.status == "fail"
    monkeypatch.setitem(OPS, name, right)
    (result,) = gradcheck.check(gradcheck.problem(expression, at=at)).problems
    assert result.status == "pass"


# ---------------------------------------------------------------- symbolic at size


def test_a_realistic_layer_expands_within_the_symbolic_limit():
    # rearranging entries costs no operations; a small batch's loss stays symbolic
    p = program(
        "mean(logsumexp(X @ W, axis=1) - (X @ W)[arange(4), [0, 2, 1, 1]])", X=(4, 5), W=(5, 3)
    )
    assert symbolic.expanded_size(p) < symbolic.SIZE_LIMIT
    q = program("sum(transpose(reshape(x, (8, 16)), (1, 0)) * G)", x=(128,), G=(16, 8))
    assert symbolic.expanded_size(q) == 2 * 128
    big = program("sum(tanh(W @ x))", W=(100, 100), x=(100,))
    assert symbolic.expanded_size(big) > symbolic.SIZE_LIMIT


# ---------------------------------------------------------------- the rules, called directly

_r = np.random.default_rng(11)


def _a(*shape):
    return anywhere(_r, shape)


#: For each op of this work: arguments (no batch axis), params, and the arguments that are
#: differentiated; for tests that call the table's rules directly (complex step below).
RULE_ARGUMENTS = {
    **{
        n: ([_a(2, 3)], {"axis": 1, "keepdims": k}, [0])
        for n, k in [
            ("sum", True),
            ("mean", False),
            ("prod", True),
            ("logsumexp", False),
            ("norm", True),
            ("var", False),
            ("std", True),
            ("amax", False),
            ("amin", True),
        ]
    },
    "softmax": ([_a(2, 3)], {"axis": 0}, [0]),
    "log_softmax": ([_a(2, 3)], {"axis": 1}, [0]),
    "reshape": ([_a(2, 3)], {"shape": (3, -1)}, [0]),
    "ravel": ([_a(2, 3)], {}, [0]),
    "transpose": ([_a(2, 3, 4)], {"axes": (2, 0, 1)}, [0]),
    "swapaxes": ([_a(2, 3, 4)], {"axis1": 0, "axis2": -1}, [0]),
    "expand_dims": ([_a(2, 3)], {"axis": (0, 2)}, [0]),
    "squeeze": ([_a(2, 1, 3)], {"axis": 1}, [0]),
    "flip": ([_a(2, 3)], {"axis": 1}, [0]),
    "roll": ([_a(2, 3)], {"shift": (1, 2), "axis": (0, 1)}, [0]),
    "repeat": ([_a(2, 3)], {"repeats": (2, 0, 1), "axis": 1}, [0]),
    "tile": ([_a(2, 3)], {"reps": (2, 1, 2)}, [0]),
    "diag": ([_a(3)], {"k": 1}, [0]),
    "triu": ([_a(3, 3)], {"k": 0}, [0]),
    "tril": ([_a(2, 3, 3)], {"k": -1}, [0]),
    "concatenate": ([_a(2, 3), _a(1, 3)], {"axis": 0}, [0, 1]),
    "stack": ([_a(2, 3), _a(2, 3)], {"axis": 2}, [0, 1]),
    "zeros": ([], {"shape": (2, 3)}, []),
    "ones": ([], {"shape": 3}, []),
    "eye": ([], {"N": 3, "M": 2, "k": 0}, []),
    "arange": ([], {"start": 2, "stop": 9, "step": 3}, []),
    "matmul": ([_a(2, 3, 4), _a(4, 2)], {}, [0, 1]),
    "index": ([_a(3, 4), np.array([0.0, 2.0])], {"key": (("slice", None, None, -1), "arg")}, [0]),
    "take_along": ([_a(3, 4), np.array([[0.0], [3.0], [1.0]])], {"axis": 1}, [0]),
    "one_hot": ([np.array([0.0, 2.0])], {"num_classes": 3}, []),
    "where": ([np.array([1.0, 0.0, 1.0]), _a(3), _a(2, 3)], {}, [1, 2]),
    **{n: ([_a(2, 3), _a(3)], {}, [0, 1]) for n in ["gt", "ge", "lt", "le", "eq", "ne"]},
    "clip": ([_a(2, 3), np.array(-0.6), np.array(1.1)], {}, [0, 1, 2]),
}


def _aligned(op, args):
    """Element-wise rules take their arguments lined up for broadcasting, as the graph
    gives them (length-1 axes after the batch axis)."""
    if not op.elementwise:
        return args
    rank = max(a.ndim for a in args)
    return [a.reshape(a.shape[:1] + (1,) * (rank - a.ndim) + a.shape[1:]) for a in args]


def test_every_op_of_this_work_has_rule_arguments():
    assert set(RULE_ARGUMENTS) <= set(OPS)
    for name, (args, params, _) in RULE_ARGUMENTS.items():
        op = OPS[name]
        shape = op.shape(*(np.shape(a) for a in args), **params)
        out = op.forward(*_aligned(op, [np.asarray(a)[None] for a in args]), **params)
        assert out.shape[1:] == shape, name


@pytest.mark.parametrize("name", [n for n in RULE_ARGUMENTS if OPS[n].complex_safe])
def test_complex_step_agrees_with_each_rule_called_directly(name):
    # u^T (J v) by complex step on the forward rule, (u^T J) v by the VJP rule
    op = OPS[name]
    args, params, differentiated = RULE_ARGUMENTS[name]
    args = _aligned(op, [np.asarray(a, dtype=float)[None] for a in args])
    out = op.forward(*args, **params)
    u = _r.normal(size=out.shape)
    for k in differentiated:
        v = _r.normal(size=args[k].shape)
        moved = list(args)
        moved[k] = args[k] + 1e-20j * v
        jv = np.imag(op.forward(*moved, **params)) / 1e-20
        vjp = op.vjps[k](u, out, *args, **params)
        if op.elementwise:
            vjp = np.sum(
                vjp,
                axis=tuple(d for d in range(vjp.ndim) if args[k].shape[d] == 1 < vjp.shape[d]),
                keepdims=True,
            )
        vjp = np.broadcast_to(vjp, args[k].shape)
        assert np.sum(u * jv) == pytest.approx(np.sum(vjp * v), rel=1e-10, abs=1e-12), (name, k)


def test_a_dropped_local_derivative_of_a_reduction_along_an_axis_passes_g_to_its_entries():
    # the mistake "forgot logsumexp's derivative": each row's upstream gradient reaches
    # every entry of that row unchanged, shaped like X (what mistakes.py compares with)
    p = program("sum(logsumexp(X, axis=1) * G)", X=(3, 4), G=(3,))
    G = np.array([1.0, 2.0, 3.0])
    values = p.forward(batched(X=np.zeros((3, 4)), G=G))
    (i,) = [k for k in p.droppable(["X"]) if p.nodes[k].op == "logsumexp"]
    adjoints = p.backward(values, ["X"], dropped=i)
    np.testing.assert_array_equal(adjoints[p.inputs["X"]][0], np.repeat(G[:, None], 4, axis=1))


def test_labels_given_no_value_are_drawn_in_range_and_never_differentiated():
    built = gradcheck.problem(
        "mean(logsumexp(X @ W, axis=1) - (X @ W)[arange(4), y])",
        at=["X=random(4, 5)", "W=random(5, 3)"],
    )
    (out,) = gradcheck.check(built).problems
    assert out.status == "pass" and list(out.points[0].gradient) == ["X", "W"]
    drawn = out.points[0].at["y"]  # given no value, y is a scalar: one column for all rows
    assert drawn.shape == () and float(drawn) in (0.0, 1.0, 2.0)


def test_a_label_out_of_range_is_refused_naming_it():
    with pytest.raises(gradcheck.GradcheckError, match="y = 3 is out of range"):
        gradcheck.problem("sum(Z[arange(2), y])", at=["Z=random(2, 3)", "y=[0, 3]"])
