"""A module whose import never ends."""

while True:
    pass


def f(x):
    return x
