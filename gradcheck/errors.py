"""The whole error vocabulary: one root, a few kinds, each knowing where the problem is.

Errors are raised deep (parser, shape rules, YAML loader) and translated into a
message and an exit code once, at the CLI edge.
"""

from __future__ import annotations


class GradcheckError(Exception):
    """Input that could not be checked; exit code 2.

    ``where`` says which text the problem is in (``"expression"``, ``"--let p"``,
    a file path); ``line`` and ``column`` are 1-based and optional.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.line = line
        self.column = column

    def located(
        self, where: str | None = None, line: int | None = None, column: int | None = None
    ) -> GradcheckError:
        """Fill in the location where it is still unknown; returns self for `raise ... from`."""
        self.where = self.where or where
        self.line = self.line if self.line is not None else line
        self.column = self.column if self.column is not None else column
        return self

    @property
    def location(self) -> str:
        """``file.yaml:12:7``, ``expression, column 5`` or ``''``."""
        if self.where is None:
            return ""
        if self.line is not None:
            return ":".join(str(p) for p in (self.where, self.line, self.column) if p is not None)
        if self.column is not None:
            return f"{self.where}, column {self.column}"
        return self.where

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ExpressionError(GradcheckError):
    """Text outside the expression language: syntax, unknown or forbidden names."""


class ShapeError(GradcheckError):
    """Operands whose shapes do not fit the operation."""


class ValueProblem(GradcheckError):
    """A value that is malformed, or a function that is not finite or real at the point."""


class ProblemError(GradcheckError):
    """A problem file that is not valid YAML or does not follow the schema."""


class DomainError(GradcheckError):
    """An operation with no value at the point (a singular matrix, an index out of range);
    the graph names the node it happened in."""


class SymbolicUnavailable(GradcheckError):
    """The symbolic derivative cannot be had here (too large, or not evaluable); the check
    goes on with complex step or Richardson as its reference, and says so."""
