"""The user's code in a worker process: conventions, findings, errors, time limits, batches."""

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from gradcheck import limits
from gradcheck.deadline import TimeLimit, deadline
from gradcheck.errors import GradcheckError
from gradcheck.source.code import parse_ref
from gradcheck.targets import worker as worker_module
from gradcheck.targets.conventions import ReturnError
from gradcheck.targets.worker import CodeError, CodeTimeout, ComplexStepRefused, Worker

FIXTURES = Path(__file__).parent / "code_fixtures"
RNG = np.random.default_rng(7)
W = RNG.normal(size=(3, 4))
X = RNG.normal(size=4)


def ref(name: str, file: str = "good.py"):
    return parse_ref(f"{FIXTURES / file}:{name}")


def bad(name: str):
    return ref(name, "bad.py")


def fixture(stem: str):
    """A fixture module loaded here, as the oracle (under a name the worker never uses)."""
    spec = importlib.util.spec_from_file_location(f"oracle_{stem}", FIXTURES / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quad_truth(W, x):
    r = W @ x
    return {"W": np.outer(r, x), "x": W.T @ r}


def central(f, inputs, name, h=1e-6):
    """A plain central-difference loop, in this process: the oracle for `values`."""
    a = inputs[name].copy()
    out = []
    for i in range(a.size):
        up, down = a.copy(), a.copy()
        up.flat[i] += h
        down.flat[i] -= h
        out.append((f(**{**inputs, name: up}) - f(**{**inputs, name: down})) / (2 * h))
    return np.array(out).reshape(a.shape + np.shape(out[0]))


# -- the three conventions, read correctly -------------------------------------------------


@pytest.mark.parametrize(
    ("function", "grad"),
    [
        ("quad", "quad_grad"),
        ("quad", "quad_grad_tuple"),
        ("quad_pair", None),
        ("quad_pair_list", None),
    ],
)
def test_every_way_of_returning_gradients_reads_the_same(function, grad):
    with Worker(ref(function), grad=ref(grad) if grad else None) as worker:
        assert worker.parameters() == ["W", "x"]
        call = worker.evaluate({"W": W, "x": X})
    assert call.value.shape == ()
    assert call.value == pytest.approx(0.5 * np.sum((W @ X) ** 2))
    truth = quad_truth(W, X)
    assert call.grads.keys() == truth.keys()
    for name in truth:
        np.testing.assert_allclose(call.grads[name], truth[name], rtol=1e-14)
    assert call.modified == () and call.shapes == {} and call.dtype == np.float64


def test_one_array_is_the_gradient_of_the_one_input():
    with Worker(ref("square")) as worker:
        call = worker.evaluate({"x": X})
    np.testing.assert_array_equal(call.grads["x"], 2 * X)


def test_a_layer_with_a_cache_runs_forward_then_backward_with_dout():
    x, w, b = RNG.normal(size=(2, 4)), RNG.normal(size=(4, 3)), RNG.normal(size=3)
    dout = RNG.normal(size=(2, 3))
    with Worker(ref("affine_forward"), backward=ref("affine_backward")) as worker:
        shape_only = worker.evaluate({"x": x, "w": w, "b": b})
        call = worker.evaluate({"x": x, "w": w, "b": b}, dout=dout)
    assert shape_only.value.shape == (2, 3) and shape_only.grads == {}
    np.testing.assert_allclose(call.value, x @ w + b)
    np.testing.assert_allclose(call.grads["x"], dout @ w.T)
    np.testing.assert_allclose(call.grads["w"], x.T @ dout)
    np.testing.assert_allclose(call.grads["b"], dout.sum(axis=0))


def test_a_layer_without_a_cache_gets_the_inputs_back():
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    dout = np.array([[1.0, 2.0], [3.0, 4.0]])
    with Worker(ref("relu_forward"), backward=ref("relu_backward")) as worker:
        call = worker.evaluate({"x": x}, dout=dout)
    np.testing.assert_array_equal(call.grads["x"], [[0.0, 2.0], [3.0, 0.0]])


def test_integer_labels_pass_through_untouched_and_are_never_differentiated():
    x = RNG.normal(size=(4, 5))
    y = np.array([1, 0, 4, 2])
    with Worker(ref("softmax_loss")) as worker:
        call = worker.evaluate({"x": x, "y": y})
        assert set(call.grads) == {"x"}
        with pytest.raises(GradcheckError, match="y holds integers"):
            worker.values({"x": x, "y": y}, "y", np.array([0]), np.array([2.0]))
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert call.value == pytest.approx(-np.mean(np.log(p[np.arange(4), y])))
    assert y.dtype.kind == "i" and list(y) == [1, 0, 4, 2]


def test_a_parameter_with_a_default_is_not_required():
    with Worker(ref("scaled")) as worker:
        assert worker.parameters() == ["x"]
        assert worker.evaluate({"x": X}).value == pytest.approx(2 * X.sum())


def test_float32_code_is_reported_as_float32():
    with Worker(ref("float32_quad")) as worker:
        call = worker.evaluate({"x": X})
    assert call.dtype == np.float32 and call.grads["x"].dtype == np.float32


# -- wrong returns: errors that say what was expected and what came ------------------------


@pytest.mark.parametrize(
    ("function", "grad", "words"),
    [
        (
            "quad",
            "grad_wrong_size",
            "returned a gradient of shape (3,) for W, whose shape is (3, 4)",
        ),
        ("quad", "grad_none", "returned None (does the function end without a return?)"),
        ("quad", "grad_unknown_key", "a gradient for 'dW', which is not an input (inputs: W, x)"),
        ("quad", "grad_three", "returned 3 gradients; expected 2, one per input"),
        ("quad", "grad_one_array", "returned an array of shape (3, 4); with inputs W, x it must"),
        ("quad", "grad_text", "is a str; expected a number or a NumPy array"),
        ("vector", "grad_transposed", "returned an array of shape (3,) as its value"),
        ("no_pair", None, "without --grad it must return (value, grads), or give --grad"),
    ],
)
def test_a_wrong_return_says_what_was_expected(function, grad, words):
    worker = Worker(bad(function), grad=bad(grad) if grad else None)
    with worker, pytest.raises(ReturnError) as error:
        worker.evaluate({"W": W, "x": X} if function != "no_pair" else {"x": X})
    assert words in str(error.value)


def test_a_layer_returning_three_things_is_refused():
    worker = Worker(bad("three_outputs"), backward=ref("relu_backward"))
    with worker, pytest.raises(ReturnError, match=r"returned a tuple of 3; a layer returns out or"):
        worker.evaluate({"x": X}, dout=X)


def test_a_transposed_gradient_is_a_finding_naming_both_shapes():
    with Worker(bad("quad"), grad=bad("grad_transposed")) as worker:
        call = worker.evaluate({"W": W, "x": X})
    assert call.shapes == {"W": ((4, 3), (3, 4))}
    np.testing.assert_allclose(call.grads["W"].T, quad_truth(W, X)["W"])


def test_inputs_the_function_does_not_take_and_a_wrong_dout_are_named():
    worker = Worker(ref("square"))
    with worker:
        for _ in range(2):  # the point is held, and refused again
            with pytest.raises(GradcheckError, match=r"square cannot be called with inputs \(x, z"):
                worker.evaluate({"x": X, "z": X})
        assert worker.evaluate({"x": X}).value == pytest.approx(np.sum(X**2))
    layer = Worker(ref("relu_forward"), backward=ref("relu_backward"))
    with layer, pytest.raises(GradcheckError, match=r"dout has shape \(3,\), but relu_forward"):
        layer.evaluate({"x": X}, dout=np.ones(3))


def test_grad_and_backward_together_and_a_bad_timeout_are_refused():
    with pytest.raises(GradcheckError, match="not both"):
        Worker(ref("quad"), grad=ref("quad_grad"), backward=ref("affine_backward"))
    for timeout in (0, -1, float("inf"), float("nan")):
        with pytest.raises(GradcheckError, match="--timeout must be a positive number"):
            Worker(ref("quad"), timeout=timeout)


def test_names_that_are_not_functions_or_take_positional_only_parameters_are_refused():
    with pytest.raises(ReturnError, match="is a float, not a function"):
        Worker(bad("not_a_function")).parameters()
    with pytest.raises(ReturnError, match=r"positional-only parameters \(x\)"):
        Worker(bad("positional_only")).parameters()


# -- the user's failures: their traceback, a time limit, a crash ---------------------------


def test_an_exception_names_the_users_file_and_line():
    line = 1 + (FIXTURES / "helper.py").read_text().splitlines().index(
        '    raise ValueError(f"cannot take {x.shape}")  # raises here'
    )
    with Worker(bad("raises")) as worker:
        with pytest.raises(CodeError) as error:
            worker.evaluate({"x": X})
        # the worker survives its user's exceptions
        with pytest.raises(CodeError):
            worker.evaluate({"x": X})
    message = str(error.value)
    assert message.endswith(f"helper.py, line {line}, in explode: ValueError: cannot take (4,)")
    assert "gradcheck" not in message.replace("code_fixtures", "")


def test_an_exception_at_import_names_the_line():
    with pytest.raises(CodeError, match=r"broken_import.py, line 5, in <module>: AttributeError"):
        Worker(ref("f", "broken_import.py")).parameters()


def test_an_infinite_loop_ends_at_the_timeout_and_the_worker_starts_again():
    with Worker(bad("loops"), timeout=1.0) as worker:
        with pytest.raises(CodeTimeout, match=r"^loops did not return within 1 s \(--timeout\)$"):
            worker.evaluate({"x": X})
        with pytest.raises(CodeTimeout):
            worker.values({"x": X}, "x", np.array([0]), np.array([1.0]))
    with Worker(bad("mutates"), timeout=1.0) as worker:
        assert worker.evaluate({"x": X}).value == pytest.approx(2 * X.sum())


def test_an_import_that_never_ends_is_named():
    with pytest.raises(CodeTimeout, match=r"importing .*slow_import.py did not return within 1 s"):
        Worker(ref("f", "slow_import.py"), timeout=1.0).parameters()


def test_a_worker_that_dies_is_an_error_and_is_replaced():
    with Worker(bad("exits")) as worker:
        with pytest.raises(CodeError, match=r"exits ended the worker process \(exit code 3\)"):
            worker.evaluate({"x": X})
        with pytest.raises(CodeError, match="ended the worker"):
            worker.evaluate({"x": X})


def test_what_the_code_prints_is_kept_off_gradchecks_output(capfd):
    with Worker(bad("prints")) as worker:
        call = worker.evaluate({"x": X})
    assert call.printed == "hello from the user's code\n"
    out, err = capfd.readouterr()
    assert "hello" not in out and "hello" not in err


# -- findings: mutation, nondeterminism -------------------------------------------------------


def test_a_function_that_modifies_its_inputs_is_found_and_the_callers_arrays_are_untouched():
    x = X.copy()
    with Worker(bad("mutates")) as worker:
        call = worker.evaluate({"x": x})
        rows = worker.values({"x": x}, "x", np.array([0, 0, 1]), np.array([1.0, 2.0, 3.0]))
    assert call.modified == ("x",)
    np.testing.assert_array_equal(x, X)
    # each row saw the point, not what the previous call left behind
    expected = [2 * (X.sum() - X[0] + 1.0), 2 * (X.sum() - X[0] + 2.0), 2 * (X.sum() - X[1] + 3.0)]
    np.testing.assert_allclose(rows, expected)


def test_a_backward_that_writes_into_dout_is_found():
    x = np.array([-1.0, 2.0, -3.0])
    dout = np.array([1.0, 1.0, 1.0])
    with Worker(bad("relu_forward"), backward=bad("relu_backward_mutates")) as worker:
        call = worker.evaluate({"x": x}, dout=dout)
    assert call.modified == ("dout",)
    np.testing.assert_array_equal(dout, [1.0, 1.0, 1.0])


def test_nondeterminism_is_found_and_determinism_is_not_doubted():
    with Worker(bad("dropout")) as worker:
        verdict = worker.deterministic({"x": X})
    assert isinstance(verdict, str) and "different values" in verdict and "dropout" in verdict
    with Worker(ref("quad"), grad=ref("quad_grad")) as worker:
        assert worker.deterministic({"W": W, "x": X}) is True
    with Worker(ref("affine_forward"), backward=ref("affine_backward")) as worker:
        point = {"x": np.ones((2, 4)), "w": W.T, "b": np.zeros(3)}
        assert worker.deterministic(point, dout=np.ones((2, 3))) is True


# -- batches: values, along, complex step ---------------------------------------------------


def test_values_match_a_direct_loop():
    good = fixture("good")
    point = {"W": W, "x": X}
    h = 1e-6
    with Worker(ref("quad"), grad=ref("quad_grad")) as worker:
        flat = np.arange(W.size)
        up = worker.values(point, "W", flat, W.ravel() + h)
        down = worker.values(point, "W", flat, W.ravel() - h)
    assert up.shape == (W.size,)
    for i in flat:
        moved = W.copy()
        moved.flat[i] += h
        assert up[i] == good.quad(moved, X)
    np.testing.assert_allclose((up - down) / (2 * h), central(good.quad, point, "W").ravel())


def test_values_of_a_layer_are_rows_of_outputs_or_of_their_product_with_dout():
    good = fixture("good")
    x, w, b = RNG.normal(size=(2, 4)), RNG.normal(size=(4, 3)), RNG.normal(size=3)
    dout = RNG.normal(size=(2, 3))
    point = {"x": x, "w": w, "b": b}
    with Worker(ref("affine_forward"), backward=ref("affine_backward")) as worker:
        rows = worker.values(point, "w", np.array([0, 5]), np.array([7.0, -7.0]))
        dotted = worker.values(point, "w", np.array([0, 5]), np.array([7.0, -7.0]), dout=dout)
        call = worker.evaluate(point, dout=dout)
    moved = w.copy()
    moved.flat[5] = -7.0
    assert rows.shape == (2, 2, 3)
    np.testing.assert_allclose(rows[1], good.affine_forward(x, moved, b)[0])
    np.testing.assert_allclose(dotted[1], np.sum(good.affine_forward(x, moved, b)[0] * dout))
    # the vector-Jacobian product: differences of sum(out * dout) against backward's dw
    h = 1e-5
    flat = np.arange(w.size)
    with Worker(ref("affine_forward"), backward=ref("affine_backward")) as worker:
        up = worker.values(point, "w", flat, w.ravel() + h, dout=dout)
        down = worker.values(point, "w", flat, w.ravel() - h, dout=dout)
    np.testing.assert_allclose((up - down) / (2 * h), call.grads["w"].ravel(), rtol=1e-8)


def test_along_moves_every_input_of_the_direction():
    point = {"W": W, "x": X}
    u = {"W": RNG.normal(size=W.shape), "x": np.zeros(4)}
    u["x"][2] = 1.0  # mostly zero: sent sparse
    ts = np.array([-0.5, 0.0, 0.25])
    with Worker(ref("quad"), grad=ref("quad_grad")) as worker:
        got = worker.along(point, u, ts)
    for t, value in zip(ts, got):
        assert value == pytest.approx(0.5 * np.sum(((W + t * u["W"]) @ (X + t * u["x"])) ** 2))


def test_complex_step_is_used_where_the_code_carries_it():
    h = 1e-20
    point = {"W": W, "x": X}
    with Worker(ref("quad"), grad=ref("quad_grad")) as worker:
        rows = worker.values(point, "x", np.arange(4), X + 1j * h)
        along = worker.along(point, {"x": np.eye(4)[1]}, np.array([1j * h]))
    np.testing.assert_allclose(rows.imag / h, quad_truth(W, X)["x"], rtol=1e-13)
    assert along[0].imag / h == pytest.approx(quad_truth(W, X)["x"][1], rel=1e-13)


@pytest.mark.parametrize(
    ("function", "words"),
    [
        ("uses_real", "returned a real result for complex input"),
        ("uses_abs", "disagrees with differences"),
        ("to_float", "raised ComplexWarning"),
    ],
)
def test_complex_step_is_refused_where_the_code_drops_the_imaginary_part(function, words):
    x = np.array([0.5, -1.5, 2.0])
    with Worker(bad(function)) as worker:
        with pytest.raises(ComplexStepRefused, match=f"complex step does not apply: .*{words}"):
            worker.values({"x": x}, "x", np.arange(3), x + 1e-20j)
        # the same code still answers real requests
        assert worker.values({"x": x}, "x", np.array([0]), np.array([1.0])).shape == (1,)


def test_complex_step_through_maximum_holds_away_from_the_kink_and_is_refused_on_it():
    # NumPy orders complex numbers by their real parts first, so maximum(0, x + ih) keeps
    # the imaginary part exactly where x > 0: correct off the kink, refused on it.
    x = np.array([0.5, -1.5, 2.0])
    with Worker(bad("uses_maximum")) as worker:
        rows = worker.values({"x": x}, "x", np.arange(3), x + 1e-20j)
        np.testing.assert_array_equal(rows.imag / 1e-20, [1.0, 0.0, 1.0])
        on_kink = np.array([0.0, 1.0])
        with pytest.raises(ComplexStepRefused, match="disagrees with differences"):
            worker.values({"x": on_kink}, "x", np.array([0]), on_kink[:1] + 1e-20j)


def test_a_point_is_resent_only_when_it_changed():
    point = {"W": W, "x": X}
    with Worker(ref("quad"), grad=ref("quad_grad")) as worker:
        worker.evaluate(point)
        assert worker._point({"W": W.copy(), "x": X.copy()}) is None
        moved = X.copy()
        moved[0] += 1e-12
        value = worker.evaluate({"W": W, "x": moved}).value
        again = worker.evaluate(point).value
    assert value == 0.5 * np.sum((W @ moved) ** 2)
    assert again == 0.5 * np.sum((W @ X) ** 2)


def test_the_worker_is_another_process_and_the_parent_never_imports_the_code():
    with Worker(ref("quad"), grad=ref("quad_grad")) as worker:
        worker.parameters()
        assert worker._process.pid != os.getpid()
    assert "good" not in sys.modules


def test_an_output_buffer_reused_by_the_code_does_not_alias_the_rows():
    x = np.array([1.0, 2.0, 3.0])
    with Worker(bad("reuses_buffer"), backward=ref("relu_backward")) as worker:
        rows = worker.values({"x": x}, "x", np.array([0, 1]), np.array([10.0, 20.0]))
    np.testing.assert_array_equal(rows, [[20.0, 4.0, 6.0], [2.0, 40.0, 6.0]])


def test_an_output_whose_shape_changes_between_rows_is_named():
    x = np.array([1.0, 2.0, 3.0])
    with (
        Worker(bad("shape_changes"), backward=ref("relu_backward")) as worker,
        pytest.raises(ReturnError, match=r"an array of shape \(2,\) at one point and an array"),
    ):
        worker.values({"x": x}, "x", np.array([1, 0]), np.array([5.0, -1.0]))


def test_a_batch_beyond_the_entries_limit_is_refused_before_it_runs():
    x = np.ones(10_000)
    rows = limits.ENTRIES.value // x.size + 1
    layer = Worker(ref("relu_forward"), backward=ref("relu_backward"))
    limit = r"a batch has 10,010,000 entries, above the limit of 10,000,000; --max-entries"
    with layer, pytest.raises(GradcheckError, match=limit):
        layer.values({"x": x}, "x", np.zeros(rows, dtype=int), np.ones(rows))


def test_a_spawned_worker_behaves_as_a_forked_one(monkeypatch):
    monkeypatch.setattr(worker_module, "START", "spawn")  # macOS and Windows
    with Worker(ref("quad"), grad=ref("quad_grad")) as worker:
        call = worker.evaluate({"W": W, "x": X})
        rows = worker.values({"W": W, "x": X}, "x", np.array([0]), X[:1] + 1.0)
    np.testing.assert_allclose(call.grads["x"], quad_truth(W, X)["x"])
    moved = X.copy()
    moved[0] += 1.0
    assert rows[0] == pytest.approx(0.5 * np.sum((W @ moved) ** 2))


def test_a_request_interrupted_by_the_problems_deadline_leaves_no_stale_reply():
    with Worker(bad("sleeps"), timeout=30) as worker:
        with pytest.raises(TimeLimit), deadline(0.3, "the problem"):
            worker.evaluate({"x": np.array([2.0])})
        # the reply to the interrupted request never answers the next one
        assert worker.evaluate({"x": np.array([0.0])}).value == 0.0
        assert worker.evaluate({"x": np.array([0.01])}).value == 0.01
