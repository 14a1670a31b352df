"""A vector-valued problem's gradients are Jacobians, of shape output_shape + input_shape:
each entry is shown as ∂f[i]/∂x[j] (both indices), large ones by their worst entries, the
verdict counts Jacobian entries, and the JSON nests them in that shape.

The results are built by hand, as the Jacobian pipeline will fill them in."""

import io
import json

import numpy as np
from rich.console import Console

from gradcheck.render.json import to_json
from gradcheck.render.summary import what_is_wrong
from gradcheck.render.tables import render
from gradcheck.results import (
    Cause,
    CauseCode,
    GradientResult,
    PointResult,
    ProblemResult,
    Report,
    Tolerance,
)


def text(report, width=120) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(render(report))
    return console.file.getvalue()


def rows(out: str) -> list[list[str]]:
    """The table's rows (not the causes under it), split into cells."""
    return [
        line.split()
        for line in out.splitlines()
        if line.strip().startswith("∂") and line.split()[-1] in ("pass", "fail", "kink", "error")
    ]


def jacobian(truth: np.ndarray, wrong: dict | None = None, kind="expression") -> GradientResult:
    """Every estimate equal to ``truth`` but the central differences at ``wrong``
    ({index: value}), which fail and say so."""
    central = truth.astype(float).copy()
    status = np.full(truth.shape, "pass", dtype=object)
    causes = {}
    for index, value in (wrong or {}).items():
        central[index] = value
        status[index] = "fail"
        causes[int(np.ravel_multi_index(index, truth.shape))] = Cause(CauseCode.CENTRAL, "planted")
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.abs(central - truth) / np.where(truth == 0, 1.0, np.abs(truth))
    code = kind == "func"
    return GradientResult(
        shape=truth.shape,
        symbolic=None if code else truth.astype(float),
        backprop=truth.astype(float),
        forward=central,
        backward=central,
        central=central,
        status=status,
        errors={"claimed" if code else "backprop": np.zeros(truth.shape), "central": error},
        causes=causes,
        claimed_by="your code" if code else "backprop",
        reference=truth.astype(float) if code else None,
    )


def problem(gradients, value, output_shape=None, kind="expression", **at) -> ProblemResult:
    point = PointResult(
        at={n: np.asarray(v, dtype=float) for n, v in at.items()},
        drawn=(),
        value=np.asarray(value, dtype=float),
        symbolic_value=None,
        gradient=gradients,
    )
    statuses = [s for g in gradients.values() for s in g.status.ravel()]
    return ProblemResult(
        "J",
        None if kind == "func" else "f(x)",
        "fail" if "fail" in statuses else "pass",
        kind=kind,
        output_shape=np.shape(value) if output_shape is None else output_shape,
        code={"function": "layer.py:forward", "backward": "layer.py:backward"}
        if kind == "func"
        else None,
        points=[point],
        tolerance=Tolerance(1e-6, 1e-9),
        seed=0,
    )


J = np.arange(6.0).reshape(2, 3) + 1  # d f[i] / d x[j] for f of shape (2,), x of (3,)


def small() -> Report:
    x = jacobian(J, {(1, 2): 9.0})
    return Report([problem({"x": x}, [0.5, 1.5], x=[1, 2, 3])])


def test_each_entry_is_labelled_with_both_indices_in_order():
    out = text(small())
    assert [r[0] for r in rows(out)] == [f"∂f[{i}]/∂x[{j}]" for i in range(2) for j in range(3)]
    assert "∂f[1]/∂x[2]  fail: planted" in out


def test_the_value_is_the_vector_and_the_verdict_counts_jacobian_entries():
    out = text(small())
    assert "f   [0.5, 1.5]   shape (2,): its Jacobian is checked, entry by entry" in out
    assert "FAIL  6 Jacobian entries; 1 failure" in out


def test_what_is_wrong_names_the_entry_with_both_indices():
    assert what_is_wrong(small().problems[0]) == "∂f[1]/∂x[2]: planted"


def test_matrix_and_scalar_inputs_and_two_output_axes():
    w = jacobian(np.ones((3, 2, 2)), {(2, 1, 0): 5.0})
    b = jacobian(np.ones((3,)))
    out = text(Report([problem({"W": w, "b": b}, [1, 2, 3], W=np.ones((2, 2)), b=0)]))
    assert "∂f[2]/∂W[1, 0]  fail: planted" in out
    assert "∂f[0]/∂b " in out and "∂f[2]/∂b " in out
    grid = jacobian(np.ones((2, 2, 3)), {(1, 0, 2): 5.0})
    out = text(Report([problem({"x": grid}, np.ones((2, 2)), x=[1, 2, 3])]))
    assert "∂f[1, 0]/∂x[2]  fail: planted" in out
    assert "f   [[1, 1], [1, 1]]   shape (2, 2)" in out


def test_a_result_that_does_not_say_its_output_shape_is_read_from_its_value():
    x = jacobian(J, {(0, 1): 9.0})
    p = problem({"x": x}, [0.5, 1.5], output_shape=(), x=[1, 2, 3])
    out = text(Report([p]))
    assert "∂f[0]/∂x[1]  fail" in out and "6 Jacobian entries" in out
    assert to_json(Report([p]))["problems"][0]["output_shape"] == [2]


def test_a_large_jacobian_shows_its_worst_entries_and_counts_the_rest():
    truth = np.ones((100, 100))
    x = jacobian(truth, {(37, 81): 3.0})
    report = Report([problem({"x": x}, np.zeros(100), x=np.zeros(100))])
    out = text(report)
    shown = rows(out)
    assert len(shown) == 12 and shown[0][0] == "∂f[0]/∂x[0]"  # then in order
    assert ["∂f[37]/∂x[81]", "fail"] in [[r[0], r[-1]] for r in shown]
    assert "… 9,988 more entries of x not shown (9,988 pass)" in out
    assert "FAIL  10,000 Jacobian entries; 1 failure; worst central error 2.0e+00" in out


def test_the_worst_entries_are_chosen_by_status_then_error():
    truth = np.ones((40, 10))
    wrong = {(i, 3): 1.0 + 0.01 * i for i in range(1, 40, 3)}  # 13 failures, growing errors
    x = jacobian(truth, wrong)
    out = text(Report([problem({"x": x}, np.zeros(40), x=np.zeros(10))]))
    assert {r[0] for r in rows(out)} == {
        f"∂f[{i}]/∂x[3]" for i in range(4, 40, 3)
    }  # the 12 worst: not i = 1


def test_a_layers_jacobian_is_of_out():
    x = jacobian(J, {(1, 0): 0.0}, kind="func")
    report = Report([problem({"x": x}, [2.0, 3.0], kind="func", x=[1, 2, 3])])
    out = text(report)
    assert "∂out[1]/∂x[0]  fail: planted" in out
    assert "out [2, 3]   shape (2,)" in out
    assert "6 Jacobian entries" in out and "worst error of your code" in out
    gradient = to_json(report)["problems"][0]["points"][0]["gradient"]["x"]
    assert gradient["claimed"] == J.tolist() and gradient["causes"][0]["index"] == [1, 0]


def test_json_has_the_output_shape_and_jacobians_nested_in_that_shape():
    doc = to_json(small())
    (p,) = doc["problems"]
    assert p["output_shape"] == [2] and p["kind"] == "expression"
    point = p["points"][0]
    assert point["value"] == [0.5, 1.5]
    x = point["gradient"]["x"]
    assert x["symbolic"] == J.tolist() and x["backprop"] == J.tolist()
    assert x["central"][1][2] == 9.0 and np.shape(x["error"]["central"]) == (2, 3)
    assert x["status"] == [["pass"] * 3, ["pass", "pass", "fail"]]
    assert x["causes"] == [{"index": [1, 2], "status": "fail", "cause": "planted"}]


def test_json_of_a_jacobian_is_strict_where_entries_are_not_finite():
    x = jacobian(J)
    x.central[0, 1] = np.nan
    x.forward[1, 0] = np.inf
    doc = to_json(Report([problem({"x": x}, [0.5, 1.5], x=[1, 2, 3])]))
    gradient = doc["problems"][0]["points"][0]["gradient"]["x"]
    assert gradient["central"][0] == [1.0, None, 3.0] and gradient["forward"][1][0] is None
    json.dumps(doc, allow_nan=False)


def test_a_scalar_function_has_no_output_shape_in_json():
    g = jacobian(np.ones(3))
    doc = to_json(Report([problem({"x": g}, 2.0, x=[1, 2, 3])]))
    assert "output_shape" not in doc["problems"][0]
    assert "Jacobian" not in text(Report([problem({"x": g}, 2.0, x=[1, 2, 3])]))
