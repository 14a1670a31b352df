"""A module that raises when imported."""

import numpy as np

SCALE = np.undefined_thing  # fails at import


def f(x):
    return x
