"""The three ways user code hands back a gradient, called and read (design.md, `func`).

- ``grad``: ``NAME(**inputs)`` returns one number and ``GRAD(**inputs)`` the gradients;
- ``pair``: ``NAME(**inputs)`` returns ``(value, grads)``;
- ``layer``: ``NAME(**inputs)`` returns ``out`` or ``(out, cache)``, and ``BWD(dout, cache)``
  (or ``BWD(dout, **inputs)`` without a cache) the gradients of ``sum(out * dout)``.

Gradients come as a dict keyed by input name, a tuple in the order of the function's
parameters (all inputs, or only the real-valued ones: labels need no gradient), or one
array when one input is real. What comes back is checked here: a wrong type says what
was expected and what came; a gradient of the wrong shape names both shapes (an error
when the sizes differ, a finding for the verdict when they match, as a transpose would).
This module runs inside the worker process; nothing here imports the user's code.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcheck.errors import GradcheckError

KINDS = ("grad", "pair", "layer")

#: Where a layer's forward returned no cache: backward is then called with the inputs.
NO_CACHE = object()

Shape = tuple[int, ...]


class ReturnError(GradcheckError):
    """User code returned something that does not follow its convention."""


@dataclass(frozen=True)
class Call:
    """One call of the function and its gradient (or backward) at a point.

    ``value`` is what the function returned (a 0-d array for a number); ``grads`` the
    gradients it claims, keyed by input (integer inputs never have one; a layer called
    without ``dout`` has none). ``dtype`` is the value's dtype as returned, so float32
    code is judged at float32 tolerances. Findings for the verdict: ``modified`` names
    the inputs (and ``dout``) the code changed in place; ``shapes`` maps an input whose
    gradient has its size but another shape to (gradient's shape, input's shape);
    ``printed`` is the start of what the code printed.
    """

    value: np.ndarray
    grads: dict[str, np.ndarray]
    dtype: np.dtype
    modified: tuple[str, ...] = ()
    shapes: dict[str, tuple[Shape, Shape]] = field(default_factory=dict)
    printed: str = ""


def describe(obj: Any) -> str:
    """``an array of shape (3, 2)``, ``a tuple of 3``, ``None``: what came back, in words."""
    if obj is None:
        return "None"
    if isinstance(obj, np.ndarray):
        return f"an array of shape {obj.shape}" if obj.ndim else f"a 0-d {obj.dtype} array"
    if isinstance(obj, (tuple, list)):
        return f"a {type(obj).__name__} of {len(obj)}"
    kind = type(obj).__name__
    return f"an {kind}" if kind[:1].lower() in "aeiou" else f"a {kind}"


def as_numbers(obj: Any, what: str) -> np.ndarray:
    """``obj`` as an array of numbers (int, float or complex), or a ReturnError naming it."""
    if obj is None:
        raise ReturnError(f"{what} is None (does the function end without a return?)")
    if isinstance(obj, (str, bytes, Mapping)):
        raise ReturnError(f"{what} is {describe(obj)}; expected a number or a NumPy array")
    try:
        array = np.asarray(obj)
    except (ValueError, TypeError):
        raise ReturnError(f"{what} is {describe(obj)} that is not an array of numbers") from None
    if array.dtype.kind not in "biufc":
        raise ReturnError(f"{what} is {describe(obj)} of {array.dtype}; expected numbers")
    return array


def order(signature: inspect.Signature, names) -> tuple[str, ...]:
    """The inputs in the order of the function's parameters (others, via ``**kw``, last)."""
    params = [p for p in signature.parameters if p in names]
    return (*params, *(n for n in names if n not in params))


def is_real(array: np.ndarray) -> bool:
    """Whether an input is differentiated: float or complex, never integers (labels)."""
    return array.dtype.kind in "fc"


class Code:
    """The user's function and its gradient or backward, called by one convention."""

    def __init__(
        self, kind: str, function: Callable, helper: Callable | None, names: tuple[str, str]
    ) -> None:
        assert kind in KINDS
        self.kind = kind
        self.function = function
        self.helper = helper
        self.name, self.helper_name = names
        self.signature = inspect.signature(function)

    def check_call(self, inputs: Mapping[str, np.ndarray]) -> None:
        """Raise a ReturnError unless the function (and GRAD) accept these inputs by name."""
        callables = [(self.name, self.function)]
        if self.kind == "grad":
            callables.append((self.helper_name, self.helper))
        for name, fn in callables:
            try:
                inspect.signature(fn).bind(**inputs)
            except TypeError as e:
                given = ", ".join(inputs)
                raise ReturnError(f"{name} cannot be called with inputs ({given}): {e}") from None
            except ValueError:  # a builtin without a signature: let the call decide
                pass

    def output(self, inputs: Mapping[str, np.ndarray]) -> Any:
        """The function's value (a layer's ``out``) as returned: the fast path for rows."""
        returned = self.function(**inputs)
        if self.kind == "grad":
            return returned
        if type(returned) is tuple and len(returned) == 2:
            return returned[0]
        return self.split(returned)[0]  # a layer's lone out, or an error saying what came

    def value(self, returned: Any) -> np.ndarray:
        """A returned value read and checked: one number, except for a layer's ``out``."""
        value = as_numbers(returned, f"the value {self.name} returned")
        if value.dtype.kind == "b":
            value = value.astype(np.float64)
        if self.kind == "layer":
            return value
        if value.size != 1:
            raise ReturnError(
                f"{self.name} returned {describe(value)} as its value; a function checked by "
                "its gradient returns one number (for an array output, give --backward)"
            )
        return value.reshape(())

    def split(self, returned: Any) -> tuple[Any, Any]:
        """(value, grads) for pair; (out, cache or NO_CACHE) for layer; else (value, None)."""
        if self.kind == "grad":
            if isinstance(returned, tuple):
                raise ReturnError(
                    f"{self.name} returned {describe(returned)}; with --grad it returns the "
                    "value alone (or drop --grad if it returns (value, grads))"
                )
            return returned, None
        if self.kind == "pair":
            if not isinstance(returned, (tuple, list)) or len(returned) != 2:
                raise ReturnError(
                    f"{self.name} returned {describe(returned)}; without --grad it must return "
                    "(value, grads), or give --grad FILE.py:GRAD"
                )
            return returned[0], returned[1]
        if isinstance(returned, tuple):
            if len(returned) != 2:
                raise ReturnError(
                    f"{self.name} returned {describe(returned)}; a layer returns out or "
                    "(out, cache)"
                )
            return returned[0], returned[1]
        return returned, NO_CACHE

    def claimed(self, inputs: dict, rest: Any, dout: np.ndarray | None) -> tuple[Any, str]:
        """What the gradient side returned, and who returned it (for messages)."""
        if self.kind == "pair":
            return rest, self.name
        if self.kind == "grad":
            return self.helper(**inputs), self.helper_name
        if rest is NO_CACHE:
            return self.helper(dout, **inputs), self.helper_name
        return self.helper(dout, rest), self.helper_name


def read_grads(
    returned: Any, who: str, inputs: Mapping[str, np.ndarray], names: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], dict[str, tuple[Shape, Shape]]]:
    """The gradients ``who`` returned, keyed by input, and the shape findings.

    ``names`` are the inputs in the order of the function's parameters. Gradients of
    integer inputs are dropped (never differentiated); int or bool gradients become float.

    Raises:
        ReturnError: not a dict, tuple or array as the inputs call for; a key that is no
            input; a count that fits neither all inputs nor the real ones; a size that
            differs from the input's.
    """
    if returned is None:
        raise ReturnError(f"{who} returned None (does the function end without a return?)")
    real = tuple(n for n in names if is_real(inputs[n]))
    listed = ", ".join(names)
    if isinstance(returned, Mapping):
        unknown = [k for k in returned if k not in inputs]
        if unknown:
            raise ReturnError(
                f"{who} returned a gradient for {unknown[0]!r}, which is not an input "
                f"(inputs: {listed})"
            )
        pairs = list(returned.items())
    elif isinstance(returned, tuple) or (
        isinstance(returned, list) and all(isinstance(g, np.ndarray) or g is None for g in returned)
    ):
        if len(returned) == len(names):
            pairs = list(zip(names, returned))
        elif len(returned) == len(real):
            pairs = list(zip(real, returned))
        else:
            also = (
                f", or {len(real)} for the real ones ({', '.join(real)})" if real != names else ""
            )
            raise ReturnError(
                f"{who} returned {len(returned)} gradients; expected {len(names)}, one per "
                f"input in parameter order ({listed}){also}"
            )
    elif len(real) == 1:
        pairs = [(real[0], returned)]
    else:
        raise ReturnError(
            f"{who} returned {describe(returned)}; with inputs {listed} it must return one "
            f"gradient per input: a dict keyed by name or a tuple in the order ({listed})"
        )
    return _checked(pairs, who, inputs)


def _checked(pairs, who: str, inputs: Mapping[str, np.ndarray]):
    """Each gradient as numbers, its shape held against its input's."""
    grads: dict[str, np.ndarray] = {}
    shapes: dict[str, tuple[Shape, Shape]] = {}
    for name, grad in pairs:
        if grad is None or not is_real(inputs[name]):
            continue
        grad = as_numbers(grad, f"the gradient {who} returned for {name}")
        if grad.dtype.kind in "iub":
            grad = grad.astype(np.float64)
        wanted = inputs[name].shape
        if grad.shape != wanted:
            if grad.size != inputs[name].size:
                raise ReturnError(
                    f"{who} returned a gradient of shape {grad.shape} for {name}, "
                    f"whose shape is {wanted}"
                )
            shapes[name] = (grad.shape, wanted)
        grads[name] = grad
    return grads, shapes
