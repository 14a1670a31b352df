"""Seed 003's softmax layer, with the mistake its author never found.

Deep Learning assignment 1: a two-layer network (sigmoid hidden layer, softmax output,
cross-entropy loss). The author wrote both derivatives of softmax correctly on paper,
``s_i (1 - s_j)`` when ``i == j`` and ``-s_i s_j`` when not, and then, in the batched
code, used only the first: "the softmax derivative which was supposed to be a Jacobian".
The code "does not work as intended" and the report never says why. This is why.

- ``softmax_forward`` / ``softmax_backward``: **wrong**. ``softmax_backward`` multiplies
  ``dy`` by the Jacobian's diagonal, ``y * (1 - y)``, and drops the off-diagonal terms
  ``-y_i y_j``: only the diagonal of the Jacobian is used.
- ``softmax_backward_jacobian``: **right**, ``y * (dy - sum(dy * y))``, the whole
  Jacobian contracted with ``dy``.
- ``net_loss`` (the network with the diagonal-only backward): **wrong** for every
  weight, because the mistake sits at the top of the backward pass; ``net_loss_fixed``
  (with the whole Jacobian): **right**. ``c`` holds integer class labels.

    gradcheck func examples/softmax.py:softmax_forward \\
        --backward examples/softmax.py:softmax_backward --at "o=random(4,3)"
"""

import numpy as np


def sigmoid(k):
    return 1 / (1 + np.exp(-k))


def softmax(o):
    e = np.exp(o - o.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_forward(o):
    y = softmax(o)
    return y, y


def softmax_backward(dy, y):
    """Wrong: the diagonal of the Jacobian only, dy_i * y_i (1 - y_i)."""
    return dy * y * (1 - y)


def softmax_backward_jacobian(dy, y):
    """Right: sum_i dy_i dy_i/do_j = y_j (dy_j - sum_i dy_i y_i)."""
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


def _net(w1, b1, w2, b2, x, c, softmax_backward):
    """Batched forward and backward, as in the seed's batched_tensor_forward."""
    n = len(c)
    k = x @ w1 + b1
    h = sigmoid(k)
    o = h @ w2 + b2
    y = softmax(o)
    loss = -np.mean(np.log(y[np.arange(n), c]))
    dy = np.zeros_like(y)
    dy[np.arange(n), c] = -1 / (n * y[np.arange(n), c])
    do = softmax_backward(dy, y)
    dh = do @ w2.T
    dk = dh * h * (1 - h)
    grads = {"w1": x.T @ dk, "b1": dk.sum(axis=0), "w2": h.T @ do, "b2": do.sum(axis=0)}
    return loss, grads


def net_loss(w1, b1, w2, b2, x, c):
    """Wrong: every gradient inherits the diagonal-only softmax backward."""
    return _net(w1, b1, w2, b2, x, c, softmax_backward)


def net_loss_fixed(w1, b1, w2, b2, x, c):
    """Right."""
    return _net(w1, b1, w2, b2, x, c, softmax_backward_jacobian)
