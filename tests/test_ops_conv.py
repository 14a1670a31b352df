"""conv2d and max_pool2d, NCHW as CS231n teaches them, against CS231n's naive loops.

The forward and backward passes of ``conv_forward_naive``, ``conv_backward_naive``,
``max_pool_forward_naive`` and ``max_pool_backward_naive`` are written here by hand, loop
by loop, as the assignment has students write them; gradcheck's vectorised rules are
held against them, against central differences, against the symbolic tape, perturbed
copies and complex step, and checked end to end. Ties in a pooling window are a kink.
"""

from dataclasses import replace

import numpy as np
import pytest

import gradcheck
from gradcheck.engine import symbolic
from gradcheck.engine.ops import OPS
from gradcheck.engine.perturb import Perturbation
from gradcheck.errors import ExpressionError, ShapeError

from .conftest import batched, program
from .oracles import assert_tape_matches_backprop, assert_vjp_matches_central, projected

# ---------------------------------------------------------------- CS231n, by hand


def conv_forward_naive(x, w, b, stride, pad):
    """CS231n's six loops: each output entry a filter's sum over its window."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    for c in range(C):
                        for di in range(HH):
                            for dj in range(WW):
                                out[n, f, i, j] += (
                                    xp[n, c, i * stride + di, j * stride + dj] * w[f, c, di, dj]
                                )
                    out[n, f, i, j] += 0.0 if b is None else b[f]
    return out


def conv_backward_naive(dout, x, w, stride, pad):
    """CS231n's backward pass, loop by loop: dx, dw, db."""
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    rows = slice(i * stride, i * stride + HH)
                    columns = slice(j * stride, j * stride + WW)
                    dxp[n, :, rows, columns] += dout[n, f, i, j] * w[f]
                    dw[f] += dout[n, f, i, j] * xp[n, :, rows, columns]
    db = dout.sum(axis=(0, 2, 3))
    return dxp[:, :, pad : pad + H, pad : pad + W], dw, db


def max_pool_forward_naive(x, size, stride):
    N, C, H, W = x.shape
    H_out, W_out = 1 + (H - size) // stride, 1 + (W - size) // stride
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride : i * stride + size, j * stride : j * stride + size]
                    out[n, c, i, j] = np.max(window)
    return out


def max_pool_backward_naive(dout, x, size, stride):
    """Each window's upstream gradient to the entry that attains its max."""
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(dout.shape):
        window = x[n, c, i * stride : i * stride + size, j * stride : j * stride + size]
        di, dj = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, i * stride + di, j * stride + dj] += dout[n, c, i, j]
    return dx


# ---------------------------------------------------------------- cases


def distinct(rng, *shape):
    """Values away from each other (no ties in a window) and from 0."""
    size = int(np.prod(shape))
    spaced = (np.arange(size) + 0.5) / size * 2.4 + 0.3
    return (rng.permutation(spaced) * rng.choice([-1.0, 1.0], size=size)).reshape(shape)


#: (expression, input shapes, stride, padding): conv2d layers CS231n's loops can compute.
CONV = [
    ("conv2d(x, w)", {"x": (2, 3, 5, 5), "w": (2, 3, 3, 3)}, 1, 0),
    ("conv2d(x, w, stride=1, padding=1)", {"x": (2, 3, 4, 4), "w": (4, 3, 3, 3)}, 1, 1),
    (
        "conv2d(x, w, b, stride=2, padding=1)",
        {"x": (1, 2, 5, 5), "w": (3, 2, 3, 3), "b": (3,)},
        2,
        1,
    ),
    ("conv2d(x, w, b, stride=2)", {"x": (2, 1, 6, 6), "w": (2, 1, 2, 2), "b": (2,)}, 2, 0),
    ("conv2d(x, w, stride=3, padding=2)", {"x": (1, 2, 4, 5), "w": (2, 2, 3, 2)}, 3, 2),
]
POOL = [
    ("max_pool2d(x, 2)", {"x": (2, 2, 4, 4)}, 2, 2),
    ("max_pool2d(x, 2, 1)", {"x": (1, 2, 4, 5)}, 2, 1),
    ("max_pool2d(x, size=3, stride=2)", {"x": (2, 1, 5, 7)}, 3, 2),
]
#: Every case, with the input values drawn for it.
CASES = [(text, shapes) for text, shapes, *_ in CONV + POOL] + [
    ("conv2d(x, w, stride=(2, 1), padding=(0, 1))", {"x": (1, 2, 5, 4), "w": (2, 2, 3, 2)}),
    ("max_pool2d(x, (2, 3), (1, 2))", {"x": (1, 2, 4, 7)}),
    ("max_pool2d(relu(conv2d(x, w, padding=1)), 2)", {"x": (1, 2, 4, 4), "w": (2, 2, 3, 3)}),
]
IDS = [text for text, _ in CASES]


def values_for(shapes, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: distinct(rng, *shape) for name, shape in shapes.items()}


# ---------------------------------------------------------------- against CS231n's loops


@pytest.mark.parametrize(("text", "shapes", "stride", "pad"), CONV, ids=[c[0] for c in CONV])
def test_conv2d_is_conv_forward_naive_and_its_vjps_conv_backward_naive(text, shapes, stride, pad):
    values = values_for(shapes)
    x, w, b = values["x"], values["w"], values.get("b")
    p = program(text, **shapes)
    out = p.value(batched(**values))[0]
    np.testing.assert_allclose(
        out, conv_forward_naive(x, w, b, stride, pad), rtol=1e-13, atol=1e-14
    )
    dout = np.random.default_rng(2).normal(size=out.shape)
    full = program(f"sum(({text}) * dout)", **shapes, dout=out.shape)
    _, grads = full.gradient(batched(**values, dout=dout), list(values))
    dx, dw, db = conv_backward_naive(dout, x, w, stride, pad)
    np.testing.assert_allclose(grads["x"][0], dx, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(grads["w"][0], dw, rtol=1e-13, atol=1e-14)
    if b is not None:
        np.testing.assert_allclose(grads["b"][0], db, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize(("text", "shapes", "size", "stride"), POOL, ids=[c[0] for c in POOL])
def test_max_pool2d_is_the_naive_pooling_forward_and_backward(text, shapes, size, stride):
    x = values_for(shapes)["x"]
    p = program(text, **shapes)
    out = p.value(batched(x=x))[0]
    np.testing.assert_array_equal(out, max_pool_forward_naive(x, size, stride))
    dout = np.random.default_rng(2).normal(size=out.shape)
    full = program(f"sum(({text}) * dout)", **shapes, dout=out.shape)
    _, grads = full.gradient(batched(x=x, dout=dout), ["x"])
    np.testing.assert_allclose(
        grads["x"][0], max_pool_backward_naive(dout, x, size, stride), rtol=1e-14
    )  # overlapping windows add in another order


# ---------------------------------------------------------------- every case, every way


@pytest.mark.parametrize(("text", "shapes"), CASES, ids=IDS)
def test_vjp_matches_central_differences(text, shapes):
    values = values_for(shapes)
    full, all_values = projected(text, shapes, values)
    assert_vjp_matches_central(full, all_values, values, text)


@pytest.mark.parametrize(("text", "shapes"), CASES, ids=IDS)
def test_symbolic_tape_agrees_with_backprop(text, shapes):
    values = values_for(shapes)
    full, all_values = projected(text, shapes, values)
    assert symbolic.expanded_size(full) < symbolic.SIZE_LIMIT
    assert_tape_matches_backprop(full, all_values, values)


@pytest.mark.parametrize(("text", "shapes"), CASES, ids=IDS)
def test_perturbed_copies_match_whole_evaluations(text, shapes):
    values = values_for(shapes)
    full, all_values = projected(text, shapes, values)
    point = full.forward(batched(**all_values))
    for name in values:
        at = np.arange(values[name].size)
        entry = values[name].ravel() + 1e-3 * (1 + at % 7)
        got, _ = Perturbation(full, point, name)(at, entry)
        for k in at:
            moved = {n: v.copy() for n, v in all_values.items()}
            moved[name].flat[k] = entry[k]
            assert got[k] == pytest.approx(full.value(batched(**moved))[0], rel=1e-13, abs=1e-14)


@pytest.mark.parametrize(("text", "shapes"), CASES, ids=IDS)
def test_checks_end_to_end(text, shapes):
    values = values_for(shapes)
    _, all_values = projected(text, shapes, values)
    at = [f"{n}={v.tolist()}" for n, v in all_values.items()]
    report = gradcheck.check(gradcheck.problem(f"sum(({text}) * G)", at=at, wrt=list(values)))
    (result,) = report.problems
    assert result.status == "pass", (result.message, result.notes)


def test_convolution_is_analytic_and_complex_step_agrees_with_backprop():
    shapes = {"x": (1, 2, 4, 4), "w": (3, 2, 3, 3), "b": (3,)}
    values = values_for(shapes)
    full, all_values = projected("conv2d(x, w, b, padding=1)", shapes, values)
    assert OPS["conv2d"].complex_safe and not OPS["max_pool2d"].complex_safe
    _, grads = full.gradient(batched(**all_values), list(values))
    rng = np.random.default_rng(3)
    for name in values:
        v = rng.normal(size=values[name].shape)
        moved = dict(batched(**all_values))
        moved[name] = moved[name] + 1e-20j * v[None]
        jv = np.imag(full.value(moved, dtype=np.complex128))[0] / 1e-20
        assert jv == pytest.approx(np.sum(grads[name][0] * v), rel=1e-12), name


# ---------------------------------------------------------------- the CS231n-size layer


def test_a_cs231n_size_layer_is_checked_with_complex_step_as_reference():
    # x 2x3x8x8, w 4x3x3x3, padding 1: 2*4*3 images-filters-channels, each 22 x 22 taps
    # that read the image, not its padding; above the symbolic limit, so complex step
    p = program(
        "sum(conv2d(x, w, stride=1, padding=1) * G)", x=(2, 3, 8, 8), w=(4, 3, 3, 3), G=(2, 4, 8, 8)
    )
    assert symbolic.expanded_size(p) == 2 * 4 * 3 * 22 * 22 + 2 * 512
    report = gradcheck.check(
        gradcheck.problem(
            "sum(conv2d(x, w, stride=1, padding=1) * G)",
            at=["x=random(2, 3, 8, 8)", "w=random(4, 3, 3, 3)", "G=random(2, 4, 8, 8)"],
            wrt=["x", "w"],
        )
    )
    (result,) = report.problems
    assert result.status == "pass"
    assert any("complex step is the reference" in note for note in result.notes)
    assert result.points[0].gradient["x"].status.shape == (2, 3, 8, 8)


# ---------------------------------------------------------------- switches and ties


def test_a_tie_in_a_pooling_window_is_a_kink_not_a_failure():
    at = ["x=[[[[1.5, 1.5], [0.2, -1], [0, 3]]]]", "G=[[[[2], [1]]]]"]  # no tie in window 2
    problem = gradcheck.problem("sum(max_pool2d(x, (2, 2), (1, 2)) * G)", at=at, wrt=["x"])
    (result,) = gradcheck.check(problem).problems
    assert result.status == "kink"
    status = result.points[0].gradient["x"].status
    assert status[0, 0, 0, 0] == status[0, 0, 0, 1] == "kink"
    assert status[0, 0, 2, 1] == "pass"
    (result,) = gradcheck.check(
        gradcheck.problem(
            "sum(max_pool2d(x, 2) * G)", at=["x=[[[[1.5, 1.4], [0.2, -1]]]]", "G=[[[[2]]]]"]
        )
    ).problems
    assert result.status == "pass"


def test_ties_split_the_gradient_evenly_and_the_switch_is_the_gap():
    p = program("sum(max_pool2d(x, 2) * [[[[1, 10]]]])", x=(1, 1, 2, 4))
    x = np.array([[[[3.0, 3.0, 1.0, 0.5], [3.0, 0.0, 2.0, 0.5]]]])
    _, grads = p.gradient(batched(x=x), ["x"])
    np.testing.assert_array_equal(grads["x"][0], [[[[1 / 3, 1 / 3, 0, 0], [1 / 3, 0, 10, 0]]]])
    values = p.forward(batched(x=x))
    (i,) = p.nonsmooth()
    assert p.nodes[i].op == "max_pool2d"
    np.testing.assert_array_equal(OPS["max_pool2d"].switch(x[None], size=2)[0], [[[[0.0, 1.0]]]])
    np.testing.assert_array_equal(p.branches(values)[i][0], [[[[-1, 2]]]])  # a tie; entry 2
    assert p.switch_distances(values)[i] == 0.0
    # moving an entry of the second window above its max changes the branch: a kink
    moved = p.forward(batched(x=x + np.array([[[[0, 0, 0, 2.0], [0, 0, 0, 0]]]])))
    assert p.first_crossed(moved, p.branches(values))[0] == i


def test_a_window_of_one_entry_never_switches():
    x = np.arange(4.0).reshape(1, 1, 2, 2)
    assert np.all(np.isinf(OPS["max_pool2d"].switch(x[None], size=1)))


# ---------------------------------------------------------------- planted mistakes


@pytest.mark.parametrize(("k", "wrong", "right"), [(0, "x", "w"), (1, "w", "x")])
def test_a_planted_wrong_conv2d_vjp_is_caught_and_named(k, wrong, right, monkeypatch):
    good = OPS["conv2d"]
    planted = list(good.vjps)
    planted[k] = lambda g, o, *a, **p: 1.01 * good.vjps[k](g, o, *a, **p)
    monkeypatch.setitem(OPS, "conv2d", replace(good, vjps=tuple(planted)))
    at = ["x=random(1, 2, 5, 5)", "w=random(3, 2, 3, 3)", "G=random(1, 3, 5, 5)"]
    expression = "sum(conv2d(x, w, padding=1) * G)"
    (result,) = gradcheck.check(gradcheck.problem(expression, at=at, wrt=["x", "w"])).problems
    assert result.status == "fail"
    gradient = result.points[0].gradient
    assert np.all(gradient[wrong].status == "fail")  # the wrong input is the one named
    assert np.all(gradient[right].status == "pass")
    monkeypatch.setitem(OPS, "conv2d", good)
    (result,) = gradcheck.check(gradcheck.problem(expression, at=at, wrt=["x", "w"])).problems
    assert result.status == "pass"


def test_a_planted_wrong_max_pool_vjp_is_caught(monkeypatch):
    good = OPS["max_pool2d"]
    wrong = replace(good, vjps=(lambda g, o, x, **p: 0.5 * good.vjps[0](g, o, x, **p),))
    monkeypatch.setitem(OPS, "max_pool2d", wrong)
    at = ["x=random(1, 2, 4, 4)", "G=random(1, 2, 2, 2)"]
    (result,) = gradcheck.check(gradcheck.problem("sum(max_pool2d(x, 2) * G)", at=at)).problems
    assert result.status == "fail"


# ---------------------------------------------------------------- messages


@pytest.mark.parametrize(
    ("text", "shapes", "message"),
    [
        (
            "conv2d(x, w)",
            {"x": (2, 3, 8, 8), "w": (4, 2, 3, 3)},
            "shapes do not fit in conv2d(...): x has shape (2, 3, 8, 8) and w has shape "
            "(4, 2, 3, 3); x has 3 channels but the filters in w have 2",
        ),
        ("conv2d(x, w)", {"x": (3, 8, 8), "w": (4, 3, 3, 3)}, "x must be a batch of images"),
        ("conv2d(x, w)", {"x": (1, 3, 8, 8), "w": (3, 3, 3)}, "w must be the filters"),
        (
            "conv2d(x, w, b)",
            {"x": (1, 3, 8, 8), "w": (4, 3, 3, 3), "b": (3,)},
            "b has shape (3,); b must have shape (4,): one bias for each of the 4 filters",
        ),
        (
            "conv2d(x, w)",
            {"x": (1, 3, 2, 8), "w": (4, 3, 3, 3)},
            "the filter (3, 3) is larger than the image (2, 8)",
        ),
        ("conv2d(x, w, padding=1)", {"x": (1, 3, 2, 8), "w": (4, 3, 3, 3)}, None),
        (
            "conv2d(x, w, stride=0)",
            {"x": (1, 3, 8, 8), "w": (4, 3, 3, 3)},
            "stride=0 must be at least 1",
        ),
        (
            "conv2d(x, w, padding=-1)",
            {"x": (1, 3, 8, 8), "w": (4, 3, 3, 3)},
            "padding=-1 must be at least 0",
        ),
        (
            "conv2d(x, w, stride=(1, 2, 1))",
            {"x": (1, 3, 8, 8), "w": (4, 3, 3, 3)},
            "stride=(1, 2, 1) must be one integer or two",
        ),
        ("max_pool2d(x, 3)", {"x": (1, 1, 2, 4)}, "the window (3, 3) is larger than the image"),
        ("max_pool2d(x, 2)", {"x": (4, 4)}, "x must be a batch of images, of shape (N, C, H, W)"),
    ],
)
def test_shapes_that_do_not_fit_are_refused_naming_them(text, shapes, message):
    if message is None:  # padding makes room
        assert program(text, **shapes).root.shape == (1, 4, 2, 8)
        return
    with pytest.raises(ShapeError) as caught:
        program(text, **shapes)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_pool2d(x)", "max_pool2d() needs size"),
        (
            "max_pool2d(x, 2, padding=1)",
            "max_pool2d() does not take the keyword 'padding'; it takes size, stride",
        ),
        ("conv2d(x, w, stride=s)", "stride must be written as an integer or a tuple"),
        ("conv2d(x, w, dilation=2)", "it takes stride, padding"),
        ("conv2d(x)", "conv2d() takes 2 or 3 arguments, got 1"),
        ("max_pool2d(x, 2.5)", "size must be written as an integer or a tuple"),
    ],
)
def test_keywords_are_accepted_only_as_declared(text, message):
    with pytest.raises(ExpressionError) as caught:
        program(text, x=(1, 1, 4, 4), w=(1, 1, 2, 2), s=())
    assert message in caught.value.message


# ---------------------------------------------------------------- the rules, called directly

_r = np.random.default_rng(13)

#: Arguments (no batch axis), params and the arguments differentiated, for each op here.
RULE_ARGUMENTS = {
    "conv2d": (
        [distinct(_r, 2, 2, 4, 5), distinct(_r, 3, 2, 3, 2), distinct(_r, 3)],
        {"stride": (2, 1), "padding": 1},
        [0, 1, 2],
    ),
    "max_pool2d": ([distinct(_r, 1, 2, 4, 4)], {"size": 2, "stride": 1}, [0]),
}


def test_the_rules_called_directly_keep_the_shape_rule_and_complex_step_holds():
    for name, (args, params, _) in RULE_ARGUMENTS.items():
        op = OPS[name]
        out = op.forward(*(a[None] for a in args), **params)
        assert out.shape[1:] == op.shape(*(a.shape for a in args), **params), name
    op = OPS["conv2d"]
    args, params, differentiated = RULE_ARGUMENTS["conv2d"]
    args = [a[None] for a in args]
    out = op.forward(*args, **params)
    u = _r.normal(size=out.shape)
    for k in differentiated:
        v = _r.normal(size=args[k].shape)
        moved = list(args)
        moved[k] = args[k] + 1e-20j * v
        jv = np.imag(op.forward(*moved, **params)) / 1e-20
        vjp = op.vjps[k](u, out, *args, **params)
        assert np.sum(u * jv) == pytest.approx(np.sum(vjp * v), rel=1e-12), k


def test_batches_of_points_broadcast_against_shared_arguments():
    # perturbed copies of w against one x, and of x against one w: each row its own conv
    rng = np.random.default_rng(4)
    x, w = distinct(rng, 3, 1, 2, 4, 4), distinct(rng, 3, 2, 2, 3, 3)
    op = OPS["conv2d"]
    both = op.forward(x, w, padding=1)
    for row in range(3):
        np.testing.assert_allclose(op.forward(x[row : row + 1], w, padding=1)[row], both[row])
        np.testing.assert_allclose(op.forward(x, w[row : row + 1], padding=1)[row], both[row])
        expected = conv_forward_naive(x[row], w[row], None, 1, 1)
        np.testing.assert_allclose(both[row], expected, rtol=1e-13, atol=1e-14)
