"""A trace rendered: the rich layout, JSON and a LaTeX table (DOT is in render.graph).

No maths and no printing here: functions return renderables or text, the CLI prints.
"""

from __future__ import annotations

import math

import numpy as np
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gradcheck.render.console import STYLE
from gradcheck.render.numbers import array_summary, format_array
from gradcheck.render.safe import escaped
from gradcheck.tools.trace import Local, Trace, TraceNode, written_as

#: Significant digits of a scalar (arrays show 6, like the check tables).
SCALAR_DIGITS = 10

#: A Jacobian with more entries than this is summarised in the table (the JSON has it).
SHOWN_ENTRIES = 400

#: A matrix this short in one line (a column [[1], [1], [1]]) stays on one line.
ONE_LINE = 24


# ---------------------------------------------------------------- rich


def trace_view(trace: Trace) -> RenderableType:
    """Forward values, then adjoints and local derivatives backward, then any verdict."""
    trace = escaped(trace)
    parts: list[RenderableType] = [_heading(trace)]
    parts.append(Padding(_title("forward", "each node's value, in evaluation order"), (1, 0, 0, 2)))
    parts.append(Padding(_forward_table(trace), (0, 0, 0, 2)))
    parts.append(
        Padding(
            _title(
                "backward",
                "adjoint = d f/d node; each input gets adjoint × local derivative",
            ),
            (1, 0, 0, 2),
        )
    )
    parts.append(Padding(_backward_table(trace), (0, 0, 0, 2)))
    if trace.first_wrong is not None:
        parts.append(Padding(_wrong_text(trace), (1, 0, 0, 2)))
    elif any(n.claimed is not None for n in trace.nodes):
        parts.append(Padding(Text("every claimed adjoint holds", style="green"), (1, 0, 0, 2)))
    parts.extend(Padding(Text(f"note: {note}", style="dim"), (0, 0, 0, 2)) for note in trace.notes)
    return Group(*parts)


def _title(title: str, explanation: str) -> Text:
    return Text.assemble((title, "bold"), "   ", (explanation, "dim"))


def _heading(trace: Trace) -> Text:
    text = Text()
    if trace.name and trace.name.strip() != trace.expression.strip():
        text.append(f"{trace.name}\n", style="bold")
    text.append("f = ", style="dim")
    text.append(trace.expression)
    if trace.drawn:  # the values themselves are in the forward table
        text.append(
            f"\n  drawn at random: {', '.join(trace.drawn)} (seed {trace.seed})", style="dim"
        )
    return text


def _forward_table(trace: Trace) -> Table:
    table = Table(box=None, padding=(0, 2, 0, 0))
    table.add_column("node", style="bold", no_wrap=True)
    table.add_column("operation")
    table.add_column("value")
    table.add_column("as written", style="dim")
    for node in trace.nodes:
        if node.op == "const":
            continue
        written = Text(node.written if node.written not in (None, node.operation) else "")
        table.add_row(Text(node.name), Text(node.operation), Text(_value(node.value)), written)
    return table


def _backward_table(trace: Trace) -> Table:
    claims = any(n.claimed is not None for n in trace.nodes)
    table = Table(box=None, padding=(0, 2, 0, 0))
    table.add_column("node", style="bold", no_wrap=True)
    table.add_column("adjoint")
    if claims:
        table.add_column("claimed")
    table.add_column("input", no_wrap=True)
    table.add_column("local derivative")
    table.add_column("passes back")
    for node in reversed(trace.nodes):
        if node.adjoint is None:
            continue
        claimed = [_claimed_cell(node, trace)] if claims else []
        rows = node.local or [None]
        for n, local in enumerate(rows):
            name = Text(node.name)
            if node.name == trace.first_wrong:
                name = Text(f"{node.name} ←", style="bold red")
            head = [name, Text(_value(node.adjoint)), *claimed] if n == 0 else [""] * (2 + claims)
            if local is None:
                what = "(an input)" if node.op == "input" else "(depends on no input)"
                table.add_row(*head, Text(what, style="dim"), "", "")
            else:
                table.add_row(
                    *head, Text(local.input), _local_cell(node, local), Text(_value(local.passes))
                )
    return table


def _claimed_cell(node: TraceNode, trace: Trace) -> Text:
    if node.claimed is None:
        return Text("")
    mark = "✓" if node.claimed.status == "pass" else "✗"
    return Text(f"{_value(node.claimed.claimed)} {mark}", style=STYLE[node.claimed.status])


def _local_cell(node: TraceNode, local: Local) -> Text:
    if local.form == "omitted":
        return Text("Jacobian: --jacobians", style="dim")
    number = _value(local.derivative)
    text = Text()
    if local.formula is not None and local.form != "jacobian" and not _is_number(local.formula):
        text.append(f"{local.formula} = ", style="cyan")
    text.append(number)
    return text


def _wrong_text(trace: Trace) -> RenderableType:
    node = trace.node(trace.first_wrong)
    headline = Text("✗ ", style="bold red")
    headline.append(f"d f/d {node.name} is the first wrong claim, going backward", style="bold red")
    wrong = node.claimed.wrong
    shown = wrong[:1]
    headline.append(
        ": "
        + "; ".join(
            f"{node.name}{_entry(w['index'])} claimed {w['claimed']:.10g}, true {w['true']:.10g}"
            for w in shown
        )
    )
    if len(wrong) > len(shown):
        headline.append(f" (and {len(wrong) - len(shown)} more)")
    return Group(headline, Padding(Text(trace.explanation or ""), (0, 0, 0, 2)))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _entry(index) -> str:
    return f"[{', '.join(map(str, index))}]" if index else ""


def _value(value: np.ndarray | None) -> str:
    """A scalar to SCALAR_DIGITS digits; an array in nested brackets, a large one
    summarised; a 2-D or larger array one row per line."""
    if value is None:
        return "—"
    value = np.asarray(value, dtype=float)
    if value.ndim == 0:
        return format_array(value, SCALAR_DIGITS)
    line = format_array(value)  # nested brackets up to 16 entries, else a summary
    if value.ndim == 1 or value.size > SHOWN_ENTRIES:
        return line
    return line if value.size <= 16 and len(line) <= ONE_LINE else _block(value)


def _block(value: np.ndarray) -> str:
    """A matrix one row per line; higher ranks as a stack of matrices, blank-separated."""
    if value.ndim == 2:
        return "\n".join(format_array(row) for row in value)
    return "\n\n".join(_block(part) for part in value)


# ---------------------------------------------------------------- JSON


def trace_json(trace: Trace) -> dict:
    """``{"nodes": [{"name", "op", "inputs", "value", "adjoint", "local"}, ...]}`` and more:
    inputs are nodes of op ``input``; ``local`` maps each input the gradient reaches to
    its local derivative (``null`` where a Jacobian was not asked for)."""
    return {
        "version": 1,
        "name": trace.name,
        "expression": trace.expression,
        "at": {n: v.tolist() for n, v in trace.at.items()},
        "random": list(trace.drawn),
        "seed": trace.seed,
        "wrt": trace.wrt,
        "status": trace.status,
        "nodes": [_node_json(node) for node in trace.nodes],
        "first_wrong": trace.first_wrong,
        "explanation": trace.explanation,
        "notes": trace.notes,
    }


def _node_json(node: TraceNode) -> dict:
    return {
        "name": node.name,
        "op": node.op,
        "operation": node.operation,
        "written": node.written,
        "inputs": node.inputs,
        "shape": list(node.shape),
        "value": node.value.tolist(),
        "adjoint": None if node.adjoint is None else node.adjoint.tolist(),
        "local": {
            loc.input: None if loc.derivative is None else loc.derivative.tolist()
            for loc in node.local
        },
        "local_form": {loc.input: loc.form for loc in node.local},
        "formula": {loc.input: loc.formula for loc in node.local if loc.formula},
        "passes": {loc.input: loc.passes.tolist() for loc in node.local},
        "claimed": None
        if node.claimed is None
        else {
            "status": node.claimed.status,
            "claimed": node.claimed.claimed.tolist(),
            "wrong": node.claimed.wrong,
            "diagnosis": node.claimed.diagnosis,
        },
    }


# ---------------------------------------------------------------- LaTeX


def trace_latex(trace: Trace) -> str:
    """The node table as a LaTeX tabular: node, operation, value, adjoint, and the local
    derivative with respect to each input."""
    import sympy as sp

    def name(text: str) -> str:
        if not text.isidentifier():
            return text  # a constant
        return sp.latex(sp.Symbol(text))

    lines = [
        r"\begin{tabular}{lllll}",
        r"node & operation & value & $\partial f / \partial\,\mathrm{node}$ "
        r"& local derivatives \\",
        r"\hline",
    ]
    for node in trace.nodes:
        if node.op == "const":
            continue
        operation = "input" if node.op == "input" else f"${_latex_operation(node, name)}$"
        local = ", ".join(
            f"$\\partial {name(node.name)} / \\partial {name(loc.input)} = "
            f"{_latex_value(loc.derivative)}$"
            for loc in node.local
            if loc.derivative is not None
        )
        adjoint = "" if node.adjoint is None else f"${_latex_value(node.adjoint)}$"
        lines.append(
            f"${name(node.name)}$ & {operation} & ${_latex_value(node.value)}$ & "
            f"{adjoint} & {local} \\\\"
        )
    lines.append(r"\end{tabular}")
    return "\n".join(lines) + "\n"


#: How each operation is typeset (see trace.PLAIN); any other is \operatorname{op}(...).
LATEX = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": r"{0} \cdot {1}",
    "div": r"\frac{{{0}}}{{{1}}}",
    "pow": "{{{0}}}^{{{1}}}",
    "matmul": "{0} {1}",
    "neg": "-{0}",
    "transpose": "{{{0}}}^{{T}}",
    "index": "{{{0}}}_{{{rest}}}",
    "stack": r"\left[{all}\right]",
    **{
        f: rf"\{f}\left({{all}}\right)"
        for f in ("sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "log", "det")
    },
}


def _latex_operation(node: TraceNode, name) -> str:
    args = [name(a) for a in node.inputs]
    return written_as(node.op, args, LATEX, r"\operatorname{{{op}}}\left({all}\right)")


def _latex_value(value: np.ndarray) -> str:
    """A number; a vector or matrix as a bmatrix; anything larger summarised."""
    value = np.asarray(value, dtype=float)
    if value.ndim == 0:
        return _latex_number(float(value))
    if value.ndim > 2 or value.size > 16:
        return r"\text{" + array_summary(value).strip("<>") + "}"
    rows = value[None] if value.ndim == 1 else value
    body = r" \\ ".join(" & ".join(_latex_number(float(v)) for v in row) for row in rows)
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"


def _latex_number(number: float) -> str:
    if not math.isfinite(number):
        return r"\infty" if number > 0 else (r"-\infty" if number < 0 else r"\mathrm{NaN}")
    text = f"{number:.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text
