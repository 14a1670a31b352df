"""The only home of Graphviz: a trace as DOT, written, and drawn by the ``dot`` program
when it is installed."""

from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path

from gradcheck.errors import GradcheckError
from gradcheck.render.numbers import format_array
from gradcheck.render.output import PICTURES, write_text
from gradcheck.tools.trace import Trace, TraceNode


def write_graph(trace: Trace, path: str) -> str:
    """DOT to ``path`` (or beside it, when ``path`` names a picture), drawn as pictures
    when Graphviz's ``dot`` program is there; returns a line saying what was written.

    Raises:
        GradcheckError: a picture is asked for without Graphviz, a file cannot be
            written, or ``dot`` fails.
    """
    target = Path(path)
    picture = target.suffix.lower() in PICTURES
    source = target.with_suffix(".dot") if picture else target
    dot = shutil.which("dot")
    if picture and dot is None:
        raise GradcheckError(
            f"--dot {path}: drawing a picture needs Graphviz's dot program, which is not "
            "installed; write a .dot file instead, or install Graphviz"
        )
    write_text("--dot", source, trace_dot(trace))
    written = [str(source)]
    if dot is None:
        return f"wrote {source} (install Graphviz to render it: dot -Tsvg FILE -o FILE.svg)"
    for form in [target.suffix.lower()[1:]] if picture else ["svg", "png"]:
        out = source.with_suffix(f".{form}")
        done = subprocess.run(
            [dot, f"-T{form}", str(source), "-o", str(out)], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise GradcheckError(f"--dot {path}: dot failed: {done.stderr.strip()}")
        written.append(str(out))
    return f"wrote {', '.join(written)}"


def trace_dot(trace: Trace) -> str:
    """The graph in DOT, inputs on the left: each node with its value and (in red) its
    adjoint; each edge with the local derivative when it is short."""
    lines = [
        "digraph gradcheck {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, color="gray40"];',
    ]
    ids = {node.name: f"n{k}" for k, node in enumerate(trace.nodes)}
    for node in trace.nodes:
        lines.append(f"  {ids[node.name]} [{_dot_attributes(node, trace)}];")
    for node in trace.nodes:
        locals_ = {loc.input: loc for loc in node.local}
        for name in dict.fromkeys(node.inputs):
            local = locals_.get(name)
            label = ""
            if local is not None and local.derivative is not None and local.derivative.size <= 4:
                label = f' [label="{_dot_escape(format_array(local.derivative, 4))}"]'
            lines.append(f"  {ids[name]} -> {ids[node.name]}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_attributes(node: TraceNode, trace: Trace) -> str:
    if node.op == "const":
        return f'label="{_dot_escape(node.name)}", shape=plaintext'
    shape = "ellipse" if node.op == "input" else "box"
    title = node.name if node.op == "input" else f"{node.name} = {node.operation}"
    rows = [html.escape(title), html.escape(format_array(node.value, 6))]
    if node.adjoint is not None:
        rows.append(f'<FONT COLOR="red3">{html.escape(format_array(node.adjoint, 6))}</FONT>')
    attributes = f"label=<{'<BR/>'.join(rows)}>, shape={shape}"
    if node.claimed is not None and node.claimed.status == "fail":
        attributes += ', color="red", penwidth=2'
        if node.name == trace.first_wrong:
            attributes += ', style=filled, fillcolor="mistyrose"'
    return attributes


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
