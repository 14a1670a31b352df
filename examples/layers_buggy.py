"""layers.py with planted mistakes, each one students make. Each function says what it got wrong.

- ``affine_backward``: **wrong**, ``dw`` transposed: ``dout.T @ x`` has shape (M, D) where
  ``w`` has (D, M). gradcheck names both shapes, and the transpose matches differences.
- ``affine_backward_square``: **wrong**, the same transpose where D == M, so the shapes
  agree and only the numbers can tell.
- ``l2_loss``: **wrong**, a missing factor 2: ``reg * w`` where the derivative of
  ``reg * sum(w^2)`` is ``2 reg w``; every entry is off by a factor of one half.
- ``tied_loss``: **wrong**, a forgotten accumulation: ``w`` is used twice (encoder and
  decoder), and the second term overwrites the first (``dw = ...`` where ``+=`` belongs).
- ``relu_forward``/``relu_backward``: **right** numbers, but ``relu_backward`` writes its
  mask into ``dout`` (``dout[x <= 0] = 0``): it modifies its input, which a network
  that reuses ``dout`` then reads corrupted. gradcheck says so.
- ``dropout_loss``: draws a new mask on every call, with no seed: two calls at one point
  differ, so no gradient can be judged. gradcheck says that before anything else.

    gradcheck func examples/layers_buggy.py:affine_forward \\
        --backward examples/layers_buggy.py:affine_backward \\
        --at "x=random(4,5)" --at "w=random(5,3)" --at "b=random(3)"
"""

import numpy as np


def affine_forward(x, w, b):
    out = x @ w + b
    return out, (x, w)


def affine_backward(dout, cache):
    """Wrong: dw transposed."""
    x, w = cache
    dx = dout @ w.T
    dw = dout.T @ x
    db = dout.sum(axis=0)
    return dx, dw, db


def affine_backward_square(dout, cache):
    """Wrong: dw transposed (check it with a square w)."""
    x, w = cache
    return dout @ w.T, (x.T @ dout).T, dout.sum(axis=0)


def l2_loss(w, reg):
    """Wrong: the factor 2 of d(w^2)/dw is missing."""
    return reg * np.sum(w * w), {"w": reg * w}


def tied_loss(w, x):
    """Wrong: the encoder's term overwrites the decoder's instead of adding to it."""
    a = w @ x
    h = np.maximum(0, a)
    e = w.T @ h - x
    dh = w @ e
    dw = np.outer(h, e)
    dw = np.outer(dh * (a > 0), x)
    return 0.5 * e @ e, {"w": dw, "x": w.T @ (dh * (a > 0)) - e}


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    """Right numbers; modifies dout in place."""
    x = cache
    dout[x <= 0] = 0
    return dout


def dropout_loss(x):
    """Not deterministic: a fresh mask, unseeded, on every call."""
    mask = np.random.rand(*x.shape) < 0.5
    return np.sum((x * mask) ** 2), 2 * x * mask
