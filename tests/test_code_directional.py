"""Directional checks of user code: a wrong entry among many is found by bisection and
named, in a number of calls that grows with log n, not n."""

import textwrap

import numpy as np
import pytest

from gradcheck.check import Settings
from gradcheck.check_code import check_code
from gradcheck.source.func import func_problem

CODE = """
    import numpy as np

    def loss(x):
        with open({calls!r}, "a") as f:
            f.write(".")
        return 0.5 * np.sum(np.sin(x) ** 2)

    def grad(x):
        g = np.sin(x) * np.cos(x)
        for k in {wrong}:
            g[k] *= 1.5
        return g
"""


def run(tmp_path, size: int, wrong: list[int], probes: int = 3):
    calls = tmp_path / "calls.txt"
    module = tmp_path / "big.py"
    module.write_text(textwrap.dedent(CODE.format(calls=str(calls), wrong=wrong)))
    problem = func_problem(f"{module}:loss", grad=f"{module}:grad", at=[f"x=random({size})"])
    (out,) = [check_code(problem, Settings(mode="directional", probes=probes))]
    return out, len(calls.read_text())


def failing(out):
    gradient = out.points[0].gradient["x"]
    return [int(k) for k in np.flatnonzero(gradient.status.ravel() == "fail")]


def test_one_wrong_entry_among_a_hundred_thousand_is_named_in_few_calls(tmp_path):
    out, calls = run(tmp_path, 100_000, [31_337])
    assert out.status == "fail"
    assert failing(out) == [31_337]
    cause = out.points[0].gradient["x"].causes[31_337].text
    assert "found by bisection" in cause
    assert calls <= 100, calls  # 2n = 200,000 for entry-by-entry differences


def test_two_wrong_entries_are_both_named(tmp_path):
    out, _ = run(tmp_path, 10_000, [17, 9_000])
    assert failing(out) == [17, 9_000]


@pytest.mark.parametrize("size", [10, 5_000])
def test_a_right_gradient_passes_and_names_nothing(tmp_path, size):
    out, _ = run(tmp_path, size, [])
    assert out.status == "pass" and failing(out) == []
