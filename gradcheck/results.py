"""What a check finds: verdicts with their evidence, from one entry up to a whole run.

Plain data, filled in by ``check`` and rendered by ``report``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

import numpy as np


class Status(str, Enum):
    """A verdict. A ``str`` too, so that it reads, compares and serialises as its value."""

    PASS = "pass"
    KINK = "kink"
    FAIL = "fail"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:  # shown as the plain string it equals, in a REPL or a test
        return repr(self.value)


#: Severity order: a problem takes the worst status of its parts.
STATUSES = tuple(s.value for s in Status)


def worst(statuses: Iterable[str]) -> Status:
    """The most severe of some statuses (``pass`` when there are none)."""
    return Status(max(statuses, key=STATUSES.index, default="pass"))


class CauseCode(str, Enum):
    """Why an entry (or a problem) did not simply pass: what code decides on, never words."""

    BACKPROP = "backprop"  # backprop disagrees with an exact reference
    CLAIMED = "claimed"  # the user's code's gradient disagrees with the reference
    CENTRAL = "central"  # the central difference disagrees with the reference
    KINK = "kink"  # a non-smooth node switches branch within the step
    NOT_FINITE = "not_finite"  # the derivative is not finite at the point
    EDGE = "edge"  # f is not finite within the step (the edge of its domain)
    ROUNDOFF = "roundoff"  # off, but only by round-off, as higher precision shows
    FLOAT32 = "float32"  # a float32 difference off by float32's round-off only
    EXPECTED = "expected"  # a claimed number does not hold
    FORWARD_VALUE = "forward_value"  # the graph's value disagrees with the symbolic value
    MODIFIES_INPUTS = "modifies_inputs"  # user code changed its inputs in place
    NOT_DETERMINISTIC = "not_deterministic"  # two calls of user code at one point differ
    WRONG_SHAPE = "wrong_shape"  # a returned gradient's shape is not its input's

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Cause:
    """A coded reason, with the words that explain it to a person."""

    code: CauseCode
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Tolerance:
    """``|estimate - reference| <= atol + rtol * |reference|`` (plus the estimate's round-off)."""

    rtol: float
    atol: float


@dataclass
class GradientResult:
    """Every estimate for one input at one point; arrays have the input's shape.

    ``errors`` are relative to the reference (symbolic, else backprop), absolute where
    it is 0; ``causes`` explains, by flat index, each entry that did not simply pass.
    """

    shape: tuple[int, ...]
    symbolic: np.ndarray | None
    backprop: np.ndarray
    forward: np.ndarray | None
    backward: np.ndarray | None
    central: np.ndarray | None
    status: np.ndarray
    errors: dict[str, np.ndarray]
    expected: np.ndarray | None = None
    causes: dict[int, Cause] = field(default_factory=dict)
    step: np.ndarray | None = None
    complex: np.ndarray | None = None
    richardson: np.ndarray | None = None
    claimed_by: str = "backprop"  # what claims the gradient: backprop, or "your code"
    diagnosis: str | None = None  # what a wrong gradient looks like, in words
    reference: np.ndarray | None = None  # what the estimates were judged against

    @property
    def worst(self) -> str:
        return worst(self.status.ravel().tolist())


@dataclass
class ProbeResult:
    """A directional check: backprop's g . u against differences along a unit u."""

    symbolic: float | None
    backprop: float
    forward: float
    backward: float
    central: float
    status: str
    errors: dict[str, float]
    step: float
    cause: Cause | None = None


@dataclass
class PointResult:
    """One point: its values, the function's value there, and the gradient estimates."""

    at: dict[str, np.ndarray]
    drawn: tuple[str, ...]
    value: float
    symbolic_value: float | None
    gradient: dict[str, GradientResult] = field(default_factory=dict)
    probes: list[ProbeResult] | None = None
    upstream: np.ndarray | None = None  # a layer's seeded dout: gradients are then VJPs

    @property
    def status(self) -> str:
        if self.probes is not None:
            return worst(p.status for p in self.probes)
        return worst(g.worst for g in self.gradient.values())


@dataclass
class ClaimResult:
    """A claimed formula: whether it holds, proved or tried at points, and where it fails.

    ``diagnosis`` says what a wrong claim looks like (transposed, scaled, a local
    derivative left out) where that can be recognised.
    """

    name: str
    text: str
    status: str
    proved: bool = False
    points: int = 0
    counterexample: dict | None = None
    message: str | None = None
    diagnosis: str | None = None


@dataclass
class ExpectResult:
    """Claimed numbers (the value, or one input's gradient) against the truth at the point.

    ``wrong`` lists each entry that does not hold: its index, the claimed and the true
    number, and how far apart they were allowed to be.
    """

    what: str
    status: str
    claimed: np.ndarray
    true: np.ndarray
    wrong: list[dict] = field(default_factory=list)
    diagnosis: str | None = None


@dataclass
class ProblemResult:
    """The verdict on one problem, with the evidence for it."""

    name: str
    expression: str | None
    status: str
    file: str | None = None
    kind: str = "expression"  # or "func": the user's code
    output_shape: tuple[int, ...] = ()  # () for a scalar function; else gradients are Jacobians
    code: dict[str, str] | None = None  # for func: {"function": "f.py:loss", "grad": ...}
    line: int | None = None
    message: str | None = None
    points: list[PointResult] = field(default_factory=list)
    claims: dict[str, ClaimResult] = field(default_factory=dict)
    expected: list[ExpectResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    findings: list[Cause] = field(default_factory=list)
    seed: int | None = None
    tolerance: Tolerance | None = None
    seconds: float = 0.0


@dataclass
class Report:
    """The results of a run, in the order the problems were given.

    ``unchecked`` counts the files a run was asked about but did not check (``--fail-fast``
    stops early): nothing is skipped in silence.
    """

    problems: list[ProblemResult]
    unchecked: int = 0

    @property
    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for p in self.problems:
            counts[p.status] += 1
        return counts

    @property
    def exit_code(self) -> int:
        """0 all pass (kinks allowed), 1 some check failed, 2 some could not be checked."""
        counts = self.summary
        return 2 if counts["error"] else 1 if counts["fail"] else 0

    def _repr_html_(self) -> str:
        """The same table as in the terminal, for a notebook (Jupyter calls this)."""
        from gradcheck.render.console import html

        return html(self)
