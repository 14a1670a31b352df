"""Problem files: YAML in, validated problems out, every error with its file and line.

The file is read and its YAML composed, bounded, by ``yamlread``; each value keeps its
line, column and text. Validation is strict: an unknown key, a wrong type, a shape that
does not fit is an error, because a typo must not silently skip a check. A file may hold
several problems separated by ``---``; one broken problem does not stop the others.
``find`` (in ``walk``) lists the files below folders.
"""

from __future__ import annotations

from pathlib import Path

from gradcheck.errors import GradcheckError, ProblemError
from gradcheck.judge.expect import Expectation
from gradcheck.source import fields
from gradcheck.source.language import suggest
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
            out.append(Broken(fields.name_of(document, default), path, error.located(path)))
        except RecursionError:  # an expression nested past what the parser can follow
            error = ProblemError("nested too deeply to read", where=path, line=document.line)
            out.append(Broken(fields.name_of(document, default), path, error))
    if not out:
        out.append(Broken(stem, path, ProblemError("the file holds no problem", where=path)))
    return out


# ---------------------------------------------------------------- schema


def _problem(document: Value, path: str, default_name: str) -> Problem:
    doc = fields.mapping(document, path, "a problem")
    fields.known_keys(document, KEYS, path, "")
    if "expr" not in doc:
        raise ProblemError(
            "missing key 'expr' (the scalar function to check)",
            where=path,
            line=document.line,
            column=document.column,
        )
    term = fields.expression(doc["expr"], path, "expr")
    lets = [
        (name, fields.expression(value, path, f"let {name}"))
        for name, value in fields.mapping(doc.get("let"), path, "let").items()
    ]
    for name, value in fields.mapping(doc.get("let"), path, "let").items():
        fields.name(name, path, value.line)
    values = {
        name: (fields.at_value(value, path, name), path)
        for name, value in fields.mapping(doc.get("at"), path, "at").items()
    }
    for name, value in fields.mapping(doc.get("at"), path, "at").items():
        fields.name(name, path, value.line)
    claims = [
        (name, fields.expression(value, path, f"claims {name}"))
        for name, value in fields.mapping(doc.get("claims"), path, "claims").items()
    ]
    rtol, atol = fields.tolerance(doc.get("tolerance"), path)
    step = fields.number(doc["step"], path, "step", positive=True) if "step" in doc else None
    problem = assemble(
        term,
        lets,
        values,
        fields.wrt(doc.get("wrt"), path),
        claims,
        name=fields.name_of(document, default_name),
        rtol=rtol,
        atol=atol,
        step=step,
        file=path,
        line=document.line,
        where={"wrt": path},
    )
    if "expect" in doc:
        problem = problem.with_expectation(_expectation(doc["expect"], path, problem))
    return problem


def _expectation(value: Value, path: str, problem: Problem) -> Expectation:
    doc = fields.mapping(value, path, "expect")
    fields.known_keys(value, ("value", "grad"), path, " in expect")
    missing = [n for n in problem.random_names if n not in problem.index_axes]
    if missing:
        raise ProblemError(
            f"expect needs every input given in at:, so that the point is "
            f"known; {missing[0]} has no value",
            where=path,
            line=value.line,
        )
    claimed_value = None
    if "value" in doc:
        claimed_value = fields.claimed(doc["value"], path, "expect value")
    grads = {}
    named = list(problem.wrt) + [n for n in problem.lets if problem.intermediate(n) is not None]
    for name, item in fields.mapping(doc.get("grad"), path, "expect grad").items():
        if name not in named:
            hint = suggest(name, named)
            raise ProblemError(
                f"expect grad names {name!r}, which is neither differentiated nor a let the "
                f"expression uses{hint}; it must be one of {', '.join(named)}",
                where=path,
                line=item.line,
            )
        claimed = fields.claimed(item, path, f"expect grad {name}")
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
