"""The expression language, as the rest of the package sees it: parse text into terms
(``source.parse``), then type terms into a tree of nodes (``source.tree``)."""

from gradcheck.source.parse import (
    CONSTANTS,
    RandomSpec,
    Source,
    Term,
    check_name,
    parse,
    parse_binding,
    parse_value,
    suggest,
)
from gradcheck.source.tree import Node, Scope, build, describe_shape

__all__ = [
    "CONSTANTS",
    "Node",
    "RandomSpec",
    "Scope",
    "Source",
    "Term",
    "build",
    "check_name",
    "describe_shape",
    "parse",
    "parse_binding",
    "parse_value",
    "suggest",
]
