"""Problem files: YAML in, validated problems out, every error with its file and line.

The file is read and its YAML composed, bounded, by ``yamlread``; each value keeps its
line, column and text. Validation is strict: an unknown key, a wrong type, a shape that
does not fit is an error, because a typo must not silently skip a check. A file may hold
several problems separated by ``---``; one broken problem does not stop the others.
``find`` (in ``walk``) lists the files below folders.

A document checks an expression (``expr``, with ``let``, ``claims``, ``expect``) or the
user's own code (``func``, with ``grad`` or ``backward``, and ``jacobian``); one file may
hold both kinds. Code is named, checked to exist and to define the function, never
imported here: only ``gradcheck check --allow-code`` runs it, in a worker process.
"""

from __future__ import annotations

from pathlib import Path

from gradcheck import limits
from gradcheck.errors import GradcheckError, ProblemError
from gradcheck.judge.expect import Expectation, Number
from gradcheck.source import fields
from gradcheck.source.code import EXAMPLE, CodeRef, parse_ref
from gradcheck.source.func import FuncProblem, written_as_integers
from gradcheck.source.language import Term, suggest
from gradcheck.source.problems import Problem, assemble, given_value
from gradcheck.source.walk import SUFFIXES, Broken, find
from gradcheck.source.yamlread import Value, documents, read_text

__all__ = ["KEYS", "SUFFIXES", "Broken", "Value", "find", "load"]

#: The keys of a problem that checks an expression, and of one that checks the user's code.
EXPRESSION_KEYS = ("name", "let", "expr", "at", "wrt", "expect", "claims", "tolerance", "step")
FUNC_KEYS = ("name", "func", "grad", "backward", "jacobian", "at", "wrt", "tolerance", "step")
KEYS = tuple(dict.fromkeys(EXPRESSION_KEYS + FUNC_KEYS))
#: Which keys go together, for a message about two that do not.
TOGETHER = (
    "a problem checks an expression (expr, with let, claims, expect) or your code "
    "(func, with grad or backward, and jacobian), not both"
)


def load(path: Path | str) -> list[Problem | FuncProblem | Broken]:
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
    if len(parts) > limits.DOCUMENTS.value:  # each is a check: a file of tiny ones is not
        message = limits.DOCUMENTS.message(len(parts), "the file")
        return [Broken(stem, path, ProblemError(message, where=path))]
    out: list[Problem | FuncProblem | Broken] = []
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


def _problem(document: Value, path: str, default_name: str) -> Problem | FuncProblem:
    """One document: an expression's problem, or (with ``func``) the user's code's."""
    doc = fields.mapping(document, path, "a problem")
    fields.known_keys(document, KEYS, path, "")
    if "func" in doc:
        _together(document, FUNC_KEYS, path)
        return _func_problem(document, path, default_name)
    _together(document, EXPRESSION_KEYS, path)
    if "expr" not in doc:
        raise ProblemError(
            f"missing key 'expr' (the expression to check), or 'func' (your code, {EXAMPLE})",
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
    """Claimed numbers: the value, and each input's gradient (a scalar expression) or
    Jacobian (a vector-valued one, of shape output + input), kept in ``grads`` alike:
    the checker holds each against the derivative of the same shape."""
    doc = fields.mapping(value, path, "expect")
    fields.known_keys(value, ("value", "grad", "jacobian"), path, " in expect")
    missing = [n for n in problem.random_names if n not in problem.index_axes]
    if missing:
        raise ProblemError(
            f"expect needs every input given in at:, so that the point is "
            f"known; {missing[0]} has no value",
            where=path,
            line=value.line,
        )
    output = problem.program.root.shape
    claimed_value = None
    if "value" in doc:
        claimed_value = fields.claimed(doc["value"], path, "expect value")
        if claimed_value.value.shape != output:
            raise _shape_error(
                f"expect value has shape {claimed_value.value.shape}, but the expression's "
                f"value has shape {output}",
                doc["value"],
                path,
            )
    key, other = ("jacobian", "grad") if output else ("grad", "jacobian")
    if other in doc:
        raise _kind_error(value, other, path, problem)
    if key == "jacobian":
        grads = _derivatives(doc.get(key), path, problem, list(problem.wrt), "jacobian")
    else:
        lets = [n for n in problem.lets if problem.intermediate(n) is not None]
        grads = _derivatives(doc.get(key), path, problem, list(problem.wrt) + lets, "grad")
    return Expectation(claimed_value, grads, line=value.line)


def _derivatives(
    value: Value | None, path: str, problem: Problem, named: list[str], key: str
) -> dict[str, Number]:
    """Claimed gradients (``key`` grad) or Jacobians, each of the shape it must have."""
    output = problem.program.root.shape
    out = {}
    for name, item in fields.mapping(value, path, f"expect {key}").items():
        if name not in named:
            what = "neither differentiated nor a let the expression uses"
            raise ProblemError(
                f"expect {key} names {name!r}, which is "
                f"{what if key == 'grad' else 'not differentiated'}{suggest(name, named)}; "
                f"it must be one of {', '.join(named)}",
                where=path,
                line=item.line,
            )
        claimed = fields.claimed(item, path, f"expect {key} {name}")
        node = problem.intermediate(name)
        shape = problem.shapes[name] if node is None else problem.program.nodes[node].shape
        if key == "grad" and claimed.value.shape != shape:
            raise _shape_error(
                f"expect grad {name} has shape {claimed.value.shape}, but {name} has shape {shape}",
                item,
                path,
            )
        if key == "jacobian" and claimed.value.shape != output + shape:
            raise _shape_error(
                f"expect jacobian {name} has shape {claimed.value.shape}, but the Jacobian "
                f"has shape {output + shape}: the value's shape {output}, then {name}'s {shape}",
                item,
                path,
            )
        out[name] = claimed
    return out


def _kind_error(value: Value, key: str, path: str, problem: Problem) -> ProblemError:
    """``expect grad`` on a vector-valued expression, or ``expect jacobian`` on a scalar."""
    output = problem.program.root.shape
    first = problem.wrt[0] if problem.wrt else "x"
    if key == "grad":
        shape = output + problem.shapes.get(first, ())
        message = (
            f"expect grad: the expression's value has shape {output}, so each input has a "
            f"Jacobian, not a gradient: claim it with expect: {{jacobian: {{{first}: ...}}}}, "
            f"of shape the value's then the input's ({shape} for {first})"
        )
    else:
        message = (
            "expect jacobian: the expression's value is a scalar, so each input has a "
            f"gradient, not a Jacobian: claim it with expect: {{grad: {{{first}: ...}}}}, "
            f"of {first}'s shape {problem.shapes.get(first, ())}"
        )
    line, column = value.keys[key]
    return ProblemError(message, where=path, line=line, column=column)


def _shape_error(message: str, item: Value, path: str) -> ProblemError:
    return ProblemError(message, where=path, line=item.line, column=item.column)


def _together(document: Value, keys: tuple[str, ...], path: str) -> None:
    """Refuse a key of the other kind of problem (``expr`` beside ``func``, ``backward``
    without it), naming which keys go together."""
    for key, (line, column) in (document.keys or {}).items():
        if key in keys:
            continue
        if "func" in document.data:
            message = f"{key!r} does not go with 'func': {TOGETHER}"
        else:
            message = f"{key!r} goes with 'func' (your code): {TOGETHER}"
            if key in ("grad", "jacobian"):
                message += f"; to claim the expression's {key}, write expect: {{{key}: ...}}"
        raise ProblemError(message, where=path, line=line, column=column)


# ---------------------------------------------------------------- the user's code


def _func_problem(document: Value, path: str, default_name: str) -> FuncProblem:
    """The user's code as a problem: references relative to the file's folder, checked
    for a function they define, never imported."""
    doc = document.data
    base = Path(path).parent
    refs = {k: _code(doc[k], base, path, k) for k in ("func", "grad", "backward") if k in doc}
    if "grad" in refs and "backward" in refs:
        line, column = document.keys["backward"]
        raise ProblemError(
            "give grad (a function's gradient) or backward (a layer's), not both",
            where=path,
            line=line,
            column=column,
        )
    jacobian = _flag(doc.get("jacobian"), path, "jacobian")
    if jacobian and "backward" not in refs:
        raise ProblemError(
            "jacobian: true checks a layer's full Jacobian: it goes with backward: "
            "(a function with grad: is checked whole already)",
            where=path,
            line=doc["jacobian"].line,
            column=doc["jacobian"].column,
        )
    values, labels = _code_inputs(doc.get("at"), path)
    wrt = None
    if "wrt" in doc:
        wrt = tuple(dict.fromkeys(fields.wrt(doc["wrt"], path)))
        for name in wrt:
            fields.name(name, path, doc["wrt"].line)
        if not wrt:
            raise ProblemError(
                "nothing to differentiate with respect to", where=path, line=doc["wrt"].line
            )
        labels -= set(wrt)
    rtol, atol = fields.tolerance(doc.get("tolerance"), path)
    step = fields.number(doc["step"], path, "step", positive=True) if "step" in doc else None
    return FuncProblem(
        name=fields.name_of(document, default_name),
        function=refs["func"],
        values=values,
        labels=frozenset(labels),
        wrt=wrt,
        grad=refs.get("grad"),
        backward=refs.get("backward"),
        jacobian=jacobian,
        rtol=rtol,
        atol=atol,
        step=step,
        file=path,
        line=document.line,
    )


def _code(value: Value, base: Path, path: str, key: str) -> CodeRef:
    """``FILE.py:NAME`` under ``key``, the file relative to ``base``."""
    if not isinstance(value.data, str):
        raise fields.refused(
            value,
            path,
            f"{key} must be FILE.py:NAME (e.g. {EXAMPLE}), got {fields.shown(value.text)!r}",
        )
    try:
        return parse_ref(value.data.strip(), base, where=path)
    except GradcheckError as error:
        raise error.located(path, value.line, value.column) from None


def _flag(value: Value | None, path: str, what: str) -> bool:
    if value is None:
        return False
    if not isinstance(value.data, bool):
        raise fields.refused(
            value, path, f"{what} must be true or false, got {fields.shown(value.text)!r}"
        )
    return value.data


def _code_inputs(value: Value | None, path: str) -> tuple[dict, set[str]]:
    """The inputs under ``at``, as arrays (or RandomSpecs to draw), and which are labels:
    written with integers only (``y: [1, 3, 0]``), passed as integers, never differentiated."""
    values, labels = {}, set()
    for name, item in fields.mapping(value, path, "at").items():
        fields.name(name, path, item.line)
        raw = fields.at_value(item, path, name)
        try:
            values[name] = given_value(name, raw, path)
        except GradcheckError as error:
            raise error.located(path, item.line, item.column) from None
        if _integers(item, raw):
            labels.add(name)
    return values, labels


def _integers(value: Value, raw) -> bool:
    """Whether a value is written with integers only: ``[1, 3, 0]``, not ``[1.0, 3, 0]``."""
    if isinstance(value.data, str):  # text in the language: "[1, 3, 0]"
        return isinstance(raw, Term) and written_as_integers(raw)
    if isinstance(value.data, list):
        return all(_integers(item, None) for item in value.data)
    return isinstance(value.data, int) and not isinstance(value.data, bool)
