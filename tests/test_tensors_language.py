"""The language of version 2: keyword arguments declared by the op table, arrays of any
rank, subscripts, comparisons; and every kind of bad input refused by name and column."""

import numpy as np
import pytest
from click.testing import CliRunner

import gradcheck
from gradcheck.cli.main import main
from gradcheck.errors import ExpressionError, ShapeError
from gradcheck.source.language import RandomSpec, Scope, build, parse, parse_value

from .conftest import batched, program


def params(text: str, **shapes) -> dict:
    return program(text, **shapes).root.kwargs


# ---------------------------------------------------------------- keywords


def test_keywords_become_static_params_with_defaults_filled_in():
    assert params("sum(x, axis=1)", x=(2, 3)) == {"axis": 1, "keepdims": False}
    assert params("mean(X, axis=(0, 2), keepdims=True)", X=(2, 3, 4)) == {
        "axis": (0, 2),
        "keepdims": True,
    }
    assert params("sum(x)", x=(2, 3)) == {"axis": None, "keepdims": False}
    assert params("reshape(x, (3, -1))", x=(2, 3)) == {"shape": (3, -1)}
    assert params("roll(x, -1, axis=0)", x=(2, 3)) == {"shift": -1, "axis": 0}
    assert params("eye(3)") == {"N": 3, "M": None, "k": 0}


def test_a_keyword_as_written_or_by_default_is_the_same_program():
    written = program("sum(x, axis=None, keepdims=False)", x=(2, 3)).fingerprint()
    assert written == program("sum(x)", x=(2, 3)).fingerprint()


def test_params_are_part_of_the_fingerprint():
    prints = {
        program(text, x=(2, 3)).fingerprint()
        for text in ["sum(x, axis=0)", "sum(x, axis=1)", "sum(x)", "sum(x, axis=1, keepdims=True)"]
    }
    assert len(prints) == 4
    assert program("x[0:1]", x=(3,)).fingerprint() != program("x[1:2]", x=(3,)).fingerprint()


def test_one_argument_max_reduces_and_two_stay_element_wise():
    assert program("max(x)", x=(3,)).root.op == "amax"
    assert program("max(x, axis=0)", x=(3, 2)).root.shape == (2,)
    assert program("max(x, 0)", x=(3,)).root.op == "max"
    assert program("min(a, b)", a=(3,), b=(3,)).root.shape == (3,)


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("sum(x, foo=1)", 12, "sum() does not take the keyword 'foo'; it takes axis, keepdims"),
        ("sin(x, axis=1)", 13, "sin() takes no keyword arguments"),
        ("max(a, b, axis=0)", 16, "max() with 2 arguments takes no keyword 'axis'; with 1"),
        ("sum(x, axis=n)", 13, "axis must be written as an integer or a tuple of integers"),
        ("sum(x, axis=1 + 1)", 13, "it decides the shape, so it cannot be computed"),
        ("sum(x, keepdims=1)", 17, "keepdims takes True or False"),
        ("sum(x, axis=1.5)", 13, "axis must be written as"),
        ("sum(x, axis='a')", 13, "axis takes an integer or a tuple of integers"),
        ("sum(x, axis=(0, True))", 13, "axis takes an integer or a tuple"),
        ("sum(x, axis=10**30)", 13, "must be written as"),
        ("sum(x, axis=100000000000000000000000)", 13, "must be written as"),
        ("sum(x, 1)", 1, "sum() takes 1 argument, got 2; give axis as a keyword"),
        ("reshape(x)", 1, "reshape() needs shape"),
        ("reshape(x, shape=n)", 18, "shape must be written as an integer or a tuple"),
        ("one_hot(y, K)", 12, "num_classes must be written as an integer"),
        ("concatenate(a, b)", 13, "takes its arrays as one list, like concatenate([a, b]"),
        ("stack([])", 7, "takes its arrays as one list"),
        ("sum(*x)", 5, "starred arguments"),
        ("sum(x, **k)", 10, "**arguments are not allowed"),
        ("(1, 2) + x", 1, "tuples are not allowed"),
        ("sum((1, 2))", 5, "tuples are not allowed"),
        (
            "0 < x < 1",
            1,
            "chained comparisons are not supported; write 0 < x < 1 as (0 < x) * (x < 1)",
        ),
        ("x is y", 1, "'is' and 'in' are not supported"),
        ("x[x > 0]", 3, "a mask cannot index"),
        ("x[1:n]", 5, "slice bounds must be integer literals"),
        ("x[::0]", 3, "step cannot be 0"),
        ("x[0.5]", 3, "an index must be an integer literal, a slice"),
        ("x[pi]", 3, "an index must be an integer literal"),
        ("x[y + 1]", 3, "an index must be an integer"),
        ("np.sum(x)", 1, "write sum(...) without np."),
        ("torch.relu(x)", 1, "write relu(...) without torch."),
        ("x.sum(axis=0)", 1, "method calls like .sum(...) are not allowed"),
        ("argmax(x)", 1, "argmax is an index, which has no derivative"),
        ("maximum(a, b)", 1, "write max(a, b)"),
        ("amax(x)", 1, "write max(x)"),
        ("range(3) * x", 1, "write arange(N)"),
    ],
)
def test_refused_with_column_and_reason(text, column, words):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert words in info.value.message, info.value.message
    assert info.value.column == column, str(info.value)


@pytest.mark.parametrize(
    ("text", "shapes", "words"),
    [
        ("sum(x, axis=2)", {"x": (2, 3)}, "axis 2 is out of range for an array of 2 dimension(s)"),
        ("sum(x, axis=-3)", {"x": (2, 3)}, "out of range"),
        ("sum(x, axis=(0, -2))", {"x": (2, 3)}, "names an axis twice"),
        ("sum(x, axis=0)", {}, "axis 0 is out of range for a scalar"),
        ("softmax(x, axis=1)", {"x": (3,)}, "out of range"),
        (
            "reshape(x, (4, 2))",
            {"x": (2, 3)},
            "an array of 6 entries cannot be reshaped into (4, 2)",
        ),
        ("reshape(x, (-1, -1))", {"x": (2, 3)}, "only one length can be -1"),
        ("reshape(x, (0, 6))", {"x": (2, 3)}, "must be positive"),
        ("transpose(x, (0, 0))", {"x": (2, 3)}, "must name each of the 2 axes once"),
        ("transpose(x, (1, 0, 2))", {"x": (2, 3)}, "must name each of the 2 axes once"),
        ("squeeze(x, 0)", {"x": (2, 3)}, "only axes of length 1 can be squeezed"),
        ("swapaxes(x, 0, 2)", {"x": (2, 3)}, "out of range"),
        ("concatenate([a, b])", {"a": (2, 3), "b": (2, 2)}, "same shape but along axis 0"),
        ("concatenate([a, b])", {"a": (), "b": ()}, "scalars cannot be concatenated"),
        ("stack([a, b])", {"a": (2,), "b": (3,)}, "must all have the same shape"),
        ("repeat(x, (1, 2))", {"x": (3,)}, "one count, or one for each of 3 entries"),
        ("repeat(x, 0)", {"x": (3,)}, "has no entries"),
        ("tile(x, (0, 1))", {"x": (3,)}, "must be at least 1"),
        ("diag(x)", {"x": (2, 2, 2)}, "a vector (to make a matrix) or a matrix"),
        ("diag(x, 5)", {"x": (2, 3)}, "has no diagonal k=5"),
        ("triu(x)", {"x": (3,)}, "it needs a matrix"),
        ("zeros((0, 3))", {}, "has no entries"),
        ("arange(0)", {}, "has no entries"),
        ("arange(1, 5, 0)", {}, "step of arange cannot be 0"),
        ("x[5]", {"x": (3,)}, "out of range"),
        ("x[0, 1]", {"x": (3,)}, "has 2 index(es)"),
        ("x[..., ...]", {"x": (3,)}, "only one ..."),
        ("x[3:]", {"x": (3,)}, "the slice 3: selects nothing of 3 entries"),
        ("x[[0, 3]]", {"x": (3,)}, "index 3 is out of range for an axis of length 3"),
        ("x[[0, 1.5]]", {"x": (3,)}, "is not an integer"),
        ("X[[0, 1], [0, 1, 2]]", {"X": (3, 3)}, "do not broadcast"),
        ("take_along(Z, [0, 1], axis=1)", {"Z": (2, 3)}, "as many dimensions as the array"),
        ("one_hot(y, 0)", {"y": (2,)}, "at least one class"),
        ("A @ B", {"A": (2, 3, 4), "B": (3, 4, 5)}, "do not broadcast"),
        ("zeros((100000, 100000))", {}, "above the limit"),
        ("eye(1000000)", {}, "above the limit"),
        ("repeat(x, 4611686018427387904)", {"x": (3,)}, "above the limit"),
    ],
)
def test_shapes_and_params_that_do_not_fit(text, shapes, words):
    with pytest.raises(ShapeError) as info:
        program(text, **shapes)
    assert words in info.value.message, info.value.message


def test_a_label_computed_from_inputs_is_refused():
    with pytest.raises(ExpressionError, match="must be an integer input"):
        program("sum(one_hot(y * 2, 3))", y=(2,))
    with pytest.raises(ExpressionError, match="an index must be an integer literal"):
        program("x[y * 2]", x=(3,))


# ---------------------------------------------------------------- arrays of any rank


def test_values_of_any_rank():
    assert parse_value("random(2, 3, 8, 8)", "--at x") == RandomSpec((2, 3, 8, 8))
    node = build(parse_value("[[[1, 2]], [[3, 4]]]", "--at x"), Scope({}))
    assert node.shape == (2, 1, 2)
    built = gradcheck.problem("sum(x * x)", at=["x=[[[1, 2]], [[3, 4]]]"])
    assert built.shapes["x"] == (2, 1, 2)
    (result,) = gradcheck.check(built).problems
    assert result.status == "pass"
    np.testing.assert_allclose(result.points[0].gradient["x"].backprop, 2 * built.values["x"])


def test_lists_of_arrays_stack_at_any_rank():
    p = program("sum([a, b] * G)", a=(2, 3), b=(2, 3), G=(2, 2, 3))
    assert p.nodes[p.output - 2].shape == (2, 2, 3)
    a, b, G = (np.full((2, 3), v) for v in (1.0, 2.0, 3.0))
    assert p.value(batched(a=a, b=b, G=np.stack([G, G])))[0] == 3 * 6 + 6 * 6


def test_random_values_of_rank_four_check_end_to_end():
    built = gradcheck.problem(
        "sum(tanh(x) * G)", at=["x=random(2, 3, 4, 4)", "G=random(2, 3, 4, 4)"], wrt=["x"]
    )
    (result,) = gradcheck.check(built).problems
    assert result.status == "pass" and built.shapes["x"] == (2, 3, 4, 4)


def test_refusals_through_the_cli_are_one_line_and_exit_2():
    result = CliRunner().invoke(main, ["eval", "sum(x, foo=1)", "--at", "x=[1, 2]"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not take the keyword 'foo'" in lines[0], result.stderr


def test_each_new_function_is_callable_by_name_and_refused_as_a_variable():
    for name in ["sum", "reshape", "where", "clip", "one_hot", "take_along", "arange", "var"]:
        with pytest.raises(ExpressionError, match="is a function"):
            parse(f"{name} + 1")


@pytest.mark.parametrize(
    ("text", "shapes", "shown"),
    [
        ("softmax(X, axis=1)", {"X": (2, 3)}, "softmax(X, axis=1)"),
        ("softmax(X)", {"X": (2, 3)}, "softmax(X)"),
        ("max(x)", {"x": (3,)}, "max(x)"),
        ("max(x, 0)", {"x": (3,)}, "max(x, 0)"),
        ("x[..., -1, None]", {"x": (2, 3)}, "x[..., -1, None]"),
        ("x[1:, ::-1]", {"x": (2, 3)}, "x[1:, ::-1]"),
        ("Z[arange(2), y]", {"Z": (2, 3), "y": (2,)}, "Z[arange(2), y]"),
        ("concatenate([a, a], axis=1)", {"a": (2, 2)}, "concatenate([a, a], 1)"),
        ("stack([a, a])", {"a": (2,)}, "[a, a]"),
        ("reshape(x, (3, 2))", {"x": (6,)}, "reshape(x, (3, 2))"),
        ("roll(x, 1, axis=0)", {"x": (6,)}, "roll(x, 1, 0)"),
        ("eye(3, k=1)", {}, "eye(3, k=1)"),
        ("sum(x, keepdims=True)", {"x": (2,)}, "sum(x, keepdims=True)"),
        ("transpose(X)", {"X": (2, 3)}, "X.T"),
        ("x >= y", {}, "x >= y"),
    ],
)
def test_a_node_is_written_back_as_the_language_writes_it(text, shapes, shown):
    from gradcheck.source.tree import written

    p = program(text, **shapes)
    names = [node.name or node.term.text for node in p.nodes]
    assert written(p.root, [names[j] for j in p.args[p.output]]) == shown


def test_the_convolution_the_contract_promises_is_in_the_language():
    assert parse("sum(conv2d(x, w, stride=1, padding=1))").names() == ["x", "w"]


@pytest.mark.parametrize(
    "text",
    [
        "sum(reshape(x, (" + ", ".join(["1"] * 40) + ")))",
        "sum(x[" + ", ".join(["None"] * 40) + "])",
        "sum(zeros((" + ", ".join(["1"] * 40) + ")))",
        "sum(" + "[" * 40 + "x" + "]" * 40 + ")",
    ],
)
def test_ranks_past_the_bound_are_refused_before_numpy_sees_them(text):
    with pytest.raises(ShapeError, match="arrays have at most 32"):
        program(text)
    with pytest.raises(ExpressionError, match="at most 32"):
        parse_value("random(" + ", ".join(["1"] * 40) + ")", "--at x")
