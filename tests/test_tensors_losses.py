"""Losses as CS231n writes them, vectorised, against gradients worked out by hand in NumPy
here (the course's own formulas), never by gradcheck: softmax, SVM, batch norm."""

import numpy as np
import pytest

import gradcheck
from gradcheck.engine import symbolic
from gradcheck.engine.tape import evaluate

from .conftest import batched, program

N, D, C = 4, 5, 3
LABELS = [0, 2, 1, 1]


def draw(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, D)), 0.5 * rng.normal(size=(D, C))


def softmax_loss_gradient(X, W, y):
    """CS231n's softmax_loss_vectorized: dW = X^T (P - Y) / N."""
    scores = X @ W
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(len(y)), y]))
    p[np.arange(len(y)), y] -= 1
    return loss, X.T @ p / len(y)


def svm_loss_gradient(X, W, y):
    """CS231n's svm_loss_vectorized: margins above 0 count +1 for their class, and -their
    number for the correct class."""
    scores = X @ W
    correct = scores[np.arange(len(y)), y][:, None]
    margins = np.maximum(0, scores - correct + 1)
    margins[np.arange(len(y)), y] = 0
    counts = (margins > 0).astype(float)
    counts[np.arange(len(y)), y] = -counts.sum(axis=1)
    return margins.sum() / len(y), X.T @ counts / len(y)


def batchnorm_gradient(x, G, eps=1e-5):
    """The batch-norm backward pass as CS231n's layers.py derives it."""
    n = x.shape[0]
    mu = x.mean(axis=0)
    inv = 1 / np.sqrt(x.var(axis=0) + eps)
    xhat = (x - mu) * inv
    dx = inv / n * (n * G - G.sum(axis=0) - xhat * np.sum(G * xhat, axis=0))
    return np.sum(xhat * G), dx


SOFTMAX = "mean(logsumexp(X @ W, axis=1) - (X @ W)[arange(4), {y}])"
SVM = "sum(max(X @ W - (X @ W)[arange(4), {y}][:, None] + 1, 0) * (1 - one_hot({y}, 3))) / 4"
BATCHNORM = "sum((x - mean(x, axis=0)) / sqrt(var(x, axis=0) + 1e-5) * G)"


def checked(expression, values, wrt):
    at = [f"{n}={np.asarray(v).tolist()}" for n, v in values.items()]
    (result,) = gradcheck.check(gradcheck.problem(expression, at=at, wrt=wrt)).problems
    assert result.status == "pass", (result.message, result.notes)
    return result.points[0]


@pytest.mark.parametrize(
    ("expression", "reference"), [(SOFTMAX, softmax_loss_gradient), (SVM, svm_loss_gradient)]
)
def test_cs231n_losses_match_the_hand_gradient(expression, reference):
    X, W = draw()
    loss, dW = reference(X, W, np.array(LABELS))
    point = checked(expression.format(y=LABELS), {"X": X, "W": W}, ["W"])
    assert point.value == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(point.gradient["W"].backprop, dW, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(point.gradient["W"].symbolic, dW, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    ("expression", "reference"), [(SOFTMAX, softmax_loss_gradient), (SVM, svm_loss_gradient)]
)
def test_with_the_labels_as_an_input_too(expression, reference):
    # y an integer input: never differentiated, lowered with its values
    X, W = draw(1)
    y = np.array([2, 0, 0, 1])
    loss, dW = reference(X, W, y)
    p = program(expression.format(y="y"), X=(N, D), W=(D, C), y=(N,))
    value, grads = p.gradient(batched(X=X, W=W, y=y.astype(float)), ["W"])
    assert value[0] == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(grads["W"][0], dW, rtol=1e-10, atol=1e-14)
    tape = symbolic.tape_for(p, ["W"], {"y": y})
    sym_value, sym = evaluate(tape, {"X": X, "W": W})
    assert sym_value == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(sym["W"], dW.ravel(), rtol=1e-10, atol=1e-14)


def test_batchnorm_matches_the_hand_gradient():
    rng = np.random.default_rng(2)
    x, G = rng.normal(size=(8, 4)), rng.normal(size=(8, 4))
    value, dx = batchnorm_gradient(x, G)
    point = checked(BATCHNORM, {"x": x, "G": G}, ["x"])
    assert point.value == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(point.gradient["x"].backprop, dx, rtol=1e-9, atol=1e-12)


def test_a_wrong_hand_gradient_would_have_been_told_apart():
    # the references above are not vacuous: a classic slip (forgetting the 1/N) differs
    X, W = draw()
    _, dW = softmax_loss_gradient(X, W, np.array(LABELS))
    point = checked(SOFTMAX.format(y=LABELS), {"X": X, "W": W}, ["W"])
    assert not np.allclose(point.gradient["W"].backprop, dW * N, rtol=1e-3)
