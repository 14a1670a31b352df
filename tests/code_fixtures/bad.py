"""Wrong code of every kind gradcheck must name (fixtures for tests/test_code_*.py)."""

import os
import time

import numpy as np
from helper import explode


def quad(W, x):
    return 0.5 * np.sum((W @ x) ** 2)


def grad_transposed(W, x):
    r = W @ x
    return {"W": np.outer(r, x).T, "x": W.T @ r}


def grad_wrong_size(W, x):
    return {"W": np.zeros(3), "x": x}


def grad_none(W, x):
    r = W @ x
    {"W": np.outer(r, x), "x": W.T @ r}  # computed, never returned


def grad_unknown_key(W, x):
    return {"dW": W, "x": x}


def grad_three(W, x):
    return W, x, x


def grad_one_array(W, x):
    return W


def grad_text(W, x):
    return {"W": "zero", "x": x}


def vector(W, x):
    return W @ x


def no_pair(x):
    return np.sum(x**2)


def three_outputs(x):
    return x, x, x


def raises(x):
    return explode(x)


def at_import_time():
    return 0.0


def loops(x):
    while True:
        pass


def mutates(x):
    x *= 2
    return np.sum(x), np.full_like(x, 2.0)


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward_mutates(dout, cache):
    """The classic: the mask is written into the upstream gradient itself."""
    dout[cache <= 0] = 0
    return dout


def dropout(x):
    mask = np.random.rand(*x.shape) > 0.5
    return np.sum(x * mask), mask * 1.0


def uses_real(x):
    return np.sum(np.real(x) ** 2), 2 * x


def uses_abs(x):
    return np.sum(np.abs(x)) + np.sum(x**2), np.sign(x) + 2 * x


def uses_maximum(x):
    return np.sum(np.maximum(0, x)), 1.0 * (x > 0)


def to_float(x):
    return float(np.sum(x**2)), 2 * x


def exits(x):
    os._exit(3)


def prints(x):
    print("hello from the user's code")
    return np.sum(x), np.ones_like(x)


def positional_only(x, /):
    return np.sum(x), np.ones_like(x)


not_a_function = 3.0


BUFFER = np.zeros(3)


def reuses_buffer(x):
    """Returns the same array object on every call, overwritten each time."""
    BUFFER[:] = 2 * x
    return BUFFER


def shape_changes(x):
    return np.zeros(3) if x[0] > 0 else np.zeros(2)


def sleeps(x):
    """Takes x[0] seconds, then returns x[0]."""
    time.sleep(x[0])
    return x[0], np.ones_like(x)
