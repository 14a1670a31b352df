"""The whitelist parser: what it accepts, what it refuses, and where it says the problem is."""

import numpy as np
import pytest

from gradcheck.errors import ExpressionError, ShapeError
from gradcheck.source.language import RandomSpec, Scope, build, parse, parse_binding, parse_value

from .conftest import program


def refused(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    return info.value


def test_names_in_order_of_first_appearance():
    assert parse("1/(2+sin(w1*x1)**2+cos(w2*x2))").names() == ["w1", "x1", "w2", "x2"]


def test_caret_is_power_with_power_precedence():
    # Python's ^ binds looser than *; in maths 2*x^2 is 2*(x^2).
    p = program("2*x^2")
    assert p.value({"x": np.array([3.0])})[0] == 18.0


def test_constants_are_not_inputs():
    term = parse("pi*x + e")
    assert term.names() == ["x"]
    assert program("pi*x + e").value({"x": np.array([1.0])})[0] == pytest.approx(np.pi + np.e)


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("sin(x", 4, "never closed"),
        ("sinh2(x)", 1, "did you mean 'sinh'"),
        ("x + softplux(y)", 5, "did you mean 'softplus'"),
        ("__import__('os').system('ls')", 1, "dunder name '__import__'"),
        ("x.__class__", 1, "'.__class__' is not allowed"),
        ("x.sum()", 1, "method calls"),
        ("lambda: 1", 1, "lambda"),
        ("'abc'", 1, "strings are not allowed"),
        ("x + 'abc'", 5, "strings are not allowed"),
        ("[i for i in x]", 1, "comprehensions"),
        ("x if y else z", 1, "conditional"),
        ("x < 1 < 2", 1, "comparisons"),
        ("x and y", 1, "'and' / 'or'"),
        ("{1: 2}", 1, "dictionaries"),
        ("x[y:2]", 3, "slice bounds must be integer literals"),
        ("x[1.5]", 3, "an index must be an integer"),
        ("x[y + 1]", 3, "an index must be an integer"),
        ("sin", 1, "is a function; call it"),
        ("sin(x, y)", 1, "takes 1 argument"),
        ("sin(x, y)", 1, "takes 1 argument, got 2"),
        ("sum(x, foo=0)", 12, "does not take the keyword 'foo'; it takes axis, keepdims"),
        ("x % 2", 1, "'%' is not supported"),
        ("x // 2", 1, "'//' is not supported"),
        ("random(3)", 1, "only allowed as a value"),
        ("1j * x", 1, "complex numbers"),
        ("True * x", 1, "is not a number"),
        ("x + 1e999", 5, "too large"),
        ("   ", 1, "empty"),
    ],
)
def test_refused_with_column_and_reason(text, column, words):
    error = refused(text)
    assert error.column == column, str(error)
    assert words in error.message
    assert error.exit_code == 2


def test_columns_count_characters_after_caret_rewriting():
    # '^' becomes '**' internally; the column must still point into the user's text.
    error = refused("x^2 + foo(y)")
    assert error.column == 7
    assert "unknown function 'foo'" in error.message


def test_columns_count_characters_not_bytes():
    error = refused("θθθ + foo(x)")  # two bytes each in UTF-8
    assert error.column == 7


def test_binding_columns_point_into_the_whole_option():
    name, term = parse_binding("p=V1 @ x + sin(b1)", "--let p")
    assert name == "p" and term.names() == ["V1", "x", "b1"]
    with pytest.raises(ExpressionError) as info:
        parse_binding("q=1 + bad(x)", "--let q")
    assert info.value.column == 7
    assert str(info.value).startswith("--let q, column 7:")


@pytest.mark.parametrize("text", ["x", "x=", "2=x", "sin=x", "pi=3", "__x=1"])
def test_bad_bindings(text):
    with pytest.raises(ExpressionError):
        parse_binding(text, "--let")


def test_values():
    assert parse_value("random(3, 2)", "--at W") == RandomSpec((3, 2))
    assert parse_value("random()", "--at w") == RandomSpec(())
    term = parse_value("[[1, -2], [3, pi]]", "--at W")
    node = build(term, Scope({}))
    assert node.op == "const" and node.shape == (2, 2)
    np.testing.assert_allclose(node.value, [[1, -2], [3, np.pi]])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("random(0)", "positive integer"),
        ("random(2, 0)", "positive integer dimensions"),
        ("random(x)", "positive integer"),
        ("[1, y]", "cannot refer to 'y'"),
        ("[[1, 2], [3]]", "same shape"),
        ("[]", "empty lists"),
    ],
)
def test_bad_values(text, words):
    with pytest.raises((ExpressionError, ShapeError)) as info:
        build(parse_value(text, "--at W"), Scope({}))
    assert words in info.value.message


def test_shape_mismatch_names_both_operands():
    with pytest.raises(ShapeError) as info:
        program("sum(W @ x)", W=(3, 3), x=(2,))
    message = info.value.message
    assert "W has shape (3, 3)" in message and "x has shape (2,)" in message
    assert "inner dimensions differ (3 vs 2)" in message
    assert info.value.column == 5


def test_broadcast_mismatch():
    with pytest.raises(ShapeError) as info:
        program("sum(a + b)", a=(3,), b=(2,))
    assert "a has shape (3,) and b has shape (2,)" in info.value.message


@pytest.mark.parametrize(
    ("text", "shapes", "words"),
    [
        ("z[3]", {"z": (3,)}, "out of range"),
        ("z[0, 1]", {"z": (3,)}, "has 2 index(es)"),
        ("det(W)", {"W": (2, 3)}, "square matrix"),
        ("dot(a, b)", {"a": (2,), "b": (3,)}, "same shape"),
    ],
)
def test_shape_rules(text, shapes, words):
    with pytest.raises(ShapeError) as info:
        program(text, **shapes)
    assert words in info.value.message


def test_index_by_input_records_the_axis():
    term = parse("logsumexp(z) - z[y]")
    from gradcheck.source.language import Node

    scope = Scope({"z": Node("input", (), (3,), name="z"), "y": Node("input", (), (), name="y")})
    node = build(term, scope)
    assert node.shape == ()
    assert scope.index_axes == {"y": [3]}


def test_lists_of_expressions_stack():
    p = program("sum([x, 2*x, y]**2)")
    assert p.value({"x": np.array([1.0]), "y": np.array([3.0])})[0] == 1 + 4 + 9


def test_transpose_and_matmul_shapes():
    assert program("sum(x.T @ W)", W=(3, 2), x=(3, 1)).root.args[0].shape == (1, 2)
    assert program("trace(outer(a, b))", a=(3,), b=(3,)).root.shape == ()


@pytest.mark.parametrize(
    ("text", "column", "hint"),
    [("x·y", 2, "'*'"), ("ｘ*2", 1, "'x'"), ("x − y", 3, "'-'"), ("2×x", 2, "'*'")],
)
def test_characters_python_would_quietly_accept_are_refused_with_a_way_out(text, column, hint):
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert caught.value.column == column
    assert hint in caught.value.message and "not allowed" in caught.value.message


def test_greek_letters_are_names():
    assert parse("θ * x + σ").names() == ["θ", "x", "σ"]


@pytest.mark.parametrize(("text", "column"), [("x +", 3), ("sin(x) *", 8), ("x ^", 3)])
def test_a_trailing_operator_is_pointed_at_where_it_stands(text, column):
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert caught.value.column == column
    assert "ends unexpectedly" in caught.value.message
