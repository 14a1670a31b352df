"""Correct gradients, one per convention (fixtures for tests/test_code_*.py)."""

import numpy as np


def quad(W, x):
    """sum((W x)^2) / 2: its gradient is (W x) x^T for W and W^T (W x) for x."""
    return 0.5 * np.sum((W @ x) ** 2)


def quad_grad(W, x):
    r = W @ x
    return {"W": np.outer(r, x), "x": W.T @ r}


def quad_grad_tuple(W, x):
    r = W @ x
    return np.outer(r, x), W.T @ r


def quad_pair(W, x):
    return quad(W, x), quad_grad(W, x)


def quad_pair_list(W, x):
    return [quad(W, x), list(quad_grad_tuple(W, x))]


def square(x):
    return np.sum(x**2), 2 * x


def affine_forward(x, w, b):
    out = x @ w + b
    return out, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(0, x)


def relu_backward(dout, x):
    return dout * (x > 0)


def softmax_loss(x, y):
    """Cross-entropy of softmax scores x (N, C) against integer labels y (N,)."""
    s = x - x.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.sum(np.log(p[np.arange(n), y])) / n
    dx = p.copy()
    dx[np.arange(n), y] -= 1
    return loss, dx / n


def scaled(x, scale=2.0):
    """A parameter with a default is not required."""
    return scale * np.sum(x), scale * np.ones_like(x)


def float32_quad(x):
    x = x.astype(np.float32)
    return np.sum(x * x), 2 * x
