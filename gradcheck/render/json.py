"""Results as the design.md JSON documents: a check, a sweep, a table of derivatives.

Plain data (dicts, lists, floats, strings) ready for ``json.dumps``; NaN and infinities
become null, so the output is strict JSON.
"""

from __future__ import annotations

import math

import numpy as np

from gradcheck.render.labels import code_findings, is_code, output_shape
from gradcheck.render.summary import error_message
from gradcheck.results import GradientResult, PointResult, ProbeResult, ProblemResult, Report


def to_json(report: Report) -> dict:
    """The design.md document: version, problems (points, gradients, claims), summary.

    The summary counts problems by status, and ``unchecked`` the files a run stopped
    before (``--fail-fast``) when there are any.
    """
    summary: dict[str, int] = dict(report.summary)
    if report.unchecked:
        summary["unchecked"] = report.unchecked
    return {
        "version": 1,
        "problems": [_problem_json(p) for p in report.problems],
        "summary": summary,
    }


def _problem_json(p: ProblemResult) -> dict:
    code = is_code(p)
    doc: dict = {"name": p.name, "kind": p.kind, "file": p.file, "line": p.line}
    if code:  # what was checked: the function, and its grad or backward
        doc.update(p.code or {})
    else:
        doc["expression"] = p.expression
    if shape := output_shape(p):
        doc["output_shape"] = list(shape)
    findings = [f for f in code_findings(p) if f not in p.notes]
    doc.update(
        {
            "status": p.status,
            "message": error_message(p) if p.status == "error" else p.message,
            "seed": p.seed,
            "tolerance": None
            if p.tolerance is None
            else {"rtol": p.tolerance.rtol, "atol": p.tolerance.atol},
            "points": [_point_json(pt, code) for pt in p.points],
            "expect": {
                x.what: {
                    "status": x.status,
                    "claimed": plain(x.claimed),
                    "true": plain(x.true),
                    "wrong": x.wrong,
                    "diagnosis": x.diagnosis,
                }
                for x in p.expected
            },
            "claims": {
                n: {
                    "status": c.status,
                    "claim": c.text,
                    "proved": c.proved,
                    "held": f"at {c.points} points, not proved"
                    if c.status == "pass" and not c.proved
                    else None,
                    "points": c.points,
                    "counterexample": c.counterexample,
                    "message": c.message,
                    "diagnosis": c.diagnosis,
                }
                for n, c in p.claims.items()
            },
            "notes": [*p.notes, *findings],
        }
    )
    return doc


def _point_json(pt: PointResult, code: bool) -> dict:
    directional = pt.probes is not None
    out = {
        "at": {n: plain(v) for n, v in pt.at.items()},
        "random": list(pt.drawn),
        "value": plain(pt.value),
    }
    if not code:
        out["symbolic_value"] = plain(pt.symbolic_value)
    if pt.upstream is not None:
        out["upstream"] = plain(pt.upstream)
    out["gradient"] = {
        n: _judged_json(g) if directional else _gradient_json(g) for n, g in pt.gradient.items()
    }
    if directional:
        out["probes"] = [_probe_json(pr, code) for pr in pt.probes or []]
    return out


def _probe_json(pr: ProbeResult, code: bool) -> dict:
    claimed = {"claimed": pr.backprop} if code else {
        "symbolic": plain(pr.symbolic), "backprop": pr.backprop
    }  # fmt: skip
    return {
        **claimed,
        "forward": plain(pr.forward),
        "backward": plain(pr.backward),
        "central": plain(pr.central),
        "status": pr.status,
        "error": {m: plain(e) for m, e in pr.errors.items()},
        "step": pr.step,
        "cause": None if pr.cause is None else pr.cause.text,
    }


def _gradient_json(g: GradientResult) -> dict:
    """Every estimate of every entry, nested lists of the gradient's (or Jacobian's) shape;
    the user's code's gradient is ``claimed``, in place of ``symbolic`` and ``backprop``."""
    if g.claimed_by == "backprop":
        claimed = {"symbolic": plain(g.symbolic), "backprop": plain(g.backprop)}
    else:
        claimed = {"claimed": plain(g.backprop)}
    doc = {
        **claimed,
        "forward": plain(g.forward),
        "backward": plain(g.backward),
        "central": plain(g.central),
        "complex": plain(g.complex),
        "richardson": plain(g.richardson),
        "expected": plain(g.expected),
        "status": g.status.tolist() if g.status.shape else str(g.status[()]),
        "error": {m: plain(e) for m, e in g.errors.items()},
        "step": plain(g.step),
        "causes": [
            {"index": _index(g, k), "status": str(g.status.flat[k]), "cause": cause.text}
            for k, cause in sorted(g.causes.items())
        ],
    }
    if g.claimed_by != "backprop":
        del doc["expected"]
        doc["diagnosis"] = g.diagnosis
    return doc


def _judged_json(g: GradientResult) -> dict:
    """A directional check's input: its shape, and only the entries that were judged one
    by one (those a failing probe was narrowed down to), never every entry's value."""
    key = "backprop" if g.claimed_by == "backprop" else "claimed"
    doc: dict = {"shape": list(g.shape), "status": g.worst, "entries": []}
    for k, cause in sorted(g.causes.items()):
        judged = {"index": _index(g, k), "status": str(g.status.flat[k])}
        if g.symbolic is not None:
            judged["symbolic"] = plain(g.symbolic.flat[k])
        judged[key] = plain(g.backprop.flat[k])
        judged["cause"] = cause.text
        doc["entries"].append(judged)
    if g.claimed_by != "backprop":
        doc["diagnosis"] = g.diagnosis
    return doc


def _index(g: GradientResult, k: int) -> list[int]:
    """Flat entry ``k`` as a full index (a Jacobian's: the output's, then the input's)."""
    return [int(i) for i in np.unravel_index(k, g.shape)] if g.shape else []


def plain(value):
    """Floats and nested lists for JSON; NaN and infinities become null."""
    if value is None:
        return None
    array = np.asarray(value, dtype=float)
    if array.shape == ():
        number = float(array)
        return number if math.isfinite(number) else None
    finite = np.isfinite(array)
    if finite.all():
        return array.tolist()  # in C: a Jacobian may have millions of entries
    objects = array.astype(object)
    objects[~finite] = None
    return objects.tolist()


def sweep_json(result) -> dict:
    """The sweep as data: steps, and per method its errors, best and automatic step."""
    return {
        "name": result.name,
        "wrt": result.wrt,
        "index": list(result.index),
        "at": {n: plain(v) for n, v in result.at.items()},
        "value": result.value,
        "exact": result.exact,
        "reference": result.reference,
        "steps": [float(h) for h in result.steps],
        "methods": {
            m: {"errors": plain(s.errors), "best_step": s.best_step,
                "best_error": plain(s.best_error), "auto_step": s.auto_step,
                "auto_error": plain(s.auto_error), "reason": s.reason}
            for m, s in result.methods.items()
        },
        "notes": result.notes,
    }  # fmt: skip


def derivatives_json(expression: str, rows) -> dict:
    """``gradcheck diff`` as data: each entry's derivative formula."""
    return {
        "version": 1,
        "expression": expression,
        "derivatives": [
            {"wrt": n, "index": list(i), "entry": label, "formula": f} for n, i, label, f in rows
        ],
    }
