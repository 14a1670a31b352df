"""A CS231n-style layers file: forward and backward pairs, and two losses. All right.

Every function here is correct; ``layers_buggy.py`` plants mistakes in copies of them.
Layers return ``(out, cache)`` and their backward takes ``(dout, cache)`` and returns
the gradient of every input in parameter order; losses take scores and integer labels
and return ``(loss, dx)``.

    gradcheck func examples/layers.py:affine_forward \\
        --backward examples/layers.py:affine_backward \\
        --at "x=random(4,5)" --at "w=random(5,3)" --at "b=random(3)"
    gradcheck func examples/layers.py:softmax_loss \\
        --at "x=random(6,10)" --at "y=[1,3,0,9,2,2]" --wrt x

``relu_backward`` and ``svm_loss`` are piecewise linear: at a point exactly on a kink
(an entry of ``x`` at 0, a margin at 0) gradcheck says ``kink``, not ``fail``.
"""

import numpy as np


def affine_forward(x, w, b):
    """out = x w + b, for x of shape (N, D), w (D, M), b (M,)."""
    out = x @ w + b
    return out, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    dx = dout @ w.T
    dw = x.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    x = cache
    return dout * (x > 0)


def softmax_loss(x, y):
    """Mean cross-entropy of the softmax of scores x (N, C) against labels y (N,)."""
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(n), y].mean()
    dx = np.exp(log_p)
    dx[np.arange(n), y] -= 1
    return loss, dx / n


def svm_loss(x, y):
    """Mean multiclass hinge loss, margin 1, of scores x (N, C) against labels y (N,)."""
    n = x.shape[0]
    correct = x[np.arange(n), y][:, None]
    margins = np.maximum(0, x - correct + 1.0)
    margins[np.arange(n), y] = 0
    loss = margins.sum() / n
    dx = (margins > 0).astype(float)
    dx[np.arange(n), y] = -dx.sum(axis=1)
    return loss, dx / n


def l2_loss(w, reg):
    """reg * sum(w^2), and its gradient 2 reg w."""
    return reg * np.sum(w * w), {"w": 2 * reg * w}


def tied_loss(w, x):
    """A tied-weight autoencoder: h = relu(w x), r = w^T h, loss = |r - x|^2 / 2.

    w is used twice, so its gradient is the sum of two terms: the decoder's (h e^T, with
    e = r - x) and the encoder's ((w e) * (w x > 0)) x^T.
    """
    a = w @ x
    h = np.maximum(0, a)
    e = w.T @ h - x
    dh = w @ e
    dw = np.outer(h, e)
    dw += np.outer(dh * (a > 0), x)
    return 0.5 * e @ e, {"w": dw, "x": w.T @ (dh * (a > 0)) - e}
