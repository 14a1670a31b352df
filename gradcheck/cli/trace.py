"""``gradcheck trace``: the computational graph node by node, as a hand computation."""

from __future__ import annotations

import json
import sys

import click

from gradcheck.cli.options import ExpressionCommand, OutputFile, common, name_list
from gradcheck.render.safe import printable


@click.command("trace", cls=ExpressionCommand)
@click.argument("source", metavar="EXPR|FILE")
@click.option("--at", "at", multiple=True, metavar="NAME=VALUE", help="A value (EXPR only).")
@click.option(
    "--let", "lets", multiple=True, metavar="NAME=EXPR", help="A named intermediate (EXPR only)."
)
@click.option(
    "--wrt",
    metavar="NAMES",
    callback=name_list,
    help="Comma-separated inputs to backprop to (EXPR only) [default: all].",
)
@click.option(
    "--problem",
    "which",
    metavar="NAME|N",
    help="In a file of several problems, the one to trace (name or number).",
)
@click.option(
    "--jacobians", is_flag=True, help="Every local derivative as a full Jacobian d node/d input."
)
@click.option(
    "--dot",
    type=OutputFile(),
    metavar="FILE",
    help="Also write the graph in Graphviz DOT (and, when dot is installed, FILE.svg and "
    "FILE.png; a FILE ending in .svg, .png or .pdf is rendered to that).",
)
@click.option("--latex", is_flag=True, help="Print the node table as LaTeX instead.")
@common
def trace_command(
    source, at, lets, wrt, which, jacobians, dot, latex, fmt, rtol, atol, seed, no_color
):
    """The computational graph node by node, the way a hand computation lays it out.

    Forward: each node's operation and value. Backward: each node's adjoint (d f/d
    node), its local derivative with respect to each input and their product, which
    passes back to that input. A problem file's expect.grad may name let intermediates;
    the first wrong claimed adjoint, going backward, is marked and explained. Exit code
    1 when a claimed adjoint is wrong.

    \b
    Examples:
      gradcheck trace "1/(2+sin(w1*x1)**2+cos(w2*x2))" --at w1=-3 --at x1=-2 --at w2=2 --at x2=-1
      gradcheck trace problems/seed-004-network-0.yaml --jacobians
      gradcheck trace problems/seed-004-network-0.yaml --dot graph.dot
    """
    from gradcheck.source.select import one_problem
    from gradcheck.tools.trace import trace

    built = one_problem(source, at, lets, which, wrt=wrt)
    result = trace(built, jacobians=jacobians, seed=seed, rtol=rtol, atol=atol)
    from gradcheck.render.trace import trace_json, trace_latex, trace_view

    if fmt == "json":
        click.echo(json.dumps(trace_json(result), indent=2))
    elif latex:
        click.echo(trace_latex(result), nl=False)
    else:
        from gradcheck.render.console import make_console

        make_console(no_color).print(trace_view(result))
    if dot:  # after the results are shown: a file that cannot be written loses nothing
        from gradcheck.render.graph import write_graph

        click.echo(printable(write_graph(result, dot)), err=True)
    sys.exit(1 if result.status == "fail" else 0)
