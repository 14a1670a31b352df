"""gradcheck: is this gradient right? And if not, where and why.

>>> import gradcheck
>>> report = gradcheck.check(gradcheck.problem("x*exp(-x*y)", at=["x=1", "y=2"]))
>>> report.problems[0].status
'pass'
"""

__version__ = "0.1.0"

from .check import Settings, check
from .errors import (
    ExpressionError,
    GradcheckError,
    ProblemError,
    ShapeError,
    ValueProblem,
)
from .problems import Problem, problem
from .results import Report

__all__ = [
    "ExpressionError",
    "GradcheckError",
    "Problem",
    "ProblemError",
    "Report",
    "Settings",
    "ShapeError",
    "ValueProblem",
    "check",
    "problem",
]
