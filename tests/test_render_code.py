"""The user's code as the library shows it: in a notebook (the terminal's table, as HTML)
and in an assertion's message (every failing entry on its own line, with its index and
``fail``, however many there are)."""

import html
import re

import numpy as np
import pytest

from gradcheck import check_function
from gradcheck.render import gradients
from gradcheck.render.console import plain_text
from gradcheck.render.tables import failures_text, render
from gradcheck.results import (
    GradientResult,
    PointResult,
    ProblemResult,
    Report,
    Tolerance,
)

X = np.linspace(-2.0, 2.0, 100)
WRONG = list(range(3, 100, 7))  # 14 entries of 100


def loss(x):
    return np.sum(np.sin(x))


def wrong_grad(x):
    g = np.cos(x)
    g[WRONG] *= -1.0
    return g


@pytest.fixture(scope="module")
def wrong():
    return check_function(loss, grad=wrong_grad, x=X)


def failing_lines(text: str, name: str = "x") -> list[int]:
    """The entries listed on their own line as failing: ``x[3]  fail: ...``."""
    found = re.findall(rf"^\s*{name}\[(\d+)\]\s+fail: ", text, re.M)
    return [int(k) for k in found]


def test_the_message_lists_every_failing_entry_on_its_own_line(wrong):
    message = failures_text(wrong)
    assert failing_lines(message) == WRONG
    assert "… and" not in message  # nothing left out
    assert "FAIL  100 entries; 14 failures" in message
    table = plain_text(render(wrong))  # the terminal's table lists the first few
    assert failing_lines(table) == WRONG[: gradients.CAUSES_PER_INPUT]
    assert "… and 9 more entries of x" in table


def test_the_message_names_the_function_and_says_your_code(wrong):
    message = failures_text(wrong)
    assert message.startswith(
        "● loss  test_render_code.py:loss, grad test_render_code.py:wrong_grad"
    )
    assert "x[3]  fail: your code" in message and "backprop" not in message


def test_a_flood_of_failures_is_listed_up_to_a_bound_and_the_rest_counted(wrong, monkeypatch):
    monkeypatch.setattr(gradients, "FAILURES_LISTED", 4)
    message = failures_text(wrong)
    assert failing_lines(message) == WRONG[:4]
    assert "… and 10 more entries of x (failing entries are listed up to 4)" in message


def hand_built(status: np.ndarray, causes=None, **fields) -> Report:
    """A func problem whose gradient of x is given by hand (claimed 1, truth 2 everywhere)."""
    shape = status.shape
    g = GradientResult(
        shape=shape,
        symbolic=None,
        backprop=np.ones(shape),
        forward=np.full(shape, 2.0),
        backward=np.full(shape, 2.0),
        central=np.full(shape, 2.0),
        status=status,
        errors={"claimed": np.full(shape, 0.5), "central": np.zeros(shape)},
        causes=causes or {},
        claimed_by="your code",
        reference=np.full(shape, 2.0),
    )
    point = PointResult({"x": np.zeros(shape)}, (), 1.0, None, {"x": g})
    worst = "fail" if "fail" in status.ravel().tolist() else "pass"
    problem = ProblemResult(
        fields.pop("name", "f.py:f"),
        None,
        worst,
        kind="func",
        code=fields.pop("code", {"function": "f.py:f", "grad": "f.py:g"}),
        points=[point],
        tolerance=Tolerance(1e-6, 1e-9),
        seed=0,
        **fields,
    )
    return Report([problem])


def test_a_failing_entry_without_a_cause_is_listed_with_its_numbers():
    status = np.array([["pass", "fail"], ["pass", "pass"]], dtype=object)
    message = failures_text(hand_built(status))
    assert "x[0, 1]  fail: your code 1, where the reference is 2" in message


def test_a_jacobians_failing_entries_are_listed_with_both_indices():
    status = np.full((3, 4), "fail", dtype=object)
    report = hand_built(status, output_shape=(3,))
    message = failures_text(report)
    listed = re.findall(r"^\s*(∂out\[\d\]/∂x\[\d\])\s+fail: ", message, re.M)
    assert listed == [f"∂out[{i}]/∂x[{j}]" for i in range(3) for j in range(4)]


def test_the_heading_of_a_named_problem_and_of_code_returning_its_gradients():
    status = np.full(2, "pass", dtype=object)
    named = plain_text(render(hand_built(status, name="affine", file="hw.yaml", line=3)))
    assert named.splitlines()[0] == "● affine  f.py:f, grad f.py:g   hw.yaml:3"
    own = plain_text(render(hand_built(status, code={"function": "f.py:f"})))
    assert own.splitlines()[0] == "● f.py:f (value and gradients)"


# ---------------------------------------------------------------- Jupyter


def notebook_text(report: Report) -> str:
    """What a notebook shows of ``_repr_html_``, as text."""
    page = report._repr_html_()
    body = re.search(r"<pre[^>]*>(.*)</pre>", page, re.S).group(1)
    shown = html.unescape(re.sub(r"<[^>]+>", "", body))
    return "\n".join(line.rstrip() for line in shown.splitlines())


def test_a_notebook_shows_the_func_table_the_terminal_shows(wrong):
    shown = notebook_text(wrong)
    assert shown == plain_text(render(wrong))
    assert "your code" in shown and "x[3]  fail: your code" in shown


def test_a_notebook_shows_a_jacobian_as_the_terminal_does():
    status = np.full((2, 3), "pass", dtype=object)
    status[1, 2] = "fail"
    report = hand_built(status, output_shape=(2,))
    shown = notebook_text(report)
    assert shown == plain_text(render(report))
    assert "∂out[1]/∂x[2]" in shown and "6 Jacobian entries" in shown


def test_a_notebook_escapes_what_the_names_hold():
    status = np.full(2, "pass", dtype=object)
    report = hand_built(status, name="<script>alert(1)</script>")
    assert "<script>" not in report._repr_html_()
    assert "<script>alert(1)</script>" in notebook_text(report)
