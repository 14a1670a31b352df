"""The typed fields of a problem document: each read from its YAML Value, each error
naming the file, line and column of the value that is wrong.

A number keeps the text it was written with (``claimed`` turns it into a value and the
precision it stands for); text under ``at`` is a value in the expression language
(``random(3, 3)``, ``2*pi``), never evaluated as Python.
"""

from __future__ import annotations

import math

import numpy as np

from gradcheck import limits
from gradcheck.errors import GradcheckError, ProblemError
from gradcheck.judge.expect import Number
from gradcheck.source.language import RandomSpec, check_name, parse, parse_value, suggest
from gradcheck.source.yamlread import Value


def known_keys(value: Value | None, known: tuple[str, ...], path: str, inside: str) -> None:
    """A typo in a key must not silently skip a check: unknown keys are errors."""
    for key, (line, column) in ((value.keys or {}) if value is not None else {}).items():
        if key not in known:
            hint = suggest(key, known) or "; the keys are " + ", ".join(known)
            raise ProblemError(
                f"unknown key {key!r}{inside}{hint}", where=path, line=line, column=column
            )


def name_of(document: Value, default: str) -> str:
    if isinstance(document.data, dict) and "name" in document.data:
        name = document.data["name"]
        if isinstance(name.data, (str, int, float)) and not isinstance(name.data, bool):
            return str(name.data)
    return default


def refused(value: Value, path: str, message: str) -> ProblemError:
    """The error for a field's value: the message, at the value's file, line and column."""
    return ProblemError(message, where=path, line=value.line, column=value.column)


def mapping(value: Value | None, path: str, what: str) -> dict[str, Value]:
    if value is None:
        return {}
    if not isinstance(value.data, dict):
        raise refused(value, path, f"{what} must be a mapping of keys to values")
    return value.data


def name(name: str, path: str, line: int) -> None:
    try:
        check_name(name, path, line=line)
    except GradcheckError as error:
        raise error.located(path, line) from None


def expression(value: Value, path: str, what: str):
    """An expression from a YAML scalar, with its columns pointing into the file."""
    if isinstance(value.data, bool) or not isinstance(value.data, (str, int, float)):
        raise refused(value, path, f"{what} must be an expression (a string)")
    text = value.text if value.text is not None else str(value.data)
    offset = value.column - 1 + (1 if value.quoted else 0)
    return parse(text, where=path, line=value.line, offset=offset)


def at_value(value: Value, path: str, name: str):
    """A value under at: a number, a nested list of numbers, or text such as random(3, 3)."""
    if isinstance(value.data, str):
        offset = value.column - 1 + (1 if value.quoted else 0)
        parsed = parse_value(value.data, path, line=value.line, offset=offset)
        entries = math.prod(parsed.shape) if isinstance(parsed, RandomSpec) else 0
        too_many = limits.entries_allowed(entries, name)  # before anything is drawn
        if too_many:
            raise refused(value, path, too_many)
        return parsed
    return numbers(value, path, f"the value of {name}")


def numbers(value: Value, path: str, what: str) -> np.ndarray:
    """A number or a rectangular nested list of numbers, as an array."""

    def plain(v: Value):
        if isinstance(v.data, list):
            if not v.data:
                raise ProblemError(
                    f"{what} has an empty list", where=path, line=v.line, column=v.column
                )
            return [plain(item) for item in v.data]
        return number(v, path, what)

    nested = plain(value)
    try:
        array = np.array(nested, dtype=float)
    except ValueError:
        raise ProblemError(
            f"{what} is a ragged list: its rows have different lengths",
            where=path,
            line=value.line,
            column=value.column,
        ) from None
    return array


def number(value: Value, path: str, what: str, *, positive: bool = False) -> float:
    data = value.data
    if isinstance(data, str):  # YAML 1.1 reads 1e-6 (no dot) as text
        try:
            data = float(data) if len(data) <= limits.DIGITS.value else None
        except ValueError:
            data = None
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        raise refused(value, path, f"{what} must be a number, got {shown(value.text)!r}")
    try:
        number = float(data)
    except OverflowError:  # an int past float's range
        number = math.inf
    if not math.isfinite(number) or (positive and number <= 0):
        kind = "a positive number" if positive else "finite"
        raise refused(value, path, f"{what} must be {kind}, got {shown(value.text)}")
    return number


def shown(text: str | None, most: int = 40) -> str | None:
    """Text short enough to quote in a message."""
    return text if text is None or len(text) <= most else text[: most - 3] + "..."


def wrt(value: Value | None, path: str) -> list[str] | None:
    if value is None:
        return None
    items = value.data if isinstance(value.data, list) else [value]
    names = []
    for item in items:
        if not isinstance(item.data, str):
            raise ProblemError(
                "wrt must be a list of input names", where=path, line=item.line, column=item.column
            )
        names.extend(n.strip() for n in item.data.split(",") if n.strip())
    return names


def tolerance(value: Value | None, path: str) -> tuple[float | None, float | None]:
    fields = mapping(value, path, "tolerance")
    known_keys(value, ("rtol", "atol"), path, " in tolerance")
    rtol = number(fields["rtol"], path, "rtol") if "rtol" in fields else None
    atol = number(fields["atol"], path, "atol") if "atol" in fields else None
    for name, tol, item in (("rtol", rtol, fields.get("rtol")), ("atol", atol, fields.get("atol"))):
        if tol is not None and tol < 0:
            raise ProblemError(f"{name} must not be negative", where=path, line=item.line)
    return rtol, atol


def claimed(value: Value, path: str, what: str) -> Number:
    """Claimed numbers with, for each, the precision it was written with."""
    values = numbers(value, path, what)

    def precisions(v: Value):
        if isinstance(v.data, list):
            return [precisions(item) for item in v.data]
        return Number.precision_of(v.text)

    return Number(values, np.array(precisions(value), dtype=float))
