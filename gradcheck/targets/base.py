"""The seam: what is checked, as every estimator, verdict and report sees it.

A *target* is a function of named array inputs with a gradient that someone claims:
an expression (backprop through its compiled graph claims it, SymPy knows the truth) or
the user's own code (their gradient or backward claims it, nothing knows the truth).
Everything downstream (finite differences, directional probes, verdicts, the report)
talks to this interface only, so a new kind of target is an addition, not a fork.

Shapes are explicit. The output has ``output_shape`` (``()`` for a scalar function), and
every gradient-like array for input ``x`` has shape ``output_shape + x.shape``: for a
scalar output that is the gradient, for an array output the Jacobian
``J[i..., j...] = d out[i...] / d x[j...]``. An evaluator returns the output flattened,
one row per evaluation: ``(rows, output size)``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from gradcheck.errors import GradcheckError

#: f at copies of the point, copy r with flat entry ``at[r]`` of one input set to
#: ``entry[r]``: (values of shape (rows, output size), per row the first switch crossed
#: or -1). See ``estimate.finite``.
Evaluate = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

#: f at ``x + t u`` for each t, for one direction u: (values (rows, output size), crossed).
Along = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class ComplexStepRefused(GradcheckError):
    """Complex step does not apply to this target (found when tried); differences serve."""


@dataclass(frozen=True)
class NotFinite:
    """Where a target is not finite at a point: what to say, and which inputs it depends
    on (a random redraw of one of those may help; of others, not)."""

    message: str
    depends_on: frozenset[str]


class Target(ABC):
    """What is checked: named inputs, the inputs to differentiate, the output's shape."""

    kind: str  # "expression" or "func", as the JSON says
    shapes: Mapping[str, tuple[int, ...]]  # every input's shape
    wrt: tuple[str, ...]  # the inputs whose gradient is checked
    output_shape: tuple[int, ...] = ()

    @property
    def output_size(self) -> int:
        return math.prod(self.output_shape)

    def gradient_shape(self, name: str) -> tuple[int, ...]:
        """``output_shape + shape of name``: the gradient, or the Jacobian's layout."""
        return self.output_shape + tuple(self.shapes[name])

    @abstractmethod
    def not_finite(self, point: Mapping[str, np.ndarray]) -> NotFinite | None:
        """Why the target has no finite value at ``point``, or None where it has one."""

    @abstractmethod
    def at(self, point: Mapping[str, np.ndarray], dtype: str = "float64") -> Evaluation:
        """Everything known at one point before any differencing (see ``Evaluation``)."""


class Evaluation(ABC):
    """A target at one point: its value, the claimed gradients, the truth where known,
    and evaluators that move the point for the finite differences."""

    point: Mapping[str, np.ndarray]
    dtype: str
    value: np.ndarray  # the output, of output_shape
    claimed: dict[str, np.ndarray]  # the gradients under test, each of gradient_shape
    claimed_by: str  # what claims them: "backprop", or "your code"
    exact_value: np.ndarray | None  # the true output, where known
    exact: dict[str, np.ndarray] | None  # the true gradients, where known
    scale: float  # the size of f and its linear terms: what round-off in a claim is against
    size: float  # the largest intermediate value: what an evaluation's round-off is against
    distances: Mapping[int, float]  # each switch's distance from the point (0: on a kink)
    notes: list[str]  # what the evaluation could not do, in words
    knows_switches: bool = True  # False: kinks are found only by one-sided differences
    costly: bool = False  # True: every evaluation is a call of the user's code, counted

    @abstractmethod
    def evaluator(self, name: str, dtype: str | None = None) -> Evaluate:
        """Moves one entry of input ``name`` per row (in ``dtype``, else the working one)."""

    @abstractmethod
    def along(self, direction: Mapping[str, np.ndarray]) -> Along:
        """Moves every input in ``wrt`` along ``direction`` (one array per input)."""

    @abstractmethod
    def no_complex_step(self, name: str) -> str | None:
        """Why complex step does not apply to ``name`` (None where it does)."""

    @abstractmethod
    def switch(self, i: int) -> str:
        """The non-smooth piece ``i`` (as evaluators report it), in the user's words."""

    def value_agrees(self) -> bool:
        """Whether the computed value matches the exact one (True where none is known)."""
        return True

    def claimed_in_higher_precision(self, name: str) -> np.ndarray | None:
        """The claimed gradient recomputed in higher precision, where that is possible: a
        wrong rule is as wrong in any precision, round-off shrinks."""
        return None

    def alternatives(self, name: str) -> Iterable[tuple[str, np.ndarray]]:
        """Gradients a plausible mistake would give, (what the mistake is, gradient)."""
        return ()
