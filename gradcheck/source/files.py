"""Problem files: YAML in, validated problems out, every error with its file and line.

YAML is read with PyYAML's safe loader, composed rather than loaded so that each value
keeps its line and column, and each number the text it was written with (a claimed
``0.01715`` stands for 0.017145..0.017155). Validation is strict: an unknown key, a
wrong type, a shape that does not fit is an error, because a typo must not silently skip
a check. A file may hold several problems separated by ``---``; one broken problem does
not stop the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradcheck.errors import GradcheckError, ProblemError
from gradcheck.judge.expect import Expectation, Number
from gradcheck.source.language import check_name, parse, parse_value, suggest
from gradcheck.source.problems import Problem, assemble

KEYS = ("name", "let", "expr", "at", "wrt", "expect", "claims", "tolerance", "step")
SUFFIXES = (".yaml", ".yml")

#: The only YAML types a problem file needs; any other tag (!!python/..., !!binary,
#: timestamps) is refused by name.
CORE_TAGS = frozenset(
    "tag:yaml.org,2002:" + t for t in ("map", "seq", "str", "int", "float", "bool", "null")
)


@dataclass(frozen=True)
class Value:
    """A YAML value with where it stands: a dict or list of Values, or a scalar."""

    data: Any
    line: int  # 1-based
    column: int  # 1-based
    text: str | None = None  # a scalar as written
    quoted: bool = False
    keys: dict[str, tuple[int, int]] | None = None  # a mapping's keys: (line, column)


@dataclass(frozen=True)
class Broken:
    """A problem (or a whole file) that could not be built."""

    name: str
    file: str
    error: GradcheckError


def find(paths: list[str]) -> list[Path]:
    """The problem files named, and every *.yaml / *.yml below the folders named, sorted.

    Raises:
        ProblemError: a path that does not exist, or a file that is not YAML.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()))
        elif path.is_file():
            if path.suffix not in SUFFIXES:
                raise ProblemError(f"not a problem file (expected .yaml or .yml): {raw}")
            found.append(path)
        else:
            raise ProblemError(f"no such file or folder: {raw}")
    return list(dict.fromkeys(found))


def load(path: Path | str) -> list[Problem | Broken]:
    """Every problem in a file, in order; a problem that cannot be built becomes Broken."""
    path = str(path)
    stem = Path(path).stem
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Broken(stem, path, ProblemError(f"cannot read the file: {exc}", where=path))]
    out: list[Problem | Broken] = []
    try:
        documents = list(_documents(text, path))
    except ProblemError as error:
        return [Broken(stem, path, error)]
    for number, document in enumerate(documents, start=1):
        default = stem if len(documents) == 1 else f"{stem} #{number}"
        try:
            out.append(_problem(document, path, default))
        except GradcheckError as error:
            out.append(Broken(_name_of(document, default), path, error.located(path)))
    if not out:
        out.append(Broken(stem, path, ProblemError("the file holds no problem", where=path)))
    return out


# ---------------------------------------------------------------- YAML with positions


def _documents(text: str, path: str):
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None and node.tag != "tag:yaml.org,2002:null":
                yield _value(loader, node, path)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, path) from None
    finally:
        loader.dispose()


def _yaml_error(exc, text: str, path: str) -> ProblemError:
    """Where YAML went wrong: where the parser noticed it, unless that is the end of the
    file (an unclosed bracket), where the construct it was reading began is more use."""
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    at_end = problem is not None and problem.index >= len(text.rstrip())
    mark = context if (at_end and context is not None) or problem is None else problem
    reason = " ".join(
        p for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p
    )
    reason = " ".join((reason or str(exc)).split())
    return ProblemError(
        f"not valid YAML: {reason}",
        where=path,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
    )


def _value(loader, node, path: str) -> Value:
    import yaml

    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if node.tag not in CORE_TAGS:
        raise ProblemError(
            f"the YAML tag {node.tag!r} is not allowed", where=path, line=line, column=column
        )
    if isinstance(node, yaml.MappingNode):
        data: dict[str, Value] = {}
        keys: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            key = _value(loader, key_node, path)
            if not isinstance(key.data, str):
                raise ProblemError(
                    f"a key must be a name, got {key.text!r}",
                    where=path,
                    line=key.line,
                    column=key.column,
                )
            if key.data in data:
                raise ProblemError(
                    f"{key.data!r} is given twice", where=path, line=key.line, column=key.column
                )
            data[key.data] = _value(loader, value_node, path)
            keys[key.data] = (key.line, key.column)
        return Value(data, line, column, keys=keys)
    if isinstance(node, yaml.SequenceNode):
        return Value([_value(loader, item, path) for item in node.value], line, column)
    try:
        data = loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise ProblemError(f"bad value: {exc}", where=path, line=line, column=column) from None
    return Value(data, line, column, node.value, quoted=node.style in ("'", '"'))


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
        return parse_value(value.data, path, line=value.line, offset=offset)
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
            data = float(data)
        except ValueError:
            data = None
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        raise ProblemError(
            f"{what} must be a number, got {value.text!r}",
            where=path,
            line=value.line,
            column=value.column,
        )
    if not math.isfinite(data) or (positive and data <= 0):
        kind = "a positive number" if positive else "finite"
        raise ProblemError(
            f"{what} must be {kind}, got {value.text}",
            where=path,
            line=value.line,
            column=value.column,
        )
    return float(data)


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
