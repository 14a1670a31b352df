"""gradcheck: is this gradient right? And if not, where and why.

>>> import gradcheck
>>> report = gradcheck.check(gradcheck.problem("x*exp(-x*y)", at=["x=1", "y=2"]))
>>> report.problems[0].status
'pass'
"""

from gradcheck.check import Settings, check
from gradcheck.errors import (
    ExpressionError,
    GradcheckError,
    ProblemError,
    ShapeError,
    ValueProblem,
)
from gradcheck.results import Report
from gradcheck.source.problems import Problem, problem
from gradcheck.version import __version__

__all__ = [
    "ExpressionError",
    "GradcheckError",
    "Problem",
    "ProblemError",
    "Report",
    "Settings",
    "ShapeError",
    "ValueProblem",
    "__version__",
    "assert_gradient",
    "check",
    "check_function",
    "problem",
]


def __getattr__(name: str):
    """``check_function`` and ``assert_gradient`` load the worker machinery only when used,
    so that checking an expression does not pay for it."""
    if name in ("check_function", "assert_gradient"):
        from gradcheck import check_code

        return getattr(check_code, name)
    raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
