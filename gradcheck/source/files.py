"""Problem files: YAML in, validated problems out, every error with its file and line.

The file is read and its YAML composed, bounded, by ``yamlread``; each value keeps its
line, column and text. Validation is strict: an unknown key, a wrong type, a shape that
does not fit is an error, because a typo must not silently skip a check. A file may hold
several problems separated by ``---``; one broken problem does not stop the others.
``find`` (in ``walk``) lists the files below folders.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gradcheck import limits
from gradcheck.errors import GradcheckError, ProblemError
from gradcheck.judge.expect import Expectation, Number
from gradcheck.source.language import RandomSpec, check_name, parse, parse_value, suggest
from gradcheck.source.problems import Problem, assemble
from gradcheck.source.walk import SUFFIXES, Broken, find
from gradcheck.source.yamlread import Value, documents, read_text

__all__ = ["KEYS", "SUFFIXES", "Broken", "Value", "find", "load"]

KEYS = ("name", "let", "expr", "at", "wrt", "expect", "claims", "tolerance", "step")


def load(path: Path | str) -> list[Problem | Broken]:
    """Every problem in a file, in order; a problem that cannot be built becomes Broken.

    A file that cannot be read at all (not a regular file, too large, not UTF-8, a control
    character, YAML past its limits) is one Broken entry naming the file.
    """
    path = str(path)
    stem = Path(path).stem
    try:
        parts = documents(read_text(path), path)
    except ProblemError as error:
        return [Broken(stem, path, error)]
    out: list[Problem | Broken] = []
    for number, document in enumerate(parts, start=1):
        default = stem if len(parts) == 1 else f"{stem} #{number}"
        try:
            out.append(_problem(document, path, default))
        except GradcheckError as error:
            out.append(Broken(_name_of(document, default), path, error.located(path)))
        except RecursionError:  # an expression nested past what the parser can follow
            error = ProblemError("nested too deeply to read", where=path, line=document.line)
            out.append(Broken(_name_of(document, default), path, error))
    if not out:
        out.append(Broken(stem, path, ProblemError("the file holds no problem", where=path)))
    return out


# ---------------------------------------------------------------- schema


def _problem(document: Value, path: str, default_name: str) -> Problem:
    fields = _mapping(document, path, "a problem")
    _known_keys(document, KEYS, path, "")
    if "expr" not in fields:
        raise ProblemError(
            "missing key 'expr' (the scalar function to check)",
            where=path,
            line=document.line,
            column=document.column,
        )
    term = _expression(fields["expr"], path, "expr")
    lets = [
        (name, _expression(value, path, f"let {name}"))
        for name, value in _mapping(fields.get("let"), path, "let").items()
    ]
    for name, value in _mapping(fields.get("let"), path, "let").items():
        _name(name, path, value.line)
    values = {
        name: (_at_value(value, path, name), path)
        for name, value in _mapping(fields.get("at"), path, "at").items()
    }
    for name, value in _mapping(fields.get("at"), path, "at").items():
        _name(name, path, value.line)
    claims = [
        (name, _expression(value, path, f"claims {name}"))
        for name, value in _mapping(fields.get("claims"), path, "claims").items()
    ]
    rtol, atol = _tolerance(fields.get("tolerance"), path)
    step = _number(fields["step"], path, "step", positive=True) if "step" in fields else None
    problem = assemble(
        term,
        lets,
        values,
        _wrt(fields.get("wrt"), path),
        claims,
        name=_name_of(document, default_name),
        rtol=rtol,
        atol=atol,
        step=step,
        file=path,
        line=document.line,
        where={"wrt": path},
    )
    if "expect" in fields:
        problem = problem.with_expectation(_expectation(fields["expect"], path, problem))
    return problem


def _known_keys(value: Value | None, known: tuple[str, ...], path: str, inside: str) -> None:
    """A typo in a key must not silently skip a check: unknown keys are errors."""
    for key, (line, column) in ((value.keys or {}) if value is not None else {}).items():
        if key not in known:
            hint = suggest(key, known) or "; the keys are " + ", ".join(known)
            raise ProblemError(
                f"unknown key {key!r}{inside}{hint}", where=path, line=line, column=column
            )


def _name_of(document: Value, default: str) -> str:
    if isinstance(document.data, dict) and "name" in document.data:
        name = document.data["name"]
        if isinstance(name.data, (str, int, float)) and not isinstance(name.data, bool):
            return str(name.data)
    return default


def _mapping(value: Value | None, path: str, what: str) -> dict[str, Value]:
    if value is None:
        return {}
    if not isinstance(value.data, dict):
        raise ProblemError(
            f"{what} must be a mapping of keys to values",
            where=path,
            line=value.line,
            column=value.column,
        )
    return value.data


def _name(name: str, path: str, line: int) -> None:
    try:
        check_name(name, path, line=line)
    except GradcheckError as error:
        raise error.located(path, line) from None


def _expression(value: Value, path: str, what: str):
    """An expression from a YAML scalar, with its columns pointing into the file."""
    if isinstance(value.data, bool) or not isinstance(value.data, (str, int, float)):
        raise ProblemError(
            f"{what} must be an expression (a string)",
            where=path,
            line=value.line,
            column=value.column,
        )
    text = value.text if value.text is not None else str(value.data)
    offset = value.column - 1 + (1 if value.quoted else 0)
    return parse(text, where=path, line=value.line, offset=offset)


def _at_value(value: Value, path: str, name: str):
    """A value under at: a number, a nested list of numbers, or text such as random(3, 3)."""
    if isinstance(value.data, str):
        offset = value.column - 1 + (1 if value.quoted else 0)
        parsed = parse_value(value.data, path, line=value.line, offset=offset)
        entries = math.prod(parsed.shape) if isinstance(parsed, RandomSpec) else 0
        refused = limits.entries_allowed(entries, name)  # before anything is drawn
        if refused:
            raise ProblemError(refused, where=path, line=value.line, column=value.column)
        return parsed
    return _numbers(value, path, f"the value of {name}")


def _numbers(value: Value, path: str, what: str) -> np.ndarray:
    """A number or a rectangular nested list of numbers, as an array."""

    def plain(v: Value):
        if isinstance(v.data, list):
            if not v.data:
                raise ProblemError(
                    f"{what} has an empty list", where=path, line=v.line, column=v.column
                )
            return [plain(item) for item in v.data]
        return _number(v, path, what)

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


def _number(value: Value, path: str, what: str, *, positive: bool = False) -> float:
    data = value.data
    if isinstance(data, str):  # YAML 1.1 reads 1e-6 (no dot) as text
        try:
            data = float(data) if len(data) <= limits.DIGITS.value else None
        except ValueError:
            data = None
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        raise ProblemError(
            f"{what} must be a number, got {_shown(value.text)!r}",
            where=path,
            line=value.line,
            column=value.column,
        )
    try:
        number = float(data)
    except OverflowError:  # an int past float's range
        number = math.inf
    if not math.isfinite(number) or (positive and number <= 0):
        kind = "a positive number" if positive else "finite"
        raise ProblemError(
            f"{what} must be {kind}, got {_shown(value.text)}",
            where=path,
            line=value.line,
            column=value.column,
        )
    return number


def _shown(text: str | None, most: int = 40) -> str | None:
    """Text short enough to quote in a message."""
    return text if text is None or len(text) <= most else text[: most - 3] + "..."


def _wrt(value: Value | None, path: str) -> list[str] | None:
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


def _tolerance(value: Value | None, path: str) -> tuple[float | None, float | None]:
    fields = _mapping(value, path, "tolerance")
    _known_keys(value, ("rtol", "atol"), path, " in tolerance")
    rtol = _number(fields["rtol"], path, "rtol") if "rtol" in fields else None
    atol = _number(fields["atol"], path, "atol") if "atol" in fields else None
    for name, tol, item in (("rtol", rtol, fields.get("rtol")), ("atol", atol, fields.get("atol"))):
        if tol is not None and tol < 0:
            raise ProblemError(f"{name} must not be negative", where=path, line=item.line)
    return rtol, atol


def _expectation(value: Value, path: str, problem: Problem) -> Expectation:
    fields = _mapping(value, path, "expect")
    _known_keys(value, ("value", "grad"), path, " in expect")
    missing = [n for n in problem.random_names if n not in problem.index_axes]
    if missing:
        raise ProblemError(
            f"expect needs every input given in at:, so that the point is "
            f"known; {missing[0]} has no value",
            where=path,
            line=value.line,
        )
    claimed_value = None
    if "value" in fields:
        claimed_value = _claimed(fields["value"], path, "expect value")
    grads = {}
    named = list(problem.wrt) + [n for n in problem.lets if problem.intermediate(n) is not None]
    for name, item in _mapping(fields.get("grad"), path, "expect grad").items():
        if name not in named:
            hint = suggest(name, named)
            raise ProblemError(
                f"expect grad names {name!r}, which is neither differentiated nor a let the "
                f"expression uses{hint}; it must be one of {', '.join(named)}",
                where=path,
                line=item.line,
            )
        claimed = _claimed(item, path, f"expect grad {name}")
        node = problem.intermediate(name)
        shape = problem.shapes[name] if node is None else problem.program.nodes[node].shape
        if claimed.value.shape != shape:
            raise ProblemError(
                f"expect grad {name} has shape {claimed.value.shape}, but {name} has shape {shape}",
                where=path,
                line=item.line,
                column=item.column,
            )
        grads[name] = claimed
    return Expectation(claimed_value, grads, line=value.line)


def _claimed(value: Value, path: str, what: str) -> Number:
    """Claimed numbers with, for each, the precision it was written with."""
    values = _numbers(value, path, what)

    def precisions(v: Value):
        if isinstance(v.data, list):
            return [precisions(item) for item in v.data]
        return Number.precision_of(v.text)

    return Number(values, np.array(precisions(value), dtype=float))
